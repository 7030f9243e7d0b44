//! The fresh and replayed halves of `createCheckoutSession`.

use uuid::Uuid;

use super::idempotency::provider_key;
use super::service::{CHECKOUT, CreateCheckout, CreatedCheckout, StoredCheckout};
use super::{PaymentService, PaymentStatus};
use crate::error::AppError;
use crate::providers::payments::CheckoutRequest;

impl PaymentService {
    pub(super) async fn checkout_fresh(
        &self,
        user: Uuid,
        input: CreateCheckout,
        key: &str,
    ) -> Result<(CreatedCheckout, StoredCheckout), AppError> {
        let request = CheckoutRequest {
            customer: self.customer_of(user).await?,
            line_items: input.line_items,
            success_url: input.success_url,
            cancel_url: input.cancel_url,
            idempotency_key: provider_key(user, CHECKOUT, key),
        };
        let session = self
            .provider
            .create_checkout(&request)
            .await
            .map_err(|e| self.provider_error(e))?
            .ok_or_else(|| AppError::Conflict("hosted Checkout needs Stripe: set STRIPE_SECRET_KEY, or use createPaymentIntent".into()))?;
        let payment = self.new_payment(
            user,
            &session.id,
            PaymentStatus::RequiresPaymentMethod,
            session.amount_total,
            &session.currency,
        );
        self.record_payment(&payment).await?;
        let stored = StoredCheckout {
            payment_id: payment.id,
            url: session.url.clone(),
        };
        Ok((
            CreatedCheckout {
                payment,
                url: session.url,
            },
            stored,
        ))
    }

    pub(super) async fn replay_checkout(
        &self,
        stored: StoredCheckout,
    ) -> Result<CreatedCheckout, AppError> {
        Ok(CreatedCheckout {
            payment: self.stored_payment(stored.payment_id).await?,
            url: stored.url,
        })
    }
}
