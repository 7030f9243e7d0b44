//! Saved cards and mobile SDKs on Stripe: SetupIntents, payment methods and ephemeral keys.
//!
//! An ephemeral key is minted for the *mobile SDK's* API version, so it is the one request sent
//! with a `Stripe-Version` other than the transport's ([`super::client::send_at_version`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use stripe::StripeRequest;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::providers::payments::{
    EphemeralKey, ProviderSetupIntent, SavedCard, SetupRequest, UNKNOWN_API_VERSION,
};
use crate::providers::resilience::ProviderError;

/// `POST /v1/setup_intents` for off-session use by a customer.
pub(super) struct CreateSetupIntent<'a>(pub &'a SetupRequest);

impl StripeRequest for CreateSetupIntent<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct Form<'a> {
            usage: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            customer: Option<&'a str>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            metadata: &'a BTreeMap<String, String>,
        }
        let request = self.0;
        RequestBuilder::new(StripeMethod::Post, "/setup_intents").form(&Form {
            usage: "off_session",
            customer: request.customer.as_deref(),
            metadata: &request.metadata,
        })
    }
}

/// `GET /v1/setup_intents/{id}`.
pub(super) struct RetrieveSetupIntent<'a>(pub &'a str);

impl StripeRequest for RetrieveSetupIntent<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Get, format!("/setup_intents/{}", self.0))
    }
}

/// `GET /v1/payment_methods?customer=...&type=card`: the first 100 saved cards.
pub(super) struct ListCards<'a>(pub &'a str);

impl StripeRequest for ListCards<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        // A struct, not a slice of pairs: serde_qs writes a slice as an indexed list.
        #[derive(serde::Serialize)]
        struct Query<'a> {
            customer: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            limit: u32,
        }
        RequestBuilder::new(StripeMethod::Get, "/payment_methods").query(&Query {
            customer: self.0,
            kind: "card",
            limit: 100,
        })
    }
}

/// A SetupIntent. No `Debug`: it carries the client secret.
#[derive(Deserialize)]
pub(super) struct SetupIntent {
    id: String,
    client_secret: Option<String>,
}

impl TryFrom<SetupIntent> for ProviderSetupIntent {
    type Error = ProviderError;

    fn try_from(intent: SetupIntent) -> Result<Self, Self::Error> {
        Ok(ProviderSetupIntent {
            client_secret: intent.client_secret.ok_or_else(|| lacks("client_secret"))?,
            id: intent.id,
        })
    }
}

/// A PaymentMethod; only cards are read.
#[derive(Debug, Deserialize)]
pub(super) struct PaymentMethod {
    id: String,
    card: Option<Card>,
}

/// A PaymentMethod's card details.
#[derive(Debug, Deserialize)]
struct Card {
    brand: Option<String>,
    last4: Option<String>,
    exp_month: Option<u32>,
    exp_year: Option<u32>,
}

impl PaymentMethod {
    /// The saved card; `None` for a method that is not a card.
    pub fn into_card(self) -> Option<SavedCard> {
        let card = self.card?;
        Some(SavedCard {
            id: self.id,
            brand: card.brand.unwrap_or_else(|| "unknown".into()),
            last4: card.last4?,
            exp_month: card.exp_month?,
            exp_year: card.exp_year?,
        })
    }
}

/// `POST /v1/ephemeral_keys` for a customer.
pub(super) struct CreateEphemeralKey<'a>(pub &'a str);

impl StripeRequest for CreateEphemeralKey<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct Form<'a> {
            customer: &'a str,
        }
        RequestBuilder::new(StripeMethod::Post, "/ephemeral_keys").form(&Form { customer: self.0 })
    }
}

/// An ephemeral key as Stripe answers it. No `Debug`: it carries the secret.
#[derive(Deserialize)]
pub(super) struct WireEphemeralKey {
    secret: Option<String>,
    expires: Option<i64>,
}

impl TryFrom<WireEphemeralKey> for EphemeralKey {
    type Error = ProviderError;

    fn try_from(key: WireEphemeralKey) -> Result<Self, Self::Error> {
        Ok(EphemeralKey {
            secret: key.secret.ok_or_else(|| lacks("secret"))?.into(),
            expires: key.expires,
        })
    }
}

/// Stripe refuses a version it does not know with a 400 that names it; the port's code for
/// that lets the service tell the client which argument to fix.
pub(super) fn unknown_version(err: ProviderError) -> ProviderError {
    match err {
        ProviderError::Permanent {
            status: Some(400),
            message,
            ..
        } if message.to_ascii_lowercase().contains("version") => ProviderError::Permanent {
            status: Some(400),
            code: Some(UNKNOWN_API_VERSION.into()),
            message,
        },
        other => other,
    }
}

fn lacks(field: &str) -> ProviderError {
    ProviderError::Permanent {
        status: None,
        code: None,
        message: format!("Stripe response lacks {field}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_encoded_as_stripe_reads_them() {
        let key = CreateEphemeralKey("cus_1").build();
        assert_eq!(key.body.as_deref(), Some("customer=cus_1"));
        let list = ListCards("cus_1").build();
        assert_eq!(
            list.query.as_deref(),
            Some("customer=cus_1&type=card&limit=100")
        );
        let request = SetupRequest {
            customer: Some("cus_1".into()),
            metadata: BTreeMap::from([("screen".into(), "settings".into())]),
            idempotency_key: "k".into(),
        };
        let body = CreateSetupIntent(&request).build().body.unwrap();
        assert_eq!(
            body.replace("%5B", "[").replace("%5D", "]"),
            "usage=off_session&customer=cus_1&metadata[screen]=settings"
        );
    }
}
