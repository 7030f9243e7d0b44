//! The refund policy (`REFUNDS_BY_OWNER`: off, always, a window in hours; admins always may) and
//! the refund audit. The window is tested without waiting: a payment's success is written
//! through the store at a chosen time, as if it had been paid days ago.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use switchboard::domain::{PaymentEventKind, PaymentStatus};
use switchboard::store::PaymentChange;

use crate::helpers::{TestApp, single_error};
use crate::payments::{Client, app};

const REFUND: &str = "mutation($id: ID!, $a: Int, $r: String, $k: String!) {
    refundPayment(paymentId: $id, amount: $a, reason: $r, idempotencyKey: $k) { id amount } }";
const AUDIT: &str = "query($id: ID!) { refundAudit(paymentId: $id) {
    refundId actorUserId actorRole amount reason requestedAt outcome } }";
const CONFIRM: &str =
    "mutation($id: ID!) { sandboxConfirmPayment(paymentId: $id, outcome: SUCCEED) { id } }";

/// A server whose sandbox payments wait to be driven, with `dev:root` an admin.
async fn server(refunds_by_owner: &str) -> TestApp {
    let policy = refunds_by_owner.to_owned();
    app(600_000, move |s| {
        s.refunds_by_owner = policy;
        s.admin_identities = "dev:root".into();
    })
    .await
}

/// A payment of 2000 USD cents by `client`, paid now.
async fn paid_now(client: &Client<'_>, key: &str) -> Value {
    let body = client
        .create(json!({ "amount": 2000, "currency": "usd" }), key)
        .await;
    let id = body["data"]["createPaymentIntent"]["payment"]["id"].clone();
    client.gql(CONFIRM, json!({ "id": id })).await;
    client.until_status(&id, "SUCCEEDED").await;
    id
}

/// A payment of 2000 USD cents by `client`, recorded as paid `hours_ago`.
async fn paid_hours_ago(app: &TestApp, client: &Client<'_>, key: &str, hours_ago: i64) -> Value {
    let body = client
        .create(json!({ "amount": 2000, "currency": "usd" }), key)
        .await;
    let id = body["data"]["createPaymentIntent"]["payment"]["id"].clone();
    let payment_id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
    let owner = app
        .store
        .payment_by_id(payment_id)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    let change = PaymentChange {
        payment_id,
        user_id: owner,
        from_status: PaymentStatus::RequiresPaymentMethod,
        from_refunded: 0,
        status: PaymentStatus::Succeeded,
        amount_refunded: 0,
        kind: PaymentEventKind::Provider("payment_intent.succeeded".into()),
        source_event_id: None,
    };
    let at = Utc::now() - Duration::hours(hours_ago);
    let applied = app.store.apply_payment_change(&change, at).await.unwrap();
    assert!(applied.is_some(), "the payment was still open");
    id
}

async fn refund_count(app: &TestApp, id: &Value) -> usize {
    let id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
    app.store.refunds_of(&[id]).await.unwrap().len()
}

