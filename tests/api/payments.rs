//! Payments through the sandbox provider: creation, idempotency, validation, the sandbox's
//! signed events through the webhook inbox, refunds, and out-of-order provider events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::auth_support::{bearer, dev_sign_in, graphql_with};
use crate::helpers::{Backend, TestApp, single_error};

/// A server whose sandbox advances every `step_ms`.
pub async fn app(step_ms: u64, change: impl FnOnce(&mut switchboard::config::Settings)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.sandbox_step_ms = step_ms.to_string();
        change(s);
    })
    .await
    .unwrap()
}

/// A signed-in user's view of the API.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl<'a> Client<'a> {
    pub async fn sign_in(app: &'a TestApp, login: &str) -> Client<'a> {
        Client {
            app,
            token: dev_sign_in(app, login).await.0,
        }
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let auth = bearer(&self.token);
        graphql_with(self.app, &[("authorization", &auth)], query, variables).await
    }

    pub async fn create(&self, input: Value, key: &str) -> Value {
        self.gql(
            "mutation($i: PaymentIntentInput!, $k: String!) { createPaymentIntent(input: $i, idempotencyKey: $k) {
                clientSecret payment { id status amount currency provider providerPaymentId } } }",
            json!({ "i": input, "k": key }),
        )
        .await
    }

    pub async fn payment(&self, id: &Value) -> Value {
        let body = self
            .gql(
                "query($id: ID!) { payment(id: $id) { id status amount amountRefunded refunds { amount } } }",
                json!({ "id": id }),
            )
            .await;
        body["data"]["payment"].clone()
    }

    /// Polls until the payment reaches `status`, or fails after a deadline.
    pub async fn until_status(&self, id: &Value, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let payment = self.payment(id).await;
            if payment["status"] == status {
                return payment;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still {payment} waiting for {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The payment's `lastError` (null when it has none).
    pub async fn last_error(&self, id: &Value) -> Value {
        let body = self
            .gql(
                "query($id: ID!) { payment(id: $id) { lastError { code declineCode message } } }",
                json!({ "id": id }),
            )
            .await;
        body["data"]["payment"]["lastError"].clone()
    }

    /// Polls until the payment has a `lastError`, and returns it.
    pub async fn until_last_error(&self, id: &Value) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let error = self.last_error(id).await;
            if error.is_object() {
                return error;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no lastError yet: {error}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn event_kinds(&self) -> Vec<String> {
        let body = self
            .gql(
                "{ paymentEvents(first: 100) { edges { node { kind providerEventType status } } } }",
                json!({}),
            )
            .await;
        body["data"]["paymentEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                // The provider's event type where there is one, else the kind.
                let kind = match e["node"]["providerEventType"].as_str() {
                    Some(provider) => provider.to_owned(),
                    None => e["node"]["kind"].as_str().unwrap().to_ascii_lowercase(),
                };
                format!("{kind}:{}", e["node"]["status"].as_str().unwrap())
            })
            .collect()
    }
}

fn usd(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "usd", "description": "Order 42" })
}

