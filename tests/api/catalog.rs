//! Plans and entitlements from the price catalog. localstripe has no `/v1/prices`, so Stripe is
//! a stand-in serving its documented list shape (wiremock), with products expanded.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, single_error};
use crate::payments::Client;

const PLANS: &str =
    "{ plans { id product unitAmount currency interval intervalCount entitlements } }";

fn pro_product() -> Value {
    json!({ "id": "prod_pro", "object": "product", "name": "Pro", "active": true,
        "metadata": { "entitlements": "pro, api", "tier": "2" } })
}

/// Two pages of prices: one-time, monthly, yearly (overriding its product's entitlements),
/// quarterly without any, and an archived plan.
async fn stripe_with_prices() -> MockServer {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .and(query_param("expand[0]", "data.product"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "has_more": true, "data": [
            { "id": "price_beans", "object": "price", "active": true, "product": { "id": "prod_beans", "object": "product", "name": "Beans", "metadata": { "entitlements": "beans" } },
              "unit_amount": 1800, "currency": "usd", "recurring": null, "metadata": {} },
            { "id": "price_pro_month", "object": "price", "active": true, "product": pro_product(),
              "unit_amount": 4900, "currency": "usd", "recurring": { "interval": "month", "interval_count": 1 }, "metadata": {} },
            { "id": "price_pro_year", "object": "price", "active": true, "product": pro_product(),
              "unit_amount": 49000, "currency": "usd", "recurring": { "interval": "year", "interval_count": 1 },
              "metadata": { "entitlements": "pro,api,priority_support" } }
        ] })))
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .and(query_param("starting_after", "price_pro_year"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "has_more": false, "data": [
            { "id": "price_quarter", "object": "price", "active": true, "product": "prod_plain",
              "unit_amount": 2500, "currency": "eur", "recurring": { "interval": "month", "interval_count": 3 } },
            { "id": "price_pro_legacy", "object": "price", "active": false, "product": pro_product(),
              "unit_amount": 3900, "currency": "usd", "recurring": { "interval": "month", "interval_count": 1 }, "metadata": {} }
        ] })))
        .mount(&stripe)
        .await;
    stripe
}

/// Stripe answering every price list with its documented outage error.
async fn stripe_down() -> MockServer {
    let down = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({ "error": {
            "type": "api_error", "message": "Stripe is temporarily unavailable." } })))
        .mount(&down)
        .await;
    down
}

async fn app_on(stripe: &MockServer, ttl_seconds: &str) -> TestApp {
    let base = format!("{}/", stripe.uri());
    let ttl = ttl_seconds.to_owned();
    crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_plans".into();
        s.stripe_api_base = base;
        s.catalog_ttl_seconds = ttl;
        s.provider_env
            .insert("PROVIDER_STRIPE_BACKOFF_BASE_MS".into(), "5".into());
    })
    .await
}

#[tokio::test]
async fn plans_are_the_active_recurring_prices_with_what_their_metadata_grants() {
    let stripe = stripe_with_prices().await;
    let app = app_on(&stripe, "300").await;

    let body = app.graphql(PLANS, json!({})).await;

    assert_eq!(
        body["data"]["plans"],
        json!([
            { "id": "price_pro_month", "product": "Pro", "unitAmount": 4900, "currency": "USD",
              "interval": "month", "intervalCount": 1, "entitlements": ["pro", "api"] },
            { "id": "price_pro_year", "product": "Pro", "unitAmount": 49000, "currency": "USD",
              "interval": "year", "intervalCount": 1, "entitlements": ["pro", "api", "priority_support"] },
            { "id": "price_quarter", "product": "prod_plain", "unitAmount": 2500, "currency": "EUR",
              "interval": "month", "intervalCount": 3, "entitlements": [] }
        ]),
        "{body}"
    );
    let catalog = app.graphql("{ catalog { id } }", json!({})).await;
    let ids: Vec<&str> = catalog["data"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "price_beans",
            "price_pro_month",
            "price_pro_year",
            "price_quarter"
        ],
        "archived prices are not sold: {catalog}"
    );
    assert_eq!(
        stripe.received_requests().await.unwrap().len(),
        2,
        "both reads came from one cached fetch of two pages"
    );
}

#[tokio::test]
async fn plans_are_served_stale_while_stripe_fails_and_a_cold_cache_says_so() {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "has_more": false, "data": [
            { "id": "price_team", "object": "price", "active": true, "product": { "id": "prod_team", "name": "Team", "metadata": { "entitlements": "team" } },
              "unit_amount": 9900, "currency": "usd", "recurring": { "interval": "month", "interval_count": 1 } }
        ] })))
        .up_to_n_times(1)
        .mount(&stripe)
        .await;
    // The fault, from the second call on.
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({ "error": {
            "type": "api_error", "message": "Stripe is temporarily unavailable." } })))
        .mount(&stripe)
        .await;
    // A TTL of 0 refetches on every read, so the second read meets the outage.
    let app = app_on(&stripe, "0").await;
    let filled = app.graphql(PLANS, json!({})).await;
    assert_eq!(
        filled["data"]["plans"][0]["entitlements"],
        json!(["team"]),
        "{filled}"
    );

    let during_outage = app.graphql(PLANS, json!({})).await;

    assert_eq!(
        during_outage["data"], filled["data"],
        "stale copy: {during_outage}"
    );
    let calls = stripe.received_requests().await.unwrap().len();
    assert!(calls >= 2, "Stripe was asked again ({calls} calls)");

    let down = stripe_down().await;
    let cold = app_on(&down, "300").await;
    let body = cold.graphql(PLANS, json!({})).await;
    assert_eq!(body["data"], Value::Null, "{body}");
    single_error(&body, "PROVIDER_UNAVAILABLE");
}

#[tokio::test]
async fn the_sandbox_offers_plans_with_entitlements() {
    let app = crate::payments::app(600_000, |_| {}).await;
    let body = app.graphql(PLANS, json!({})).await;
    let plans = body["data"]["plans"].as_array().expect("plans");
    assert!(plans.len() >= 2, "{body}");
    assert!(plans.iter().all(|p| p["interval"].is_string()), "{body}");
    assert!(
        plans
            .iter()
            .any(|p| p["entitlements"].as_array().is_some_and(|e| !e.is_empty())),
        "{body}"
    );
}

#[tokio::test]
async fn entitlements_are_empty_without_subscriptions_and_need_no_catalog() {
    let down = stripe_down().await;
    let app = app_on(&down, "300").await;
    let ana = Client::sign_in(&app, "ana").await;

    let body = ana.gql("{ me { entitlements } }", json!({})).await;

    assert_eq!(body["data"]["me"]["entitlements"], json!([]), "{body}");
    assert!(body["errors"].is_null(), "{body}");
    let anonymous = app.graphql("{ me { entitlements } }", json!({})).await;
    assert_eq!(anonymous["data"]["me"], Value::Null, "{anonymous}");
}
