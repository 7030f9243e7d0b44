//! The sandbox provider: payments without any keys. It creates PaymentIntents locally and then
//! moves them through realistic states, announcing each step as a Stripe-shaped event that the
//! server signs and feeds through the very same webhook inbox as real Stripe events.
//!
//! Outcome on demand: a description containing `decline` fails the payment, `3ds` asks for
//! customer action first; anything else succeeds.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::mpsc;

use super::{
    CheckoutRequest, IntentRequest, PaymentProvider, ProviderCheckout, ProviderIntent,
    ProviderPrice, ProviderRefund,
};
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};

/// An event the sandbox wants delivered (the JSON body of a Stripe event).
#[derive(Debug, Clone)]
pub struct SandboxEvent {
    /// The event JSON.
    pub body: String,
}

/// The keyless provider.
pub struct SandboxProvider {
    resilience: ResilientProvider,
    events: mpsc::UnboundedSender<SandboxEvent>,
    step: Duration,
    /// Client secrets are derived from the intent id and this per-process salt, so a replay can
    /// ask for one again without the sandbox keeping a table of them.
    secret_salt: String,
}

impl SandboxProvider {
    /// A sandbox whose payments advance one state every `step`; events go to `events`.
    pub fn new(
        resilience: ResilientProvider,
        events: mpsc::UnboundedSender<SandboxEvent>,
        step: Duration,
    ) -> Self {
        Self {
            resilience,
            events,
            step,
            secret_salt: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    fn secret_of(&self, intent_id: &str) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{}:{intent_id}", self.secret_salt));
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{intent_id}_secret_{hex}")
    }

    fn script(description: Option<&str>) -> &'static [&'static str] {
        let description = description.unwrap_or_default().to_ascii_lowercase();
        if description.contains("decline") {
            &["processing", "payment_failed"]
        } else if description.contains("3ds") {
            &["requires_action", "processing", "succeeded"]
        } else {
            &["processing", "succeeded"]
        }
    }
}

/// A Stripe-shaped event about a PaymentIntent.
fn intent_event(intent_id: &str, amount: i64, currency: &str, step: &str) -> String {
    let (event_type, status) = match step {
        "payment_failed" => ("payment_intent.payment_failed", "requires_payment_method"),
        "requires_action" => ("payment_intent.requires_action", "requires_action"),
        other => (
            if other == "processing" {
                "payment_intent.processing"
            } else {
                "payment_intent.succeeded"
            },
            other,
        ),
    };
    json!({
        "id": format!("evt_sandbox_{}", uuid::Uuid::now_v7().simple()),
        "object": "event",
        "type": event_type,
        "created": chrono::Utc::now().timestamp(),
        "data": { "object": {
            "id": intent_id, "object": "payment_intent", "amount": amount, "currency": currency, "status": status,
            "last_payment_error": if step == "payment_failed" {
                json!({ "code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined." })
            } else { serde_json::Value::Null },
        }},
    })
    .to_string()
}

#[async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn resilience(&self) -> &ResilientProvider {
        &self.resilience
    }

    async fn list_prices(&self) -> Result<Vec<ProviderPrice>, ProviderError> {
        // A small fixed catalog, so the quick start has something to show.
        let price = |id: &str, product: &str, amount, interval: Option<&str>| ProviderPrice {
            id: id.to_owned(),
            product: Some(product.to_owned()),
            unit_amount: amount,
            currency: "usd".to_owned(),
            interval: interval.map(str::to_owned),
        };
        Ok(vec![
            price("price_sandbox_coffee", "Coffee beans", 1_800, None),
            price("price_sandbox_club", "Coffee club", 2_500, Some("month")),
        ])
    }

    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<Option<ProviderCheckout>, ProviderError> {
        Ok(None)
    }

    async fn events_since(&self, _created_after: i64) -> Result<Vec<String>, ProviderError> {
        // Sandbox events are handed to the inbox in-process: none can go missing.
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

    async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        let intent = self
            .resilience
            .call(
                Operation::idempotent_write("payment_intents.create"),
                |_| async {
                    let id = format!("pi_sandbox_{}", uuid::Uuid::now_v7().simple());
                    Ok(ProviderIntent {
                        client_secret: self.secret_of(&id),
                        id,
                        status: "requires_payment_method".into(),
                    })
                },
            )
            .await?;
        let (events, step, script) = (
            self.events.clone(),
            self.step,
            Self::script(request.description.as_deref()),
        );
        let (id, amount, currency) = (intent.id.clone(), request.amount, request.currency.clone());
        tokio::spawn(async move {
            for state in script {
                tokio::time::sleep(step).await;
                if events
                    .send(SandboxEvent {
                        body: intent_event(&id, amount, &currency, state),
                    })
                    .is_err()
                {
                    return;
                }
            }
        });
        Ok(intent)
    }

    async fn client_secret(&self, intent_id: &str) -> Result<String, ProviderError> {
        self.resilience
            .call(Operation::read("payment_intents.retrieve"), |_| async {
                Ok(self.secret_of(intent_id))
            })
            .await
    }

    async fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        _idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        self.resilience
            .call(
                Operation::idempotent_write("refunds.create"),
                |_| async move {
                    let _ = payment_id;
                    Ok(ProviderRefund {
                        id: format!("re_sandbox_{}", uuid::Uuid::now_v7().simple()),
                        amount,
                        status: "succeeded".into(),
                    })
                },
            )
            .await
    }
}
