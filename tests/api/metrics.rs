//! `/metrics` on METRICS_ADDR covers every stage a payment passes: the GraphQL request, the
//! webhook's HTTP route, the inbox, the processor, the event bus, the socket, and sessions.

use std::time::Duration;

use serde_json::{Value, json};

use crate::auth_support::{bearer, dev_sign_in};
use crate::helpers::{TestApp, node_peers};
use crate::webhooks::{SECRET, post, stripe_signature};
use crate::websocket::{receive, send, signed_in_socket};

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// Scrapes until every `(name, labels)` has a sample, or fails after a deadline naming the
/// missing ones.
async fn scrape_until(app: &TestApp, wanted: &[(&str, &[&str])]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = app.metrics().await;
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(name, labels)| sample(&text, name, labels).is_none())
            .collect();
        if missing.is_empty() {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing series {missing:?} in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn named_operation(
    app: &TestApp,
    token: &str,
    name: &str,
    query: &str,
    variables: Value,
) -> Value {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", bearer(token))
        .json(&json!({ "query": query, "variables": variables, "operationName": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_payment_through_the_webhook_shows_in_every_stage_metric() {
    if node_peers().is_none() {
        return;
    }
    let app = crate::payments::app(600_000, |s| s.stripe_webhook_secrets = SECRET.into()).await;
    let (token, refresh) = dev_sign_in(&app, "metrics").await;
    let body = named_operation(
        &app,
        &token,
        "MetricsCheckout",
        "mutation MetricsCheckout($i: PaymentIntentInput!) { createPaymentIntent(input: $i, idempotencyKey: \"metrics\") {
            payment { id providerPaymentId } } }",
        json!({ "i": { "amount": 2000, "currency": "usd" } }),
    )
    .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let (id, intent) = (
        payment["id"].clone(),
        payment["providerPaymentId"].as_str().unwrap().to_owned(),
    );

    let mut socket = signed_in_socket(&app, &token).await;
    send(
        &mut socket,
        json!({ "id": "m", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { paymentUpdated(paymentId: $id) { status } }",
            "variables": { "id": id } } }),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await["payload"]["data"]["paymentUpdated"]["status"],
        "REQUIRES_PAYMENT_METHOD"
    );

    let payload = json!({
        "id": "evt_metrics", "object": "event", "type": "payment_intent.succeeded", "created": 1_700_000_000,
        "data": { "object": { "id": intent, "object": "payment_intent", "status": "succeeded", "amount": 2000, "currency": "usd" } }
    })
    .to_string();
    let signature = stripe_signature(&payload, SECRET, chrono::Utc::now().timestamp()).await;
    assert_eq!(post(&app, &payload, &signature).await.0, 200);
    let update = receive(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["status"], "SUCCEEDED",
        "{update}"
    );

    let rotate = "mutation Rotate($t: String) { refreshSession(refreshToken: $t) { accessToken } }";
    named_operation(&app, &token, "Rotate", rotate, json!({ "t": refresh })).await;

    let text = scrape_until(
        &app,
        &[
            (
                "http_requests_total",
                &[
                    r#"route="/webhooks/stripe""#,
                    r#"method="POST""#,
                    r#"status="200""#,
                ],
            ),
            (
                "http_request_duration_seconds_count",
                &[r#"route="/graphql""#],
            ),
            (
                "graphql_requests_total",
                &[r#"operation="MetricsCheckout""#, r#"outcome="ok""#],
            ),
            (
                "graphql_request_duration_seconds_count",
                &[r#"operation="MetricsCheckout""#],
            ),
            ("webhook_inbox_pending_events", &[]),
            ("webhook_inbox_dead_events", &[]),
            ("webhook_inbox_oldest_pending_age_seconds", &[]),
            ("webhook_apply_duration_seconds_count", &[r#"outcome="ok""#]),
            ("event_bus_notice_lag_seconds_count", &[]),
            ("graphql_websockets_open", &[]),
            ("graphql_subscriptions_active", &[]),
            ("auth_session_refreshes_total", &[r#"outcome="rotated""#]),
        ],
    )
    .await;
    // This test's socket and subscription are open; other tests in the process may add theirs.
    assert!(
        sample(&text, "graphql_websockets_open", &[]).unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "graphql_subscriptions_active", &[]).unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        !text.contains("evt_metrics") && !text.contains(&intent),
        "no ids in labels:\n{text}"
    );
}
