//! Stripe through async-stripe: its request builders, authentication and `Idempotency-Key`
//! handling, with our resilience layer doing the retrying (async-stripe's own strategy is always
//! `Once` or `Idempotent`, never its retries, so a request is never sent by both).
//!
//! Responses are read leniently as JSON rather than into async-stripe's typed models, which
//! follow one API version: the fields we use are the same across versions, and stricter models
//! would refuse older accounts' (and localstripe's) answers.

use std::str::FromStr;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::{CreatePaymentIntent, RetrievePaymentIntent};
use stripe_core::refund::CreateRefund;

use super::{
    CheckoutRequest, IntentRequest, PaymentProvider, ProviderCheckout, ProviderIntent,
    ProviderPrice, ProviderRefund,
};
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};

/// Stripe's API.
pub struct StripeProvider {
    client: Client,
    resilience: ResilientProvider,
}

impl StripeProvider {
    /// A client for `secret_key`, talking to `api_base` when given (e.g. a local fake Stripe).
    pub fn new(
        secret_key: &SecretString,
        api_base: Option<&str>,
        resilience: ResilientProvider,
    ) -> anyhow::Result<Self> {
        let mut builder =
            ClientBuilder::new(secret_key.expose_secret()).request_strategy(RequestStrategy::Once);
        if let Some(base) = api_base {
            builder = builder.url(base);
        }
        Ok(Self {
            client: builder.build()?,
            resilience,
        })
    }

    /// Sends a request through the policy stack and returns its JSON.
    async fn send(
        &self,
        operation: Operation,
        request: &impl StripeRequest,
        key: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let strategy = match key {
            Some(key) => RequestStrategy::Idempotent(IdempotencyKey::new(key).map_err(|e| {
                ProviderError::Permanent {
                    status: None,
                    code: Some("idempotency_key".into()),
                    message: e.to_string(),
                }
            })?),
            None => RequestStrategy::Once,
        };
        self.resilience
            .call(operation, |attempt| {
                let builder = request.build();
                let strategy = strategy.clone();
                async move {
                    let value: miniserde::json::Value = builder
                        .customize()
                        .request_strategy(strategy)
                        .timeout(attempt.timeout())
                        .send(&self.client)
                        .await
                        .map_err(classify)?;
                    serde_json::from_str(&miniserde::json::to_string(&value)).map_err(|e| {
                        ProviderError::Permanent {
                            status: None,
                            code: None,
                            message: format!("unreadable Stripe response: {e}"),
                        }
                    })
                }
            })
            .await
    }
}

/// `GET /v1/prices?active=true`: the first 100 active prices.
struct ListPrices;

impl StripeRequest for ListPrices {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Get, "/prices")
            .query(&[("active", "true"), ("limit", "100")])
    }
}

/// `POST /v1/checkout/sessions` in payment mode.
struct CreateCheckoutSession(CheckoutRequest);

impl StripeRequest for CreateCheckoutSession {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct LineItem<'a> {
            price: &'a str,
            quantity: u32,
        }
        #[derive(serde::Serialize)]
        struct Form<'a> {
            mode: &'static str,
            line_items: Vec<LineItem<'a>>,
            success_url: &'a str,
            cancel_url: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            customer: Option<&'a str>,
        }
        let request = &self.0;
        RequestBuilder::new(StripeMethod::Post, "/checkout/sessions").form(&Form {
            mode: "payment",
            line_items: request
                .line_items
                .iter()
                .map(|(price, quantity)| LineItem {
                    price,
                    quantity: *quantity,
                })
                .collect(),
            success_url: &request.success_url,
            cancel_url: &request.cancel_url,
            customer: request.customer.as_deref(),
        })
    }
}

/// `GET /v1/events` created after a time.
struct ListEvents {
    created_after: i64,
    starting_after: Option<String>,
}

impl StripeRequest for ListEvents {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        #[derive(serde::Serialize)]
        struct Query<'a> {
            created: Created,
            limit: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            starting_after: Option<&'a str>,
        }
        #[derive(serde::Serialize)]
        struct Created {
            gt: i64,
        }
        RequestBuilder::new(StripeMethod::Get, "/events").query(&Query {
            created: Created {
                gt: self.created_after,
            },
            limit: 100,
            starting_after: self.starting_after.as_deref(),
        })
    }
}

/// Classifies an async-stripe failure once.
fn classify(err: StripeError) -> ProviderError {
    match err {
        StripeError::Stripe(body, status) => {
            let code = body
                .decline_code
                .clone()
                .or_else(|| body.code.as_ref().map(|c| c.to_string()));
            let message = body
                .message
                .clone()
                .unwrap_or_else(|| "Stripe refused the request".into());
            match status {
                429 => ProviderError::RateLimited { retry_after: None },
                // A declined card is 402; we treat any card decline as one, whatever the status.
                _ if body.decline_code.is_some() || code.as_deref() == Some("card_declined") => {
                    ProviderError::Permanent {
                        status: Some(402),
                        code,
                        message,
                    }
                }
                409 | 500.. => ProviderError::Transient { message },
                _ => ProviderError::Permanent {
                    status: Some(status),
                    code,
                    message,
                },
            }
        }
        StripeError::Timeout => ProviderError::Timeout,
        StripeError::ClientError(message) => ProviderError::Transient { message },
        StripeError::JSONDeserialize(message) | StripeError::ConfigError(message) => {
            ProviderError::Permanent {
                status: None,
                code: None,
                message,
            }
        }
    }
}

