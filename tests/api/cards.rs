//! Saved cards and mobile PaymentSheet: `createSetupIntent` and `paymentMethods` against
//! localstripe; ephemeral keys (which localstripe lacks) against a stand-in serving Stripe's
//! documented shapes (wiremock); the keyless sandbox; `serverInfo.stripePublishableKey`.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{Backend, TestApp, single_error};
use crate::payments::Client;
use crate::stripe::LocalStripe;

const KEY: &str = "sk_test_switchboard";

const SETUP: &str =
    "mutation($k: String!, $m: [MetadataEntryInput!]! = [], $e: Boolean! = false, $v: String) {
    createSetupIntent(idempotencyKey: $k, metadata: $m, ephemeralKey: $e, stripeApiVersion: $v) {
        clientSecret customerId ephemeralKeySecret } }";

const PAY: &str = "mutation($k: String!, $e: Boolean! = false, $v: String) {
    createPaymentIntent(input: { amount: 1999, currency: \"usd\" }, idempotencyKey: $k, ephemeralKey: $e, stripeApiVersion: $v) {
        clientSecret customerId ephemeralKeySecret payment { id } } }";

const CARDS: &str = "{ paymentMethods { id brand last4 expMonth expYear } }";

fn setup_vars(key: &str, metadata: Value) -> Value {
    json!({ "k": key, "m": metadata })
}

async fn stripe_app(stripe: &LocalStripe) -> TestApp {
    let base = format!("{}/", stripe.base);
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.stripe_secret_key = KEY.into();
        s.stripe_api_base = base;
        s.stripe_publishable_key = "pk_test_switchboard".into();
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_card_saved_through_a_setup_intent_is_listed_and_the_intent_is_created_once() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = stripe_app(&stripe).await;
    let kim = Client::sign_in(&app, "kim").await;
    // Reading saved cards creates no customer.
    let none = kim.gql(CARDS, json!({})).await;
    assert_eq!(none["data"]["paymentMethods"], json!([]), "{none}");
    assert!(stripe.list("/v1/customers").await.is_empty());

    let tag = json!([{ "key": "screen", "value": "settings" }]);
    let first = kim.gql(SETUP, setup_vars("save-card-1", tag.clone())).await;
    let again = kim.gql(SETUP, setup_vars("save-card-1", tag)).await;
    assert_eq!(first["data"], again["data"], "a retry gets the same answer");
    let created = &first["data"]["createSetupIntent"];
    let secret = created["clientSecret"].as_str().unwrap();
    assert!(
        secret.starts_with("seti_") && secret.contains("_secret_"),
        "{first}"
    );
    assert_eq!(created["customerId"], Value::Null, "not asked for");
    let other = kim
        .gql(
            SETUP,
            setup_vars(
                "save-card-1",
                json!([{ "key": "screen", "value": "checkout" }]),
            ),
        )
        .await;
    single_error(&other, "IDEMPOTENCY_KEY_REUSED");

    let intents = stripe.list("/v1/setup_intents").await;
    assert_eq!(intents.len(), 1, "one SetupIntent for one key: {intents:?}");
    let customers = stripe.list("/v1/customers").await;
    assert_eq!(customers.len(), 1, "{customers:?}");
    let customer = customers[0]["id"].as_str().unwrap();
    let intent = &intents[0];
    assert_eq!(intent["customer"], customer);
    assert_eq!(intent["usage"], "off_session");
    assert_eq!(intent["metadata"]["screen"], "settings");

    // The client confirms with a card, as PaymentSheet or Stripe.js would.
    let id = intent["id"].as_str().unwrap();
    let confirmed = stripe
        .post(
            &format!("/v1/setup_intents/{id}/confirm"),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    let card = confirmed["payment_method"].as_str().unwrap();
    // Stripe attaches the confirmed method to the SetupIntent's customer; localstripe does not,
    // so the test does what Stripe would.
    let attached = stripe
        .post(
            &format!("/v1/payment_methods/{card}/attach"),
            &[("customer", customer)],
        )
        .await;
    assert_eq!(attached["customer"], customer, "{attached}");

    let listed = kim.gql(CARDS, json!({})).await;
    assert_eq!(
        listed["data"]["paymentMethods"],
        json!([{ "id": card, "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030 }]),
        "{listed}"
    );
    // Someone else's cards are not yours.
    let lee = Client::sign_in(&app, "lee").await;
    assert_eq!(
        lee.gql(CARDS, json!({})).await["data"]["paymentMethods"],
        json!([])
    );
}

/// Answers each `POST /v1/ephemeral_keys` with a new key, as Stripe does.
struct NewKeyEachTime(AtomicUsize);

impl Respond for NewKeyEachTime {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let customer = String::from_utf8_lossy(&request.body)
            .trim_start_matches("customer=")
            .to_owned();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": format!("ephkey_{n}"), "object": "ephemeral_key", "created": 1, "expires": 3601,
            "livemode": false, "secret": format!("ek_test_stand_in_{n}"),
            "associated_objects": [{ "id": customer, "type": "customer" }]
        }))
    }
}

