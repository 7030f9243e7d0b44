//! `/health/live` and `/health/ready`.

use crate::helpers::{Backend, TestApp, TestDatabase};

#[tokio::test]
async fn live_and_ready_on_sqlite() {
    let app = TestApp::spawn().await;
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"]["backend"], "sqlite");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn ready_fails_with_a_reason_when_postgres_goes_away() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let TestDatabase::Postgres { name, .. } = &app.database else {
        unreachable!("spawned on postgres")
    };
    crate::helpers::drop_postgres_database(name.clone());

    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["status"], "unavailable");
    // Liveness does not depend on the database.
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn internal_errors_show_only_the_request_id() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let (token, _) = crate::auth_support::dev_sign_in(&app, "ivan").await;
    let TestDatabase::Postgres { name, .. } = &app.database else {
        unreachable!("spawned on postgres")
    };
    crate::helpers::drop_postgres_database(name.clone());

    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    let error = crate::helpers::single_error(&body, "INTERNAL");
    assert_eq!(error["extensions"]["requestId"], request_id.as_str());
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&request_id), "{message}");
    assert!(
        !message.contains("database") && !message.contains(name.as_str()),
        "no cause leaks: {message}"
    );
}
