//! Operator actions, for admins only.

use async_graphql::{Context, Guard, Object};

use super::{SchemaDeps, viewer_state};
use crate::error::AppError;
use crate::webhooks::ReconcileError;

/// The guard of admin-only fields: `UNAUTHENTICATED` without a session, `FORBIDDEN` for a
/// signed-in user who is not an admin. The field's resolver runs only when it passes.
pub struct AdminOnly;

impl Guard for AdminOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        viewer_state(ctx).require()?.require_admin()?;
        Ok(())
    }
}

/// Admin mutations.
#[derive(Default)]
pub struct AdminMutation;

/// Admin mutations.
#[Object]
impl AdminMutation {
    /// Fetches recent events from the payment provider and applies any that were never
    /// delivered (the periodic job does the same every `RECONCILE_INTERVAL_SECONDS`). Admins
    /// only. Returns how many events were new.
    #[graphql(guard = "AdminOnly")]
    async fn reconcile_webhook_events(&self, ctx: &Context<'_>) -> Result<i32, AppError> {
        let admin = viewer_state(ctx).require()?;
        let reconciler = &ctx.data_unchecked::<SchemaDeps>().reconciler;
        let added = reconciler.run_once().await.map_err(|err| match err {
            ReconcileError::Provider(_) => AppError::ProviderUnavailable {
                provider: "payments".into(),
                retry_after: None,
            },
            ReconcileError::Store(err) => err.into(),
        })?;
        tracing::info!(admin = %admin.user_id, added, "reconciliation requested");
        Ok(i32::try_from(added).unwrap_or(i32::MAX))
    }

    /// Puts a stored webhook event (e.g. one set aside as dead) back in line to be applied
    /// again. Admins only. False when no event has that id.
    #[graphql(guard = "AdminOnly")]
    async fn replay_webhook_event(
        &self,
        ctx: &Context<'_>,
        event_id: String,
    ) -> Result<bool, AppError> {
        let admin = viewer_state(ctx).require()?;
        let webhooks = &ctx.data_unchecked::<SchemaDeps>().webhooks;
        let found = webhooks.replay(&event_id).await?;
        tracing::info!(admin = %admin.user_id, event_id, found, "webhook event replay requested");
        Ok(found)
    }
}
