//! Saved cards and mobile SDKs: SetupIntents (`createSetupIntent`), the viewer's saved cards
//! (`paymentMethods`), and ephemeral keys for PaymentSheet (`ephemeralKey: true` on the
//! creating mutations).
//!
//! An ephemeral key secret is handed to the client and forgotten: it is never logged, never
//! stored with an idempotency key, and `Debug` hides it. A replayed mutation mints a new one,
//! since keys expire and the first may already have.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PaymentService;
use super::idempotency::{check_key, fingerprint, provider_key};
use super::money;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::providers::payments::{SavedCard, SetupRequest, UNKNOWN_API_VERSION};
use crate::providers::resilience::ProviderError;

const SETUP: &str = "setup_intents.create";

/// The argument naming the SDK's API version, in errors.
const VERSION_FIELD: &str = "stripeApiVersion";

/// A Stripe API version as a mobile SDK sends it: `2024-06-20`, or with a release name,
/// `2025-01-27.acacia`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(String);

impl ApiVersion {
    /// Checks `raw` strictly: a real date from 2011 on, optionally `.` and 1-20 lower-case
    /// letters. It goes into a request header, so nothing else may pass.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let (date, name) = match raw.split_once('.') {
            Some((date, name)) => (date, Some(name)),
            None => (raw, None),
        };
        let name_ok = name.is_none_or(|n| {
            (1..=20).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_lowercase())
        });
        let date_ok = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .is_ok_and(|d| date.len() == 10 && (2011..=2099).contains(&chrono::Datelike::year(&d)));
        if name_ok && date_ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::bad_input(
                VERSION_FIELD,
                "not a Stripe API version; send the one your Stripe SDK uses, e.g. 2024-06-20 \
                 or 2025-01-27.acacia (or leave it out for the server's default)",
            ))
        }
    }

    /// The version as sent in `Stripe-Version`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a client asks for with `ephemeralKey: true`: access to its customer for a mobile SDK
/// speaking `api_version` (the provider's default when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAccessRequest {
    /// The SDK's API version.
    pub api_version: Option<ApiVersion>,
}

impl CustomerAccessRequest {
    /// Reads the `ephemeralKey` and `stripeApiVersion` arguments; `None` when no key is asked
    /// for. A version without `ephemeralKey: true` is a client mistake, refused rather than
    /// ignored.
    pub fn from_arguments(
        ephemeral_key: bool,
        stripe_api_version: Option<&str>,
    ) -> Result<Option<Self>, AppError> {
        let api_version = stripe_api_version.map(ApiVersion::parse).transpose()?;
        match (ephemeral_key, api_version) {
            (true, api_version) => Ok(Some(Self { api_version })),
            (false, None) => Ok(None),
            (false, Some(_)) => Err(AppError::bad_input(
                VERSION_FIELD,
                "only used with ephemeralKey: true",
            )),
        }
    }
}

/// A mobile SDK's access to the user's customer: PaymentSheet's `customerId` and
/// `ephemeralKeySecret`.
pub struct CustomerAccess {
    /// The provider's customer (`cus_...`).
    pub customer_id: String,
    /// The ephemeral key's secret (`ek_...`); hand it to the client, nowhere else.
    pub ephemeral_key_secret: SecretString,
}

crate::redact::redacted_debug!(CustomerAccess { customer_id } hides { ephemeral_key_secret });

/// Input of `createSetupIntent`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateSetup {
    /// Client metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A created (or replayed) SetupIntent.
pub struct CreatedSetup {
    /// The provider's id (`seti_...`).
    pub id: String,
    /// For Stripe.js `confirmSetup` / PaymentSheet in setup mode.
    pub client_secret: String,
}

crate::redact::redacted_debug!(CreatedSetup { id } hides { client_secret });

/// What an idempotent SetupIntent stores to replay; the client secret is fetched again.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSetup {
    setup_intent_id: String,
}

impl PaymentService {
    /// The key clients use to reach the provider directly (Stripe.js, PaymentSheet): `pk_...`
    /// with Stripe, `None` with the sandbox.
    pub fn publishable_key(&self) -> Option<&str> {
        self.provider.publishable_key()
    }

    /// A new ephemeral key for `user`'s customer (created on first need), for a mobile SDK
    /// speaking `api_version`; `None` with a provider that has no customers (the sandbox).
    /// Each call mints a new key, so a replayed mutation hands out a fresh, unexpired one.
    pub async fn ephemeral_key(
        &self,
        user: Uuid,
        api_version: Option<&ApiVersion>,
    ) -> Result<Option<CustomerAccess>, AppError> {
        let Some(customer_id) = self.customer_of(user).await? else {
            return Ok(None);
        };
        let key = self
            .provider
            .create_ephemeral_key(&customer_id, api_version.map(ApiVersion::as_str))
            .await
            .map_err(|e| self.key_error(e))?;
        Ok(key.map(|key| CustomerAccess {
            customer_id,
            ephemeral_key_secret: key.secret,
        }))
    }