fn text(value: &Value, field: &str) -> Result<String, ProviderError> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::Permanent {
            status: None,
            code: None,
            message: format!("Stripe response lacks {field}"),
        })
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn resilience(&self) -> &ResilientProvider {
        &self.resilience
    }

    async fn list_prices(&self) -> Result<Vec<ProviderPrice>, ProviderError> {
        let page = self
            .send(Operation::read("prices.list"), &ListPrices, None)
            .await?;
        Ok(page["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|price| {
                Some(ProviderPrice {
                    id: price["id"].as_str()?.to_owned(),
                    product: price["product"].as_str().map(str::to_owned),
                    unit_amount: price["unit_amount"].as_i64()?,
                    currency: price["currency"].as_str()?.to_owned(),
                    interval: price["recurring"]["interval"].as_str().map(str::to_owned),
                })
            })
            .collect())
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<Option<ProviderCheckout>, ProviderError> {
        let create = CreateCheckoutSession(request.clone());
        let session = self
            .send(
                Operation::idempotent_write("checkout_sessions.create"),
                &create,
                Some(&request.idempotency_key),
            )
            .await?;
        Ok(Some(ProviderCheckout {
            id: text(&session, "id")?,
            url: text(&session, "url")?,
            amount_total: session["amount_total"].as_i64().unwrap_or_default(),
            currency: session["currency"].as_str().unwrap_or("usd").to_owned(),
        }))
    }

    async fn events_since(&self, created_after: i64) -> Result<Vec<String>, ProviderError> {
        let mut events = Vec::new();
        let mut starting_after = None;
        // Stripe lists newest first, 100 at a time; 50 pages bounds one reconciliation run.
        for _ in 0..50 {
            let request = ListEvents {
                created_after,
                starting_after: starting_after.clone(),
            };
            let page = self
                .send(Operation::read("events.list"), &request, None)
                .await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            starting_after = data
                .last()
                .and_then(|e| e["id"].as_str())
                .map(str::to_owned);
            events.extend(data.iter().map(Value::to_string));
            if page["has_more"].as_bool() != Some(true) || starting_after.is_none() {
                break;
            }
        }
        events.reverse();
        Ok(events)
    }

    async fn create_customer(
        &self,
        email: Option<&str>,
        user_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut create = CreateCustomer::new().metadata(std::collections::HashMap::from([(
            "switchboard_user_id".to_owned(),
            user_id.to_owned(),
        )]));
        if let Some(email) = email {
            create = create.email(email);
        }
        let customer = self
            .send(
                Operation::idempotent_write("customers.create"),
                &create,
                Some(idempotency_key),
            )
            .await?;
        Ok(Some(text(&customer, "id")?))
    }

    async fn create_intent(
        &self,
        request: &IntentRequest,
    ) -> Result<ProviderIntent, ProviderError> {
        let currency = stripe_types::Currency::from_str(&request.currency).map_err(|_| {
            ProviderError::Permanent {
                status: None,
                code: Some("currency".into()),
                message: format!("unknown currency {}", request.currency),
            }
        })?;
        let mut create = CreatePaymentIntent::new(request.amount, currency);
        if let Some(customer) = &request.customer {
            create = create.customer(customer.clone());
        }
        let mut metadata: std::collections::HashMap<_, _> =
            request.metadata.clone().into_iter().collect();
        // The trace that created the payment, so its webhooks can be linked back to it.
        if let Some(traceparent) = crate::telemetry::context::current_traceparent() {
            metadata.insert(
                crate::telemetry::context::TRACEPARENT.to_owned(),
                traceparent,
            );
        }
        if !metadata.is_empty() {
            create = create.metadata(metadata);
        }
        if let Some(description) = &request.description {
            create = create.description(description.clone());
        }
        let intent = self
            .send(
                Operation::idempotent_write("payment_intents.create"),
                &create,
                Some(&request.idempotency_key),
            )
            .await?;
        Ok(ProviderIntent {
            id: text(&intent, "id")?,
            status: text(&intent, "status")?,
            client_secret: text(&intent, "client_secret")?,
        })
    }

    async fn client_secret(&self, intent_id: &str) -> Result<String, ProviderError> {
        let intent = self
            .send(
                Operation::read("payment_intents.retrieve"),
                &RetrievePaymentIntent::new(intent_id.to_owned()),
                None,
            )
            .await?;
        text(&intent, "client_secret")
    }

    async fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let create = CreateRefund::new()
            .payment_intent(payment_id)
            .amount(amount);
        let refund = self
            .send(
                Operation::idempotent_write("refunds.create"),
                &create,
                Some(idempotency_key),
            )
            .await?;
        Ok(ProviderRefund {
            id: text(&refund, "id")?,
            amount: refund["amount"].as_i64().unwrap_or(amount),
            status: text(&refund, "status")?,
        })
    }
}
