//! Live subscriptions that sockets share (decision 0020): one execution per document,
//! variables and viewer, fanned out to every socket that subscribed alike. Sharing must never
//! let one user see another's events, and every socket must still get what a lone subscriber
//! would: the current state first, then every change, until it completes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::Digest;
use switchboard::payments::PaymentStatus;
use switchboard::store::{PaymentRow, Store};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp};
use crate::subscriptions::{record, sign_in};
use crate::websocket::{Socket, receive, send, signed_in_socket};

const WATCH: &str =
    "subscription($id: ID!) { paymentUpdated(paymentId: $id) { paymentId status } }";
const MINE: &str = "subscription { myPaymentEvents { paymentId status } }";

/// A payment of `owner`, waiting for a payment method, with the event that created it.
async fn payment(store: &Store, owner: Uuid) -> Uuid {
    let now = chrono::Utc::now();
    let id = Uuid::now_v7();
    store
        .insert_payment(&PaymentRow {
            id,
            user_id: owner,
            provider: "stripe".into(),
            provider_payment_id: format!("pi_{id}"),
            status: PaymentStatus::RequiresPaymentMethod,
            amount: 2000,
            currency: "usd".into(),
            amount_refunded: 0,
            description: None,
            metadata: Default::default(),
            created_at: now,
            updated_at: now,
            last_error: Default::default(),
        })
        .await
        .unwrap();
    record(store, id, owner, "REQUIRES_PAYMENT_METHOD").await;
    id
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
}

/// The `field` of the next `next` message on `socket`, checking it belongs to operation `id`.
async fn next_of(socket: &mut Socket, id: &str, field: &str) -> Value {
    let message = receive(socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], id, "{message}");
    message["payload"]["data"][field].clone()
}

/// Changes `payment` until the `myPaymentEvents` subscriber on `socket` hears one, so its
/// subscription is live; then returns once it has heard the last change made, which must be
/// its own payment's, like every change before it.
async fn until_live(socket: &mut Socket, id: &str, store: &Store, payment: Uuid, owner: Uuid) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let last = loop {
        assert!(
            Instant::now() < deadline,
            "the subscription never went live"
        );
        let event = record(store, payment, owner, "PROCESSING").await;
        let heard = tokio::time::timeout(Duration::from_millis(200), receive(socket)).await;
        if let Ok(message) = heard {
            assert_eq!(message["id"], id, "{message}");
            let data = &message["payload"]["data"]["myPaymentEvents"];
            assert_eq!(data["paymentId"], payment.to_string(), "{message}");
            break event;
        }
    };
    // Changes made while waiting may still be on their way: the marker comes after them all.
    let marker = record(store, payment, owner, "SUCCEEDED").await;
    assert!(marker.cursor > last.cursor);
    loop {
        let data = next_of(socket, id, "myPaymentEvents").await;
        assert_eq!(data["paymentId"], payment.to_string(), "{data}");
        if data["status"] == "SUCCEEDED" {
            return;
        }
    }
}

#[tokio::test]
async fn sockets_watching_one_payment_each_get_its_state_and_every_change() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let store = app.database.store().await;
    let (token, me) = sign_in(&app, "shared-watch").await;
    let watched = payment(&store, me).await;
    let variables = json!({ "id": watched });
    let mut sockets = Vec::new();
    for i in 0..3 {
        let mut socket = signed_in_socket(&app, &token).await;
        let id = format!("w{i}");
        subscribe(&mut socket, &id, WATCH, variables.clone()).await;
        // Whether it started the execution or joined it, the current state comes first.
        let current = next_of(&mut socket, &id, "paymentUpdated").await;
        assert_eq!(current["status"], "REQUIRES_PAYMENT_METHOD", "{current}");
        sockets.push((socket, id));
    }

    record(&store, watched, me, "PROCESSING").await;
    for (socket, id) in &mut sockets {
        assert_eq!(
            next_of(socket, id, "paymentUpdated").await["status"],
            "PROCESSING"
        );
    }

    // One completes; the others go on, and the one that left hears nothing more.
    let (mut left, left_id) = sockets.remove(0);
    send(&mut left, json!({ "id": left_id, "type": "complete" })).await;
    let completed = receive(&mut left).await;
    assert_eq!(completed, json!({ "type": "complete", "id": left_id }));
    record(&store, watched, me, "SUCCEEDED").await;
    for (socket, id) in &mut sockets {
        assert_eq!(
            next_of(socket, id, "paymentUpdated").await["status"],
            "SUCCEEDED"
        );
    }
    // A socket joining now is given the state as it is now, not as it was.
    let mut late = signed_in_socket(&app, &token).await;
    subscribe(&mut late, "late", WATCH, variables.clone()).await;
    assert_eq!(
        next_of(&mut late, "late", "paymentUpdated").await["status"],
        "SUCCEEDED"
    );
    // The socket that completed reuses its id for another operation, and gets only that one's.
    subscribe(&mut left, &left_id, WATCH, variables).await;
    let again = next_of(&mut left, &left_id, "paymentUpdated").await;
    assert_eq!(again["status"], "SUCCEEDED", "{again}");
}

