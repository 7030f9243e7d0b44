//! The real client libraries against a real server: Apollo Client and urql in Node
//! (`tests/peers/clients.mjs`), and GraphQL Code Generator on `schema.graphql`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, node_peers, run_node};
use crate::payments::{Client, app};

const SIGNING_SECRET: &str = "a-test-signing-secret-of-more-than-32-characters";

/// An access token for the same user and session as `token`, expired ten minutes ago.
fn expired_copy(token: &str) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let mut claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .unwrap()
        .claims;
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 600);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_secret(SIGNING_SECRET.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn clients(app: &TestApp, scenario: &str, args: &[&str]) -> Option<Value> {
    let peers = node_peers()?;
    let url = app.url("/graphql");
    let mut all = vec![scenario, url.as_str()];
    all.extend_from_slice(args);
    let output = run_node(&peers, "clients.mjs", &all).await;
    Some(serde_json::from_str(&output).expect("client report JSON"))
}

#[tokio::test]
async fn apollo_and_urql_see_partial_errors_with_every_key() {
    let app = TestApp::spawn().await;
    let Some(report) = clients(&app, "partial-error", &["not-a-token"]).await else {
        return;
    };
    for client in ["apollo", "urql"] {
        let seen = &report[client];
        assert_eq!(seen["data"]["me"], Value::Null, "{client}: {seen}");
        assert!(seen["data"].get("me").is_some(), "{client}: {seen}");
        assert_eq!(
            seen["data"]["serverInfo"]["version"],
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(seen["errors"][0]["extensions"]["reason"], "TOKEN_INVALID");
    }
}

#[tokio::test]
async fn apollo_persisted_queries_fall_back_then_send_hashes_alone() {
    let app = TestApp::spawn().await;
    let Some(report) = clients(&app, "apq", &[]).await else {
        return;
    };
    assert_eq!(report["errors"], json!([]), "{report}");
    let sent: Vec<bool> = report["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hasQuery"].as_bool().unwrap())
        .collect();
    // Unknown hash, then the query once, then the hash alone is enough.
    assert_eq!(sent, [false, true, false], "{report}");
    for result in report["results"].as_array().unwrap() {
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test]
async fn apollo_persisted_queries_get_a_clear_refusal_from_a_trusted_only_server() {
    let manifest = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(manifest.path(), "{}").unwrap();
    let path = manifest.path().display().to_string();
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.trusted_documents = path;
        s.trusted_documents_only = "true".into();
    })
    .await
    .unwrap();
    let Some(report) = clients(&app, "apq", &[]).await else {
        return;
    };
    // The hash is refused as untrusted (not "not found"), so the link never sends the query
    // to register it.
    let codes: Vec<&Value> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["extensions"]["code"])
        .collect();
    assert_eq!(
        codes,
        ["DOCUMENT_NOT_TRUSTED", "DOCUMENT_NOT_TRUSTED"],
        "{report}"
    );
    let with_query = report["sent"].as_array().unwrap().iter();
    assert!(
        with_query.clone().all(|r| r["hasQuery"] == false),
        "{report}"
    );
}

#[tokio::test]
async fn apollo_batch_link_gets_a_clear_refusal_per_operation() {
    let app = TestApp::spawn().await;
    let Some(report) = clients(&app, "batch", &[]).await else {
        return;
    };
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        assert_eq!(
            result["errors"][0]["extensions"]["code"], "BATCHING_NOT_SUPPORTED",
            "{report}"
        );
    }
}

#[tokio::test]
async fn apollo_refreshes_when_the_reason_says_the_token_expired() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.session_signing_keys = format!("k1:{SIGNING_SECRET}")
    })
    .await
    .unwrap();
    let (access, refresh) = crate::auth_support::dev_sign_in(&app, "rita").await;
    let expired = expired_copy(&access);
    let Some(report) = clients(&app, "refresh", &[&expired, &refresh]).await else {
        return;
    };
    assert_eq!(report["refreshes"], 1, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["data"]["me"]["name"], "rita");
}

#[tokio::test]
async fn apollo_and_urql_refetch_a_payment_through_node() {
    let app = app(60_000, |_| {}).await;
    let yul = Client::sign_in(&app, "yul").await;
    let created = yul
        .create(json!({ "amount": 1200, "currency": "usd" }), "node-1")
        .await;
    let id = created["data"]["createPaymentIntent"]["payment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let Some(report) = clients(&app, "node", &[&yul.token, &id]).await else {
        return;
    };
    for client in ["urql", "apollo"] {
        let node = &report[client]["data"]["node"];
        assert_eq!(node["__typename"], "Payment", "{client}: {report}");
        assert_eq!(node["id"], id.as_str());
        assert_eq!(node["amount"], 1200);
    }
    assert_eq!(report["cached"]["amount"], 1200, "{report}");
}

/// Runs GraphQL Code Generator on `schema.graphql` and `documents`; its output, or its error.
async fn codegen(documents: &std::path::Path) -> Option<Result<String, String>> {
    let peers = node_peers()?;
    let output = tokio::process::Command::new("node")
        .arg(peers.join("codegen.mjs"))
        .arg(crate::helpers::repo_root().join("schema.graphql"))
        .arg(documents)
        .current_dir(&peers)
        .output()
        .await
        .expect("node runs");
    Some(if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    })
}

#[tokio::test]
async fn codegen_types_client_operations_from_the_committed_schema() {
    let operations = crate::helpers::repo_root().join("tests/peers/operations.graphql");
    let Some(generated) = codegen(&operations).await else {
        return;
    };
    let generated = generated.unwrap_or_else(|error| panic!("codegen failed: {error}"));
    for expected in [
        // DateTime is a string in RFC 3339, not `any`.
        "createdAt: string",
        // Enums keep OTHER for values providers add later.
        "export type PaymentProvider =",
        "| 'OTHER'",
        "totalCount: number",
        "export type RefetchQuery",
    ] {
        assert!(generated.contains(expected), "{expected} in:\n{generated}");
    }

    // A document that does not match the schema fails the generation.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.graphql");
    std::fs::write(
        &bad,
        "query Bad { payments { edges { node { amount provider { name } } } } }",
    )
    .unwrap();
    let error = codegen(&bad).await.unwrap().unwrap_err();
    assert!(error.contains("provider"), "{error}");
}
