//! Payments through Stripe's API, against localstripe (a stateful fake Stripe) over real HTTP:
//! creation with idempotency, confirmation, refunds, signed webhooks, and injected faults.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::auth_support::free_port;
use crate::helpers::{Backend, TestApp, peers_required, repo_root};
use crate::payments::Client;

const KEY: &str = "sk_test_switchboard";
const WEBHOOK_SECRET: &str = "whsec_localstripe_tests";

/// A localstripe process, stopped when dropped.
pub struct LocalStripe {
    pub base: String,
    http: reqwest::Client,
    _child: Child,
}

impl LocalStripe {
    /// Starts localstripe, or `None` (skip) when it is not installed and not required.
    pub async fn start() -> Option<LocalStripe> {
        let python = std::env::var("SWITCHBOARD_PYTHON").unwrap_or_else(|_| {
            repo_root()
                .join(".peers/venv/bin/python")
                .display()
                .to_string()
        });
        if !std::path::Path::new(&python).exists() {
            assert!(
                !peers_required(),
                "localstripe is not installed; run scripts/test"
            );
            eprintln!("skipping: localstripe is not installed; scripts/test installs it");
            return None;
        }
        let port = free_port();
        let mut child = Command::new(python)
            .arg(repo_root().join("tests/peers/localstripe_server.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("localstripe starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref line))) if line == "ready"),
            "localstripe did not start: {ready:?}"
        );
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(LocalStripe {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _child: child,
        })
    }

    /// A form POST to localstripe's API.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(KEY, Some(""))
            .form(form)
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Every object of a list endpoint, e.g. `/v1/customers`.
    pub async fn list(&self, path: &str) -> Vec<Value> {
        let list: Value = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(KEY, Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"].as_array().cloned().unwrap_or_default()
    }

    /// Every PaymentIntent localstripe holds.
    pub async fn intents(&self) -> Vec<Value> {
        let list: Value = self
            .http
            .get(format!("{}/v1/payment_intents", self.base))
            .basic_auth(KEY, Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"].as_array().cloned().unwrap_or_default()
    }

    /// Pays an intent as the client (Stripe.js / PaymentSheet) would: attach a card, confirm.
    pub async fn pay(&self, intent: &str, payment_method: &str) -> Value {
        self.post(
            &format!("/v1/payment_intents/{intent}"),
            &[("payment_method", payment_method)],
        )
        .await;
        self.post(&format!("/v1/payment_intents/{intent}/confirm"), &[])
            .await
    }
}

/// A server using localstripe whose webhooks are not registered (so nothing is delivered).
async fn app_without_webhooks(stripe: &LocalStripe) -> TestApp {
    let base = format!("{}/", stripe.base);
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.stripe_secret_key = KEY.into();
        s.stripe_api_base = base;
        s.stripe_webhook_secrets = WEBHOOK_SECRET.into();
        s.admin_identities = "dev:root".into();
        for (k, v) in [
            ("PROVIDER_STRIPE_BACKOFF_BASE_MS", "10"),
            ("PROVIDER_STRIPE_MAX_ATTEMPTS", "4"),
        ] {
            s.provider_env.insert(k.into(), v.into());
        }
    })
    .await
    .unwrap()
}

async fn app_with(stripe: &LocalStripe) -> TestApp {
    let app = app_without_webhooks(stripe).await;
    // localstripe delivers signed events for these to our endpoint, about a second later.
    let url = app.url("/webhooks/stripe");
    stripe
        .post(
            "/_config/webhooks/switchboard",
            &[("url", &url), ("secret", WEBHOOK_SECRET)],
        )
        .await;
    app
}

