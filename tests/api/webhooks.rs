//! `POST /webhooks/stripe`: signatures made by Stripe's official SDK, dedupe, durability.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Backend, TestApp, TestDatabase, node_peers};

pub const SECRET: &str = "whsec_current_secret_for_tests";
const OLD_SECRET: &str = "whsec_previous_secret_for_tests";

/// The `Stripe-Signature` header Stripe's Node SDK computes for `payload`.
pub async fn stripe_signature(payload: &str, secret: &str, timestamp: i64) -> String {
    let peers = node_peers().expect("Node peers are installed");
    let mut child = tokio::process::Command::new("node")
        .arg(peers.join("stripe-sign.mjs"))
        .arg(secret)
        .arg(timestamp.to_string())
        .current_dir(&peers)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .await
        .unwrap();
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

fn event(id: &str) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2017-08-15", "created": 1_700_000_000,
        "type": "customer.created", "data": { "object": { "id": "cus_1", "object": "customer" } }
    })
    .to_string()
}

async fn app_with_secrets(backend: Backend, secrets: &str) -> Option<TestApp> {
    node_peers()?;
    TestApp::spawn_with(backend, |s| s.stripe_webhook_secrets = secrets.to_owned()).await
}

pub async fn post(app: &TestApp, payload: &str, signature: &str) -> (u16, Value) {
    post_to(
        &app.client,
        &app.url("/webhooks/stripe"),
        payload,
        signature,
    )
    .await
}

/// POSTs a signed event to the webhook endpoint at `url`; the status and JSON body.
pub async fn post_to(
    client: &reqwest::Client,
    url: &str,
    payload: &str,
    signature: &str,
) -> (u16, Value) {
    let response = client
        .post(url)
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload.to_owned())
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn inbox_rows(app: &TestApp) -> Vec<(String, String)> {
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    sqlx::query_as("SELECT event_id, status FROM webhook_inbox ORDER BY seq")
        .fetch_all(&db)
        .await
        .unwrap()
}

/// Polls until every inbox row has left `pending`, or fails after a deadline.
async fn until_processed(app: &TestApp) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = inbox_rows(app).await;
        if rows.iter().all(|(_, status)| status != "pending") {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still pending: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn signed_events_are_stored_once_and_processed() {
    let Some(app) = app_with_secrets(Backend::Sqlite, SECRET).await else {
        return;
    };
    let payload = event("evt_signed_1");
    let signature = stripe_signature(&payload, SECRET, chrono::Utc::now().timestamp()).await;
    let (status, body) = post(&app, &payload, &signature).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, json!(false)),
        "{body}"
    );
    let (status, body) = post(&app, &payload, &signature).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, json!(true)),
        "a redelivery is acknowledged"
    );
    let rows = until_processed(&app).await;
    assert_eq!(
        rows,
        vec![("evt_signed_1".to_owned(), "ignored".to_owned())],
        "one row; customer events are not used"
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_and_store_nothing() {
    let Some(app) = app_with_secrets(Backend::Sqlite, SECRET).await else {
        return;
    };
    let payload = event("evt_bad");
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            "expired",
            payload.clone(),
            stripe_signature(&payload, SECRET, now - 600).await,
        ),
        (
            "wrong secret",
            payload.clone(),
            stripe_signature(&payload, "whsec_someone_else", now).await,
        ),
        (
            "tampered",
            payload.replace("cus_1", "cus_2"),
            stripe_signature(&payload, SECRET, now).await,
        ),
        ("missing", payload.clone(), String::new()),
    ];
    for (case, body, signature) in cases {
        let (status, answer) = post(&app, &body, &signature).await;
        assert_eq!(status, 400, "{case}: {answer}");
        assert!(answer["error"].as_str().is_some(), "{case}: a short reason");
    }
    assert!(inbox_rows(&app).await.is_empty());
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("webhook_rejected_total"),
        "rejections are counted"
    );
}

