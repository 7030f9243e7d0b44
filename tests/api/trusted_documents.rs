//! Trusted documents (`TRUSTED_DOCUMENTS`, `TRUSTED_DOCUMENTS_ONLY`) over HTTP and WebSocket.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, config_with, single_error};
use crate::websocket::{connect, receive, send};

const TRUSTED: &str = "query Version { serverInfo { version } }";
const UNTRUSTED: &str = "{ serverInfo { version environment } }";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A manifest as graphql-codegen's client preset writes it (`sha256:` keys).
fn manifest() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let manifest = json!({ format!("sha256:{}", sha256(TRUSTED)): TRUSTED });
    std::fs::write(file.path(), manifest.to_string()).unwrap();
    file
}

async fn trusted_only(graphiql: bool, manifest: &tempfile::NamedTempFile) -> TestApp {
    let path = manifest.path().display().to_string();
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.trusted_documents = path;
        s.trusted_documents_only = "true".into();
        s.graphiql = graphiql.to_string();
    })
    .await
    .unwrap()
}

async fn post(app: &TestApp, body: Value, graphiql_mark: bool) -> Value {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if graphiql_mark {
        request = request.header("x-graphiql", "1");
    }
    request.send().await.unwrap().json().await.unwrap()
}

fn by_hash(query: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(query) } })
}

#[tokio::test]
async fn trusted_only_refuses_unknown_documents_over_http_and_registers_nothing() {
    let manifest = manifest();
    let app = trusted_only(false, &manifest).await;
    let by_text = post(&app, json!({ "query": UNTRUSTED }), false).await;
    let error = single_error(&by_text, "DOCUMENT_NOT_TRUSTED");
    assert!(
        error["message"].as_str().unwrap().contains("manifest"),
        "{error}"
    );
    assert!(by_text.get("data").is_none_or(Value::is_null), "{by_text}");

    // An automatic persisted query cannot plant a new document either.
    let register = json!({ "query": UNTRUSTED, "extensions": by_hash(UNTRUSTED) });
    single_error(&post(&app, register, false).await, "DOCUMENT_NOT_TRUSTED");
    let hash_alone = json!({ "extensions": by_hash(UNTRUSTED) });
    single_error(&post(&app, hash_alone, false).await, "DOCUMENT_NOT_TRUSTED");
}

#[tokio::test]
async fn trusted_only_runs_manifest_documents_by_hash_by_text_and_by_get() {
    let manifest = manifest();
    let app = trusted_only(false, &manifest).await;
    let version = env!("CARGO_PKG_VERSION");
    let hashed = post(&app, json!({ "extensions": by_hash(TRUSTED) }), false).await;
    assert_eq!(hashed["data"]["serverInfo"]["version"], version, "{hashed}");
    // codegen's clients send the hash with its `sha256:` prefix.
    let prefixed = json!({ "extensions": { "persistedQuery": {
        "version": 1, "sha256Hash": format!("sha256:{}", sha256(TRUSTED)) } } });
    let prefixed = post(&app, prefixed, false).await;
    assert_eq!(
        prefixed["data"]["serverInfo"]["version"], version,
        "{prefixed}"
    );
    let text = post(&app, json!({ "query": TRUSTED }), false).await;
    assert_eq!(text["data"]["serverInfo"]["version"], version, "{text}");

    let extensions = by_hash(TRUSTED).to_string();
    let get: Value = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(get["data"]["serverInfo"]["version"], version, "{get}");
}

#[tokio::test]
async fn graphiql_requests_are_exempt_only_while_graphiql_is_enabled() {
    let manifest = manifest();
    let closed = trusted_only(false, &manifest).await;
    let marked = json!({ "query": UNTRUSTED });
    single_error(
        &post(&closed, marked.clone(), true).await,
        "DOCUMENT_NOT_TRUSTED",
    );

    let open = trusted_only(true, &manifest).await;
    let answer = post(&open, marked.clone(), true).await;
    assert_eq!(answer["data"]["serverInfo"]["environment"], "development");
    // Unmarked requests stay refused.
    single_error(&post(&open, marked, false).await, "DOCUMENT_NOT_TRUSTED");
}

/// Subscribes `payload` on a fresh graphql-transport-ws socket; the first answer to it.
async fn over_websocket(app: &TestApp, init: Value, payload: Value) -> Value {
    let mut socket = connect(app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": init }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": payload }),
    )
    .await;
    receive(&mut socket).await
}

#[tokio::test]
async fn trusted_only_refuses_unknown_documents_over_websocket() {
    let manifest = manifest();
    let app = trusted_only(true, &manifest).await;
    let refused = over_websocket(&app, json!({}), json!({ "query": UNTRUSTED })).await;
    // As the engine answers a document that fails validation: one result with the error.
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "DOCUMENT_NOT_TRUSTED",
        "{refused}"
    );

    let trusted = over_websocket(
        &app,
        json!({}),
        json!({ "query": "", "extensions": by_hash(TRUSTED) }),
    )
    .await;
    assert_eq!(trusted["type"], "next", "{trusted}");
    assert_eq!(
        trusted["payload"]["data"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );

    // GraphiQL marks its socket in connection_init; while GraphiQL is on, that socket may run
    // what it likes.
    let graphiql = over_websocket(
        &app,
        json!({ "x-graphiql": "1" }),
        json!({ "query": UNTRUSTED }),
    )
    .await;
    assert_eq!(graphiql["type"], "next", "{graphiql}");
}

#[tokio::test]
async fn a_manifest_with_a_wrong_hash_stops_the_start_naming_the_variable() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        json!({ sha256(UNTRUSTED): TRUSTED }).to_string(),
    )
    .unwrap();
    let path = file.path().display().to_string();
    let config = config_with(|s| s.trusted_documents = path);
    let err = switchboard::App::build(config)
        .await
        .err()
        .expect("refused");
    let message = format!("{err:#}");
    assert!(message.starts_with("TRUSTED_DOCUMENTS:"), "{message}");
    assert!(message.contains("SHA-256"), "{message}");
}