#[tokio::test]
async fn a_sandbox_payment_goes_live_through_the_webhook_inbox() {
    let app = app(30, |_| {}).await;
    let info = app
        .graphql("{ serverInfo { paymentProvider } }", json!({}))
        .await;
    assert_eq!(info["data"]["serverInfo"]["paymentProvider"], "sandbox");
    let alice = Client::sign_in(&app, "alice").await;
    let body = alice.create(usd(1999), "order-42").await;
    let created = &body["data"]["createPaymentIntent"];
    assert!(
        created["clientSecret"]
            .as_str()
            .unwrap()
            .contains("_secret_"),
        "{body}"
    );
    assert_eq!(created["payment"]["status"], "REQUIRES_PAYMENT_METHOD");
    assert_eq!(created["payment"]["currency"], "USD");
    let id = created["payment"]["id"].clone();
    alice.until_status(&id, "SUCCEEDED").await;
    // The sandbox starts its script as soon as the provider call returns, before the payment's
    // row is written. On a loaded host its `processing` event can therefore reach the inbox
    // first, wait for its retry, and arrive after `succeeded`, when it is rightly ignored as a
    // step backwards. Either way the log starts with `created`, ends with `succeeded` and holds
    // nothing else but that `processing`.
    let kinds = alice.event_kinds().await;
    let processing = "payment_intent.processing:PROCESSING";
    let expected: Vec<&str> = if kinds.iter().any(|k| k == processing) {
        vec![
            "created:REQUIRES_PAYMENT_METHOD",
            processing,
            "payment_intent.succeeded:SUCCEEDED",
        ]
    } else {
        vec![
            "created:REQUIRES_PAYMENT_METHOD",
            "payment_intent.succeeded:SUCCEEDED",
        ]
    };
    assert_eq!(kinds, expected);
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    // A `processing` event that came before its payment's row may still be waiting for its retry.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let sources = loop {
        let sources: Vec<(String, String)> =
            sqlx::query_as("SELECT source, status FROM webhook_inbox ORDER BY seq")
                .fetch_all(&db)
                .await
                .unwrap();
        if sources.iter().all(|(_, status)| status != "pending")
            || tokio::time::Instant::now() > deadline
        {
            break sources;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        sources,
        vec![("sandbox".into(), "applied".into()); 2],
        "the sandbox's events went through the inbox"
    );
}

#[tokio::test]
async fn the_same_key_creates_one_payment_and_another_request_is_refused() {
    let app = app(600_000, |_| {}).await;
    let bob = Client::sign_in(&app, "bob").await;
    let first = bob.create(usd(500), "retry-me").await;
    let again = bob.create(usd(500), "retry-me").await;
    assert_eq!(first["data"], again["data"], "a retry gets the same answer");
    let other = bob.create(usd(700), "retry-me").await;
    single_error(&other, "IDEMPOTENCY_KEY_REUSED");
    let list = bob
        .gql("{ payments { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(
        list["data"]["payments"]["edges"].as_array().unwrap().len(),
        1,
        "{list}"
    );
    // Not paid yet (this sandbox never advances): nothing to refund.
    let refund = bob
        .gql(
            "mutation($id: ID!) { refundPayment(paymentId: $id, idempotencyKey: \"r\") { id } }",
            json!({ "id": first["data"]["createPaymentIntent"]["payment"]["id"] }),
        )
        .await;
    single_error(&refund, "CONFLICT");
    // Keys are per user: someone else's identical key is a new payment.
    let carol = Client::sign_in(&app, "carol").await;
    let hers = carol.create(usd(500), "retry-me").await;
    assert_ne!(
        hers["data"]["createPaymentIntent"]["payment"]["id"],
        first["data"]["createPaymentIntent"]["payment"]["id"]
    );
}

