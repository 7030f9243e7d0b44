//! `switchboard doctor` against real peers (localstripe, oidc-provider, SQLite, PostgreSQL) and
//! deliberately broken configurations: each broken setting fails its own check, and any fail
//! makes the exit status non-zero.

use std::path::Path;
use std::process::Command;

use crate::auth_support::{CLIENT_ID, CLIENT_SECRET, OidcPeer, free_port};
use crate::helpers::node_peers;
use crate::stripe::LocalStripe;

/// Runs `switchboard doctor` in `dir` with exactly `env`; its exit success and its lines.
fn doctor(dir: &Path, env: &[(&str, &str)]) -> (bool, Vec<String>) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("doctor")
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("binary runs");
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (output.status.success(), lines)
}

/// The line of check `name`, asserting it ended with `status`.
fn line<'a>(lines: &'a [String], status: &str, name: &str) -> &'a str {
    lines
        .iter()
        .find(|line| {
            line.split_once(':')
                .is_some_and(|(head, _)| head.ends_with(name))
        })
        .filter(|line| line.starts_with(&format!("{status} ")))
        .unwrap_or_else(|| panic!("no `{status} {name}` line in {lines:#?}"))
}

fn migrated_sqlite(dir: &Path) -> String {
    let url = format!("sqlite://{}", dir.join("app.db").display());
    let status = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", &url)
        .current_dir(dir)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    url
}

#[test]
fn a_configuration_that_does_not_parse_fails_the_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines) = doctor(dir.path(), &[("APP_ENV", "staging")]);
    assert!(!ok);
    assert!(
        line(&lines, "fail", "config").contains("APP_ENV"),
        "{lines:?}"
    );
}

#[test]
fn production_refuses_a_public_url_without_https() {
    let dir = tempfile::tempdir().unwrap();
    let url = migrated_sqlite(dir.path());
    let key = format!("k1:{}", "Zq8xW3vR7tY1uI5oP9aS2dF6gH0jK4lL".repeat(2));
    let env = [
        ("APP_ENV", "production"),
        ("PUBLIC_URL", "http://pay.example.com"),
        ("SESSION_SIGNING_KEYS", key.as_str()),
        ("PAYMENTS_SANDBOX", "true"),
        ("DATABASE_URL", url.as_str()),
    ];
    let (ok, lines) = doctor(dir.path(), &env);
    assert!(!ok);
    assert!(
        line(&lines, "fail", "public url").contains("not https"),
        "{lines:#?}"
    );
    let mut https = env.to_vec();
    https.push(("PUBLIC_URL", "https://pay.example.com"));
    let (_, lines) = doctor(dir.path(), &https);
    line(&lines, "ok", "public url");
}

#[test]
fn a_database_that_is_missing_unreachable_or_not_migrated_fails() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let (ok, lines) = doctor(dir.path(), &[("DATABASE_URL", &missing)]);
    assert!(!ok);
    assert!(
        line(&lines, "fail", "database").contains("does not exist"),
        "{lines:?}"
    );
    assert!(
        !dir.path().join("none.db").exists(),
        "the doctor created nothing"
    );

    let closed = format!("postgres://postgres@127.0.0.1:{}/postgres", free_port());
    let (ok, lines) = doctor(dir.path(), &[("DATABASE_URL", &closed)]);
    assert!(!ok);
    assert!(line(&lines, "fail", "database").contains("cannot open the postgres database"));

    let empty = format!("sqlite://{}", dir.path().join("empty.db").display());
    std::fs::File::create(dir.path().join("empty.db")).unwrap();
    let (ok, lines) = doctor(dir.path(), &[("DATABASE_URL", &empty)]);
    assert!(!ok);
    assert!(
        line(&lines, "fail", "database").contains("run `switchboard migrate`"),
        "{lines:?}"
    );

    let url = migrated_sqlite(dir.path());
    let (ok, lines) = doctor(dir.path(), &[("DATABASE_URL", &url)]);
    assert!(ok, "{lines:?}");
    line(&lines, "ok", "database");
    line(&lines, "warn", "stripe");
}

/// Runs `switchboard doctor` without blocking the runtime that drains the peers' output.
async fn doctor_async(dir: &Path, env: Vec<(String, String)>) -> (bool, Vec<String>) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("doctor")
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .output()
        .await
        .expect("binary runs");
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (output.status.success(), lines)
}

