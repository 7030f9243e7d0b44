//! Request limits and production hardening.

use serde_json::json;

use crate::helpers::{Backend, TestApp, single_error};

/// A signing secret as `openssl rand -base64 48` prints it.
pub(crate) const RANDOM_SECRET: &str =
    "r8Jx0vQ2mZ7pLk4tN1sW9yB6cH3fD5gA0eU8iO2qT7wE4rY6uI1oP3aS5dF7gH9j";

#[tokio::test]
async fn too_deep_queries_are_refused_before_execution() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.graphql_max_depth = "2".into())
        .await
        .unwrap();
    let body = app
        .graphql("{ me { identities { provider } } }", json!({}))
        .await;
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    let body = app.graphql("{ me { id } }", json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn too_complex_queries_are_refused_before_execution() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.graphql_max_complexity = "10".into())
        .await
        .unwrap();
    let aliases: String = (0..12)
        .map(|i| format!("a{i}: serverInfo {{ version }} "))
        .collect();
    let body = app.graphql(&format!("{{ {aliases} }}"), json!({})).await;
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        error["message"].as_str().unwrap().contains("complex"),
        "{body}"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.http_max_body_bytes = "4096".into())
        .await
        .unwrap();
    let padding = " ".repeat(8192);
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": format!("{{ serverInfo {{ version }} }}{padding}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn production_hides_introspection_and_graphiql() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.app_env = "production".into();
        s.session_signing_keys = format!("k1:{RANDOM_SECRET}");
        s.payments_sandbox = "true".into();
    })
    .await
    .unwrap();
    // With introspection off the engine resolves meta fields to null: nothing about the schema leaks.
    let body = app
        .graphql(
            "{ __schema { queryType { name } } __type(name: \"User\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "__schema": null, "__type": null }),
        "{body}"
    );
    let body = app
        .graphql("{ serverInfo { environment } }", json!({}))
        .await;
    assert_eq!(body["data"]["serverInfo"]["environment"], "production");
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406, "no GraphiQL page in production");
}