#[tokio::test]
async fn bad_input_names_the_field_and_creates_nothing() {
    let app = app(600_000, |_| {}).await;
    let dan = Client::sign_in(&app, "dan").await;
    let long_value = "x".repeat(501);
    let cases = [
        (
            json!({ "amount": 10, "currency": "usd" }),
            "k1",
            "input.amount",
        ),
        (
            json!({ "amount": 100_000_000, "currency": "usd" }),
            "k2",
            "input.amount",
        ),
        (
            json!({ "amount": 1000, "currency": "xyz" }),
            "k3",
            "input.currency",
        ),
        (
            json!({ "amount": 1000, "currency": "eur", "metadata": [{ "key": "note", "value": long_value }] }),
            "k4",
            "input.metadata",
        ),
        (
            json!({ "amount": 1000, "currency": "eur" }),
            "has spaces",
            "idempotencyKey",
        ),
    ];
    for (input, key, field) in cases {
        let body = dan.create(input, key).await;
        let error = single_error(&body, "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], field, "{body}");
    }
    let list = dan
        .gql("{ payments { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(list["data"]["payments"]["edges"], json!([]));
    // Zero-decimal currencies count whole units: 500 JPY is fine.
    let body = dan
        .create(json!({ "amount": 500, "currency": "JPY" }), "yen")
        .await;
    assert_eq!(
        body["data"]["createPaymentIntent"]["payment"]["currency"], "JPY",
        "{body}"
    );
    single_error(&app.graphql("mutation { createPaymentIntent(input: {amount: 1000, currency: \"usd\"}, idempotencyKey: \"k\") { clientSecret } }", json!({})).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_declined_sandbox_payment_reopens() {
    let app = app(30, |_| {}).await;
    let erin = Client::sign_in(&app, "erin").await;
    let body = erin
        .create(
            json!({ "amount": 1000, "currency": "usd", "description": "please decline" }),
            "d",
        )
        .await;
    let id = body["data"]["createPaymentIntent"]["payment"]["id"].clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !erin
        .event_kinds()
        .await
        .iter()
        .any(|k| k.starts_with("payment_intent.payment_failed"))
    {
        assert!(tokio::time::Instant::now() < deadline, "no failure event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(erin.payment(&id).await["status"], "REQUIRES_PAYMENT_METHOD");
    assert_eq!(
        erin.last_error(&id).await,
        json!({ "code": "card_declined", "declineCode": "generic_decline",
            "message": "The card was declined. Try another card or contact the bank." })
    );
}

#[tokio::test]
async fn a_decline_is_shown_until_a_later_attempt_succeeds() {
    let app = app(30, |_| {}).await;
    let ida = Client::sign_in(&app, "ida").await;
    let body = ida
        .create(
            json!({ "amount": 1000, "currency": "usd", "description": "manual" }),
            "m",
        )
        .await;
    let id = body["data"]["createPaymentIntent"]["payment"]["id"].clone();
    assert_eq!(ida.last_error(&id).await, Value::Null, "nothing failed yet");
    let confirm = "mutation($id: ID!, $o: SandboxOutcome!, $d: String) { sandboxConfirmPayment(paymentId: $id, outcome: $o, declineCode: $d) { id } }";

    let declined = ida
        .gql(
            confirm,
            json!({ "id": id, "o": "DECLINE", "d": "insufficient_funds" }),
        )
        .await;
    single_error(&declined, "PAYMENT_DECLINED");
    let error = ida.until_last_error(&id).await;
    assert_eq!(
        error,
        json!({ "code": "card_declined", "declineCode": "insufficient_funds",
            "message": "The card has insufficient funds. Try another card." })
    );
    // The failure is a change subscribers hear of, though the status stays the same.
    assert_eq!(
        ida.event_kinds().await,
        [
            "created:REQUIRES_PAYMENT_METHOD",
            "payment_intent.payment_failed:REQUIRES_PAYMENT_METHOD"
        ]
    );

    ida.gql(confirm, json!({ "id": id, "o": "SUCCEED" })).await;
    ida.until_status(&id, "SUCCEEDED").await;
    assert_eq!(
        ida.last_error(&id).await,
        Value::Null,
        "cleared by the success"
    );
}

#[tokio::test]
async fn refunds_are_bounded_owned_and_idempotent() {
    let app = app(20, |_| {}).await;
    let fay = Client::sign_in(&app, "fay").await;
    let body = fay.create(usd(2000), "buy").await;
    let id = body["data"]["createPaymentIntent"]["payment"]["id"].clone();
    let refund = "mutation($id: ID!, $a: Int, $k: String!) { refundPayment(paymentId: $id, amount: $a, idempotencyKey: $k) { id amount } }";

    fay.until_status(&id, "SUCCEEDED").await;

    let stranger = Client::sign_in(&app, "gus").await;
    single_error(
        &stranger
            .gql(refund, json!({ "id": id, "a": 100, "k": "r1" }))
            .await,
        "NOT_FOUND",
    );
    let partial = fay
        .gql(refund, json!({ "id": id, "a": 500, "k": "r1" }))
        .await;
    assert_eq!(partial["data"]["refundPayment"]["amount"], 500, "{partial}");
    let replay = fay
        .gql(refund, json!({ "id": id, "a": 500, "k": "r1" }))
        .await;
    assert_eq!(
        replay["data"]["refundPayment"]["id"], partial["data"]["refundPayment"]["id"],
        "same refund"
    );
    let payment = fay.payment(&id).await;
    assert_eq!(
        (payment["status"].clone(), payment["amountRefunded"].clone()),
        (json!("PARTIALLY_REFUNDED"), json!(500))
    );

    let too_much = fay
        .gql(refund, json!({ "id": id, "a": 1501, "k": "r2" }))
        .await;
    assert_eq!(
        single_error(&too_much, "BAD_USER_INPUT")["extensions"]["field"],
        "amount"
    );
    let rest = fay.gql(refund, json!({ "id": id, "k": "r3" })).await;
    assert_eq!(rest["data"]["refundPayment"]["amount"], 1500, "{rest}");
    let payment = fay.payment(&id).await;
    assert_eq!(payment["status"], "REFUNDED");
    assert_eq!(
        payment["refunds"],
        json!([{ "amount": 500 }, { "amount": 1500 }])
    );
}

#[tokio::test]
async fn payments_page_newest_first_and_filter_by_status() {
    let app = app(600_000, |_| {}).await;
    let hal = Client::sign_in(&app, "hal").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = hal.create(usd(100 + i), &format!("p{i}")).await;
        ids.push(body["data"]["createPaymentIntent"]["payment"]["id"].clone());
    }
    let page = "query($a: String, $s: PaymentStatus) { payments(first: 2, after: $a, status: $s) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } }";
    let first = hal.gql(page, json!({})).await;
    let got: Vec<Value> = first["data"]["payments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    assert_eq!(got, vec![ids[2].clone(), ids[1].clone()], "newest first");
    assert_eq!(first["data"]["payments"]["pageInfo"]["hasNextPage"], true);
    let second = hal
        .gql(
            page,
            json!({ "a": first["data"]["payments"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(second["data"]["payments"]["edges"][0]["node"]["id"], ids[0]);
    let none = hal.gql(page, json!({ "s": "SUCCEEDED" })).await;
    assert_eq!(none["data"]["payments"]["edges"], json!([]));
}

#[tokio::test]
async fn a_page_of_payments_loads_related_rows_in_one_read_each() {
    use switchboard::store::BatchRead;
    let app = app(20, |_| {}).await;
    let uma = Client::sign_in(&app, "uma").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let body = uma.create(usd(1000), &format!("n{i}")).await;
        ids.push(body["data"]["createPaymentIntent"]["payment"]["id"].clone());
    }
    for id in &ids {
        uma.until_status(id, "SUCCEEDED").await;
        let refund = "mutation($id: ID!, $k: String!) { refundPayment(paymentId: $id, amount: 100, idempotencyKey: $k) { id } }";
        let key = format!("refund-{id}");
        assert!(
            uma.gql(refund, json!({ "id": id, "k": key })).await["data"]["refundPayment"]
                .is_object()
        );
    }
    let reads = app.store.batch_reads();
    let (refunds, users) = (
        reads.count(BatchRead::Refunds),
        reads.count(BatchRead::Users),
    );
    let page = uma
        .gql(
            "{ payments(first: 6) { edges { node { refunds { amount } owner { name } } } } }",
            json!({}),
        )
        .await;
    let edges = page["data"]["payments"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 6, "{page}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["refunds"] == json!([{ "amount": 100 }])
                && e["node"]["owner"]["name"] == "uma")
    );
    assert_eq!(
        reads.count(BatchRead::Refunds) - refunds,
        1,
        "refunds of six payments in one read"
    );
    assert_eq!(
        reads.count(BatchRead::Users) - users,
        1,
        "owners of six payments in one read"
    );
}
