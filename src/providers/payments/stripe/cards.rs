//! Saved cards and mobile SDKs on Stripe: SetupIntents and payment methods through
//! async-stripe's request builders, and ephemeral keys sent by us.
//!
//! Ephemeral keys are the one call async-stripe cannot send: Stripe wants the *mobile SDK's*
//! API version in `Stripe-Version`, and async-stripe fixes that header per client. So
//! [`EphemeralKeys`] posts the form with reqwest, through the same resilience policy, and
//! classifies the answer like the identity providers do.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use stripe::StripeRequest;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::providers::payments::{
    EphemeralKey, ProviderSetupIntent, SavedCard, SetupRequest, UNKNOWN_API_VERSION,
};
use crate::providers::resilience::http::classify_response;
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};

/// Largest error body quoted into a message (an error body holds no secret).
const SNIPPET: usize = 512;

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

/// Mints ephemeral keys: `POST /v1/ephemeral_keys` with the mobile SDK's `Stripe-Version`.
pub(super) struct EphemeralKeys {
    http: reqwest::Client,
    secret_key: SecretString,
    /// Ends in `/`.
    api_base: String,
}

/// An ephemeral key as Stripe answers it. No `Debug`: it carries the secret.
#[derive(Deserialize)]
struct WireEphemeralKey {
    secret: Option<String>,
    expires: Option<i64>,
}

impl EphemeralKeys {
    /// A sender for `secret_key` to `api_base` (Stripe's own when `None`).
    pub fn new(secret_key: &SecretString, api_base: Option<&str>) -> anyhow::Result<Self> {
        let api_base = api_base.unwrap_or("https://api.stripe.com/");
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            secret_key: secret_key.clone(),
            api_base: format!("{}/", api_base.trim_end_matches('/')),
        })
    }

    /// A new key for `customer`, valid for the SDK speaking `api_version`. Each attempt of one
    /// call carries the same fresh `Idempotency-Key`, so a retried timeout mints one key.
    pub async fn create(
        &self,
        resilience: &ResilientProvider,
        customer: &str,
        api_version: &str,
    ) -> Result<EphemeralKey, ProviderError> {
        let idempotency_key = uuid::Uuid::new_v4().to_string();
        let url = format!("{}v1/ephemeral_keys", self.api_base);
        let key = resilience
            .call(
                Operation::idempotent_write("ephemeral_keys.create"),
                |attempt| {
                    let request = self
                        .http
                        .post(&url)
                        .bearer_auth(self.secret_key.expose_secret())
                        .header("Stripe-Version", api_version)
                        .header("Idempotency-Key", &idempotency_key)
                        .form(&[("customer", customer)])
                        .timeout(attempt.timeout());
                    async move {
                        let response = request.send().await.map_err(transport_error)?;
                        read_key(response).await
                    }
                },
            )
            .await?;
        Ok(EphemeralKey {
            secret: key.secret.ok_or_else(|| lacks("secret"))?.into(),
            expires: key.expires,
        })
    }
}

async fn read_key(response: reqwest::Response) -> Result<WireEphemeralKey, ProviderError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(transport_error)?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let snippet: String = text.chars().take(SNIPPET).collect();
        return Err(match classify_response(status, &headers, &snippet) {
            // Stripe refuses a version it does not know with a 400 that names it.
            Some(ProviderError::Permanent {
                status: Some(400),
                message,
                ..
            }) if message.to_ascii_lowercase().contains("version") => ProviderError::Permanent {
                status: Some(400),
                code: Some(UNKNOWN_API_VERSION.into()),
                message,
            },
            Some(err) => err,
            None => unreachable_success(),
        });
    }
    // Never quote this body: it holds the secret.
    serde_json::from_slice(&body).map_err(|_| ProviderError::Permanent {
        status: Some(status.as_u16()),
        code: None,
        message: "unreadable ephemeral key response".into(),
    })
}

fn unreachable_success() -> ProviderError {
    ProviderError::Permanent {
        status: None,
        code: None,
        message: "a failed response classified as a success".into(),
    }
}

fn transport_error(err: reqwest::Error) -> ProviderError {
    crate::providers::resilience::http::classify_transport_error(
        err.is_timeout(),
        err.is_connect(),
        err.to_string(),
    )
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
