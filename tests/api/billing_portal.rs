//! `createBillingPortalSession`. localstripe has no `/v1/billing_portal/sessions`, so Stripe is a
//! stand-in serving its documented request and response shapes (wiremock).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, single_error};
use crate::payments::Client;

const PORTAL: &str = "mutation($u: String!, $k: String) {
    createBillingPortalSession(returnUrl: $u, idempotencyKey: $k) { url } }";

const PORTAL_PATH: &str = "/v1/billing_portal/sessions";

async fn stripe_stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_P1", "object": "customer" })),
        )
        .mount(&server)
        .await;
    let sessions = AtomicUsize::new(0);
    Mock::given(method("POST"))
        .and(path(PORTAL_PATH))
        .and(header_exists("idempotency-key"))
        .respond_with(move |_: &wiremock::Request| {
            // A new session (and URL) on every call, as Stripe does.
            let session = sessions.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({
                "id": format!("bps_{session}"), "object": "billing_portal.session", "customer": "cus_P1",
                "livemode": false, "return_url": "https://shop.example.com/account",
                "url": format!("https://billing.stripe.com/p/session/test_{session}")
            }))
        })
        .mount(&server)
        .await;
    server
}

async fn app_on(stripe: &MockServer) -> TestApp {
    let base = format!("{}/", stripe.uri());
    crate::payments::app(600_000, |s| {
        s.stripe_secret_key = "sk_test_portal".into();
        s.stripe_api_base = base;
        s.allowed_origins = "https://shop.example.com".into();
    })
    .await
}

async fn portal_calls(stripe: &MockServer) -> Vec<String> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == PORTAL_PATH)
        .map(|r| {
            String::from_utf8_lossy(&r.body)
                .replace("%3A", ":")
                .replace("%2F", "/")
        })
        .collect()
}

fn url_of(body: &Value) -> &str {
    body["data"]["createBillingPortalSession"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("url in {body}"))
}

#[tokio::test]
async fn a_portal_session_is_created_once_per_key_for_the_users_customer() {
    let stripe = stripe_stand_in().await;
    let app = app_on(&stripe).await;
    let pia = Client::sign_in(&app, "pia").await;
    let account = "https://shop.example.com/account";

    let first = pia
        .gql(PORTAL, json!({ "u": account, "k": "manage-1" }))
        .await;
    let replay = pia
        .gql(PORTAL, json!({ "u": account, "k": "manage-1" }))
        .await;

    assert_eq!(
        url_of(&first),
        "https://billing.stripe.com/p/session/test_1"
    );
    assert_eq!(first["data"], replay["data"], "the same session on a retry");
    let calls = portal_calls(&stripe).await;
    assert_eq!(calls.len(), 1, "one session for one key");
    assert!(calls[0].contains("customer=cus_P1"), "{}", calls[0]);
    assert!(
        calls[0].contains(&format!("return_url={account}")),
        "{}",
        calls[0]
    );

    let reused = pia
        .gql(
            PORTAL,
            json!({ "u": "https://shop.example.com/other", "k": "manage-1" }),
        )
        .await;
    single_error(&reused, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        portal_calls(&stripe).await.len(),
        1,
        "a reused key calls nothing"
    );

    // Without a key every call is a new session: it moves no money.
    let unkeyed = pia.gql(PORTAL, json!({ "u": account })).await;
    assert_eq!(
        url_of(&unkeyed),
        "https://billing.stripe.com/p/session/test_2"
    );
}

#[tokio::test]
async fn the_return_url_must_be_on_an_allowed_origin_and_signing_in_is_required() {
    let stripe = stripe_stand_in().await;
    let app = app_on(&stripe).await;
    let quin = Client::sign_in(&app, "quin").await;

    for url in [
        "https://evil.example.com/account",
        "javascript:alert(1)",
        "/account",
    ] {
        let body = quin.gql(PORTAL, json!({ "u": url, "k": "manage-2" })).await;
        assert_eq!(
            single_error(&body, "BAD_USER_INPUT")["extensions"]["field"],
            "returnUrl",
            "{url}"
        );
    }
    let bad_key = quin
        .gql(
            PORTAL,
            json!({ "u": "https://shop.example.com/account", "k": "" }),
        )
        .await;
    assert_eq!(
        single_error(&bad_key, "BAD_USER_INPUT")["extensions"]["field"],
        "idempotencyKey"
    );
    let anonymous = app
        .graphql(
            PORTAL,
            json!({ "u": "https://shop.example.com/account", "k": "manage-3" }),
        )
        .await;
    single_error(&anonymous, "UNAUTHENTICATED");
    assert!(
        stripe.received_requests().await.unwrap().is_empty(),
        "refused before any Stripe call"
    );

    // The key of a refused request was never taken: it works once the URL is right.
    let body = quin
        .gql(
            PORTAL,
            json!({ "u": "https://shop.example.com/account", "k": "manage-2" }),
        )
        .await;
    assert_eq!(url_of(&body), "https://billing.stripe.com/p/session/test_1");
}

#[tokio::test]
async fn the_sandbox_portal_sends_the_customer_straight_back() {
    let app = crate::payments::app(600_000, |s| {
        s.allowed_origins = "https://shop.example.com".into()
    })
    .await;
    let rae = Client::sign_in(&app, "rae").await;
    let body = rae
        .gql(
            PORTAL,
            json!({ "u": "https://shop.example.com/account?tab=billing", "k": "m" }),
        )
        .await;
    assert_eq!(
        url_of(&body),
        "https://shop.example.com/account?tab=billing"
    );
}
