//! Sessions: the dev login, refresh rotation and reuse detection, expiry, and WebSocket
//! authentication.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::auth_support::*;
use crate::helpers::{Backend, TestApp, single_error};
use crate::websocket::{close_code, close_frame, connect, receive, send, signed_in_socket};

const SIGNING_SECRET: &str = "a-test-signing-secret-of-more-than-32-characters";
const ME: &str = "{ me { id name identities { provider subject } } }";

async fn app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |s| {
        s.session_signing_keys = format!("k1:{SIGNING_SECRET}")
    })
    .await
    .unwrap()
}

async fn me(app: &TestApp, token: &str) -> serde_json::Value {
    graphql_with(app, &[("authorization", &bearer(token))], ME, json!({})).await
}

/// Ends the session of `token` through the API.
async fn log_out(app: &TestApp, token: &str) {
    let body = graphql_with(
        app,
        &[("authorization", &bearer(token))],
        "mutation { logout }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
}

#[tokio::test]
async fn dev_login_lists_and_signs_in_a_local_user() {
    let app = app().await;
    let providers = app
        .graphql("{ loginProviders { name kind displayName } }", json!({}))
        .await;
    assert_eq!(
        providers["data"]["loginProviders"],
        json!([{ "name": "dev", "kind": "DEV", "displayName": "Development login" }])
    );
    let (token, _) = dev_sign_in(&app, "alice").await;
    let body = me(&app, &token).await;
    assert_eq!(body["data"]["me"]["name"], "alice");
    assert_eq!(
        body["data"]["me"]["identities"],
        json!([{ "provider": "dev", "subject": "alice" }])
    );
    assert_eq!(
        app.graphql(ME, json!({})).await["data"]["me"],
        serde_json::Value::Null,
        "anonymous sees null"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = app().await;
    let (access, refresh) = dev_sign_in(&app, "bob").await;
    let rotate =
        "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
    let body = app.graphql(rotate, json!({ "t": refresh })).await;
    let next_access = body["data"]["refreshSession"]["accessToken"]
        .as_str()
        .expect("rotated")
        .to_owned();
    let next_refresh = body["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(next_refresh, refresh);
    assert!(me(&app, &next_access).await["data"]["me"].is_object());

    // The spent token comes back after the grace window: someone copied it. The whole
    // session ends.
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    sqlx::query(
        "UPDATE refresh_tokens SET used_at = '2000-01-01T00:00:00Z' WHERE used_at IS NOT NULL",
    )
    .execute(&db)
    .await
    .unwrap();
    let body = app.graphql(rotate, json!({ "t": refresh })).await;
    single_error(&body, "UNAUTHENTICATED");
    for token in [&access, &next_access] {
        single_error(&me(&app, token).await, "UNAUTHENTICATED");
    }
    let body = app.graphql(rotate, json!({ "t": next_refresh })).await;
    single_error(&body, "UNAUTHENTICATED");
}

#[tokio::test]
async fn logout_everywhere_ends_every_session() {
    let app = app().await;
    let (phone, _) = dev_sign_in(&app, "carol").await;
    let (laptop, _) = dev_sign_in(&app, "carol").await;
    let body = graphql_with(
        &app,
        &[("authorization", &bearer(&phone))],
        "mutation { logout(everywhere: true) }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["logout"], true);
    let refused = me(&app, &laptop).await;
    assert_eq!(
        single_error(&refused, "UNAUTHENTICATED")["extensions"]["reason"],
        "SESSION_ENDED"
    );
    // `me` is nullable: the refusal nulls it, and the key stays.
    assert_eq!(refused["data"], json!({ "me": null }));
}

#[tokio::test]
async fn expired_and_forged_access_tokens_are_unauthenticated() {
    let app = app().await;
    let (token, _) = dev_sign_in(&app, "dave").await;
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .unwrap()
        .claims;
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 600);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_secret(SIGNING_SECRET.as_bytes()).unwrap();
    let expired = jsonwebtoken::encode(&header, &expired, &key).unwrap();
    let error = single_error(&me(&app, &expired).await, "UNAUTHENTICATED").clone();
    assert!(
        error["message"].as_str().unwrap().contains("expired"),
        "{error}"
    );
    assert_eq!(error["extensions"]["reason"], "TOKEN_EXPIRED");

    let forged_key = EncodingKey::from_secret(b"not-the-server-key-not-the-server-key").unwrap();
    let forged = jsonwebtoken::encode(&header, &claims, &forged_key).unwrap();
    let forged = me(&app, &forged).await;
    assert_eq!(
        single_error(&forged, "UNAUTHENTICATED")["extensions"]["reason"],
        "TOKEN_INVALID"
    );
}

#[tokio::test]
async fn sockets_authenticate_from_connection_init_and_close_on_logout() {
    let app = app().await;
    let (token, _) = dev_sign_in(&app, "erin").await;
    let mut socket = signed_in_socket(&app, &token).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { name } }" } }),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await["payload"]["data"]["me"]["name"],
        "erin"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");

    log_out(&app, &token).await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 4403);
    assert!(reason.starts_with("SESSION_ENDED: "), "{reason}");
}

/// Each instance remembers verified sessions; a logout on one must still end the session on
/// every other at once: its sockets close and its token is refused.
#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_on_another() {
    let settings = |s: &mut switchboard::config::Settings| {
        s.session_signing_keys = format!("k1:{SIGNING_SECRET}");
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, settings).await else {
        return;
    };
    let b = a.sibling(settings).await;
    let (token, _) = dev_sign_in(&a, "gil").await;
    // B verifies the session and remembers it.
    assert_eq!(me(&b, &token).await["data"]["me"]["name"], "gil");
    let mut socket = signed_in_socket(&b, &token).await;

    log_out(&a, &token).await;
    // Without the notice B's socket would live until the session's expiry, hours away.
    assert_eq!(close_code(&mut socket).await, 4403);
    let refused = me(&b, &token).await;
    single_error(&refused, "UNAUTHENTICATED");
}

