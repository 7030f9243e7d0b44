//! Stripe Checkout Sessions, which localstripe lacks, against a stand-in serving Stripe's
//! documented request and response shapes (wiremock).

use serde_json::json;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, single_error};
use crate::payments::Client;
use crate::webhooks::{SECRET, post, stripe_signature};

const CHECKOUT: &str = "mutation($i: CheckoutInput!, $k: String!) { createCheckoutSession(input: $i, idempotencyKey: $k) {
    url payment { id status amount currency providerPaymentId } } }";

fn input(success_url: &str) -> serde_json::Value {
    json!({ "lineItems": [{ "priceId": "price_1Q0Abc", "quantity": 2 }], "successUrl": success_url, "cancelUrl": "https://shop.example.com/cart" })
}

async fn stripe_stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_Q1", "object": "customer" })),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_a1B2c3", "object": "checkout.session", "mode": "payment", "status": "open",
            "payment_status": "unpaid", "amount_total": 4000, "currency": "usd", "customer": "cus_Q1",
            "payment_intent": null, "url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3"
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_checkout_session_is_created_once_and_completed_by_its_webhook() {
    if crate::helpers::node_peers().is_none() {
        return;
    }
    let stripe = stripe_stand_in().await;
    let base = format!("{}/", stripe.uri());
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_checkout".into();
        s.stripe_api_base = base;
        s.stripe_webhook_secrets = SECRET.into();
        s.allowed_origins = "https://shop.example.com".into();
    })
    .await;
    let pia = Client::sign_in(&app, "pia").await;
    let first = pia
        .gql(
            CHECKOUT,
            json!({ "i": input("https://shop.example.com/thanks"), "k": "basket-7" }),
        )
        .await;
    let again = pia
        .gql(
            CHECKOUT,
            json!({ "i": input("https://shop.example.com/thanks"), "k": "basket-7" }),
        )
        .await;
    assert_eq!(first["data"], again["data"], "{first}");
    let session = &first["data"]["createCheckoutSession"];
    assert_eq!(
        session["url"],
        "https://checkout.stripe.com/c/pay/cs_test_a1B2c3"
    );
    assert_eq!(session["payment"]["amount"], 4000);
    assert_eq!(session["payment"]["currency"], "USD");

    let requests = stripe.received_requests().await.unwrap();
    let sessions: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/checkout/sessions")
        .collect();
    assert_eq!(sessions.len(), 1, "one Checkout Session for one key");
    let form = String::from_utf8_lossy(&sessions[0].body).into_owned();
    for expected in [
        "mode=payment",
        "line_items[0][price]=price_1Q0Abc",
        "line_items[0][quantity]=2",
        "customer=cus_Q1",
    ] {
        assert!(
            form.replace("%5B", "[")
                .replace("%5D", "]")
                .contains(expected),
            "{expected} in {form}"
        );
    }

    let completed = json!({ "id": "evt_cs_1", "object": "event", "type": "checkout.session.completed", "created": 1,
        "data": { "object": { "id": "cs_test_a1B2c3", "object": "checkout.session", "payment_status": "paid", "payment_intent": "pi_9" } } })
    .to_string();
    let signature = stripe_signature(&completed, SECRET, chrono::Utc::now().timestamp()).await;
    assert_eq!(post(&app, &completed, &signature).await.0, 200);
    pia.until_status(&session["payment"]["id"], "SUCCEEDED")
        .await;
}

