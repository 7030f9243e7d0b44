//! Subscriptions (Stripe Billing): against localstripe (subscribing, paying the first invoice,
//! a failed renewal and its retry, cancellation at period end, a live `subscriptionUpdated`
//! subscriber), against the sandbox (idempotency, validation, ownership), and out-of-order
//! webhooks that must never move a subscription backwards.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{Backend, TestApp, node_peers, single_error};
use crate::payments::Client;
use crate::stripe::LocalStripe;
use crate::webhooks::{post, stripe_signature};

const KEY: &str = "sk_test_billing";
const SECRET: &str = "whsec_billing_tests";
/// The sandbox's monthly prices: the club grants `club`, pro grants `pro` and `api`.
const CLUB: &str = "price_sandbox_club";
const PRO: &str = "price_sandbox_pro_monthly";

const FIELDS: &str = "id status plan { priceId quantity price { unitAmount interval } }
    currentPeriodEnd cancelAtPeriodEnd providerSubscriptionId
    latestInvoice { amountDue status hostedInvoiceUrl }";

const NODE: &str = "query($id: ID!) { node(id: $id) { ... on BillingSubscription { status } } }";

fn subscribe_doc() -> String {
    format!(
        "mutation($i: SubscribeInput!, $k: String!) {{ subscribe(input: $i, idempotencyKey: $k) {{
            clientSecret subscription {{ {FIELDS} }} }} }}"
    )
}

fn change_doc() -> String {
    format!(
        "mutation($id: ID!, $p: String!, $q: Int, $k: String!) {{
            changeSubscriptionPlan(id: $id, priceId: $p, quantity: $q, idempotencyKey: $k) {{ {FIELDS} }} }}"
    )
}

fn cancel_doc() -> String {
    format!(
        "mutation($id: ID!, $end: Boolean = true, $k: String!) {{
            cancelSubscription(id: $id, atPeriodEnd: $end, idempotencyKey: $k) {{ {FIELDS} }} }}"
    )
}

fn resume_doc() -> String {
    format!(
        "mutation($id: ID!, $k: String!) {{ resumeSubscription(id: $id, idempotencyKey: $k) {{ {FIELDS} }} }}"
    )
}

/// A sandbox server that also accepts Stripe webhooks signed with [`SECRET`].
async fn sandbox(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.stripe_webhook_secrets = SECRET.into())
        .await
        .unwrap()
}

async fn subscribe(client: &Client<'_>, price: &str, quantity: u32, key: &str) -> Value {
    client
        .gql(
            &subscribe_doc(),
            json!({ "i": { "priceId": price, "quantity": quantity }, "k": key }),
        )
        .await
}