/// Stripe's documented shapes for what the mobile flow calls; localstripe lacks ephemeral keys.
async fn stripe_stand_in() -> MockServer {
    let server = MockServer::start().await;
    let intent = json!({ "id": "pi_M1", "object": "payment_intent", "status": "requires_payment_method",
        "amount": 1999, "currency": "usd", "client_secret": "pi_M1_secret_m1" });
    let setup = json!({ "id": "seti_M1", "object": "setup_intent", "status": "requires_payment_method",
        "usage": "off_session", "client_secret": "seti_M1_secret_m1" });
    let prices = json!({ "object": "list", "has_more": false, "data": [
        { "id": "price_M1", "object": "price", "active": true, "product": "prod_M1",
          "unit_amount": 900, "currency": "usd", "recurring": { "interval": "month", "interval_count": 1 } }
    ] });
    let subscription = json!({ "id": "sub_M1", "object": "subscription", "status": "incomplete",
        "cancel_at_period_end": false,
        "items": { "object": "list", "data": [{ "id": "si_M1", "price": { "id": "price_M1" }, "quantity": 1,
            "current_period_end": 1_900_000_000 }] },
        "latest_invoice": { "id": "in_M1", "object": "invoice", "amount_due": 900, "currency": "usd",
            "status": "open", "confirmation_secret": { "client_secret": "pi_M2_secret_m2" } } });
    for (verb, route, body) in [
        (
            "POST",
            "/v1/customers",
            json!({ "id": "cus_M1", "object": "customer" }),
        ),
        ("POST", "/v1/payment_intents", intent.clone()),
        ("GET", "/v1/payment_intents/pi_M1", intent),
        ("POST", "/v1/setup_intents", setup.clone()),
        ("GET", "/v1/setup_intents/seti_M1", setup),
        ("GET", "/v1/prices", prices),
        ("POST", "/v1/subscriptions", subscription.clone()),
        ("GET", "/v1/subscriptions/sub_M1", subscription),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    // A version Stripe does not know is refused with a 400 that names it.
    Mock::given(method("POST"))
        .and(path("/v1/ephemeral_keys"))
        .and(header("stripe-version", "2011-01-01"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": {
            "type": "invalid_request_error", "message": "Invalid Stripe API version: 2011-01-01" } })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/ephemeral_keys"))
        .respond_with(NewKeyEachTime(AtomicUsize::new(0)))
        .mount(&server)
        .await;
    server
}

/// The `Stripe-Version` of each ephemeral key request, in order.
async fn key_versions(stripe: &MockServer) -> Vec<String> {
    requests_to(stripe, "POST", "/v1/ephemeral_keys")
        .await
        .iter()
        .map(|r| r.headers["stripe-version"].to_str().unwrap().to_owned())
        .collect()
}

async fn requests_to(stripe: &MockServer, verb: &str, route: &str) -> Vec<Request> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == route)
        .collect()
}