#[tokio::test]
async fn return_urls_must_be_on_allowed_origins_and_the_sandbox_has_no_checkout() {
    let stripe = stripe_stand_in().await;
    let base = format!("{}/", stripe.uri());
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_checkout".into();
        s.stripe_api_base = base;
        s.allowed_origins = "https://shop.example.com".into();
    })
    .await;
    let quin = Client::sign_in(&app, "quin").await;
    let body = quin
        .gql(
            CHECKOUT,
            json!({ "i": input("https://evil.example.com/phish"), "k": "k1" }),
        )
        .await;
    assert_eq!(
        single_error(&body, "BAD_USER_INPUT")["extensions"]["field"],
        "input.successUrl"
    );
    let mut bad_price = input("https://shop.example.com/thanks");
    bad_price["lineItems"][0]["priceId"] = json!("price 1; drop");
    let body = quin
        .gql(CHECKOUT, json!({ "i": bad_price, "k": "k2" }))
        .await;
    assert_eq!(
        single_error(&body, "BAD_USER_INPUT")["extensions"]["field"],
        "input.lineItems.priceId"
    );
    assert!(
        stripe
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.url.path() != "/v1/checkout/sessions")
    );

    let sandbox: TestApp = crate::payments::app(600_000, |s| {
        s.allowed_origins = "https://shop.example.com".into()
    })
    .await;
    let rae = Client::sign_in(&sandbox, "rae").await;
    single_error(
        &rae.gql(
            CHECKOUT,
            json!({ "i": input("https://shop.example.com/thanks"), "k": "k3" }),
        )
        .await,
        "CONFLICT",
    );
}

const CATALOG: &str = "{ catalog { id product unitAmount currency interval } }";

#[tokio::test]
async fn the_catalog_is_served_from_cache_while_stripe_is_down() {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "has_more": false, "data": [
            { "id": "price_basic", "object": "price", "active": true, "product": "prod_basic", "unit_amount": 900, "currency": "eur", "recurring": null },
            { "id": "price_pro", "object": "price", "active": true, "product": "prod_pro", "unit_amount": 4900, "currency": "eur", "recurring": { "interval": "month" } }
        ] })))
        .up_to_n_times(1)
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&stripe)
        .await;
    let base = format!("{}/", stripe.uri());
    // A TTL of 0 refetches on every read, so the second read meets the outage.
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_catalog".into();
        s.stripe_api_base = base;
        s.catalog_ttl_seconds = "0".into();
        s.provider_env
            .insert("PROVIDER_STRIPE_BACKOFF_BASE_MS".into(), "5".into());
    })
    .await;
    let first = app.graphql(CATALOG, json!({})).await;
    let expected = json!([
        { "id": "price_basic", "product": "prod_basic", "unitAmount": 900, "currency": "EUR", "interval": null },
        { "id": "price_pro", "product": "prod_pro", "unitAmount": 4900, "currency": "EUR", "interval": "month" }
    ]);
    assert_eq!(first["data"]["catalog"], expected, "{first}");
    let during_outage = app.graphql(CATALOG, json!({})).await;
    assert_eq!(
        during_outage["data"]["catalog"], expected,
        "stale copy while Stripe fails: {during_outage}"
    );
    let calls = stripe.received_requests().await.unwrap().len();
    assert!(calls >= 2, "Stripe was asked again ({calls} calls)");
}

#[tokio::test]
async fn the_sandbox_has_a_small_catalog() {
    let app = crate::payments::app(600_000, |_| {}).await;
    let body = app.graphql(CATALOG, json!({})).await;
    assert_eq!(
        body["data"]["catalog"].as_array().map(Vec::len),
        Some(4),
        "{body}"
    );
}

#[tokio::test]
async fn declines_read_in_plain_words_and_bad_keys_are_internal() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_D1", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({ "error": {
            "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds." } })))
        .up_to_n_times(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": {
            "type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_***" } })))
        .mount(&stripe)
        .await;
    let base = format!("{}/", stripe.uri());
    let app = crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_declines".into();
        s.stripe_api_base = base;
    })
    .await;
    let vic = Client::sign_in(&app, "vic").await;
    let body = vic
        .create(json!({ "amount": 5000, "currency": "usd" }), "d1")
        .await;
    let error = single_error(&body, "PAYMENT_DECLINED");
    assert_eq!(
        error["message"],
        "The card has insufficient funds. Try another card."
    );
    assert_eq!(error["extensions"]["declineCode"], "insufficient_funds");
    let body = vic
        .create(json!({ "amount": 5000, "currency": "usd" }), "d2")
        .await;
    let error = single_error(&body, "INTERNAL");
    assert!(
        !error["message"].as_str().unwrap().contains("API Key"),
        "the cause stays in the logs: {body}"
    );
    let attempts = stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/payment_intents")
        .count();
    assert_eq!(attempts, 2, "neither a decline nor a bad key is retried");
}
