//! Operator actions, for admins only.

use async_graphql::{Context, Guard, ID, Object};

use super::payments::payment_id;
use super::types::DateTime;
use super::{SchemaDeps, viewer_state};
use crate::domain::{RefundActor, RefundOutcome};
use crate::error::AppError;
use crate::store::RefundAuditRow;
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

/// Admin queries.
#[derive(Default)]
pub struct AdminQuery;

/// Admin queries.
#[Object]
impl AdminQuery {
    /// Every refund request made for a payment that passed the refund policy, oldest first:
    /// who asked, in what capacity, when, for how much, why, and what came of it. Admins only.
    #[graphql(guard = "AdminOnly")]
    async fn refund_audit(
        &self,
        ctx: &Context<'_>,
        payment_id: ID,
    ) -> Result<Vec<RefundAuditEntry>, AppError> {
        let admin = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let id = self::payment_id(&payment_id, "paymentId")?;
        Ok(payments
            .refund_audit(admin, id)
            .await?
            .into_iter()
            .map(RefundAuditEntry)
            .collect())
    }
}

/// One refund request in the refund audit.
pub struct RefundAuditEntry(RefundAuditRow);

/// One refund request in the refund audit.
#[Object]
impl RefundAuditEntry {
    /// Opaque id of the entry.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The refund made, once the provider answered (see `Payment.refunds`).
    async fn refund_id(&self) -> Option<ID> {
        self.0.refund_id.map(|id| ID(id.to_string()))
    }

    /// The user who asked.
    async fn actor_user_id(&self) -> ID {
        ID(self.0.actor_user_id.to_string())
    }

    /// Whether they asked as the payment's owner or as an admin.
    async fn actor_role(&self) -> RefundActor {
        self.0.actor_role
    }

    /// Minor units asked for.
    async fn amount(&self) -> i64 {
        self.0.amount
    }

    /// Why, in the asker's words.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// When.
    async fn requested_at(&self) -> DateTime {
        self.0.requested_at.into()
    }

    /// What came of it.
    async fn outcome(&self) -> RefundOutcome {
        self.0.outcome
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
