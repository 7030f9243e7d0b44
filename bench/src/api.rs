//! Setting the stage through the public API: signing in with the development login, creating
//! payments, and signing provider events like Stripe does.

use anyhow::{Context, bail};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::WEBHOOK_SECRET;

/// A GraphQL client for setup calls (not for measured load).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of the server at `base`.
    pub fn new(base: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            base,
        }
    }

    /// Runs an operation and returns its `data`, failing on any error.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.json().await?;
        if body.get("errors").is_some() {
            bail!("{query}: {body}");
        }
        Ok(body["data"].clone())
    }

    /// Signs `login` in through the development provider; returns the access token. The login
    /// cookie `startLogin` sets goes back with `completeLogin`, as a browser would send it.
    pub async fn sign_in(&self, login: &str) -> anyhow::Result<String> {
        let url = format!("{}/graphql", self.base);
        let query = r#"mutation { startLogin(provider: "dev") { state } }"#;
        let response = self
            .http
            .post(&url)
            .json(&json!({ "query": query }))
            .send()
            .await?;
        let login_cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ");
        let start: Value = response.json().await?;
        let state = start["data"]["startLogin"]["state"]
            .as_str()
            .with_context(|| format!("no state: {start}"))?;
        let query = "mutation($c: String!, $s: String!) { completeLogin(provider: \"dev\", code: $c, state: $s) { accessToken } }";
        let session: Value = self
            .http
            .post(&url)
            .header(reqwest::header::COOKIE, login_cookie)
            .json(&json!({ "query": query, "variables": { "c": login, "s": state } }))
            .send()
            .await?
            .json()
            .await?;
        Ok(session["data"]["completeLogin"]["accessToken"]
            .as_str()
            .with_context(|| format!("no access token: {session}"))?
            .to_owned())
    }

    /// Creates `count` sandbox payments for the token's user, `parallel` at a time; returns
    /// `(payment id, provider payment id)` in creation order.
    pub async fn create_payments(
        &self,
        token: &str,
        count: usize,
        parallel: usize,
    ) -> anyhow::Result<Vec<(String, String)>> {
        use futures_util::{StreamExt, TryStreamExt};
        futures_util::stream::iter(0..count)
            .map(|_| self.create_payment(token))
            .buffered(parallel)
            .try_collect()
            .await
    }

    async fn create_payment(&self, token: &str) -> anyhow::Result<(String, String)> {
        let data = self
            .graphql(
                Some(token),
                "mutation($k: String!) { createPaymentIntent(input: { amount: 1000, currency: \"usd\" }, idempotencyKey: $k) { payment { id providerPaymentId } } }",
                json!({ "k": uuid::Uuid::new_v4().to_string() }),
            )
            .await?;
        let payment = &data["createPaymentIntent"]["payment"];
        Ok((
            payment["id"].as_str().context("no id")?.to_owned(),
            payment["providerPaymentId"]
                .as_str()
                .context("no provider id")?
                .to_owned(),
        ))
    }
}

/// Posts `body`, signed, to the webhook endpoint at `url`; fails unless it was accepted.
pub async fn post_webhook(client: &reqwest::Client, url: &str, body: String) -> anyhow::Result<()> {
    let response = client
        .post(url)
        .header("stripe-signature", stripe_signature(&body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "webhook refused with {}",
        response.status()
    );
    Ok(())
}

/// A Stripe-style event body for the PaymentIntent `intent` reaching `status`.
pub fn intent_event(event_id: &str, intent: &str, status: &str) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "type": format!("payment_intent.{status}"),
        "created": now(),
        "data": { "object": { "id": intent, "object": "payment_intent", "status": status, "amount": 1000, "currency": "usd" } },
    })
    .to_string()
}

/// A Stripe-style `charge.refunded` body: `intent` has `refunded` minor units refunded in all.
pub fn refund_event(event_id: &str, intent: &str, refunded: i64) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "type": "charge.refunded",
        "created": now(),
        "data": { "object": { "id": format!("ch_{event_id}"), "object": "charge", "payment_intent": intent, "amount": 1000, "amount_refunded": refunded } },
    })
    .to_string()
}

/// The `Stripe-Signature` header for `body`, signed now with the harness's secret.
pub fn stripe_signature(body: &str) -> String {
    let timestamp = now();
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
