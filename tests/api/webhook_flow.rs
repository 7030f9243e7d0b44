//! Provider events end to end: shuffled and repeated deliveries end in the right state, and a
//! webhook that lands on one instance reaches a subscriber on another.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, node_peers};
use crate::payments::Client;
use crate::webhooks::{SECRET, post, stripe_signature};
use crate::websocket::{connect, receive, send};

const SIGNING_KEYS: &str = "k1:a-shared-signing-secret-of-more-than-32-characters";

fn intent_event(id: &str, intent: &str, event_type: &str, status: &str) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2017-08-15", "created": 1_700_000_000, "type": event_type,
        "data": { "object": { "id": intent, "object": "payment_intent", "status": status, "amount": 2000, "currency": "usd" } }
    })
    .to_string()
}

fn refund_event(id: &str, intent: &str, refunded: i64) -> String {
    json!({
        "id": id, "object": "event", "type": "charge.refunded", "created": 1_700_000_100,
        "data": { "object": { "id": "ch_1", "object": "charge", "payment_intent": intent, "amount": 2000, "amount_refunded": refunded } }
    })
    .to_string()
}

async fn deliver(app: &TestApp, payload: &str) {
    let signature = stripe_signature(payload, SECRET, chrono::Utc::now().timestamp()).await;
    let (status, body) = post(app, payload, &signature).await;
    assert_eq!(status, 200, "{body}");
}

async fn settled(app: &TestApp) {
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE status = 'pending'")
                .fetch_one(&db)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} events still pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shuffled_and_repeated_deliveries_end_in_the_right_state() {
    if node_peers().is_none() {
        return;
    }
    let app = crate::payments::app(600_000, |s| s.stripe_webhook_secrets = SECRET.into()).await;
    let ivy = Client::sign_in(&app, "ivy").await;
    let body = ivy
        .create(json!({ "amount": 2000, "currency": "usd" }), "shuffle")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let (id, intent) = (
        payment["id"].clone(),
        payment["providerPaymentId"].as_str().unwrap().to_owned(),
    );

    let succeeded = intent_event("evt_3", &intent, "payment_intent.succeeded", "succeeded");
    for payload in [
        succeeded.clone(),
        intent_event("evt_1", &intent, "payment_intent.processing", "processing"),
        succeeded,
        intent_event(
            "evt_0",
            &intent,
            "payment_intent.requires_action",
            "requires_action",
        ),
        refund_event("evt_4", &intent, 300),
        refund_event("evt_4", &intent, 300),
    ] {
        deliver(&app, &payload).await;
    }
    settled(&app).await;
    let payment = ivy.payment(&id).await;
    assert_eq!(payment["status"], "PARTIALLY_REFUNDED", "{payment}");
    assert_eq!(payment["amountRefunded"], 300);
    assert_eq!(
        ivy.event_kinds().await,
        vec![
            "created:REQUIRES_PAYMENT_METHOD",
            "payment_intent.succeeded:SUCCEEDED",
            "refund:PARTIALLY_REFUNDED"
        ],
        "late and repeated events changed nothing"
    );
}

#[tokio::test]
async fn a_webhook_on_one_instance_reaches_a_subscriber_on_another() {
    if node_peers().is_none() {
        return;
    }
    let settings = |s: &mut switchboard::config::Settings| {
        s.stripe_webhook_secrets = SECRET.into();
        s.session_signing_keys = SIGNING_KEYS.into();
        s.sandbox_step_ms = "600000".into();
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, settings).await else {
        return;
    };
    let b = a.sibling(settings).await;

    let jo = Client::sign_in(&a, "jo").await;
    let body = jo
        .create(json!({ "amount": 2000, "currency": "eur" }), "multi")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let (id, intent) = (
        payment["id"].clone(),
        payment["providerPaymentId"].as_str().unwrap().to_owned(),
    );

    let mut socket = connect(&b, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "accessToken": jo.token } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "w", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { paymentUpdated(paymentId: $id) { sequence status payment { amount } } }",
            "variables": { "id": id } } }),
    )
    .await;
    let current = receive(&mut socket).await;
    assert_eq!(
        current["payload"]["data"]["paymentUpdated"]["status"], "REQUIRES_PAYMENT_METHOD",
        "{current}"
    );

    let payload = intent_event(
        "evt_multi",
        &intent,
        "payment_intent.succeeded",
        "succeeded",
    );
    let signature = stripe_signature(&payload, SECRET, chrono::Utc::now().timestamp()).await;
    let sent = Instant::now();
    assert_eq!(post(&a, &payload, &signature).await.0, 200);
    let update: Value = receive(&mut socket).await;
    let latency = sent.elapsed();
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["status"], "SUCCEEDED",
        "{update}"
    );
    assert_eq!(update["payload"]["data"]["paymentUpdated"]["sequence"], 2);
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["payment"]["amount"],
        2000
    );
    println!("webhook on A to subscriber on B: {latency:?}");
}