#[tokio::test]
async fn sockets_with_bad_tokens_are_refused_with_4403() {
    let app = app().await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "accessToken": "not-a-token" } }),
    )
    .await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, 4403);
    assert!(reason.starts_with("TOKEN_INVALID: "), "{reason}");
}

#[tokio::test]
async fn browser_sockets_use_the_cookie_only_from_allowed_origins() {
    let app = app().await;
    let (token, _) = dev_sign_in(&app, "fred").await;
    // The allowed origin is PUBLIC_URL's (the default http://127.0.0.1:8000).
    for (origin, expected) in [
        ("http://127.0.0.1:8000".to_owned(), json!("fred")),
        (
            "https://evil.example.com".to_owned(),
            serde_json::Value::Null,
        ),
    ] {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = app.ws_url().into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        headers.insert("origin", origin.parse().unwrap());
        headers.insert(
            "cookie",
            format!("switchboard_access={token}").parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        send(&mut socket, json!({ "type": "connection_init" })).await;
        assert_eq!(receive(&mut socket).await["type"], "connection_ack");
        send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { name } }" } }),
        )
        .await;
        let data = receive(&mut socket).await;
        assert_eq!(
            data["payload"]["data"]["me"]["name"], expected,
            "origin {origin}: {data}"
        );
    }
}

const ROTATE: &str =
    "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";

