//! GraphQL over HTTP: the spec audits and the behaviour clients rely on.

use serde_json::{Value, json};

use crate::helpers::{TestApp, node_peers, run_node, single_error};

#[tokio::test]
async fn graphql_http_audits_all_pass() {
    let Some(peers) = node_peers() else { return };
    let app = TestApp::spawn().await;
    let url = app.url("/graphql");
    let output = run_node(&peers, "graphql-http-audit.mjs", &[&url]).await;
    let report: Value = serde_json::from_str(&output).expect("audit JSON");
    let failing: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "ok")
        .collect();
    println!("graphql-http audits: {}", report["counts"]);
    assert!(failing.is_empty(), "audits not ok: {failing:#?}");
    assert!(report["counts"]["ok"].as_u64().unwrap() >= 40);
}

#[tokio::test]
async fn server_info_answers_over_post() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql(
            "{ serverInfo { version environment } me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(body["data"]["serverInfo"]["environment"], "development");
    assert_eq!(body["data"]["me"], Value::Null);
    assert!(body.get("errors").is_none());
}

#[tokio::test]
async fn get_runs_queries_with_variables() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query Info($skip: Boolean!) { serverInfo { version @skip(if: $skip) environment } }"),
            ("variables", r#"{"skip": true}"#),
        ])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["serverInfo"],
        json!({ "environment": "development" })
    );
}

#[tokio::test]
async fn get_refuses_mutations_with_405() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { anything }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn request_errors_have_codes_and_no_data() {
    let app = TestApp::spawn().await;
    let post = |query: &'static str, accept: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
    };

    let response = post("{ serverInfo {", "application/graphql-response+json")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = single_error(&body, "GRAPHQL_PARSE_FAILED")["message"]
        .as_str()
        .unwrap();
    assert!(
        message.starts_with("Syntax error at line 1, column ") && !message.contains('\n'),
        "one line: {message}"
    );
    assert!(body.get("data").is_none(), "{body}");

    let response = post("{ nothing }", "application/json").await.unwrap();
    assert_eq!(response.status(), 200, "legacy media type keeps 200");
    let body: Value = response.json().await.unwrap();
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(error["message"].as_str().unwrap().contains("nothing"));
}

#[tokio::test]
async fn unreadable_requests_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .body("{ serverInfo { version } }")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    single_error(&body, "BAD_USER_INPUT");

    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/csv")
        .json(&json!({ "query": "{ serverInfo { version } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");

    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "forged\tline")
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(generated, "forged\tline");
    assert_eq!(generated.len(), 32, "{generated}");
}

#[tokio::test]
async fn graphiql_is_served_from_this_server_under_a_self_only_policy() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(
        html.contains("data-subscription-endpoint=\"/graphql/ws\""),
        "{html}"
    );
    assert!(
        !html.contains("unpkg") && !html.contains("https://"),
        "{html}"
    );

    // Every asset the page names is served here, cacheable for good.
    let assets: Vec<&str> = html
        .split("/graphql/assets/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(assets.len(), 2, "a script and a stylesheet: {html}");
    for asset in assets {
        let response = app
            .client
            .get(app.url(&format!("/graphql/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let plain = response.bytes().await.unwrap().len();
        let gzipped = app
            .client
            .get(app.url(&format!("/graphql/assets/{asset}")))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gzipped.headers()["content-encoding"], "gzip", "{asset}");
        assert!(gzipped.bytes().await.unwrap().len() < plain / 2, "{asset}");
    }
    let missing = app
        .client
        .get(app.url("/graphql/assets/..%2FCargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.allowed_origins = "https://app.example.com".into();
    })
    .await
    .unwrap();
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
