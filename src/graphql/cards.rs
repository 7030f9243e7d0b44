//! Saved cards and mobile SDKs in the schema: `createSetupIntent`, `paymentMethods`, and the
//! customer access (`customerId`, `ephemeralKeySecret`) that `ephemeralKey: true` adds to the
//! creating mutations' payloads.

use async_graphql::{Context, ID, Object, SimpleObject};
use secrecy::ExposeSecret;

use super::payments::MetadataEntry;
use super::{SchemaDeps, viewer_state};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::payments::{CreateSetup, CustomerAccessRequest, PaymentService};

/// A card saved for the signed-in user.
#[derive(SimpleObject)]
pub struct SavedCard {
    /// The payment method id (`pm_...`), to charge it later or show it in PaymentSheet.
    pub id: ID,
    /// `visa`, `mastercard`, `amex`...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month, 1 to 12.
    pub exp_month: u32,
    /// Expiry year, four digits.
    pub exp_year: u32,
}

/// A created SetupIntent: confirm it on the client to save a card.
#[derive(SimpleObject)]
pub struct SetupIntentPayload {
    /// Stripe.js `confirmSetup`, or PaymentSheet in setup mode (`setupIntentClientSecret`).
    pub client_secret: String,
    /// The user's customer (`cus_...`), with `ephemeralKey: true`; null otherwise and with the
    /// sandbox, which has no customers.
    pub customer_id: Option<String>,
    /// A fresh ephemeral key for PaymentSheet, with `ephemeralKey: true`; null otherwise and
    /// with the sandbox. Short-lived: a replay mints a new one.
    pub ephemeral_key_secret: Option<String>,
}

/// The customer access a creating mutation hands back when asked: `(customerId,
/// ephemeralKeySecret)`, both null when not asked for or when the provider has no customers.
pub async fn customer_access(
    payments: &PaymentService,
    viewer: &Viewer,
    asked: Option<CustomerAccessRequest>,
) -> Result<(Option<String>, Option<String>), AppError> {
    let Some(asked) = asked else {
        return Ok((None, None));
    };
    let access = payments
        .ephemeral_key(viewer.user_id, asked.api_version.as_ref())
        .await?;
    Ok(match access {
        Some(access) => (
            Some(access.customer_id),
            Some(access.ephemeral_key_secret.expose_secret().to_owned()),
        ),
        None => (None, None),
    })
}

/// Saved-card queries.
#[derive(Default)]
pub struct CardsQuery;

/// Saved-card queries.
#[Object]
impl CardsQuery {
    /// The signed-in user's saved cards; empty until they save one (reading creates nothing).
    async fn payment_methods(&self, ctx: &Context<'_>) -> Result<Vec<SavedCard>, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        Ok(payments
            .payment_methods(viewer)
            .await?
            .into_iter()
            .map(|card| SavedCard {
                id: ID(card.id),
                brand: card.brand,
                last4: card.last4,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
            })
            .collect())
    }
}

/// Saved-card mutations.
#[derive(Default)]
pub struct CardsMutation;

/// Saved-card mutations.
#[Object]
impl CardsMutation {
    /// Starts saving a card for later payments made without the user present (off-session),
    /// for the signed-in user's customer. Confirm `clientSecret` on the client; the card then
    /// shows in `paymentMethods`. Idempotent per `idempotencyKey`, like payments; `metadata`
    /// is part of the request, `ephemeralKey` and `stripeApiVersion` are not. With
    /// `ephemeralKey: true` the payload carries `customerId` and `ephemeralKeySecret` for
    /// PaymentSheet; `stripeApiVersion` is the mobile SDK's Stripe API version (e.g.
    /// `2024-06-20`; the server's when omitted).
    async fn create_setup_intent(
        &self,
        ctx: &Context<'_>,
        idempotency_key: String,
        #[graphql(default)] metadata: Vec<MetadataEntry>,
        #[graphql(default = false)] ephemeral_key: bool,
        stripe_api_version: Option<String>,
    ) -> Result<SetupIntentPayload, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let payments = &ctx.data_unchecked::<SchemaDeps>().payments;
        let asked =
            CustomerAccessRequest::from_arguments(ephemeral_key, stripe_api_version.as_deref())?;
        let input = CreateSetup {
            metadata: metadata.into_iter().map(|e| (e.key, e.value)).collect(),
        };
        let created = payments
            .create_setup_intent(viewer, input, &idempotency_key)
            .await?;
        let (customer_id, ephemeral_key_secret) = customer_access(payments, viewer, asked).await?;
        Ok(SetupIntentPayload {
            client_secret: created.client_secret,
            customer_id,
            ephemeral_key_secret,
        })
    }
}