#[tokio::test]
async fn a_payment_is_created_once_paid_and_refunded_through_stripe() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = app_with(&stripe).await;
    let info = app
        .graphql("{ serverInfo { paymentProvider } }", json!({}))
        .await;
    assert_eq!(info["data"]["serverInfo"]["paymentProvider"], "stripe");
    let kim = Client::sign_in(&app, "kim").await;
    let first = kim
        .create(json!({ "amount": 2500, "currency": "usd" }), "checkout-1")
        .await;
    let again = kim
        .create(json!({ "amount": 2500, "currency": "usd" }), "checkout-1")
        .await;
    assert_eq!(first["data"], again["data"], "{first}");
    assert_eq!(
        stripe.intents().await.len(),
        1,
        "one PaymentIntent at Stripe for one key"
    );
    // The replay fetched the client secret from Stripe again: the database never held it.
    let secret = first["data"]["createPaymentIntent"]["clientSecret"]
        .as_str()
        .unwrap();
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT response FROM idempotency_keys WHERE response IS NOT NULL")
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|r| !r.contains(secret)), "{stored:?}");
    let payment = &first["data"]["createPaymentIntent"]["payment"];
    let intent = payment["providerPaymentId"].as_str().unwrap();
    // The user became one Stripe customer, and the payment is theirs.
    let second = kim
        .create(json!({ "amount": 700, "currency": "usd" }), "checkout-2")
        .await;
    assert!(
        second["data"]["createPaymentIntent"].is_object(),
        "{second}"
    );
    let customers = stripe.list("/v1/customers").await;
    assert_eq!(customers.len(), 1, "one customer per user: {customers:?}");
    let customer = customers[0]["id"].clone();
    assert!(
        stripe
            .intents()
            .await
            .iter()
            .all(|i| i["customer"] == customer)
    );
    assert!(intent.starts_with("pi_"), "{payment}");
    assert_eq!(payment["provider"], "STRIPE");

    let paid = stripe.pay(intent, "pm_card_visa").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let id = payment["id"].clone();
    kim.until_status(&id, "SUCCEEDED").await;

    let refund = "mutation($id: ID!, $a: Int, $k: String!) { refundPayment(paymentId: $id, amount: $a, idempotencyKey: $k) { amount providerRefundId } }";
    let partial = kim
        .gql(refund, json!({ "id": id, "a": 1000, "k": "r1" }))
        .await;
    assert!(
        partial["data"]["refundPayment"]["providerRefundId"]
            .as_str()
            .unwrap()
            .starts_with("re_"),
        "{partial}"
    );
    let rest = kim.gql(refund, json!({ "id": id, "k": "r2" })).await;
    assert_eq!(rest["data"]["refundPayment"]["amount"], 1500, "{rest}");
    let payment = kim.payment(&id).await;
    assert_eq!(
        (payment["status"].clone(), payment["amountRefunded"].clone()),
        (json!("REFUNDED"), json!(2500))
    );
}

#[tokio::test]
async fn a_declined_card_reopens_the_payment_and_three_d_secure_waits_for_action() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = app_with(&stripe).await;
    let lee = Client::sign_in(&app, "lee").await;

    let body = lee
        .create(json!({ "amount": 1200, "currency": "eur" }), "declined")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let declined = stripe
        .pay(
            payment["providerPaymentId"].as_str().unwrap(),
            "pm_card_chargeCustomerFail",
        )
        .await;
    assert_eq!(declined["error"]["code"], "card_declined", "{declined}");
    // The failure arrives as a signed webhook, with Stripe's reason for it.
    let error = lee.until_last_error(&payment["id"]).await;
    assert_eq!(error["code"], "card_declined", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("The card was declined") && message.chars().count() <= 250,
        "{message}"
    );
    // The status stays the same; the failure is still a change, logged once.
    assert_eq!(
        lee.event_kinds().await,
        vec![
            "created:REQUIRES_PAYMENT_METHOD",
            "payment_intent.payment_failed:REQUIRES_PAYMENT_METHOD"
        ]
    );
    assert_eq!(
        lee.payment(&payment["id"]).await["status"],
        "REQUIRES_PAYMENT_METHOD"
    );

    let body = lee
        .create(json!({ "amount": 1200, "currency": "eur" }), "3ds")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let card = stripe
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000002500003155"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let action = stripe
        .pay(
            payment["providerPaymentId"].as_str().unwrap(),
            card["id"].as_str().unwrap(),
        )
        .await;
    assert_eq!(action["status"], "requires_action", "{action}");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_into_exactly_one_intent() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = app_with(&stripe).await;
    let max = Client::sign_in(&app, "max").await;
    for (status, key) in [("429", "after-429"), ("500", "after-500")] {
        stripe
            .post("/_config/faults", &[("status", status), ("count", "2")])
            .await;
        let body = max
            .create(json!({ "amount": 900, "currency": "usd" }), key)
            .await;
        assert!(
            body["data"]["createPaymentIntent"]["payment"]["providerPaymentId"].is_string(),
            "{status}: {body}"
        );
    }
    assert_eq!(
        stripe.intents().await.len(),
        2,
        "one PaymentIntent per request despite the retries"
    );

    stripe
        .post("/_config/faults", &[("status", "500"), ("count", "20")])
        .await;
    let body = max
        .create(json!({ "amount": 900, "currency": "usd" }), "exhausted")
        .await;
    let error = crate::helpers::single_error(&body, "PROVIDER_UNAVAILABLE");
    assert_eq!(error["extensions"]["code"], "PROVIDER_UNAVAILABLE");
    // The key was released, so the same key works once Stripe recovers.
    stripe
        .post("/_config/faults", &[("status", "500"), ("count", "0")])
        .await;
    let body = max
        .create(json!({ "amount": 900, "currency": "usd" }), "exhausted")
        .await;
    assert!(body["data"]["createPaymentIntent"].is_object(), "{body}");
}