#[tokio::test]
async fn two_users_with_the_same_document_never_receive_each_others_events() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let store = app.database.store().await;
    let (ann_token, ann) = sign_in(&app, "shared-ann").await;
    let (bob_token, bob) = sign_in(&app, "shared-bob").await;
    let (anns, bobs) = (payment(&store, ann).await, payment(&store, bob).await);

    // Same document, same variables: Bob may not watch Ann's payment, even while she does.
    let mut ann_watch = signed_in_socket(&app, &ann_token).await;
    subscribe(&mut ann_watch, "a", WATCH, json!({ "id": anns })).await;
    next_of(&mut ann_watch, "a", "paymentUpdated").await;
    let mut bob_watch = signed_in_socket(&app, &bob_token).await;
    subscribe(&mut bob_watch, "a", WATCH, json!({ "id": anns })).await;
    let refused = receive(&mut bob_watch).await;
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );

    // Same document, no variables: each hears only about their own payments.
    let mut ann_feed = signed_in_socket(&app, &ann_token).await;
    subscribe(&mut ann_feed, "m", MINE, json!({})).await;
    until_live(&mut ann_feed, "m", &store, anns, ann).await;
    let mut bob_feed = signed_in_socket(&app, &bob_token).await;
    subscribe(&mut bob_feed, "m", MINE, json!({})).await;
    until_live(&mut bob_feed, "m", &store, bobs, bob).await;
    record(&store, anns, ann, "REFUNDED").await;
    record(&store, bobs, bob, "REFUNDED").await;
    for (socket, theirs) in [(&mut ann_feed, anns), (&mut bob_feed, bobs)] {
        let data = next_of(socket, "m", "myPaymentEvents").await;
        assert_eq!(data["paymentId"], theirs.to_string(), "{data}");
    }
}

#[tokio::test]
async fn a_shared_subscription_is_held_to_the_document_policy() {
    let manifest = tempfile::NamedTempFile::new().unwrap();
    let trusted = "query Version { serverInfo { version } }";
    let hash = sha2::Sha256::digest(trusted.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    std::fs::write(
        manifest.path(),
        json!({ format!("sha256:{hash}"): trusted }).to_string(),
    )
    .unwrap();
    let path = manifest.path().display().to_string();
    // Signed in where any document runs; subscribing where only trusted ones do.
    let keys = "k1:a-signing-secret-both-instances-share-of-32-characters";
    let open = TestApp::spawn_with(Backend::Sqlite, |s| s.session_signing_keys = keys.into())
        .await
        .unwrap();
    let (token, _) = sign_in(&open, "shared-policy").await;
    let app = open
        .sibling(|s| {
            s.session_signing_keys = keys.into();
            s.trusted_documents = path;
            s.trusted_documents_only = "true".into();
        })
        .await;
    // The first socket would start the execution, the second would join it: both are refused.
    for id in ["first", "second"] {
        let mut socket = signed_in_socket(&app, &token).await;
        subscribe(&mut socket, id, MINE, json!({})).await;
        let refused = receive(&mut socket).await;
        assert_eq!(refused["id"], id, "{refused}");
        assert_eq!(
            refused["payload"]["errors"][0]["extensions"]["code"], "DOCUMENT_NOT_TRUSTED",
            "{refused}"
        );
    }
}
