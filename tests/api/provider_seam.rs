//! A payment provider the server was not built with, added the way a new adapter is: an
//! implementation of the provider port (its own name, its own event format) handed to the app's
//! wiring. Nothing in payments, webhooks or GraphQL knows it, yet a payment it creates goes
//! live through a webhook at its own source.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use switchboard::app::Parts;
use switchboard::payments::PaymentStatus;
use switchboard::providers::payments::{
    CheckoutRequest, DecodeError, EventDecoder, EventHeader, IntentRequest, PaymentFailure,
    PaymentProvider, ProviderCheckout, ProviderEvent, ProviderIntent, ProviderPrice,
    ProviderRefund,
};
use switchboard::providers::resilience::{PolicyConfig, ProviderError, ResilientProvider};

use crate::helpers::{Backend, TestApp, TestDatabase};
use crate::payments::Client;

const SOURCE: &str = "fakepay";
const SECRET: &str = "whsec_fakepay_test";

/// FakePay's API: payments are created at once, and settle by webhook.
struct FakePay {
    resilience: ResilientProvider,
}

#[async_trait]
impl PaymentProvider for FakePay {
    fn name(&self) -> &'static str {
        SOURCE
    }

    fn resilience(&self) -> &ResilientProvider {
        &self.resilience
    }

    fn events(&self) -> Arc<dyn EventDecoder> {
        Arc::new(FakePayEvents)
    }

    async fn events_since(&self, _created_after: i64) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }

    async fn create_customer(
        &self,
        _email: Option<&str>,
        _user_id: &str,
        _key: &str,
    ) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<Option<ProviderCheckout>, ProviderError> {
        Ok(None)
    }

    async fn list_prices(&self) -> Result<Vec<ProviderPrice>, ProviderError> {
        Ok(Vec::new())
    }

    async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        Ok(ProviderIntent {
            id: format!("fp-{}", &request.idempotency_key[..16]),
            status: PaymentStatus::RequiresPaymentMethod,
            client_secret: "fp-client-secret".into(),
        })
    }

    async fn client_secret(&self, _intent_id: &str) -> Result<String, ProviderError> {
        Ok("fp-client-secret".into())
    }

    async fn refund(
        &self,
        _payment_id: &str,
        amount: i64,
        _key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        Ok(ProviderRefund {
            id: "fp-refund".into(),
            amount,
            status: "succeeded".into(),
        })
    }
}

/// FakePay's webhook body: nothing like Stripe's.
#[derive(Deserialize)]
struct FakePayNotice {
    reference: String,
    payment: String,
    outcome: Outcome,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Captured,
    Refused,
}

struct FakePayEvents;

impl FakePayEvents {
    fn read(body: &[u8]) -> Result<FakePayNotice, DecodeError> {
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(SOURCE, e))
    }
}

impl EventDecoder for FakePayEvents {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn header(&self, body: &[u8]) -> Result<EventHeader, DecodeError> {
        let notice = Self::read(body)?;
        let kind = match notice.outcome {
            Outcome::Captured => "fakepay.captured",
            Outcome::Refused => "fakepay.refused",
        };
        Ok(EventHeader {
            id: notice.reference,
            kind: kind.into(),
        })
    }

    fn decode(&self, body: &[u8]) -> Result<ProviderEvent, DecodeError> {
        let notice = Self::read(body)?;
        let (status, failure) = match notice.outcome {
            Outcome::Captured => (PaymentStatus::Succeeded, None),
            Outcome::Refused => (
                PaymentStatus::RequiresPaymentMethod,
                Some(PaymentFailure::default()),
            ),
        };
        Ok(ProviderEvent::IntentStatus {
            provider_payment_id: notice.payment,
            status,
            failure,
        })
    }
}

/// POSTs `body` to `/webhooks/{source}`, signed with the test's webhook secret.
async fn deliver(app: &TestApp, source: &str, body: &str) -> reqwest::Response {
    let signature = switchboard::webhooks::signature::sign(
        body.as_bytes(),
        &SECRET.to_owned().into(),
        chrono::Utc::now().timestamp(),
    );
    app.client
        .post(app.url(&format!("/webhooks/{source}")))
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("webhook delivered")
}

#[tokio::test]
async fn a_provider_added_through_the_port_takes_a_payment_live() {
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let url = database.url().to_owned();
    let fakepay = FakePay {
        resilience: ResilientProvider::new(SOURCE, PolicyConfig::default()).unwrap(),
    };
    let parts = Parts {
        payment_provider: Some(Arc::new(fakepay)),
    };
    let app = TestApp::spawn_with_parts(
        database,
        |s| {
            s.database_url = url;
            s.stripe_webhook_secrets = SECRET.into();
        },
        parts,
    )
    .await;

    let ada = Client::sign_in(&app, "ada").await;
    let body = ada
        .create(json!({ "amount": 1250, "currency": "eur" }), "fp-order-1")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    assert_eq!(payment["provider"], "OTHER", "{body}");
    assert_eq!(payment["status"], "REQUIRES_PAYMENT_METHOD", "{body}");
    let provider_id = payment["providerPaymentId"].as_str().unwrap().to_owned();
    assert!(provider_id.starts_with("fp-"), "{body}");
    let id = payment["id"].clone();

    // Another provider's format at this source is not an event of it.
    let stripe_shaped = json!({ "id": "evt_1", "type": "payment_intent.succeeded",
        "data": { "object": { "id": provider_id, "status": "succeeded" } } });
    let refused = deliver(&app, SOURCE, &stripe_shaped.to_string()).await;
    assert_eq!(refused.status(), 400);
    let unknown = deliver(&app, "nobody", &stripe_shaped.to_string()).await;
    assert_eq!(unknown.status(), 404);

    let notice = json!({ "reference": "fp-n-1", "payment": provider_id, "outcome": "captured" });
    let accepted = deliver(&app, SOURCE, &notice.to_string()).await;
    assert_eq!(accepted.status(), 200);
    ada.until_status(&id, "SUCCEEDED").await;
    assert_eq!(
        ada.event_kinds().await,
        [
            "created:REQUIRES_PAYMENT_METHOD",
            "fakepay.captured:SUCCEEDED"
        ]
    );
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let inbox: Vec<(String, String, String)> =
        sqlx::query_as("SELECT event_id, source, status FROM webhook_inbox")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(inbox, [("fp-n-1".into(), SOURCE.into(), "applied".into())]);
}