#[tokio::test]
async fn rotated_secrets_both_verify() {
    let Some(app) = app_with_secrets(Backend::Sqlite, &format!("{SECRET},{OLD_SECRET}")).await
    else {
        return;
    };
    let now = chrono::Utc::now().timestamp();
    for (id, secret) in [("evt_new", SECRET), ("evt_old", OLD_SECRET)] {
        let payload = event(id);
        let (status, _) = post(
            &app,
            &payload,
            &stripe_signature(&payload, secret, now).await,
        )
        .await;
        assert_eq!(status, 200, "{id}");
    }
}

#[tokio::test]
async fn unsigned_garbage_that_verifies_is_still_not_an_event() {
    let Some(app) = app_with_secrets(Backend::Sqlite, SECRET).await else {
        return;
    };
    let payload = r#"{"hello":"world"}"#;
    let signature = stripe_signature(payload, SECRET, chrono::Utc::now().timestamp()).await;
    let (status, _) = post(&app, payload, &signature).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_database_outage_answers_503_so_stripe_retries() {
    let Some(app) = app_with_secrets(Backend::Postgres, SECRET).await else {
        return;
    };
    let TestDatabase::Postgres { name, .. } = &app.database else {
        unreachable!()
    };
    crate::helpers::drop_postgres_database(name.clone());
    let payload = event("evt_outage");
    let signature = stripe_signature(&payload, SECRET, chrono::Utc::now().timestamp()).await;
    let (status, _) = post(&app, &payload, &signature).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn events_stored_before_a_crash_are_applied_at_the_next_start() {
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let store = database.store().await;
    // The process "crashed" right after storing: the event is durable but unapplied.
    let stored = switchboard::store::NewInboxEvent {
        event_id: "evt_before_crash".into(),
        event_type: "customer.created".into(),
        payload: event("evt_before_crash"),
        source: "stripe".into(),
    };
    assert!(
        store
            .insert_inbox_event(&stored, chrono::Utc::now())
            .await
            .unwrap()
    );
    store.close().await;

    let url = database.url().to_owned();
    let app = TestApp::spawn_on(database, |s| s.database_url = url).await;
    let rows = until_processed(&app).await;
    assert_eq!(
        rows,
        vec![("evt_before_crash".to_owned(), "ignored".to_owned())]
    );
}

#[tokio::test]
async fn admins_replay_dead_events() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.admin_identities = "dev:root".into())
        .await
        .unwrap();
    let store = app.database.store().await;
    let stored = switchboard::store::NewInboxEvent {
        event_id: "evt_dead".into(),
        event_type: "customer.created".into(),
        payload: "not an event".into(),
        source: "stripe".into(),
    };
    store
        .insert_inbox_event(&stored, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        until_processed(&app).await,
        vec![("evt_dead".to_owned(), "dead".to_owned())]
    );

    let replay = "mutation($id: String!) { replayWebhookEvent(eventId: $id) }";
    let (user, _) = crate::auth_support::dev_sign_in(&app, "mallory").await;
    let as_user = [("authorization", crate::auth_support::bearer(&user))];
    let headers: Vec<(&str, &str)> = as_user.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body =
        crate::auth_support::graphql_with(&app, &headers, replay, json!({ "id": "evt_dead" }))
            .await;
    crate::helpers::single_error(&body, "FORBIDDEN");

    let (root, _) = crate::auth_support::dev_sign_in(&app, "root").await;
    let as_root = [("authorization", crate::auth_support::bearer(&root))];
    let headers: Vec<(&str, &str)> = as_root.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body =
        crate::auth_support::graphql_with(&app, &headers, replay, json!({ "id": "evt_unknown" }))
            .await;
    assert_eq!(body["data"]["replayWebhookEvent"], false, "{body}");
    let body =
        crate::auth_support::graphql_with(&app, &headers, replay, json!({ "id": "evt_dead" }))
            .await;
    assert_eq!(body["data"]["replayWebhookEvent"], true, "{body}");
    // Replayed, it fails again (the payload is still broken) and is set aside once more.
    assert_eq!(
        until_processed(&app).await,
        vec![("evt_dead".to_owned(), "dead".to_owned())]
    );
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM webhook_inbox")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(error.as_deref(), Some("stored payload is not an event"));
}
