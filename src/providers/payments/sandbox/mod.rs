//! The sandbox provider: payments without any keys. It creates PaymentIntents locally and then
//! moves them through realistic states, announcing each step as an event in its own format
//! ([`events`]) that the server signs and feeds through the very same webhook inbox as real
//! Stripe events.
//!
//! Outcome on demand: a description containing `decline` fails the payment, `3ds` asks for
//! customer action first, `manual` waits for `sandboxConfirmPayment`; anything else succeeds.
//! `sandboxConfirmPayment` drives any sandbox payment at once and stops its script.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod billing;
mod cards;
mod catalog;
mod events;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::event::EventDecoder;
use super::{
    CheckoutRequest, IntentRequest, PaymentProvider, PortalRequest, ProviderCheckout,
    ProviderIntent, ProviderPortal, ProviderPrice, ProviderRefund, ProviderSetupIntent,
    ProviderSubscription, SandboxIntent, SandboxOutcome, SetupRequest, SubscriptionRequest,
    SubscriptionUpdate,
};
use crate::domain::PaymentStatus;
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};
use crate::sync::lock;
use events::{Step, WireEvent};

pub use events::SandboxEvents;

/// An event the sandbox wants delivered (its JSON body, in the sandbox's own format).
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
    /// Scripts still running, by intent id, so a driven payment's script stops.
    scripts: Arc<Mutex<HashMap<String, tokio::task::AbortHandle>>>,
    /// Subscriptions, in memory.
    billing: billing::SandboxBilling,
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
            scripts: Arc::default(),
            billing: billing::SandboxBilling::default(),
        }
    }

    fn secret_of(&self, intent_id: &str) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{}:{intent_id}", self.secret_salt));
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{intent_id}_secret_{hex}")
    }

    fn script(description: Option<&str>) -> &'static [Step] {
        let description = description.unwrap_or_default().to_ascii_lowercase();
        if description.contains("manual") {
            &[]
        } else if description.contains("decline") {
            &[Step::Processing, Step::Failed]
        } else if description.contains("3ds") {
            &[Step::RequiresAction, Step::Processing, Step::Succeeded]
        } else {
            &[Step::Processing, Step::Succeeded]
        }
    }
}

#[async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn resilience(&self) -> &ResilientProvider {
        &self.resilience
    }

    fn events(&self) -> Arc<dyn EventDecoder> {
        Arc::new(SandboxEvents)
    }

    async fn list_prices(&self) -> Result<Vec<ProviderPrice>, ProviderError> {
        Ok(catalog::prices())
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
                        status: PaymentStatus::RequiresPaymentMethod,
                    })
                },
            )
            .await?;
        let (events, step, script) = (
            self.events.clone(),
            self.step,
            Self::script(request.description.as_deref()),
        );
        if script.is_empty() {
            return Ok(intent);
        }
        let (id, amount, currency) = (intent.id.clone(), request.amount, request.currency.clone());
        let scripts = self.scripts.clone();
        // Registered under the lock the task takes to remove itself, so it cannot finish first.
        let mut running = lock(&self.scripts);
        let task = tokio::spawn(async move {
            for state in script {
                tokio::time::sleep(step).await;
                let mut event = WireEvent::new(&id, amount, &currency, *state);
                if *state == Step::Failed {
                    event.decline_code = Some("generic_decline".into());
                }
                if events
                    .send(SandboxEvent {
                        body: event.to_body(),
                    })
                    .is_err()
                {
                    break;
                }
            }
            lock(&scripts).remove(&id);
        });
        running.insert(intent.id.clone(), task.abort_handle());
        Ok(intent)
    }

    async fn client_secret(&self, intent_id: &str) -> Result<String, ProviderError> {
        self.resilience
            .call(Operation::read("payment_intents.retrieve"), |_| async {
                Ok(self.secret_of(intent_id))
            })
            .await
    }

    fn drive(&self, intent: &SandboxIntent<'_>, outcome: &SandboxOutcome) -> bool {
        if let Some(script) = lock(&self.scripts).remove(intent.id) {
            script.abort();
        }
        let (step, decline_code) = match outcome {
            SandboxOutcome::Succeed => (Step::Succeeded, None),
            SandboxOutcome::Decline(code) => (Step::Failed, Some(code.clone())),
            SandboxOutcome::RequireAction => (Step::RequiresAction, None),
        };
        let mut event = WireEvent::new(intent.id, intent.amount, intent.currency, step);
        event.decline_code = decline_code;
        let body = event.to_body();
        // The receiver lives as long as the server; a closed channel means it is shutting down.
        let _ = self.events.send(SandboxEvent { body });
        true
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

    // Billing

    async fn create_subscription(
        &self,
        request: &SubscriptionRequest,
    ) -> Result<ProviderSubscription, ProviderError> {
        // Its invoice is priced from the sandbox's own catalog.
        let prices = self.list_prices().await?;
        self.resilience
            .call(
                Operation::idempotent_write("subscriptions.create"),
                |_| async { self.billing.create(request, &prices) },
            )
            .await
    }

    async fn retrieve_subscription(
        &self,
        subscription_id: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        self.resilience
            .call(Operation::read("subscriptions.retrieve"), |_| async {
                self.billing.get(subscription_id)
            })
            .await
    }

    async fn update_subscription(
        &self,
        subscription_id: &str,
        update: &SubscriptionUpdate,
        _idempotency_key: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        let prices = self.list_prices().await?;
        self.resilience
            .call(
                Operation::idempotent_write("subscriptions.update"),
                |_| async { self.billing.update(subscription_id, update, &prices) },
            )
            .await
    }

    async fn cancel_subscription_now(
        &self,
        subscription_id: &str,
        _idempotency_key: &str,
    ) -> Result<ProviderSubscription, ProviderError> {
        self.resilience
            .call(
                Operation::idempotent_write("subscriptions.cancel"),
                |_| async { self.billing.cancel_now(subscription_id) },
            )
            .await
    }

    // Billing portal

    /// There is nothing to manage without Stripe, so the "portal" sends the customer straight
    /// back: a Manage-billing button works end to end in development.
    async fn create_billing_portal(
        &self,
        request: &PortalRequest,
    ) -> Result<Option<ProviderPortal>, ProviderError> {
        self.resilience
            .call(
                Operation::idempotent_write("billing_portal_sessions.create"),
                |_| async {
                    Ok(Some(ProviderPortal {
                        id: format!("bps_sandbox_{}", uuid::Uuid::now_v7().simple()),
                        url: request.return_url.clone(),
                    }))
                },
            )
            .await
    }

    // Saved cards and mobile

    async fn create_setup_intent(
        &self,
        _request: &SetupRequest,
    ) -> Result<Option<ProviderSetupIntent>, ProviderError> {
        self.resilience
            .call(
                Operation::idempotent_write("setup_intents.create"),
                |_| async { Ok(Some(self.new_setup_intent())) },
            )
            .await
    }

    async fn setup_intent_secret(&self, setup_intent_id: &str) -> Result<String, ProviderError> {
        if !Self::is_setup_intent(setup_intent_id) {
            return Err(ProviderError::Permanent {
                status: Some(404),
                code: None,
                message: format!("no sandbox SetupIntent {setup_intent_id}"),
            });
        }
        self.resilience
            .call(Operation::read("setup_intents.retrieve"), |_| async {
                Ok(self.secret_of(setup_intent_id))
            })
            .await
    }
}
