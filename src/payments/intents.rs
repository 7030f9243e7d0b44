//! Creating PaymentIntents: the fresh and replayed halves of `createPaymentIntent`, and
//! recording what a provider created.

use chrono::Utc;
use uuid::Uuid;

use super::idempotency::provider_key;
use super::pricing;
use super::service::{CREATE, CreateIntent, CreatedIntent, StoredIntent};
use super::{PaymentService, PaymentStatus};
use crate::domain::Metadata;
use crate::error::AppError;
use crate::providers::payments::IntentRequest;
use crate::store::{PaymentLine, PaymentRow};

impl PaymentService {
    pub(super) async fn create_fresh(
        &self,
        user: Uuid,
        input: &CreateIntent,
        key: &str,
    ) -> Result<(CreatedIntent, StoredIntent), AppError> {
        let (amount, currency, lines) = self.price_intent(input).await?;
        let customer = self.customer_of(user).await?;
        let request = IntentRequest {
            customer,
            amount,
            currency: currency.clone(),
            description: input.description.clone(),
            metadata: input.metadata.clone(),
            idempotency_key: provider_key(user, CREATE, key),
        };
        let intent = self
            .provider
            .create_intent(&request)
            .await
            .map_err(|e| self.provider_error(e))?;
        let mut payment = self.new_payment(user, &intent.id, intent.status, amount, &currency);
        payment.description = input.description.clone();
        payment.metadata = input.metadata.clone().into();
        self.record_priced_payment(&payment, lines).await?;
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

    /// What the payment charges: the catalog's prices of its line items, or the client's
    /// amount (which the rules were checked to allow).
    async fn price_intent(
        &self,
        input: &CreateIntent,
    ) -> Result<(i64, String, Vec<PaymentLine>), AppError> {
        match (input.amount, &input.currency, &input.line_items) {
            (Some(amount), Some(currency), None) => Ok((amount, currency.clone(), Vec::new())),
            (None, None, Some(items)) => {
                let priced = pricing::price(&self.catalog().await?, items)?;
                Ok((priced.amount, priced.currency, priced.lines))
            }
            _ => Err(AppError::internal(anyhow::anyhow!(
                "createPaymentIntent input was not validated"
            ))),
        }
    }

    /// Records a new payment with the line items it was priced from (none for a custom
    /// amount), and announces it.
    async fn record_priced_payment(
        &self,
        payment: &PaymentRow,
        mut lines: Vec<PaymentLine>,
    ) -> Result<(), AppError> {
        if lines.is_empty() {
            return self.record_payment(payment).await;
        }
        for line in &mut lines {
            line.payment_id = payment.id;
        }
        let event = self.store.insert_priced_payment(payment, &lines).await?;
        self.remember_trace(payment.id).await;
        self.announce(&event).await;
        Ok(())
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
