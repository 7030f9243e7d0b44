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
