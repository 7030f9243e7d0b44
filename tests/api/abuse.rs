//! Abuse resistance, against the running server on loopback: inbound rate limits, trusted
//! proxies, GraphQL document caps, WebSocket caps, and what anonymous callers can see.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth_support::{bearer, dev_sign_in, graphql_with};
use crate::helpers::{Backend, TestApp, single_error};
use crate::websocket::{close_code, connect, receive, send, signed_in_socket};

async fn server(change: impl FnOnce(&mut switchboard::config::Settings)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, change).await.unwrap()
}

/// POSTs an operation with optional extra headers; returns the status and JSON body.
async fn post(app: &TestApp, headers: &[(&str, &str)], query: &str, variables: Value) -> Value {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn is_rate_limited(body: &Value) -> bool {
    let Some(errors) = body["errors"].as_array() else {
        return false;
    };
    let limited = errors
        .iter()
        .any(|e| e["extensions"]["code"] == "RATE_LIMITED");
    if limited {
        assert!(
            errors[0]["extensions"]["retryAfterSeconds"]
                .as_u64()
                .unwrap()
                >= 1,
            "a retry hint: {body}"
        );
    }
    limited
}

#[tokio::test]
async fn an_anonymous_flood_is_refused_while_a_signed_in_user_is_served() {
    let app = server(|s| {
        s.rate_limit_anonymous_per_minute = "60".into();
        s.rate_limit_anonymous_burst = "20".into();
    })
    .await;
    let (alice, _) = dev_sign_in(&app, "alice").await;
    let alice = bearer(&alice);

    // 200 anonymous requests at once from one address (loopback, bounded).
    let started = Instant::now();
    let flood = futures_util::future::join_all(
        (0..200).map(|_| post(&app, &[], "{ serverInfo { version } }", json!({}))),
    )
    .await;
    let elapsed = started.elapsed();
    let limited = flood.iter().filter(|body| is_rate_limited(body)).count();
    let served = flood.len() - limited;
    // The burst (less the two sign-in operations), plus one a second refilled meanwhile.
    let allowed = 18 + elapsed.as_secs() as usize + 1;
    assert!(
        served <= allowed,
        "{served} served, at most {allowed} allowed"
    );
    assert!(limited >= 200 - allowed, "{limited} refused");

    // The signed-in user is counted on their own, and served normally.
    for _ in 0..5 {
        let body = graphql_with(
            &app,
            &[("authorization", &alice)],
            "{ me { name } }",
            json!({}),
        )
        .await;
        assert!(body["data"]["me"].is_object(), "{body}");
    }
    // Plain HTTP routes answer 429 with Retry-After.
    let response = app
        .client
        .get(app.url("/auth/dev?state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
}

async fn login_attempts(app: &TestApp) -> i64 {
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_attempts")
        .fetch_one(&db)
        .await
        .unwrap();
    count
}

#[tokio::test]
async fn login_operations_have_their_own_tighter_quota() {
    let app = server(|s| {
        s.rate_limit_login_per_minute = "1".into();
        s.rate_limit_login_burst = "3".into();
    })
    .await;
    let start = "mutation { startLogin(provider: \"dev\") { state } }";
    for _ in 0..3 {
        let body = post(&app, &[], start, json!({})).await;
        assert!(body["data"]["startLogin"]["state"].is_string(), "{body}");
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": start }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GraphQL reports it in the body");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let error = single_error(&body, "RATE_LIMITED");
    assert_eq!(error["extensions"]["retryAfterSeconds"], retry_after);
    // Aliases count one each: two logins in one document are refused as a whole.
    let body = post(
        &app,
        &[],
        "mutation { a: completeLogin(provider: \"dev\", code: \"x\", state: \"y\") { accessToken } b: refreshSession(refreshToken: \"z\") { accessToken } }",
        json!({}),
    )
    .await;
    assert!(is_rate_limited(&body), "{body}");
    assert_eq!(
        login_attempts(&app).await,
        3,
        "refused logins leave no rows"
    );
    // Other queries from the same address are still served.
    let body = post(&app, &[], "{ serverInfo { version } }", json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    // The login callback shares the quota.
    let response = app
        .client
        .get(app.url("/auth/callback/dev?code=a&state=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

const CREATE: &str = "mutation($k: String!) { createPaymentIntent(input: { amount: 500, currency: \"usd\" }, idempotencyKey: $k) { payment { id } } }";

#[tokio::test]
async fn one_user_cannot_spend_the_shared_payment_budget() {
    let app = server(|s| {
        s.sandbox_step_ms = "600000".into();
        s.rate_limit_payments_per_minute = "1".into();
        s.rate_limit_payments_burst = "3".into();
    })
    .await;
    let alice = bearer(&dev_sign_in(&app, "alice").await.0);
    let bob = bearer(&dev_sign_in(&app, "bob").await.0);
    for i in 0..3 {
        let body = post(
            &app,
            &[("authorization", &alice)],
            CREATE,
            json!({ "k": format!("a{i}") }),
        )
        .await;
        assert!(
            body["data"]["createPaymentIntent"]["payment"]["id"].is_string(),
            "{body}"
        );
    }
    let body = post(
        &app,
        &[("authorization", &alice)],
        CREATE,
        json!({ "k": "a-more" }),
    )
    .await;
    single_error(&body, "RATE_LIMITED");
    // Bob has his own share.
    let body = post(
        &app,
        &[("authorization", &bob)],
        CREATE,
        json!({ "k": "b0" }),
    )
    .await;
    assert!(
        body["data"]["createPaymentIntent"]["payment"]["id"].is_string(),
        "{body}"
    );
    // More payment mutations in one document than the burst never pass.
    let aliased: String = (0..4)
        .map(|i| format!("p{i}: createPaymentIntent(input: {{ amount: 500, currency: \"usd\" }}, idempotencyKey: \"b-alias-{i}\") {{ payment {{ id }} }} "))
        .collect();
    let body = post(
        &app,
        &[("authorization", &bob)],
        &format!("mutation {{ {aliased} }}"),
        json!({}),
    )
    .await;
    assert!(is_rate_limited(&body), "{body}");
    // Reading is not a payment mutation: Alice can still list hers.
    let body = post(
        &app,
        &[("authorization", &alice)],
        "{ payments { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["payments"]["edges"].as_array().unwrap().len(),
        3,
        "{body}"
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let query = "{ serverInfo { version } }";
    let direct = server(|s| {
        s.rate_limit_anonymous_per_minute = "1".into();
        s.rate_limit_anonymous_burst = "2".into();
    })
    .await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        let body = post(&direct, &[("x-forwarded-for", client)], query, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    // A client naming yet another address is still the same client.
    let body = post(
        &direct,
        &[("x-forwarded-for", "198.51.100.3")],
        query,
        json!({}),
    )
    .await;
    assert!(is_rate_limited(&body), "{body}");

    let proxied = server(|s| {
        s.rate_limit_anonymous_per_minute = "1".into();
        s.rate_limit_anonymous_burst = "2".into();
        s.trusted_proxies = "127.0.0.1/32".into();
    })
    .await;
    for _ in 0..2 {
        let body = post(
            &proxied,
            &[("x-forwarded-for", "198.51.100.1")],
            query,
            json!({}),
        )
        .await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let body = post(
        &proxied,
        &[("x-forwarded-for", "198.51.100.1")],
        query,
        json!({}),
    )
    .await;
    assert!(is_rate_limited(&body), "{body}");
    let body = post(
        &proxied,
        &[("x-forwarded-for", "198.51.100.2")],
        query,
        json!({}),
    )
    .await;
    assert!(
        body.get("errors").is_none(),
        "another client behind the proxy: {body}"
    );
}

#[tokio::test]
async fn page_sizes_count_toward_complexity() {
    let app = TestApp::spawn().await;
    let wide = |first: u32| {
        format!(
            "{{ paymentEvents(first: {first}) {{ edges {{ node {{ payment {{ owner {{ identities {{ provider }} }} }} }} }} }} }}"
        )
    };
    let body = post(&app, &[], &wide(500), json!({})).await;
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        error["message"].as_str().unwrap().contains("complex"),
        "{body}"
    );
    // A small page of the same shape validates (and then needs a signed-in user).
    let body = post(&app, &[], &wide(5), json!({})).await;
    single_error(&body, "UNAUTHENTICATED");
    let body = post(&app, &[], "{ payments(first: 100) { edges { cursor node { id status amount currency description refunds { amount } owner { identities { provider subject } } } } } }", json!({})).await;
    single_error(&body, "GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test]
async fn aliases_and_root_fields_are_capped() {
    let app = server(|s| {
        s.graphql_max_aliases = "3".into();
        s.graphql_max_root_fields = "3".into();
    })
    .await;
    let aliases = |n: usize| {
        let fields: String = (0..n).map(|i| format!("a{i}: version ")).collect();
        format!("{{ serverInfo {{ {fields} }} }}")
    };
    assert!(
        post(&app, &[], &aliases(3), json!({}))
            .await
            .get("errors")
            .is_none()
    );
    let body = post(&app, &[], &aliases(4), json!({})).await;
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        error["message"].as_str().unwrap().contains("aliases"),
        "{body}"
    );
    // Root fields spread in through fragments count too.
    let body = post(
        &app,
        &[],
        "query { ...F serverInfo { version } } fragment F on Query { loginProviders { name } me { id } catalog { id } }",
        json!({}),
    )
    .await;
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        error["message"].as_str().unwrap().contains("root fields"),
        "{body}"
    );
}

#[tokio::test]
async fn field_suggestions_are_off_when_introspection_is() {
    let typo = "{ serverInfo { versio } }";
    let development = TestApp::spawn().await;
    let body = post(&development, &[], typo, json!({})).await;
    assert!(body.to_string().contains("Did you mean"), "{body}");
    let hidden = server(|s| s.graphql_introspection = "false".into()).await;
    let body = post(&hidden, &[], typo, json!({})).await;
    let error = single_error(&body, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        !error["message"].as_str().unwrap().contains("Did you mean"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_only() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(app.metrics().await.contains("# TYPE"));
}

// WebSockets

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let app = server(|s| s.ws_init_timeout_seconds = "1".into()).await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    assert_eq!(close_code(&mut socket).await, 4408);
}

const LIVE: &str = "subscription { myPaymentEvents { kind } }";

#[tokio::test]
async fn a_repeated_subscription_id_closes_with_4409() {
    let app = TestApp::spawn().await;
    let (token, _) = dev_sign_in(&app, "alice").await;
    let mut socket = signed_in_socket(&app, &token).await;
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": LIVE } });
    send(&mut socket, subscribe.clone()).await;
    send(&mut socket, subscribe).await;
    assert_eq!(close_code(&mut socket).await, 4409);
}

#[tokio::test]
async fn operations_past_the_per_socket_cap_are_refused_and_memory_stays_bounded() {
    let app = server(|s| s.ws_max_subscriptions_per_socket = "5".into()).await;
    let (token, _) = dev_sign_in(&app, "alice").await;
    let mut socket = signed_in_socket(&app, &token).await;
    for id in 0..500 {
        let message =
            json!({ "type": "subscribe", "id": id.to_string(), "payload": { "query": LIVE } });
        send(&mut socket, message).await;
    }
    // Every subscribe past the fifth is answered with an error naming it; none is kept.
    for expected in 5..500 {
        let reply = receive(&mut socket).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["id"], expected.to_string());
        assert_eq!(reply["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    }
    // Completing one makes room for another operation, which runs.
    send(&mut socket, json!({ "type": "complete", "id": "0" })).await;
    assert_eq!(
        receive(&mut socket).await,
        json!({ "type": "complete", "id": "0" })
    );
    let query = json!({ "type": "subscribe", "id": "q", "payload": { "query": "{ serverInfo { version } }" } });
    send(&mut socket, query).await;
    let reply = receive(&mut socket).await;
    assert_eq!(reply["type"], "next", "{reply}");
    assert_eq!(reply["id"], "q");
    assert_eq!(
        receive(&mut socket).await,
        json!({ "type": "complete", "id": "q" })
    );
    // An operation the server completed gives its place back too.
    let query = json!({ "type": "subscribe", "id": "q2", "payload": { "query": "{ serverInfo { version } }" } });
    send(&mut socket, query).await;
    let reply = receive(&mut socket).await;
    assert_eq!(reply["type"], "next", "{reply}");
    assert_eq!(reply["id"], "q2");
}

#[tokio::test]
async fn sockets_past_the_per_address_and_global_caps_are_closed_cleanly() {
    let app = server(|s| s.ws_max_sockets_per_ip = "2".into()).await;
    let first = connect(&app, "graphql-transport-ws").await;
    let _second = connect(&app, "graphql-transport-ws").await;
    let mut third = connect(&app, "graphql-transport-ws").await;
    assert_eq!(close_code(&mut third).await, 1008);
    // Closing one gives its place back (the server notices the close asynchronously).
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut socket = connect(&app, "graphql-transport-ws").await;
        send(&mut socket, json!({ "type": "connection_init" })).await;
        match socket.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                assert!(text.contains("connection_ack"));
                break;
            }
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "the place came back"
            ),
        }
    }

    let full = server(|s| s.ws_max_connections = "1".into()).await;
    let _only = connect(&full, "graphql-transport-ws").await;
    let mut refused = connect(&full, "graphql-transport-ws").await;
    assert_eq!(close_code(&mut refused).await, 1013);
}

#[tokio::test]
async fn a_user_past_the_per_user_cap_is_closed_and_others_are_not() {
    let app = server(|s| s.ws_max_sockets_per_user = "1".into()).await;
    let (alice, _) = dev_sign_in(&app, "alice").await;
    let (bob, _) = dev_sign_in(&app, "bob").await;
    let _first = signed_in_socket(&app, &alice).await;
    let mut second = connect(&app, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {alice}") } });
    send(&mut second, init).await;
    assert_eq!(close_code(&mut second).await, 1008);
    let _bobs = signed_in_socket(&app, &bob).await;
}

/// Reads server frames from a raw connection until a close frame; returns the opcodes seen
/// and the close code. The raw client never answers pings, like a vanished peer.
async fn frames_until_close(stream: &mut tokio::net::TcpStream) -> (Vec<u8>, u16) {
    let mut opcodes = Vec::new();
    loop {
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).await.unwrap();
        let opcode = header[0] & 0x0f;
        let length = usize::from(header[1] & 0x7f);
        assert!(length < 126, "small control frames only");
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.unwrap();
        opcodes.push(opcode);
        if opcode == 0x8 {
            return (opcodes, u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed() {
    let app = server(|s| {
        s.ws_ping_interval_seconds = "1".into();
        s.ws_init_timeout_seconds = "600".into();
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let handshake = format!(
        "GET /graphql/ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(stream.read_u8().await.unwrap());
    }
    assert!(
        response.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    let (opcodes, code) =
        tokio::time::timeout(Duration::from_secs(20), frames_until_close(&mut stream))
            .await
            .expect("closed before the deadline");
    assert!(opcodes.contains(&0x9), "pinged first: {opcodes:?}");
    assert_eq!(code, 3008);
}

// Data at rest

#[tokio::test]
async fn a_replayed_payment_fetches_its_client_secret_instead_of_storing_it() {
    let app = server(|s| s.sandbox_step_ms = "600000".into()).await;
    let alice = bearer(&dev_sign_in(&app, "alice").await.0);
    let create = "mutation($k: String!) { createPaymentIntent(input: { amount: 500, currency: \"usd\" }, idempotencyKey: $k) { clientSecret payment { id } } }";
    let first = post(
        &app,
        &[("authorization", &alice)],
        create,
        json!({ "k": "once" }),
    )
    .await;
    let secret = first["data"]["createPaymentIntent"]["clientSecret"]
        .as_str()
        .expect("created")
        .to_owned();
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let (stored,): (String,) = sqlx::query_as("SELECT response FROM idempotency_keys")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(
        !stored.contains(&secret) && !stored.contains("secret"),
        "{stored}"
    );
    let again = post(
        &app,
        &[("authorization", &alice)],
        create,
        json!({ "k": "once" }),
    )
    .await;
    assert_eq!(again["data"], first["data"], "{again}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_and_its_wal_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    // A write, so the WAL holds something.
    dev_sign_in(&app, "alice").await;
    let path = app
        .database
        .url()
        .trim_start_matches("sqlite://")
        .to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
}

#[tokio::test]
async fn expired_login_attempts_are_purged_when_the_server_starts() {
    let database = crate::helpers::TestDatabase::create(Backend::Sqlite)
        .await
        .unwrap();
    let store = database.store().await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(3);
    store
        .insert_login_attempt(&switchboard::store::LoginAttempt {
            state_hash: "abandoned".into(),
            provider: "dev".into(),
            pkce_verifier: Some("v".into()),
            code_challenge: None,
            browser_hash: None,
            nonce: "n".into(),
            redirect_to: None,
            client_completes: false,
            link_user_id: None,
            created_at: long_ago,
            expires_at: long_ago + chrono::Duration::minutes(10),
            consumed_at: None,
        })
        .await
        .unwrap();
    store.close().await;
    let url = database.url().to_owned();
    let app = TestApp::spawn_on(database, |s| s.database_url = url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while login_attempts(&app).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "purged at start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
