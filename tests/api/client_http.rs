//! The HTTP side of the client contract: automatic persisted queries, refused batches and
//! uploads, caching of public queries, and CORS preflights.

use serde_json::{Value, json};

use crate::helpers::{TestApp, single_error};

async fn post_raw(app: &TestApp, content_type: &str, body: String) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", content_type)
        .header("accept", "application/graphql-response+json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn persisted_queries_answer_with_the_codes_clients_expect() {
    use sha2::Digest;
    let app = TestApp::spawn().await;
    let query = "{ serverInfo { version } }";
    let hash: String = sha2::Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let unknown = json!({ "extensions": persisted(&hash) }).to_string();
    let (status, body) = post_raw(&app, "application/json", unknown.clone()).await;
    assert_eq!(status, 400);
    single_error(&body, "PERSISTED_QUERY_NOT_FOUND");

    // A hash that is not the query's is refused, and registers nothing.
    let other = "0".repeat(64);
    let mismatched = json!({ "query": query, "extensions": persisted(&other) }).to_string();
    let (status, body) = post_raw(&app, "application/json", mismatched).await;
    assert_eq!(status, 400);
    single_error(&body, "PERSISTED_QUERY_HASH_MISMATCH");
    let (_, body) = post_raw(
        &app,
        "application/json",
        json!({ "extensions": persisted(&other) }).to_string(),
    )
    .await;
    single_error(&body, "PERSISTED_QUERY_NOT_FOUND");

    let register = json!({ "query": query, "extensions": persisted(&hash) }).to_string();
    let (status, body) = post_raw(&app, "application/json", register).await;
    assert_eq!(
        (status, &body["data"]["serverInfo"]["version"]),
        (200, &json!(env!("CARGO_PKG_VERSION")))
    );
    // Now GET with the hash alone works too (Apollo's useGETForHashedQueries).
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", persisted(&hash).to_string())])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );

    let v2 = json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } });
    let (_, body) = post_raw(&app, "application/json", v2.to_string()).await;
    single_error(&body, "PERSISTED_QUERY_NOT_SUPPORTED");
}

#[tokio::test]
async fn batches_and_uploads_are_refused_with_their_own_codes() {
    let app = TestApp::spawn().await;
    let batch = json!([{ "query": "{ serverInfo { version } }" }, { "query": "{ me { id } }" }]);
    let (status, body) = post_raw(&app, "application/json", batch.to_string()).await;
    assert_eq!(status, 400);
    let answers = body.as_array().expect("one answer per operation");
    assert_eq!(answers.len(), 2);
    for answer in answers {
        single_error(answer, "BATCHING_NOT_SUPPORTED");
    }
    // A huge batch gets one error, not an answer per entry.
    let huge = format!("[{}]", vec!["{}"; 10_000].join(","));
    let (status, body) = post_raw(&app, "application/json", huge).await;
    assert_eq!(status, 400);
    single_error(&body, "BATCHING_NOT_SUPPORTED");

    let (status, body) = post_raw(&app, "multipart/form-data; boundary=x", "--x--".into()).await;
    assert_eq!(status, 415);
    single_error(&body, "UPLOADS_NOT_SUPPORTED");
}

async fn get_graphql(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", query)]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn public_queries_are_cacheable_and_revalidate_with_etags() {
    let app = TestApp::spawn().await;
    let public = "{ serverInfo { version } loginProviders { name kind } }";
    let first = get_graphql(&app, public, &[]).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "public, max-age=30");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let body = first.text().await.unwrap();
    assert!(body.contains(env!("CARGO_PKG_VERSION")), "{body}");

    let again = get_graphql(&app, public, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.text().await.unwrap().is_empty());

    // Other answers are never stored: signed in, private fields, errors, and POST.
    let signed_in = get_graphql(&app, public, &[("authorization", "Bearer not-a-token")]).await;
    assert_eq!(signed_in.headers()["cache-control"], "private, no-store");
    assert!(signed_in.headers().get("etag").is_none());
    let private = get_graphql(&app, "{ serverInfo { version } me { id } }", &[]).await;
    assert_eq!(private.headers()["cache-control"], "private, no-store");
    let post = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": public }))
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["cache-control"], "private, no-store");
}

#[tokio::test]
async fn preflights_allow_tracing_and_configured_headers_and_are_cached() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.allowed_origins = "https://app.example.com".into();
        s.cors_allowed_headers = "X-App-Version".into();
    })
    .await
    .unwrap();
    let asked =
        "content-type,traceparent,baggage,sentry-trace,apollo-require-preflight,x-app-version";
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", asked)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-max-age"], "7200");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for name in asked.split(',') {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
}
