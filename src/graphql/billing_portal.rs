//! The customer portal: where a subscriber manages billing on the provider's own pages.

use async_graphql::{Context, Object, SimpleObject};

use super::{SchemaDeps, viewer_state};
use crate::error::AppError;

/// A customer-portal session.
#[derive(SimpleObject)]
pub struct BillingPortalSession {
    /// Send the browser here; the link is short-lived, so open it right away.
    pub url: String,
}

/// Customer-portal mutations.
#[derive(Default)]
pub struct BillingPortalMutation;

/// Customer-portal mutations.
#[Object]
impl BillingPortalMutation {
    /// Opens the payment provider's customer portal for the signed-in user, where they manage
    /// subscriptions, payment methods and invoices; its return link goes to `returnUrl`, which
    /// must be on an allowed origin. With an `idempotencyKey`, a retry answers the same session.
    /// With the sandbox, `url` is `returnUrl` itself: there is nothing to manage.
    async fn create_billing_portal_session(
        &self,
        ctx: &Context<'_>,
        return_url: String,
        idempotency_key: Option<String>,
    ) -> Result<BillingPortalSession, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let created = payments
            .create_billing_portal_session(viewer, &return_url, idempotency_key.as_deref())
            .await?;
        Ok(BillingPortalSession { url: created.url })
    }
}