    /// Creates a SetupIntent for the viewer's customer once per idempotency key, to save a
    /// card for payments made later without them present.
    pub async fn create_setup_intent(
        &self,
        viewer: &Viewer,
        input: CreateSetup,
        key: &str,
    ) -> Result<CreatedSetup, AppError> {
        check_key(key)?;
        money::metadata(&input.metadata, "metadata")?;
        let user = viewer.user_id;
        self.idempotent(
            user,
            SETUP,
            key,
            &fingerprint(&input),
            self.setup_fresh(user, input.clone(), key),
            |stored: StoredSetup| self.setup_replay(stored),
        )
        .await
    }

    /// The viewer's saved cards; empty while they have no customer (reading never creates one).
    pub async fn payment_methods(&self, viewer: &Viewer) -> Result<Vec<SavedCard>, AppError> {
        let customer = self
            .store
            .payment_customer(viewer.user_id, self.provider.name())
            .await?;
        let Some(customer) = customer else {
            return Ok(Vec::new());
        };
        self.provider
            .list_cards(&customer)
            .await
            .map_err(|e| self.provider_error(e))
    }

    async fn setup_fresh(
        &self,
        user: Uuid,
        input: CreateSetup,
        key: &str,
    ) -> Result<(CreatedSetup, StoredSetup), AppError> {
        let request = SetupRequest {
            customer: self.customer_of(user).await?,
            metadata: input.metadata,
            idempotency_key: provider_key(user, SETUP, key),
        };
        let intent = self
            .provider
            .create_setup_intent(&request)
            .await
            .map_err(|e| self.provider_error(e))?
            .ok_or_else(|| AppError::Conflict("this payment provider cannot save cards".into()))?;
        tracing::info!(setup_intent_id = %intent.id, "setup intent created");
        let stored = StoredSetup {
            setup_intent_id: intent.id.clone(),
        };
        let created = CreatedSetup {
            id: intent.id,
            client_secret: intent.client_secret,
        };
        Ok((created, stored))
    }

    async fn setup_replay(&self, stored: StoredSetup) -> Result<CreatedSetup, AppError> {
        let client_secret = self
            .provider
            .setup_intent_secret(&stored.setup_intent_id)
            .await
            .map_err(|e| self.provider_error(e))?;
        Ok(CreatedSetup {
            id: stored.setup_intent_id,
            client_secret,
        })
    }

    /// A refused version is the client's to fix; anything else is reported as usual.
    fn key_error(&self, err: ProviderError) -> AppError {
        match err {
            ProviderError::Permanent {
                code: Some(code), ..
            } if code == UNKNOWN_API_VERSION => AppError::bad_input(
                VERSION_FIELD,
                "the payment provider does not know this API version; send the one your \
                 Stripe SDK uses",
            ),
            other => self.provider_error(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_checked_strictly() {
        for good in ["2024-06-20", "2025-01-27.acacia", "2020-08-27"] {
            assert_eq!(ApiVersion::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "2024-6-20",
            "2024-13-01",
            "2024-02-30",
            "2024-06-20.",
            "2024-06-20.Acacia",
            "2024-06-20.acacia.x",
            "2024-06-20\r\nX-Evil: 1",
            " 2024-06-20",
            "1999-01-01",
            "latest",
        ] {
            assert!(ApiVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_version_needs_the_ephemeral_key_flag() {
        assert_eq!(
            CustomerAccessRequest::from_arguments(false, None).unwrap(),
            None
        );
        let asked = CustomerAccessRequest::from_arguments(true, Some("2024-06-20")).unwrap();
        assert_eq!(asked.unwrap().api_version.unwrap().as_str(), "2024-06-20");
        assert!(CustomerAccessRequest::from_arguments(false, Some("2024-06-20")).is_err());
        assert!(CustomerAccessRequest::from_arguments(true, Some("bad")).is_err());
    }

    #[test]
    fn debug_hides_the_secrets() {
        let access = CustomerAccess {
            customer_id: "cus_1".into(),
            ephemeral_key_secret: "ek_test_canary".to_owned().into(),
        };
        let created = CreatedSetup {
            id: "seti_1".into(),
            client_secret: "seti_1_secret_canary".into(),
        };
        for debug in [format!("{access:?}"), format!("{created:?}")] {
            assert!(
                !debug.contains("canary") && debug.contains("REDACTED"),
                "{debug}"
            );
        }
    }
}
