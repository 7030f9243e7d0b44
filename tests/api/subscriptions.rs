//! Payment events for clients: delta sync over HTTP and live subscriptions over WebSocket,
//! through the Rust client and the graphql-ws client.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::store::{NewPaymentEvent, PaymentEventRow, Store};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use crate::auth_support::{bearer, complete_login, graphql_with, start_login};
use crate::helpers::{Backend, TestApp, node_peers, single_error};
use crate::websocket::{receive, send, signed_in_socket};

/// Signs `login` in; returns the access token and the user id.
pub(crate) async fn sign_in(app: &TestApp, login: &str) -> (String, Uuid) {
    let (_, state) = start_login(app, "dev", None).await;
    let body = complete_login(app, "dev", login, &state).await;
    let session = &body["data"]["completeLogin"];
    let token = session["accessToken"].as_str().unwrap().to_owned();
    (
        token,
        session["user"]["id"].as_str().unwrap().parse().unwrap(),
    )
}

/// Logs a change of `payment_id` to `status`; PostgreSQL announces it to every instance's bus.
pub(crate) async fn record(
    store: &Store,
    payment_id: Uuid,
    user_id: Uuid,
    status: &str,
) -> PaymentEventRow {
    store
        .append_payment_event(
            &NewPaymentEvent {
                payment_id,
                user_id,
                kind: "test".into(),
                status: status.parse().unwrap(),
                amount_refunded: 0,
                source_event_id: None,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .event
}

/// The cursor before every event (what a client would get from an empty first page).
fn from_the_beginning() -> String {
    cursor_after(0)
}

/// The opaque cursor a client holds after the event at `position`.
pub(crate) fn cursor_after(position: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("pe:{position}"))
}

/// The position inside an opaque event cursor.
pub(crate) fn cursor_value(cursor: &str) -> i64 {
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .expect("a cursor");
    String::from_utf8(text).unwrap()["pe:".len()..]
        .parse()
        .unwrap()
}

const PAGE: &str =
    "query($after: String, $first: Int) { paymentEvents(after: $after, first: $first) {
    edges { cursor node { sequence status paymentId } } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn delta_sync_pages_through_my_events_only() {
    let app = TestApp::spawn().await;
    let store = app.database.store().await;
    let (token, me) = sign_in(&app, "ann").await;
    let (_, someone) = sign_in(&app, "bea").await;
    let payment = Uuid::now_v7();
    for status in ["REQUIRES_PAYMENT_METHOD", "PROCESSING", "SUCCEEDED"] {
        record(&store, payment, me, status).await;
    }
    record(&store, Uuid::now_v7(), someone, "SUCCEEDED").await;
    let auth = [("authorization", bearer(&token))];
    let headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let page = graphql_with(&app, &headers, PAGE, json!({ "first": 2 })).await;
    let events = &page["data"]["paymentEvents"];
    let statuses: Vec<&str> = events["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["REQUIRES_PAYMENT_METHOD", "PROCESSING"],
        "{page}"
    );
    assert_eq!(events["pageInfo"]["hasNextPage"], true);

    let rest = graphql_with(
        &app,
        &headers,
        PAGE,
        json!({ "after": events["pageInfo"]["endCursor"] }),
    )
    .await;
    let edges = rest["data"]["paymentEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{rest}"));
    assert_eq!(edges.len(), 1, "{rest}");
    assert_eq!(edges[0]["node"]["status"], "SUCCEEDED");
    assert_eq!(edges[0]["node"]["sequence"], 3);
    assert_eq!(
        rest["data"]["paymentEvents"]["pageInfo"]["hasNextPage"],
        false
    );

    single_error(
        &graphql_with(&app, &headers, PAGE, json!({ "after": "garbage" })).await,
        "BAD_USER_INPUT",
    );
    single_error(&app.graphql(PAGE, json!({})).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_subscriber_gets_live_events_and_resumes_after_its_cursor() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let store = app.database.store().await;
    let (token, me) = sign_in(&app, "cy").await;
    let payment = Uuid::now_v7();
    let subscription = "subscription($after: String) { myPaymentEvents(after: $after) { cursor sequence status } }";

    let mut socket = signed_in_socket(&app, &token).await;
    // From the very beginning, so it does not matter whether the server has set the
    // subscription up before the first event is recorded.
    let start = json!({ "after": from_the_beginning() });
    send(&mut socket, json!({ "id": "s", "type": "subscribe", "payload": { "query": subscription, "variables": start } })).await;

    record(&store, payment, me, "PROCESSING").await;
    let next = receive(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["myPaymentEvents"]["status"], "PROCESSING",
        "{next}"
    );
    let cursor = next["payload"]["data"]["myPaymentEvents"]["cursor"].clone();
    drop(socket);

    // Offline: two changes happen.
    for status in ["SUCCEEDED", "PARTIALLY_REFUNDED"] {
        record(&store, payment, me, status).await;
    }
    let mut socket = signed_in_socket(&app, &token).await;
    send(&mut socket, json!({ "id": "r", "type": "subscribe", "payload": { "query": subscription, "variables": { "after": cursor } } })).await;
    let mut resumed = Vec::new();
    for _ in 0..2 {
        resumed.push(
            receive(&mut socket).await["payload"]["data"]["myPaymentEvents"]["sequence"].clone(),
        );
    }
    assert_eq!(
        resumed,
        vec![json!(2), json!(3)],
        "exactly what was missed, in order"
    );
}

/// Many sockets of one user woken by the same notices share store reads; each must still get
/// every event once, in order, however the notices and reads interleave.
#[tokio::test]
async fn watchers_woken_together_each_get_every_event_in_order() {
    const WATCHERS: usize = 12;
    const EVENTS: usize = 6;
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let store = app.database.store().await;
    let (token, me) = sign_in(&app, "eve").await;
    let payment = Uuid::now_v7();
    let mut sockets = Vec::new();
    for i in 0..WATCHERS {
        let mut socket = signed_in_socket(&app, &token).await;
        send(
            &mut socket,
            json!({ "id": format!("w{i}"), "type": "subscribe", "payload": {
            "query": "subscription($after: String) { myPaymentEvents(after: $after) { sequence } }",
            "variables": { "after": from_the_beginning() } } }),
        )
        .await;
        sockets.push(socket);
    }
    // Back to back, so later notices arrive while reads for earlier ones are in flight.
    for _ in 0..EVENTS {
        record(&store, payment, me, "PROCESSING").await;
    }
    let expected: Vec<Value> = (1..=EVENTS).map(|n| json!(n)).collect();
    for socket in &mut sockets {
        let mut sequences = Vec::new();
        for _ in 0..EVENTS {
            let message = receive(socket).await;
            sequences.push(message["payload"]["data"]["myPaymentEvents"]["sequence"].clone());
        }
        assert_eq!(sequences, expected);
    }
}

#[tokio::test]
async fn graphql_ws_client_receives_events() {
    let Some(peers) = node_peers() else { return };
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let store = app.database.store().await;
    let (token, me) = sign_in(&app, "dot").await;
    let mut client = tokio::process::Command::new("node")
        .arg(peers.join("subscribe.mjs"))
        .args([
            app.ws_url(),
            token.clone(),
            "2".into(),
            format!(
                "subscription {{ myPaymentEvents(after: \"{}\") {{ sequence status }} }}",
                from_the_beginning()
            ),
        ])
        .current_dir(&peers)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut next_line = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
            .await
            .expect("output in time");
        serde_json::from_str(&line.unwrap().expect("a line")).unwrap()
    };
    assert_eq!(next_line().await, json!({ "connected": true }));
    let payment = Uuid::now_v7();
    for status in ["PROCESSING", "SUCCEEDED"] {
        record(&store, payment, me, status).await;
    }
    let got = [next_line().await, next_line().await];
    let statuses: Vec<&Value> = got
        .iter()
        .map(|r| &r["data"]["myPaymentEvents"]["status"])
        .collect();
    assert_eq!(
        statuses,
        vec![&json!("PROCESSING"), &json!("SUCCEEDED")],
        "{got:?}"
    );
    let status = client.wait().await.unwrap();
    assert!(status.success());
}
