//! `createBillingPortalSession`: the provider's customer portal, where a signed-in user manages
//! their subscriptions, payment methods and invoices, then comes back to `returnUrl`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PaymentService;
use super::idempotency::{check_key, fingerprint, provider_key};
use super::service::PORTAL;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::origins::url_on_allowed_origin;
use crate::providers::payments::PortalRequest;

/// A created (or replayed) portal session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedPortal {
    /// The short-lived page to send the browser to.
    pub url: String,
}

impl PaymentService {
    /// A customer-portal session for the viewer, coming back to `return_url` (an allowed
    /// origin). With a `key`, a retry answers the first session instead of creating another.
    pub async fn create_billing_portal_session(
        &self,
        viewer: &Viewer,
        return_url: &str,
        key: Option<&str>,
    ) -> Result<CreatedPortal, AppError> {
        if let Some(key) = key {
            check_key(key)?;
        }
        if url_on_allowed_origin(&self.allowed_origins, return_url).is_none() {
            return Err(AppError::bad_input(
                "returnUrl",
                "must be an absolute http(s) URL on an allowed origin (ALLOWED_ORIGINS)",
            ));
        }
        let user = viewer.user_id;
        let Some(key) = key else {
            // Nothing to remember: a session moves no money, and a new one is harmless.
            let once = Uuid::now_v7().to_string();
            return self.portal_fresh(user, return_url, &once).await;
        };
        self.idempotent(
            user,
            PORTAL,
            key,
            &fingerprint(&return_url),
            async {
                let created = self.portal_fresh(user, return_url, key).await?;
                Ok((created.clone(), created))
            },
            |stored| async move { Ok(stored) },
        )
        .await
    }

    async fn portal_fresh(
        &self,
        user: Uuid,
        return_url: &str,
        key: &str,
    ) -> Result<CreatedPortal, AppError> {
        let request = PortalRequest {
            customer: self.customer_of(user).await?,
            return_url: return_url.to_owned(),
            idempotency_key: provider_key(user, PORTAL, key),
        };
        let portal = self
            .provider
            .create_billing_portal(&request)
            .await
            .map_err(|e| self.provider_error(e))?
            .ok_or_else(|| {
                AppError::Conflict(
                    "the billing portal needs a provider with one: set STRIPE_SECRET_KEY".into(),
                )
            })?;
        tracing::info!(portal_session = %portal.id, "billing portal session created");
        Ok(CreatedPortal { url: portal.url })
    }
}