#[tokio::test]
async fn an_event_stripe_never_delivered_is_reconciled() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = app_without_webhooks(&stripe).await;
    let ned = Client::sign_in(&app, "ned").await;
    let body = ned
        .create(json!({ "amount": 3000, "currency": "usd" }), "lost")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let paid = stripe
        .pay(
            payment["providerPaymentId"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(
        ned.payment(&payment["id"]).await["status"],
        "REQUIRES_PAYMENT_METHOD",
        "no webhook came"
    );

    let root = Client::sign_in(&app, "root").await;
    let reconcile = "mutation { reconcileWebhookEvents }";
    let found = root.gql(reconcile, json!({})).await;
    assert!(
        found["data"]["reconcileWebhookEvents"].as_i64().unwrap() >= 1,
        "{found}"
    );
    ned.until_status(&payment["id"], "SUCCEEDED").await;
    let again = root.gql(reconcile, json!({})).await;
    assert_eq!(
        again["data"]["reconcileWebhookEvents"], 0,
        "nothing new the second time"
    );
    crate::helpers::single_error(&ned.gql(reconcile, json!({})).await, "FORBIDDEN");
}

#[tokio::test]
async fn a_localstripe_payment_reaches_a_subscriber_on_another_instance() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let base = format!("{}/", stripe.base);
    let settings = |s: &mut switchboard::config::Settings| {
        s.stripe_secret_key = KEY.into();
        s.stripe_api_base = base.clone();
        s.stripe_webhook_secrets = WEBHOOK_SECRET.into();
        s.session_signing_keys = "k1:a-shared-signing-secret-of-more-than-32-characters".into();
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, settings).await else {
        return;
    };
    let b = a.sibling(settings).await;
    let hook = a.url("/webhooks/stripe");
    stripe
        .post(
            "/_config/webhooks/switchboard",
            &[("url", &hook), ("secret", WEBHOOK_SECRET)],
        )
        .await;

    let olga = Client::sign_in(&a, "olga").await;
    let body = olga
        .create(
            json!({ "amount": 4200, "currency": "usd" }),
            "two-instances",
        )
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let mut socket = crate::websocket::connect(&b, "graphql-transport-ws").await;
    crate::websocket::send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "accessToken": olga.token } }),
    )
    .await;
    assert_eq!(
        crate::websocket::receive(&mut socket).await["type"],
        "connection_ack"
    );
    crate::websocket::send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { paymentUpdated(paymentId: $id) { status } }", "variables": { "id": payment["id"] } } }),
    )
    .await;
    let current = crate::websocket::receive(&mut socket).await;
    assert_eq!(
        current["payload"]["data"]["paymentUpdated"]["status"], "REQUIRES_PAYMENT_METHOD",
        "{current}"
    );

    stripe
        .pay(
            payment["providerPaymentId"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    let update = crate::websocket::receive(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["status"], "SUCCEEDED",
        "{update}"
    );
}

/// Waits until the inbox has applied (or set aside) an event of `event_type`.
async fn until_inbox_done(app: &TestApp, event_type: &str) {
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let done: Option<String> = sqlx::query_scalar(
            "SELECT status FROM webhook_inbox WHERE event_type = $1 AND status <> 'pending'",
        )
        .bind(event_type)
        .fetch_optional(&db)
        .await
        .unwrap();
        if let Some(status) = done {
            assert_eq!(status, "applied", "{event_type}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {event_type} applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_refund_of_a_payment_paid_before_its_webhook_reads_the_payment_back() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = app_without_webhooks(&stripe).await;
    let uma = Client::sign_in(&app, "uma").await;
    let body = uma
        .create(json!({ "amount": 2500, "currency": "usd" }), "paid-quietly")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let paid = stripe
        .pay(
            payment["providerPaymentId"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(
        uma.payment(&payment["id"]).await["status"],
        "REQUIRES_PAYMENT_METHOD",
        "no webhook came"
    );

    let refund = "mutation($id: ID!, $k: String!) { refundPayment(paymentId: $id, idempotencyKey: $k) { amount } }";
    let refunded = uma
        .gql(refund, json!({ "id": payment["id"], "k": "r" }))
        .await;

    assert_eq!(
        refunded["data"]["refundPayment"]["amount"], 2500,
        "{refunded}"
    );
    let history = [
        "created:REQUIRES_PAYMENT_METHOD",
        "payment_intent.retrieved:SUCCEEDED",
        "refund:REFUNDED",
    ];
    assert_eq!(uma.event_kinds().await, history);
    // The webhook Stripe did send, fetched late, finds the change made: it is logged once.
    let root = Client::sign_in(&app, "root").await;
    let found = root
        .gql("mutation { reconcileWebhookEvents }", json!({}))
        .await;
    assert!(
        found["data"]["reconcileWebhookEvents"].as_i64().unwrap() >= 1,
        "{found}"
    );
    until_inbox_done(&app, "payment_intent.succeeded").await;
    assert_eq!(uma.event_kinds().await, history);
}

#[tokio::test]
async fn a_refund_stripe_confirms_unpaid_is_refused_and_a_decline_read_back_is_shown() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let app = app_without_webhooks(&stripe).await;
    let val = Client::sign_in(&app, "val").await;
    let refund = "mutation($id: ID!, $k: String!) { refundPayment(paymentId: $id, idempotencyKey: $k) { amount } }";
    let body = val
        .create(json!({ "amount": 800, "currency": "usd" }), "unpaid")
        .await;
    let unpaid = body["data"]["createPaymentIntent"]["payment"]["id"].clone();

    let refused = val.gql(refund, json!({ "id": unpaid, "k": "r1" })).await;

    let error = crate::helpers::single_error(&refused, "CONFLICT");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("REQUIRES_PAYMENT_METHOD"),
        "{error}"
    );
    assert_eq!(val.event_kinds().await, ["created:REQUIRES_PAYMENT_METHOD"]);

    // Declined at client-side confirmation, no webhook: the read-back brings the reason.
    let body = val
        .create(json!({ "amount": 900, "currency": "usd" }), "declined")
        .await;
    let payment = &body["data"]["createPaymentIntent"]["payment"];
    let declined = stripe
        .pay(
            payment["providerPaymentId"].as_str().unwrap(),
            "pm_card_chargeCustomerFail",
        )
        .await;
    assert_eq!(declined["error"]["code"], "card_declined", "{declined}");
    let refused = val
        .gql(refund, json!({ "id": payment["id"], "k": "r2" }))
        .await;
    crate::helpers::single_error(&refused, "CONFLICT");
    assert_eq!(
        val.last_error(&payment["id"]).await["code"],
        "card_declined"
    );
    assert!(
        val.event_kinds()
            .await
            .contains(&"payment_intent.retrieved:REQUIRES_PAYMENT_METHOD".to_owned())
    );
}