#[tokio::test]
async fn payment_sheet_gets_a_customer_and_a_fresh_ephemeral_key_at_the_sdk_version() {
    let stripe = stripe_stand_in().await;
    let base = format!("{}/", stripe.uri());
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_mobile".into();
        s.stripe_api_base = base;
        s.stripe_publishable_key = "pk_test_mobile".into();
    })
    .await;
    let info = app
        .graphql("{ serverInfo { stripePublishableKey } }", json!({}))
        .await;
    assert_eq!(
        info["data"]["serverInfo"]["stripePublishableKey"],
        "pk_test_mobile"
    );
    let ana = Client::sign_in(&app, "ana").await;
    let ask = |key: &str, version: Option<&str>| json!({ "k": key, "e": true, "v": version });

    let first = ana.gql(PAY, ask("order-1", Some("2024-06-20"))).await;
    let created = &first["data"]["createPaymentIntent"];
    assert_eq!(created["customerId"], "cus_M1", "{first}");
    assert_eq!(created["ephemeralKeySecret"], "ek_test_stand_in_1");
    assert_eq!(created["clientSecret"], "pi_M1_secret_m1");
    let keys = requests_to(&stripe, "POST", "/v1/ephemeral_keys").await;
    assert_eq!(String::from_utf8_lossy(&keys[0].body), "customer=cus_M1");
    assert_eq!(keys[0].headers["authorization"], "Bearer sk_test_mobile");

    // A replay is the same payment with a new key: keys expire, so none is kept.
    let again = ana.gql(PAY, ask("order-1", Some("2024-06-20"))).await;
    let replayed = &again["data"]["createPaymentIntent"];
    assert_eq!(replayed["payment"], created["payment"], "{again}");
    assert_eq!(replayed["clientSecret"], created["clientSecret"]);
    assert_eq!(replayed["ephemeralKeySecret"], "ek_test_stand_in_2");
    let plain = ana.gql(PAY, json!({ "k": "order-1" })).await;
    let plain = &plain["data"]["createPaymentIntent"];
    assert_eq!(plain["payment"], created["payment"]);
    assert_eq!(
        (&plain["customerId"], &plain["ephemeralKeySecret"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(
        requests_to(&stripe, "POST", "/v1/payment_intents")
            .await
            .len(),
        1,
        "one PaymentIntent for one key"
    );
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT response FROM idempotency_keys WHERE response IS NOT NULL")
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(stored.iter().all(|r| !r.contains("ek_test")), "{stored:?}");

    // Without a version, the one the server's Stripe client speaks.
    let default = ana.gql(PAY, ask("order-1", None)).await;
    assert!(default["data"]["createPaymentIntent"]["ephemeralKeySecret"].is_string());
    let intents = requests_to(&stripe, "POST", "/v1/payment_intents").await;
    let server_version = intents[0].headers["stripe-version"].to_str().unwrap();
    assert_eq!(
        key_versions(&stripe).await,
        ["2024-06-20", "2024-06-20", server_version]
    );

    // The same for saving a card.
    let setup = ana
        .gql(
            SETUP,
            json!({ "k": "save-1", "e": true, "v": "2025-01-27.acacia" }),
        )
        .await;
    let setup = &setup["data"]["createSetupIntent"];
    assert_eq!(setup["clientSecret"], "seti_M1_secret_m1", "{setup}");
    assert_eq!(setup["customerId"], "cus_M1");
    assert_eq!(setup["ephemeralKeySecret"], "ek_test_stand_in_4");
    assert_eq!(
        key_versions(&stripe).await.last().unwrap(),
        "2025-01-27.acacia"
    );
    let replay = ana.gql(SETUP, json!({ "k": "save-1", "e": true })).await;
    assert_eq!(
        replay["data"]["createSetupIntent"]["ephemeralKeySecret"], "ek_test_stand_in_5",
        "{replay}"
    );
    assert_eq!(
        requests_to(&stripe, "POST", "/v1/setup_intents")
            .await
            .len(),
        1
    );
    assert_eq!(
        requests_to(&stripe, "POST", "/v1/customers").await.len(),
        1,
        "one customer for the user"
    );
}

#[tokio::test]
async fn api_versions_are_checked_before_anything_is_created() {
    let stripe = stripe_stand_in().await;
    let base = format!("{}/", stripe.uri());
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_mobile".into();
        s.stripe_api_base = base;
    })
    .await;
    let ben = Client::sign_in(&app, "ben").await;
    for (vars, query) in [
        (json!({ "k": "v1", "e": true, "v": "2024-6-20" }), PAY),
        (
            json!({ "k": "v2", "e": true, "v": "2024-06-20\r\nX-Injected: 1" }),
            PAY,
        ),
        (json!({ "k": "v3", "v": "2024-06-20" }), PAY),
        (json!({ "k": "v4", "e": true, "v": "latest" }), SETUP),
    ] {
        let body = ben.gql(query, vars.clone()).await;
        let error = single_error(&body, "BAD_USER_INPUT");
        assert_eq!(
            error["extensions"]["field"], "stripeApiVersion",
            "{vars}: {body}"
        );
    }
    assert!(
        stripe.received_requests().await.unwrap().is_empty(),
        "nothing reached Stripe"
    );
    // A well-formed version Stripe does not know: the payment exists, the client fixes the
    // version and retries with the same key.
    let body = ben
        .gql(PAY, json!({ "k": "v5", "e": true, "v": "2011-01-01" }))
        .await;
    let error = single_error(&body, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "stripeApiVersion", "{body}");
    let retried = ben
        .gql(PAY, json!({ "k": "v5", "e": true, "v": "2024-06-20" }))
        .await;
    assert!(
        retried["data"]["createPaymentIntent"]["ephemeralKeySecret"].is_string(),
        "{retried}"
    );
    assert_eq!(
        requests_to(&stripe, "POST", "/v1/payment_intents")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_sandbox_saves_cards_without_keys() {
    let app = crate::payments::app(600_000, |s| {
        // Kept for when Stripe is configured; the sandbox serves none.
        s.stripe_publishable_key = "pk_test_unused".into();
    })
    .await;
    let info = app
        .graphql(
            "{ serverInfo { paymentProvider stripePublishableKey } }",
            json!({}),
        )
        .await;
    assert_eq!(
        info["data"]["serverInfo"],
        json!({ "paymentProvider": "sandbox", "stripePublishableKey": null })
    );
    let sam = Client::sign_in(&app, "sam").await;
    let first = sam
        .gql(SETUP, json!({ "k": "s1", "e": true, "v": "2024-06-20" }))
        .await;
    let again = sam.gql(SETUP, json!({ "k": "s1", "e": true })).await;
    assert_eq!(first["data"], again["data"], "a retry gets the same answer");
    let created = &first["data"]["createSetupIntent"];
    assert!(
        created["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("seti_sandbox_"),
        "{first}"
    );
    // The sandbox has no customers, so nothing to hand a mobile SDK.
    assert_eq!(
        (&created["customerId"], &created["ephemeralKeySecret"]),
        (&Value::Null, &Value::Null)
    );
    let other = sam
        .gql(
            SETUP,
            setup_vars("s1", json!([{ "key": "screen", "value": "checkout" }])),
        )
        .await;
    single_error(&other, "IDEMPOTENCY_KEY_REUSED");
    let pay = sam.gql(PAY, json!({ "k": "p1", "e": true })).await;
    assert_eq!(
        pay["data"]["createPaymentIntent"]["ephemeralKeySecret"],
        Value::Null,
        "{pay}"
    );
    assert_eq!(
        sam.gql(CARDS, json!({})).await["data"]["paymentMethods"],
        json!([])
    );
    let long_key = "k".repeat(41);
    for (vars, field) in [
        (json!({ "k": "" }), "idempotencyKey"),
        (
            setup_vars("s2", json!([{ "key": long_key, "value": "v" }])),
            "metadata",
        ),
    ] {
        let body = sam.gql(SETUP, vars).await;
        assert_eq!(
            single_error(&body, "BAD_USER_INPUT")["extensions"]["field"],
            field,
            "{body}"
        );
    }
}

#[tokio::test]
async fn saving_and_listing_cards_needs_a_signed_in_user() {
    let app = crate::payments::app(600_000, |_| {}).await;
    for (query, vars) in [
        (SETUP, json!({ "k": "anon" })),
        (CARDS, json!({})),
        (PAY, json!({ "k": "anon", "e": true })),
    ] {
        let body = app.graphql(query, vars).await;
        single_error(&body, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn subscribing_from_payment_sheet_gets_the_customer_and_a_fresh_ephemeral_key() {
    const SUBSCRIBE: &str = "mutation($k: String!, $e: Boolean! = false, $v: String) {
        subscribe(input: { priceId: \"price_M1\" }, idempotencyKey: $k, ephemeralKey: $e, stripeApiVersion: $v) {
            clientSecret customerId ephemeralKeySecret subscription { id status } } }";
    let stripe = stripe_stand_in().await;
    let base = format!("{}/", stripe.uri());
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_mobile".into();
        s.stripe_api_base = base;
    })
    .await;
    let ana = Client::sign_in(&app, "ana").await;

    let first = ana
        .gql(
            SUBSCRIBE,
            json!({ "k": "sub-1", "e": true, "v": "2024-06-20" }),
        )
        .await;
    let created = &first["data"]["subscribe"];
    assert_eq!(created["clientSecret"], "pi_M2_secret_m2", "{first}");
    assert_eq!(created["customerId"], "cus_M1");
    assert_eq!(created["ephemeralKeySecret"], "ek_test_stand_in_1");
    assert_eq!(created["subscription"]["status"], "INCOMPLETE");
    assert_eq!(key_versions(&stripe).await, ["2024-06-20"]);

    // A replay is the same subscription with a new key; without the flag, no key at all.
    let again = ana
        .gql(
            SUBSCRIBE,
            json!({ "k": "sub-1", "e": true, "v": "2024-06-20" }),
        )
        .await;
    let replayed = &again["data"]["subscribe"];
    assert_eq!(replayed["subscription"], created["subscription"], "{again}");
    assert_eq!(replayed["ephemeralKeySecret"], "ek_test_stand_in_2");
    let plain = ana.gql(SUBSCRIBE, json!({ "k": "sub-1" })).await;
    let plain = &plain["data"]["subscribe"];
    assert_eq!(plain["subscription"], created["subscription"], "{plain}");
    assert_eq!(
        (&plain["customerId"], &plain["ephemeralKeySecret"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(
        requests_to(&stripe, "POST", "/v1/subscriptions")
            .await
            .len(),
        1,
        "one subscription for one key"
    );

    // A bad version is refused before anything is created.
    let refused = ana
        .gql(
            SUBSCRIBE,
            json!({ "k": "sub-2", "e": true, "v": "yesterday" }),
        )
        .await;
    single_error(&refused, "BAD_USER_INPUT");
    assert_eq!(
        requests_to(&stripe, "POST", "/v1/subscriptions")
            .await
            .len(),
        1
    );
}