/// Tabs and retries refresh at the same moment: every request presenting the token gets the
/// same new pair, and the session lives on.
#[tokio::test]
async fn ten_parallel_refreshes_of_one_token_keep_the_session_alive() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn_with(backend, |s| {
            s.session_signing_keys = format!("k1:{SIGNING_SECRET}")
        })
        .await
        else {
            continue;
        };
        let (_, refresh) = dev_sign_in(&app, "tabs").await;
        let answers = futures_util::future::join_all(
            (0..10).map(|_| app.graphql(ROTATE, json!({ "t": refresh }))),
        )
        .await;
        let pairs: Vec<(String, String)> = answers
            .iter()
            .map(|body| {
                let pair = &body["data"]["refreshSession"];
                assert!(pair.is_object(), "{backend:?}: {body}");
                (
                    pair["accessToken"].as_str().unwrap().to_owned(),
                    pair["refreshToken"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            pairs.iter().all(|pair| *pair == pairs[0]),
            "{backend:?}: every request got the same new pair"
        );
        let (access, next) = &pairs[0];
        assert_ne!(*next, refresh);
        assert_eq!(me(&app, access).await["data"]["me"]["name"], "tabs");
        let body = app.graphql(ROTATE, json!({ "t": next })).await;
        assert!(
            body["data"]["refreshSession"].is_object(),
            "{backend:?}: {body}"
        );
    }
}

/// Within the grace window a replay is only harmless while its successor is unused: once the
/// successor has been spent, the old token coming back is theft and ends the session.
#[tokio::test]
async fn a_replay_after_the_successor_was_used_ends_the_session() {
    let app = app().await;
    let (_, first) = dev_sign_in(&app, "ivy").await;
    let body = app.graphql(ROTATE, json!({ "t": first })).await;
    let second = body["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app.graphql(ROTATE, json!({ "t": second })).await;
    let third_access = body["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    single_error(
        &app.graphql(ROTATE, json!({ "t": first })).await,
        "UNAUTHENTICATED",
    );
    single_error(&me(&app, &third_access).await, "UNAUTHENTICATED");
}

const ADMIN_ONLY: &str = "mutation { replayWebhookEvent(eventId: \"evt_none\") }";

async fn admin_call(app: &TestApp, token: &str) -> serde_json::Value {
    graphql_with(
        app,
        &[("authorization", &bearer(token))],
        ADMIN_ONLY,
        json!({}),
    )
    .await
}

#[tokio::test]
async fn an_admin_removed_from_admin_identities_is_refused_admin_mutations_after_the_next_refresh()
{
    let listed = |s: &mut switchboard::config::Settings| {
        s.session_signing_keys = format!("k1:{SIGNING_SECRET}");
        s.admin_identities = "dev:root".into();
    };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(a) = TestApp::spawn_with(backend, listed).await else {
            continue;
        };
        let (access, refresh) = dev_sign_in(&a, "root").await;
        assert_eq!(
            admin_call(&a, &access).await["data"]["replayWebhookEvent"],
            false
        );

        // The operator removes root from ADMIN_IDENTITIES and deploys: the new instance
        // revokes.
        let b = a
            .sibling(|s| s.session_signing_keys = format!("k1:{SIGNING_SECRET}"))
            .await;
        let body = b.graphql(ROTATE, json!({ "t": refresh })).await;
        let refreshed = body["data"]["refreshSession"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{backend:?}: {body}"))
            .to_owned();
        single_error(&admin_call(&b, &refreshed).await, "FORBIDDEN");
        // The right comes from the user row, so the token from before the change is refused
        // too.
        single_error(&admin_call(&b, &access).await, "FORBIDDEN");

        // Listed again, the next start grants it again.
        let c = a.sibling(listed).await;
        assert_eq!(
            admin_call(&c, &refreshed).await["data"]["replayWebhookEvent"],
            false,
            "{backend:?}"
        );
    }
}

/// An access token for the session of `token` that expires `seconds` from now.
fn expiring_in(token: &str, seconds: i64) -> String {
    let mut claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token)
        .unwrap()
        .claims;
    claims["exp"] = json!(chrono::Utc::now().timestamp() + seconds);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let key = EncodingKey::from_secret(SIGNING_SECRET.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn a_socket_rechecks_its_viewer_when_its_access_token_expires() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.session_signing_keys = format!("k1:{SIGNING_SECRET}");
        s.admin_identities = "dev:root".into();
    })
    .await
    .unwrap();
    let (erin, _) = dev_sign_in(&app, "erin").await;
    let (root, _) = dev_sign_in(&app, "root").await;
    let mut unchanged = signed_in_socket(&app, &expiring_in(&erin, 1)).await;
    let mut demoted = signed_in_socket(&app, &expiring_in(&root, 3)).await;

    // Root loses the admin right behind the server's back (another instance reconciled it).
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    sqlx::query("UPDATE users SET is_admin = FALSE")
        .execute(&db)
        .await
        .unwrap();

    // When root's token would have expired, the socket re-checks and ends.
    assert_eq!(close_code(&mut demoted).await, 4403);
    // Erin's token expired earlier; her socket re-checked, found nothing changed, and lives.
    send(
        &mut unchanged,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { name } }" } }),
    )
    .await;
    assert_eq!(
        receive(&mut unchanged).await["payload"]["data"]["me"]["name"],
        "erin"
    );
}
