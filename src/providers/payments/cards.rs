//! The port's types for saved cards and mobile SDKs: SetupIntents (save a card for later),
//! saved cards, and ephemeral keys (a mobile SDK's short-lived access to one customer).

use std::collections::BTreeMap;

use secrecy::SecretString;

/// The code an adapter gives a refused ephemeral key whose API version the provider does not
/// know, so the service can tell the client which argument to fix.
pub const UNKNOWN_API_VERSION: &str = "unknown_api_version";

/// A SetupIntent to create: a card saved for later payments made without the customer present.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    /// The provider's customer the card is saved for.
    pub customer: Option<String>,
    /// Client metadata.
    pub metadata: BTreeMap<String, String>,
    /// Sent as `Idempotency-Key` on every attempt.
    pub idempotency_key: String,
}

/// A SetupIntent as the provider reports it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSetupIntent {
    /// `seti_...`.
    pub id: String,
    /// Handed to Stripe.js / PaymentSheet to collect and confirm the card on the client.
    pub client_secret: String,
}

crate::redact::redacted_debug!(ProviderSetupIntent { id } hides { client_secret });

/// A card saved for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCard {
    /// The payment method id (`pm_...`).
    pub id: String,
    /// `visa`, `mastercard`, `amex`...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// 1 to 12.
    pub exp_month: u32,
    /// Four digits.
    pub exp_year: u32,
}

/// A short-lived key giving a mobile SDK access to one customer's saved payment methods.
/// The secret is never logged and never stored: a replay mints a new key.
pub struct EphemeralKey {
    /// `ek_...`: handed to PaymentSheet as the customer's ephemeral key secret.
    pub secret: SecretString,
    /// When it expires (Unix seconds), if the provider says.
    pub expires: Option<i64>,
}

crate::redact::redacted_debug!(EphemeralKey { expires } hides { secret });