#[tokio::test]
async fn stripe_and_an_identity_provider_are_checked_over_the_network() {
    if node_peers().is_none() {
        return;
    }
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let oidc = OidcPeer::start(free_port(), "http://127.0.0.1:8000/auth/callback/corp").await;
    let dir = tempfile::tempdir().unwrap();
    let url = migrated_sqlite(dir.path());
    let closed = format!("http://127.0.0.1:{}", free_port());
    let healthy = || -> Vec<(String, String)> {
        [
            ("DATABASE_URL", url.as_str()),
            ("STRIPE_API_BASE", &stripe.base),
            ("STRIPE_SECRET_KEY", "sk_test_doctor"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_doctor"),
            ("AUTH_PROVIDERS", "corp"),
            ("AUTH_CORP_KIND", "oidc"),
            ("AUTH_CORP_ISSUER", &oidc.issuer),
            ("AUTH_CORP_CLIENT_ID", CLIENT_ID),
            ("AUTH_CORP_CLIENT_SECRET", CLIENT_SECRET),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let with = |name: &str, value: Option<&str>| {
        let mut env = healthy();
        env.retain(|(k, _)| k != name);
        if let Some(value) = value {
            env.push((name.to_owned(), value.to_owned()));
        }
        env
    };

    let (ok, lines) = doctor_async(dir.path(), healthy()).await;
    assert!(ok, "{lines:#?}");
    assert!(line(&lines, "ok", "stripe").contains("test key"));
    assert!(line(&lines, "ok", "identity provider corp").contains("signing key"));
    line(&lines, "ok", "webhook secret");
    line(&lines, "ok", "clock");
    // localstripe cannot list webhook endpoints: the operator is asked to look.
    assert!(
        line(&lines, "warn", "webhook endpoint").contains("404"),
        "{lines:#?}"
    );

    // Each broken setting fails its own check.
    let (ok, lines) = doctor_async(
        dir.path(),
        with("STRIPE_SECRET_KEY", Some("rk_test_not_accepted")),
    )
    .await;
    assert!(!ok);
    assert!(
        line(&lines, "fail", "stripe").contains("refused"),
        "{lines:#?}"
    );

    let (ok, lines) = doctor_async(dir.path(), with("STRIPE_WEBHOOK_SECRETS", None)).await;
    assert!(!ok);
    assert!(line(&lines, "fail", "webhook secret").contains("STRIPE_WEBHOOK_SECRETS"));

    let (ok, lines) = doctor_async(dir.path(), with("AUTH_CORP_ISSUER", Some(&closed))).await;
    assert!(!ok);
    assert!(
        line(&lines, "fail", "identity provider corp").contains("unreachable"),
        "{lines:#?}"
    );

    let (ok, lines) = doctor_async(dir.path(), with("STRIPE_API_BASE", Some(&closed))).await;
    assert!(!ok);
    assert!(
        line(&lines, "fail", "stripe").contains("cannot reach Stripe"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("sk_test_doctor") && !l.contains("whsec_doctor")),
        "no secret in the report: {lines:#?}"
    );
}

#[tokio::test]
async fn postgres_migrations_are_read_without_applying_them() {
    let Some(database) =
        crate::helpers::TestDatabase::create(crate::helpers::Backend::Postgres).await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("DATABASE_URL".to_owned(), database.url().to_owned())];
    let (ok, lines) = doctor_async(dir.path(), env.clone()).await;
    assert!(!ok);
    assert!(
        line(&lines, "fail", "database").contains("not applied"),
        "{lines:#?}"
    );
    let (_, again) = doctor_async(dir.path(), env.clone()).await;
    assert_eq!(lines, again, "the doctor migrated nothing");

    database.store().await.close().await;
    let (ok, lines) = doctor_async(dir.path(), env).await;
    assert!(ok, "{lines:#?}");
    assert!(line(&lines, "ok", "database").contains("postgres reachable, migrations current"));
}

/// Stripe's `GET /v1/webhook_endpoints`, which localstripe lacks, from a stand-in that answers
/// the balance read and lists `endpoints`.
async fn stripe_listing(endpoints: serde_json::Value) -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "object": "balance" })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({ "object": "list", "has_more": false, "data": endpoints }),
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn the_stripe_webhook_endpoint_must_be_registered_for_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = migrated_sqlite(dir.path());
    let hook = "https://pay.example.com/webhooks/stripe";
    let every: Vec<&str> = switchboard_events();
    let cases = [
        (
            serde_json::json!([]),
            "fail",
            "no Stripe webhook endpoint sends to",
        ),
        (
            serde_json::json!([{ "url": "https://old.example.com/webhooks/stripe", "status": "enabled", "enabled_events": ["*"] }]),
            "fail",
            "no Stripe webhook endpoint sends to",
        ),
        (
            serde_json::json!([{ "url": hook, "status": "disabled", "enabled_events": every }]),
            "fail",
            "is disabled",
        ),
        (
            serde_json::json!([{ "url": hook, "status": "enabled", "enabled_events": ["payment_intent.succeeded"] }]),
            "fail",
            "charge.refunded",
        ),
        (
            serde_json::json!([{ "url": hook, "status": "enabled", "enabled_events": every }]),
            "ok",
            "event types needed",
        ),
    ];
    for (endpoints, status, says) in cases {
        let stripe = stripe_listing(endpoints.clone()).await;
        let env = [
            ("DATABASE_URL", url.as_str()),
            ("PUBLIC_URL", "https://pay.example.com"),
            ("AUTH_DEV_LOGIN", "false"),
            ("STRIPE_API_BASE", &stripe.uri()),
            ("STRIPE_SECRET_KEY", "sk_test_doctor"),
            ("STRIPE_WEBHOOK_SECRETS", "whsec_doctor"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (ok, lines) = doctor_async(dir.path(), env).await;
        assert_eq!(ok, status == "ok", "{endpoints}: {lines:#?}");
        assert!(
            line(&lines, status, "webhook endpoint").contains(says),
            "{endpoints}: {lines:#?}"
        );
    }
}

/// The event types docs/webhooks.md tells operators to send.
fn switchboard_events() -> Vec<&'static str> {
    vec![
        "payment_intent.succeeded",
        "payment_intent.processing",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
        "charge.refunded",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_action_required",
    ]
}
