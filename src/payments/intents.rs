//! Creating PaymentIntents: the fresh and replayed halves of `createPaymentIntent`, and
//! recording what a provider created.

use chrono::Utc;
use uuid::Uuid;

use super::idempotency::provider_key;
use super::service::{CREATE, CreateIntent, CreatedIntent, StoredIntent};
use super::{PaymentService, PaymentStatus};
use crate::domain::Metadata;
use crate::error::AppError;
use crate::providers::payments::IntentRequest;
use crate::store::PaymentRow;

impl PaymentService {
    pub(super) async fn create_fresh(
        &self,
        user: Uuid,
        input: &CreateIntent,
        key: &str,
    ) -> Result<(CreatedIntent, StoredIntent), AppError> {
        let customer = self.customer_of(user).await?;
        let request = IntentRequest {
            customer,
            amount: input.amount,
            currency: input.currency.clone(),
            description: input.description.clone(),
            metadata: input.metadata.clone(),
            idempotency_key: provider_key(user, CREATE, key),
        };
        let intent = self
            .provider
            .create_intent(&request)
            .await
            .map_err(|e| self.provider_error(e))?;
        let mut payment = self.new_payment(
            user,
            &intent.id,
            intent.status,
            input.amount,
            &input.currency,
        );
        payment.description = input.description.clone();
        payment.metadata = input.metadata.clone().into();
        self.record_payment(&payment).await?;
        tracing::info!(payment_id = %payment.id, provider_payment_id = %intent.id, "payment intent created");
        let stored = StoredIntent {
            payment_id: payment.id,
        };
        let created = CreatedIntent {
            payment,
            client_secret: intent.client_secret,
        };
        Ok((created, stored))
    }

    pub(super) async fn replay_intent(
        &self,
        stored: StoredIntent,
    ) -> Result<CreatedIntent, AppError> {
        let payment = self.stored_payment(stored.payment_id).await?;
        let client_secret = self
            .provider
            .client_secret(&payment.provider_payment_id)
            .await
            .map_err(|e| self.provider_error(e))?;
        Ok(CreatedIntent {
            payment,
            client_secret,
        })
    }

    /// A payment the provider just created for `user`, as it is to be recorded.
    pub(super) fn new_payment(
        &self,
        user: Uuid,
        provider_payment_id: &str,
        status: PaymentStatus,
        amount: i64,
        currency: &str,
    ) -> PaymentRow {
        let now = Utc::now();
        PaymentRow {
            id: Uuid::now_v7(),
            user_id: user,
            provider: self.provider.name().to_owned(),
            provider_payment_id: provider_payment_id.to_owned(),
            status,
            amount,
            currency: currency.to_owned(),
            amount_refunded: 0,
            description: None,
            metadata: Metadata::default(),
            created_at: now,
            updated_at: now,
            last_error: Default::default(),
        }
    }

    /// Records a new payment and announces it.
    pub(super) async fn record_payment(&self, payment: &PaymentRow) -> Result<(), AppError> {
        let event = self.store.insert_payment(payment).await?;
        self.remember_trace(payment.id).await;
        self.announce(&event).await;
        Ok(())
    }

    /// A payment an idempotency key remembered.
    pub(super) async fn stored_payment(&self, id: Uuid) -> Result<PaymentRow, AppError> {
        self.store
            .payment_by_id(id)
            .await?
            .ok_or(AppError::NotFound("payment"))
    }

    /// The provider's customer for `user`, created on first need (once, even when requests race).
    pub(super) async fn customer_of(&self, user: Uuid) -> Result<Option<String>, AppError> {
        let provider = self.provider.name();
        if let Some(id) = self.store.payment_customer(user, provider).await? {
            return Ok(Some(id));
        }
        let email = self.store.user_by_id(user).await?.and_then(|u| u.email);
        let key = provider_key(user, "customers.create", "first");
        let created = self
            .provider
            .create_customer(email.as_deref(), &user.to_string(), &key)
            .await
            .map_err(|e| self.provider_error(e))?;
        match created {
            Some(id) => Ok(Some(
                self.store
                    .save_payment_customer(user, provider, &id, Utc::now())
                    .await?,
            )),
            None => Ok(None),
        }
    }
}