async fn audit(admin: &Client<'_>, id: &Value) -> Vec<Value> {
    let body = admin.gql(AUDIT, json!({ "id": id })).await;
    body["data"]["refundAudit"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

#[tokio::test]
async fn with_owner_refunds_off_only_admins_refund() {
    let app = server("off").await;
    let owner = Client::sign_in(&app, "olga").await;
    let root = Client::sign_in(&app, "root").await;
    let id = paid_now(&owner, "order").await;

    let refused = owner
        .gql(REFUND, json!({ "id": id, "a": 500, "k": "r1" }))
        .await;
    let error = single_error(&refused, "REFUND_NOT_ALLOWED");
    assert_eq!(error["extensions"]["reason"], "OWNER_REFUNDS_OFF");
    assert!(
        error["message"].as_str().unwrap().contains("support"),
        "{refused}"
    );
    assert_eq!(refund_count(&app, &id).await, 0);
    assert!(
        audit(&root, &id).await.is_empty(),
        "a refused request is not audited"
    );

    let refunded = root
        .gql(
            REFUND,
            json!({ "id": id, "a": 500, "r": "  duplicate order ", "k": "r1" }),
        )
        .await;
    assert_eq!(
        refunded["data"]["refundPayment"]["amount"], 500,
        "{refunded}"
    );
    let entries = audit(&root, &id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actorRole"], "ADMIN");
    assert_eq!(entries[0]["reason"], "duplicate order");
    assert_eq!(entries[0]["outcome"], "REFUNDED");
    assert_eq!(
        entries[0]["refundId"],
        refunded["data"]["refundPayment"]["id"]
    );
}

#[tokio::test]
async fn owners_refund_within_the_window_after_payment_and_admins_after_it() {
    let app = server("72").await;
    let owner = Client::sign_in(&app, "pat").await;
    let root = Client::sign_in(&app, "root").await;

    let recent = paid_hours_ago(&app, &owner, "recent", 71).await;
    let body = owner
        .gql(REFUND, json!({ "id": recent, "k": "r-recent" }))
        .await;
    assert_eq!(body["data"]["refundPayment"]["amount"], 2000, "{body}");

    let old = paid_hours_ago(&app, &owner, "old", 73).await;
    let refused = owner.gql(REFUND, json!({ "id": old, "k": "r-old" })).await;
    let error = single_error(&refused, "REFUND_NOT_ALLOWED");
    assert_eq!(error["extensions"]["reason"], "REFUND_WINDOW_PASSED");
    assert!(
        error["message"].as_str().unwrap().contains("72 hours"),
        "{refused}"
    );
    assert_eq!(refund_count(&app, &old).await, 0);
    assert!(audit(&root, &old).await.is_empty());

    let body = root.gql(REFUND, json!({ "id": old, "k": "r-old" })).await;
    assert_eq!(body["data"]["refundPayment"]["amount"], 2000, "{body}");
    let entries = audit(&root, &old).await;
    assert_eq!(
        entries
            .iter()
            .map(|e| e["actorRole"].clone())
            .collect::<Vec<_>>(),
        [json!("ADMIN")]
    );
}

#[tokio::test]
async fn every_allowed_request_is_audited_once_and_the_audit_is_for_admins() {
    let app = server("always").await;
    let owner = Client::sign_in(&app, "quinn").await;
    let root = Client::sign_in(&app, "root").await;
    let id = paid_now(&owner, "order").await;
    let reason = "arrived broken";

    let first = owner
        .gql(
            REFUND,
            json!({ "id": id, "a": 700, "r": reason, "k": "r1" }),
        )
        .await;
    let replay = owner
        .gql(
            REFUND,
            json!({ "id": id, "a": 700, "r": reason, "k": "r1" }),
        )
        .await;
    assert_eq!(first["data"], replay["data"], "{first}");
    let reused = owner
        .gql(
            REFUND,
            json!({ "id": id, "a": 700, "r": "another reason", "k": "r1" }),
        )
        .await;
    single_error(&reused, "IDEMPOTENCY_KEY_REUSED");
    let too_long = owner
        .gql(
            REFUND,
            json!({ "id": id, "a": 100, "r": "x".repeat(501), "k": "r2" }),
        )
        .await;
    assert_eq!(
        single_error(&too_long, "BAD_USER_INPUT")["extensions"]["field"],
        "reason"
    );
    assert_eq!(refund_count(&app, &id).await, 1);

    let entries = audit(&root, &id).await;
    assert_eq!(entries.len(), 1, "one entry for one refund: {entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["actorRole"], "OWNER");
    assert_eq!(entry["amount"], 700);
    assert_eq!(entry["reason"], reason);
    assert_eq!(entry["outcome"], "REFUNDED");
    assert_eq!(entry["refundId"], first["data"]["refundPayment"]["id"]);
    let me = owner.gql("{ me { id } }", json!({})).await;
    assert_eq!(entry["actorUserId"], me["data"]["me"]["id"]);

    single_error(&owner.gql(AUDIT, json!({ "id": id })).await, "FORBIDDEN");
    single_error(
        &app.graphql(AUDIT, json!({ "id": id })).await,
        "UNAUTHENTICATED",
    );
    single_error(
        &app.graphql(REFUND, json!({ "id": id, "k": "r3" })).await,
        "UNAUTHENTICATED",
    );
    assert_eq!(refund_count(&app, &id).await, 1);
}

#[tokio::test]
async fn a_refused_owner_refund_never_reaches_stripe() {
    let Some(stripe) = crate::stripe::LocalStripe::start().await else {
        return;
    };
    let base = format!("{}/", stripe.base);
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.stripe_secret_key = "sk_test_refund_policy".into();
        s.stripe_api_base = base;
        s.refunds_by_owner = "off".into();
        s.admin_identities = "dev:root".into();
    })
    .await
    .unwrap();
    let owner = Client::sign_in(&app, "rita").await;
    let root = Client::sign_in(&app, "root").await;
    let body = owner
        .create(json!({ "amount": 3000, "currency": "usd" }), "order")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let intent = payment["providerPaymentId"].as_str().unwrap();
    let paid = stripe.pay(intent, "pm_card_visa").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    // No webhooks are registered here: the payment is marked paid through the store.
    let id = payment["id"].clone();
    let payment_id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
    let row = app.store.payment_by_id(payment_id).await.unwrap().unwrap();
    let change = PaymentChange {
        payment_id,
        user_id: row.user_id,
        from_status: row.status,
        from_refunded: 0,
        status: PaymentStatus::Succeeded,
        amount_refunded: 0,
        kind: PaymentEventKind::Provider("payment_intent.succeeded".into()),
        source_event_id: None,
    };
    app.store
        .apply_payment_change(&change, Utc::now())
        .await
        .unwrap()
        .expect("applied");

    let refused = owner.gql(REFUND, json!({ "id": id, "k": "r1" })).await;
    single_error(&refused, "REFUND_NOT_ALLOWED");
    assert!(
        stripe.list("/v1/refunds").await.is_empty(),
        "nothing sent to Stripe"
    );

    let refunded = root
        .gql(
            REFUND,
            json!({ "id": id, "a": 1000, "r": "goodwill", "k": "r1" }),
        )
        .await;
    assert_eq!(
        refunded["data"]["refundPayment"]["amount"], 1000,
        "{refunded}"
    );
    assert_eq!(stripe.list("/v1/refunds").await.len(), 1);
    let entries = audit(&root, &id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["outcome"], "REFUNDED");
}
