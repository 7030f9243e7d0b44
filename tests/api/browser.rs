//! GraphiQL and the web demo (examples/web) in headless Chromium, driven by puppeteer-core
//! (`examples/web/e2e/browser.mjs`), against a real server. Every request to anything but the
//! server is blocked. Screenshots land in `target/screenshots/`.
//!
//! `scripts/test` installs Chromium (Debian's `chromium`), the demo's npm packages, and builds
//! the demo; without them these tests skip, unless the peers are required.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::auth_support::free_port;
use crate::helpers::{Backend, TestApp, peers_required, repo_root};
use crate::payments::Client;

/// The demo's folder, once its packages are installed and it is built.
fn demo() -> Option<PathBuf> {
    let dir = repo_root().join("examples/web");
    let ready =
        dir.join("node_modules/puppeteer-core").is_dir() && dir.join("dist/index.html").is_file();
    if ready {
        return Some(dir);
    }
    assert!(
        !peers_required(),
        "examples/web is not installed and built; run scripts/test (npm ci, npm run build)"
    );
    eprintln!("skipping: examples/web is not installed and built; scripts/test does it");
    None
}

/// Chromium's path; `None` (skip) only where it is missing and not required.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        return Some(path);
    }
    let apt = std::path::Path::new("/usr/bin/apt-get").is_file();
    assert!(
        !(peers_required() && apt),
        "Chromium is missing at {}; scripts/test installs it (apt-get install chromium)",
        path.display()
    );
    eprintln!("skipping: Chromium is not installed and apt-get is unavailable to install it");
    None
}

fn screenshots() -> PathBuf {
    repo_root().join("target/screenshots")
}

/// Runs one scenario of `browser.mjs` against `app`; its JSON report.
async fn browser(app: &TestApp, scenario: &str, args: &[&str]) -> Option<Value> {
    let (dir, chromium) = (demo()?, chromium()?);
    let shots = screenshots();
    let output = tokio::process::Command::new("node")
        .arg(dir.join("e2e/browser.mjs"))
        .arg(scenario)
        .arg(&app.address)
        .arg(&shots)
        .args(args)
        .env("CHROMIUM", chromium)
        .current_dir(&dir)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "{scenario} failed (screenshot in {}): {}",
        shots.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert_eq!(
        report["blocked"],
        json!([]),
        "no request left the server: {report}"
    );
    assert_eq!(report["cspViolations"], json!([]), "{report}");
    assert_eq!(report["pageErrors"], json!([]), "{report}");
    Some(report)
}

/// The trusted-documents manifest codegen wrote for the demo.
fn demo_manifest() -> PathBuf {
    repo_root().join("examples/web/src/gql/persisted-documents.json")
}

/// A server whose public URL is its real address (the dev login redirects there), serving the
/// built demo, with the demo's trusted-documents manifest.
async fn demo_server(trusted_only: bool) -> TestApp {
    demo_server_with(trusted_only, demo_manifest()).await
}

/// A random-looking signing secret the refresh test forges an expired access token with.
const SIGNING_SECRET: &str = "q7Wm2xR9tK4vN8bL1cZ6pH3jF5sD0gY7uE2iO9aT4wQ6rX8";

