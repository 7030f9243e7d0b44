//! Webhook → subscriber latency, measured (not asserted): run with
//! `cargo test --release --test api latency -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::json;
use switchboard::webhooks::signature::sign;

use crate::payments::Client;
use crate::websocket::{connect, receive, send};

#[tokio::test]
#[ignore = "a measurement; run explicitly"]
async fn webhook_to_subscriber_latency() {
    const EVENTS: usize = 200;
    let secret = "whsec_latency";
    let app = crate::payments::app(600_000, |s| s.stripe_webhook_secrets = secret.into()).await;
    let user = Client::sign_in(&app, "pat").await;
    let mut intents = Vec::new();
    for i in 0..EVENTS {
        let body = user
            .create(
                json!({ "amount": 1000, "currency": "usd" }),
                &format!("lat-{i}"),
            )
            .await;
        intents.push(
            body["data"]["createPaymentIntent"]["payment"]["providerPaymentId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut socket = connect(&app, "graphql-transport-ws").await;
    // Start after everything that exists, so the first timed event is the first one received.
    let page = user
        .gql(
            "{ paymentEvents(first: 500) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let after = page["data"]["paymentEvents"]["pageInfo"]["endCursor"].clone();
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "accessToken": user.token } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "l", "type": "subscribe", "payload": {
            "query": "subscription($a: String) { myPaymentEvents(after: $a) { sequence } }", "variables": { "a": after } } }),
    )
    .await;

    let secret = secret.into();
    let mut latencies = Vec::new();
    for (i, intent) in intents.iter().enumerate() {
        let payload =
            json!({ "id": format!("evt_lat_{i}"), "type": "payment_intent.succeeded", "created": 1,
            "data": { "object": { "id": intent, "status": "succeeded" } } })
            .to_string();
        let signature = sign(payload.as_bytes(), &secret, chrono::Utc::now().timestamp());
        let start = Instant::now();
        let response = app
            .client
            .post(app.url("/webhooks/stripe"))
            .header("stripe-signature", signature)
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let event = receive(&mut socket).await;
        assert_eq!(event["payload"]["data"]["myPaymentEvents"]["sequence"], 2);
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "webhook -> subscriber over {EVENTS} events (SQLite, one instance): p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