async fn my_subscriptions(client: &Client<'_>) -> Vec<Value> {
    let body = client
        .gql(&format!("{{ mySubscriptions {{ {FIELDS} }} }}"), json!({}))
        .await;
    body["data"]["mySubscriptions"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

/// What the client's subscriptions grant (`me.entitlements`).
async fn entitlements(client: &Client<'_>) -> Value {
    let body = client.gql("{ me { entitlements } }", json!({})).await;
    body["data"]["me"]["entitlements"].clone()
}

/// `(kind, status)` of every subscription event of the client's user, oldest first.
async fn event_log(client: &Client<'_>) -> Vec<(String, String)> {
    let body = client
        .gql(
            "{ subscriptionEvents(first: 100) { edges { node { kind status sequence } } } }",
            json!({}),
        )
        .await;
    body["data"]["subscriptionEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| {
            (
                e["node"]["kind"].as_str().unwrap().to_owned(),
                e["node"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Polls the client's subscriptions until `check` holds for the first, or fails after a deadline.
async fn until(client: &Client<'_>, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let subscriptions = my_subscriptions(client).await;
        if let Some(first) = subscriptions.first().filter(|s| check(s)) {
            return first.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {subscriptions:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Signs `event` like Stripe and posts it to the app's webhook endpoint.
async fn deliver(app: &TestApp, event: &Value) {
    let payload = event.to_string();
    let signature = stripe_signature(&payload, SECRET, chrono::Utc::now().timestamp()).await;
    let (status, body) = post(app, &payload, &signature).await;
    assert_eq!(status, 200, "{body}");
}

/// Waits until the inbox has applied (or set aside) the event `id`.
async fn until_applied(app: &TestApp, id: &str) {
    let store = app.database.store().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = store.inbox_event(id).await.unwrap();
        if let Some(event) = event.filter(|e| e.processed_at.is_some()) {
            assert_eq!(
                event.status,
                switchboard::store::InboxStatus::Applied,
                "{event:?}"
            );
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} not applied");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn invoice_event(
    id: &str,
    kind: &str,
    created: i64,
    subscription: &str,
    invoice: &str,
    status: &str,
) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": created,
        "data": { "object": { "id": invoice, "object": "invoice", "status": status,
            "amount_due": 2500, "currency": "usd", "subscription": subscription,
            "hosted_invoice_url": format!("https://invoice.example/{invoice}") } }
    })
}

fn subscription_event(
    id: &str,
    kind: &str,
    created: i64,
    subscription: &str,
    status: &str,
    cancel: bool,
) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": created,
        "data": { "object": { "id": subscription, "object": "subscription", "status": status,
            "cancel_at_period_end": cancel, "current_period_end": 1_900_000_000,
            "items": { "data": [{ "id": "si_1", "price": { "id": CLUB }, "quantity": 1 }] } } }
    })
}

#[tokio::test]
async fn sandbox_subscriptions_change_plan_cancel_resume_and_end() {
    let app = sandbox(Backend::Sqlite).await;
    let kim = Client::sign_in(&app, "kim").await;
    let created = subscribe(&kim, CLUB, 1, "s-1").await;
    let payload = &created["data"]["subscribe"];
    assert_eq!(
        payload["clientSecret"],
        Value::Null,
        "nothing to pay: {created}"
    );
    let subscription = &payload["subscription"];
    assert_eq!(subscription["status"], "ACTIVE");
    assert_eq!(subscription["plan"]["price"]["interval"], "month");
    assert_eq!(subscription["latestInvoice"]["amountDue"], 2500);
    let id = subscription["id"].clone();
    assert_eq!(my_subscriptions(&kim).await.len(), 1);
    let node = kim.gql(NODE, json!({ "id": id })).await;
    assert_eq!(node["data"]["node"]["status"], "ACTIVE", "{node}");

    assert_eq!(entitlements(&kim).await, json!(["club"]));

    let changed = kim
        .gql(
            &change_doc(),
            json!({ "id": id, "p": PRO, "q": 3, "k": "c-1" }),
        )
        .await;
    let changed = &changed["data"]["changeSubscriptionPlan"];
    assert_eq!(changed["plan"]["priceId"], PRO, "{changed}");
    assert_eq!(changed["plan"]["quantity"], 3, "{changed}");
    assert_eq!(changed["latestInvoice"]["amountDue"], 3 * 4900);
    assert_eq!(entitlements(&kim).await, json!(["api", "pro"]));
    let cancelling = kim
        .gql(&cancel_doc(), json!({ "id": id, "k": "x-1" }))
        .await;
    let cancelling = &cancelling["data"]["cancelSubscription"];
    assert_eq!(
        (
            cancelling["status"].clone(),
            cancelling["cancelAtPeriodEnd"].clone()
        ),
        (json!("ACTIVE"), json!(true))
    );
    let resumed = kim
        .gql(&resume_doc(), json!({ "id": id, "k": "r-1" }))
        .await;
    assert_eq!(
        resumed["data"]["resumeSubscription"]["cancelAtPeriodEnd"],
        false
    );
    let ended = kim
        .gql(&cancel_doc(), json!({ "id": id, "end": false, "k": "x-2" }))
        .await;
    assert_eq!(ended["data"]["cancelSubscription"]["status"], "CANCELED");
    assert_eq!(
        entitlements(&kim).await,
        json!([]),
        "an ended subscription grants nothing"
    );
    let after_end = kim
        .gql(
            &change_doc(),
            json!({ "id": id, "p": CLUB, "q": 1, "k": "c-2" }),
        )
        .await;
    single_error(&after_end, "CONFLICT");
    let log: Vec<String> = event_log(&kim)
        .await
        .into_iter()
        .map(|(kind, status)| format!("{kind}:{status}"))
        .collect();
    assert_eq!(
        log,
        [
            "created:ACTIVE",
            "plan_changed:ACTIVE",
            "cancellation_scheduled:ACTIVE",
            "resumed:ACTIVE",
            "canceled:CANCELED"
        ]
    );
}

#[tokio::test]
async fn every_subscription_mutation_replays_its_answer_for_the_same_key() {
    let app = sandbox(Backend::Sqlite).await;
    let kim = Client::sign_in(&app, "kim").await;
    let first = subscribe(&kim, CLUB, 1, "same").await;
    let again = subscribe(&kim, CLUB, 1, "same").await;
    assert_eq!(
        first["data"]["subscribe"]["subscription"]["id"],
        again["data"]["subscribe"]["subscription"]["id"],
        "{first} {again}"
    );
    assert_eq!(
        my_subscriptions(&kim).await.len(),
        1,
        "one subscription for one key"
    );
    let id = first["data"]["subscribe"]["subscription"]["id"].clone();
    for (doc, vars, field) in [
        (
            change_doc(),
            json!({ "id": id, "p": CLUB, "q": 2, "k": "c" }),
            "changeSubscriptionPlan",
        ),
        (
            cancel_doc(),
            json!({ "id": id, "k": "x" }),
            "cancelSubscription",
        ),
        (
            resume_doc(),
            json!({ "id": id, "k": "r" }),
            "resumeSubscription",
        ),
        (
            cancel_doc(),
            json!({ "id": id, "end": false, "k": "now" }),
            "cancelSubscription",
        ),
    ] {
        let once = kim.gql(&doc, vars.clone()).await;
        assert!(once["data"][field].is_object(), "{once}");
        let replayed = kim.gql(&doc, vars).await;
        assert_eq!(replayed["data"][field]["id"], id, "{replayed}");
    }
    // Replays answer from the record, so the ended subscription answers its cancellation
    // again instead of refusing a change.
    let replayed = kim
        .gql(&cancel_doc(), json!({ "id": id, "end": false, "k": "now" }))
        .await;
    assert_eq!(
        replayed["data"]["cancelSubscription"]["status"], "CANCELED",
        "{replayed}"
    );
    let kinds: Vec<String> = event_log(&kim).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "plan_changed",
            "cancellation_scheduled",
            "resumed",
            "canceled"
        ],
        "each change once"
    );
}

#[tokio::test]
async fn every_subscription_mutation_refuses_a_key_reused_for_another_request() {
    let app = sandbox(Backend::Sqlite).await;
    let kim = Client::sign_in(&app, "kim").await;
    let first = subscribe(&kim, CLUB, 1, "k1").await;
    let id = first["data"]["subscribe"]["subscription"]["id"].clone();
    let reused = subscribe(&kim, CLUB, 2, "k1").await;
    single_error(&reused, "IDEMPOTENCY_KEY_REUSED");
    for (doc, vars, other) in [
        (
            change_doc(),
            json!({ "id": id, "p": CLUB, "q": 2, "k": "c" }),
            json!({ "id": id, "p": CLUB, "q": 3, "k": "c" }),
        ),
        (
            cancel_doc(),
            json!({ "id": id, "end": true, "k": "x" }),
            json!({ "id": id, "end": false, "k": "x" }),
        ),
    ] {
        let once = kim.gql(&doc, vars).await;
        assert!(once["errors"].is_null(), "{once}");
        single_error(&kim.gql(&doc, other).await, "IDEMPOTENCY_KEY_REUSED");
    }
    let second = subscribe(&kim, CLUB, 1, "k2").await;
    let other_id = second["data"]["subscribe"]["subscription"]["id"].clone();
    let resumed = kim.gql(&resume_doc(), json!({ "id": id, "k": "r" })).await;
    assert!(resumed["errors"].is_null(), "{resumed}");
    let reused = kim
        .gql(&resume_doc(), json!({ "id": other_id, "k": "r" }))
        .await;
    single_error(&reused, "IDEMPOTENCY_KEY_REUSED");
    // The refused requests changed nothing.
    let current = my_subscriptions(&kim).await;
    let first_now = current.iter().find(|s| s["id"] == id).unwrap();
    assert_eq!(first_now["plan"]["quantity"], 2);
    assert_eq!(first_now["status"], "ACTIVE");
}

#[tokio::test]
async fn every_subscription_mutation_needs_a_signed_in_user_and_its_owner() {
    let app = sandbox(Backend::Sqlite).await;
    let kim = Client::sign_in(&app, "kim").await;
    let created = subscribe(&kim, CLUB, 1, "mine").await;
    let id = created["data"]["subscribe"]["subscription"]["id"].clone();
    let documents = [
        (
            subscribe_doc(),
            json!({ "i": { "priceId": CLUB, "quantity": 1 }, "k": "a" }),
        ),
        (
            change_doc(),
            json!({ "id": id, "p": CLUB, "q": 2, "k": "a" }),
        ),
        (cancel_doc(), json!({ "id": id, "k": "a" })),
        (resume_doc(), json!({ "id": id, "k": "a" })),
    ];
    for (doc, vars) in &documents {
        let anonymous = app.graphql(doc, vars.clone()).await;
        single_error(&anonymous, "UNAUTHENTICATED");
    }
    let anonymous = app.graphql("{ mySubscriptions { id } }", json!({})).await;
    single_error(&anonymous, "UNAUTHENTICATED");
    // Another user sees nothing of it.
    let lee = Client::sign_in(&app, "lee").await;
    for (doc, vars) in &documents[1..] {
        single_error(&lee.gql(doc, vars.clone()).await, "NOT_FOUND");
    }
    assert!(my_subscriptions(&lee).await.is_empty());
    let node = lee.gql(NODE, json!({ "id": id })).await;
    assert_eq!(node["data"]["node"], Value::Null, "{node}");
    assert_eq!(my_subscriptions(&kim).await[0]["cancelAtPeriodEnd"], false);
}

#[tokio::test]
async fn subscribing_refuses_prices_that_are_not_recurring_and_bad_quantities() {
    let app = sandbox(Backend::Sqlite).await;
    let kim = Client::sign_in(&app, "kim").await;
    for (price, quantity, field) in [
        ("price_sandbox_coffee", 1, "input.priceId"),
        ("price_unknown", 1, "input.priceId"),
        (CLUB, 0, "input.quantity"),
        (CLUB, 1000, "input.quantity"),
    ] {
        let refused = subscribe(&kim, price, quantity, &format!("{price}-{quantity}")).await;
        let error = single_error(&refused, "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], field, "{refused}");
    }
    let bad_key = subscribe(&kim, CLUB, 1, "has space").await;
    single_error(&bad_key, "BAD_USER_INPUT");
    assert!(my_subscriptions(&kim).await.is_empty(), "no partial state");
}

async fn out_of_order_on(backend: Backend) {
    let app = sandbox(backend).await;
    let kim = Client::sign_in(&app, "kim").await;
    let created = subscribe(&kim, CLUB, 1, "s").await;
    let sub = created["data"]["subscribe"]["subscription"]["providerSubscriptionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let t = chrono::Utc::now().timestamp();
    // A renewal failed at t+20 and its retry was paid at t+30; Stripe delivers the retry first,
    // then the failure, then an older snapshot, then a snapshot from before the first payment.
    let events = [
        invoice_event(
            "evt_paid",
            "invoice.paid",
            t + 30,
            &sub,
            "in_renewal",
            "paid",
        ),
        invoice_event(
            "evt_failed",
            "invoice.payment_failed",
            t + 20,
            &sub,
            "in_renewal",
            "open",
        ),
        subscription_event(
            "evt_old",
            "customer.subscription.updated",
            t + 10,
            &sub,
            "past_due",
            false,
        ),
        subscription_event(
            "evt_created",
            "customer.subscription.created",
            t + 30,
            &sub,
            "incomplete",
            false,
        ),
    ];
    for event in &events {
        deliver(&app, event).await;
        until_applied(&app, event["id"].as_str().unwrap()).await;
    }
    let now = my_subscriptions(&kim).await.remove(0);
    assert_eq!(now["status"], "ACTIVE", "{now}");
    assert_eq!(now["latestInvoice"]["status"], "paid", "{now}");
    // A newer snapshot still applies.
    let newer = subscription_event(
        "evt_new",
        "customer.subscription.updated",
        t + 40,
        &sub,
        "active",
        true,
    );
    deliver(&app, &newer).await;
    until(&kim, "the newer snapshot", |s| {
        s["cancelAtPeriodEnd"] == true
    })
    .await;
    let log = event_log(&kim).await;
    assert_eq!(
        log,
        [
            ("created".to_owned(), "ACTIVE".to_owned()),
            ("invoice.paid".to_owned(), "ACTIVE".to_owned()),
            (
                "customer.subscription.updated".to_owned(),
                "ACTIVE".to_owned()
            ),
        ],
        "never past due, never incomplete"
    );
}

#[tokio::test]
async fn out_of_order_webhooks_never_move_a_subscription_backwards_on_sqlite() {
    if node_peers().is_none() {
        return;
    }
    out_of_order_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn out_of_order_webhooks_never_move_a_subscription_backwards_on_postgres() {
    if node_peers().is_none() {
        return;
    }
    out_of_order_on(Backend::Postgres).await;
}

/// A server charging through localstripe, whose subscription and invoice events localstripe
/// delivers to it.
async fn stripe_app(stripe: &LocalStripe) -> TestApp {
    let base = format!("{}/", stripe.base);
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.stripe_secret_key = KEY.into();
        s.stripe_api_base = base;
        s.stripe_webhook_secrets = SECRET.into();
        s.catalog_ttl_seconds = "0".into();
    })
    .await
    .unwrap();
    let url = app.url("/webhooks/stripe");
    let mut form = vec![("url", url.as_str()), ("secret", SECRET)];
    for kind in [
        "customer.subscription.created",
        "customer.subscription.deleted",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
    ] {
        form.push(("events[]", kind));
    }
    stripe.post("/_config/webhooks/billing", &form).await;
    app
}

/// The cursor before every subscription event (what an empty `subscriptionEvents` page leaves).
fn from_the_beginning() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("se:0")
}

/// Starts a graphql-ws client on `subscriptionUpdated(after:)` from the beginning, so it cannot
/// miss what happens while it connects; returns its next-line reader.
async fn subscriber(
    app: &TestApp,
    token: &str,
    count: usize,
) -> (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let peers = node_peers().expect("node peers");
    let mut child = tokio::process::Command::new("node")
        .arg(peers.join("subscribe.mjs"))
        .args([
            app.ws_url(),
            token.to_owned(),
            count.to_string(),
            format!(
                "subscription {{ subscriptionUpdated(after: \"{}\") {{ kind status }} }}",
                from_the_beginning()
            ),
        ])
        .current_dir(&peers)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("output in time");
    serde_json::from_str(&line.unwrap().expect("a line")).unwrap()
}

#[tokio::test]
async fn a_stripe_subscription_activates_fails_a_renewal_recovers_and_cancels_at_period_end() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    if node_peers().is_none() {
        return;
    }
    let app = stripe_app(&stripe).await;
    stripe
        .post(
            "/v1/plans",
            &[
                ("id", "plan_club"),
                ("amount", "2500"),
                ("currency", "usd"),
                ("interval", "month"),
                ("product[name]", "Club"),
            ],
        )
        .await;
    let kim = Client::sign_in(&app, "kim").await;
    // The subscriber follows the user's subscription events: it sees every step below, in order.
    let (mut child, mut lines) = subscriber(&app, &kim.token, 5).await;
    assert_eq!(next_line(&mut lines).await, json!({ "connected": true }));

    let created = subscribe(&kim, "plan_club", 2, "club").await;
    let payload = &created["data"]["subscribe"];
    let secret = payload["clientSecret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    assert_eq!(payload["subscription"]["status"], "INCOMPLETE");
    assert_eq!(payload["subscription"]["latestInvoice"]["amountDue"], 5000);
    assert_eq!(payload["subscription"]["latestInvoice"]["status"], "open");
    // A replay hands the same secret again, fetched from Stripe (it is never stored).
    let replayed = subscribe(&kim, "plan_club", 2, "club").await;
    assert_eq!(replayed["data"], created["data"], "{replayed}");
    assert_eq!(stripe.list("/v1/subscriptions").await.len(), 1);

    // The client confirms the first invoice's payment like a one-off payment.
    let intent = secret.split("_secret_").next().unwrap();
    let paid = stripe.pay(intent, "pm_card_visa").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    until(&kim, "active", |s| s["status"] == "ACTIVE").await;

    // A renewal fails, then its retry is paid (events signed as Stripe would).
    let sub = payload["subscription"]["providerSubscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = chrono::Utc::now().timestamp() + 60;
    deliver(
        &app,
        &invoice_event(
            "evt_r1",
            "invoice.payment_failed",
            t,
            &sub,
            "in_renewal",
            "open",
        ),
    )
    .await;
    until(&kim, "past due", |s| s["status"] == "PAST_DUE").await;
    deliver(
        &app,
        &invoice_event("evt_r2", "invoice.paid", t + 1, &sub, "in_renewal", "paid"),
    )
    .await;
    let recovered = until(&kim, "active again", |s| s["status"] == "ACTIVE").await;
    assert_eq!(recovered["latestInvoice"]["status"], "paid");

    let id = payload["subscription"]["id"].clone();
    let cancelled = kim
        .gql(&cancel_doc(), json!({ "id": id, "k": "end" }))
        .await;
    let cancelled = &cancelled["data"]["cancelSubscription"];
    assert_eq!(
        (
            cancelled["status"].clone(),
            cancelled["cancelAtPeriodEnd"].clone()
        ),
        (json!("ACTIVE"), json!(true)),
        "{cancelled}"
    );
    assert_eq!(
        stripe.list("/v1/subscriptions").await[0]["cancel_at_period_end"],
        true
    );

    let mut steps = Vec::new();
    for _ in 0..5 {
        let event = next_line(&mut lines).await;
        let event = &event["data"]["subscriptionUpdated"];
        steps.push(format!(
            "{}:{}",
            event["kind"].as_str().unwrap(),
            event["status"].as_str().unwrap()
        ));
    }
    assert_eq!(
        steps,
        [
            "created:INCOMPLETE",
            "invoice.payment_succeeded:ACTIVE",
            "invoice.payment_failed:PAST_DUE",
            "invoice.paid:ACTIVE",
            "cancellation_scheduled:ACTIVE",
        ]
    );
    assert!(child.wait().await.unwrap().success());
}