async fn demo_server_with(trusted_only: bool, manifest: PathBuf) -> TestApp {
    let port = free_port();
    let web = repo_root().join("examples/web");
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.listen_addr = format!("127.0.0.1:{port}");
        s.public_url = format!("http://127.0.0.1:{port}");
        s.demo_dir = web.join("dist").display().to_string();
        s.trusted_documents = manifest.display().to_string();
        s.trusted_documents_only = trusted_only.to_string();
        s.sandbox_step_ms = "50".into();
        s.session_signing_keys = format!("k1:{SIGNING_SECRET}");
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn graphiql_runs_a_query_with_every_outside_request_blocked() {
    let app = TestApp::spawn().await;
    let Some(report) = browser(&app, "graphiql", &[]).await else {
        return;
    };
    assert_eq!(
        report["result"]["data"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{report}"
    );
}

#[tokio::test]
async fn graphiql_subscribes_with_a_bearer_token_from_the_headers_editor() {
    let app = crate::payments::app(60_000, |_| {}).await;
    let gia = Client::sign_in(&app, "gia").await;
    let token = gia.token.clone();
    let created = gia
        .create(json!({ "amount": 700, "currency": "usd" }), "graphiql-1")
        .await;
    let id = created["data"]["createPaymentIntent"]["payment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let Some(report) = browser(&app, "graphiql-subscription", &[&token, &id]).await else {
        return;
    };
    let event = &report["result"]["data"]["paymentUpdated"];
    assert_eq!(event["sequence"], 1, "the current state first: {report}");
    assert!(event["status"].is_string(), "{report}");
}

#[tokio::test]
async fn the_demo_signs_in_pays_in_the_sandbox_and_sees_succeeded_without_a_reload() {
    let app = demo_server(false).await;
    let Some(report) = browser(&app, "demo-pay", &["dana"]).await else {
        return;
    };
    assert_eq!(
        report["statusBeforePaying"], "REQUIRES_PAYMENT_METHOD",
        "{report}"
    );
    let timeline = report["timeline"].as_array().unwrap();
    assert_eq!(timeline.last().unwrap(), "SUCCEEDED", "{report}");
    assert_eq!(report["sameDocument"], true, "no reload: {report}");
    assert_eq!(report["errorShown"], Value::Null, "{report}");
}

#[tokio::test]
async fn the_demo_catches_up_after_being_offline_and_shows_the_change_once() {
    let app = demo_server(false).await;
    let Some(report) = browser(&app, "demo-offline", &["olga"]).await else {
        return;
    };
    assert_eq!(report["statusWhileOffline"], "SUCCEEDED", "{report}");
    let log = report["log"].as_array().unwrap();
    let keys: Vec<&str> = log.iter().map(|e| e["key"].as_str().unwrap()).collect();
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "nothing twice: {report}");
    let refunded = log.iter().filter(|e| e["status"] == "REFUNDED").count();
    assert_eq!(refunded, 1, "the refund made offline shows once: {report}");
    // Nothing missed: the payment's sequences run 1, 2, 3... without a hole.
    let sequences: Vec<u64> = keys
        .iter()
        .map(|key| key.rsplit('#').next().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
    assert_eq!(sequences, expected, "{report}");
    assert_eq!(report["sameDocument"], true, "{report}");
    assert_eq!(
        report["errorShown"],
        Value::Null,
        "back online, no error left: {report}"
    );
}

#[tokio::test]
async fn signing_out_of_the_demo_closes_its_subscription() {
    let app = demo_server(false).await;
    let Some(report) = browser(&app, "demo-sign-out", &["sam"]).await else {
        return;
    };
    let before = &report["socketsBefore"];
    assert!(
        before["created"].as_u64().unwrap() > before["closed"].as_u64().unwrap(),
        "a socket was open: {report}"
    );
    let after = &report["socketsAfter"];
    assert_eq!(
        after["created"], after["closed"],
        "every socket closed: {report}"
    );
    assert_eq!(report["liveState"], "stopped", "{report}");
}

#[tokio::test]
async fn the_demo_works_against_a_server_that_runs_only_its_trusted_documents() {
    let app = demo_server(true).await;
    let Some(report) = browser(&app, "demo-pay", &["tess"]).await else {
        return;
    };
    assert_eq!(
        report["timeline"].as_array().unwrap().last().unwrap(),
        "SUCCEEDED"
    );
    // The same server refuses a document the demo does not carry.
    let refused = app.graphql("{ serverInfo { version } }", json!({})).await;
    crate::helpers::single_error(&refused, "DOCUMENT_NOT_TRUSTED");
}

#[tokio::test]
async fn the_demo_tells_in_plain_words_that_the_server_does_not_trust_it() {
    // A trusted-only server whose manifest lacks the demo's documents (an older app build).
    let manifest = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(manifest.path(), "{}").unwrap();
    let app = demo_server_with(true, manifest.path().to_owned()).await;
    let Some(report) = browser(&app, "demo-refused", &[]).await else {
        return;
    };
    assert_eq!(report["error"]["code"], "DOCUMENT_NOT_TRUSTED", "{report}");
    let text = report["error"]["text"].as_str().unwrap();
    assert!(text.contains("not allowed by the server"), "{text}");
}

#[tokio::test]
async fn the_demo_renews_an_expired_access_cookie_and_carries_on() {
    let app = demo_server(true).await;
    let Some(report) = browser(&app, "demo-refresh", &["rui", SIGNING_SECRET]).await else {
        return;
    };
    let operations: Vec<&str> = report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Refused as expired, renewed once with the refresh cookie, then retried.
    assert_eq!(
        operations,
        ["CreatePayment", "RefreshSession", "CreatePayment"],
        "{report}"
    );
    assert_eq!(report["errorShown"], Value::Null, "{report}");
}
