//! ID token verification against a fake provider that misbehaves on purpose (wiremock), and
//! GitHub's OAuth flow against a stand-in for its endpoints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::auth_support::*;
use crate::helpers::{Backend, TestApp, repo_root, single_error};

/// A fake OpenID Provider: discovery and JWKS are served; each test mounts the token answer.
async fn fake_provider() -> MockServer {
    let server = MockServer::start().await;
    for mock in fake_provider_mocks(&server.uri()) {
        mock.mount(&server).await;
    }
    server
}

fn sign(claims: &Value, kid: &str) -> String {
    let der = std::fs::read(repo_root().join("tests/fixtures/test-idp-rsa.der")).unwrap();
    let key = EncodingKey::from_rsa_der(&der);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Starts a login and returns its state and the nonce the server stored for it.
async fn started(app: &TestApp) -> (String, String) {
    let (_, state) = start_login(app, "fake", None).await;
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let nonce: String =
        sqlx::query_scalar("SELECT nonce FROM login_attempts ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    (state, nonce)
}

async fn answer_with_id_token(server: &MockServer, id_token: String) {
    server.reset().await;
    let issuer = server.uri();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "provider-access-token",
            "token_type": "Bearer",
            "id_token": id_token,
        })))
        .mount(server)
        .await;
    // reset() removed discovery and JWKS too; serve them again.
    let fresh = fake_provider_mocks(&issuer);
    for mock in fresh {
        mock.mount(server).await;
    }
}

fn fake_provider_mocks(issuer: &str) -> Vec<Mock> {
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/test-idp-jwks.json")).unwrap(),
    )
    .unwrap();
    vec![
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
            }))),
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks)),
    ]
}

fn claims(issuer: &str, nonce: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "iss": issuer, "aud": CLIENT_ID, "sub": "fake-user", "nonce": nonce, "iat": now, "exp": now + 300,
            "email": "fake@example.com", "email_verified": true })
}

async fn app_with_fake(server: &MockServer) -> TestApp {
    let issuer = server.uri();
    TestApp::spawn_with(Backend::Sqlite, |s| oidc_settings(s, "fake", &issuer, &[]))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_well_formed_id_token_signs_in() {
    let server = fake_provider().await;
    let app = app_with_fake(&server).await;
    let (state, nonce) = started(&app).await;
    answer_with_id_token(&server, sign(&claims(&server.uri(), &nonce), "test-key-1")).await;
    let body = complete_login(&app, "fake", "code", &state).await;
    assert_eq!(
        body["data"]["completeLogin"]["user"]["email"], "fake@example.com",
        "{body}"
    );
}

#[tokio::test]
async fn forged_or_mismatched_id_tokens_are_refused() {
    let server = fake_provider().await;
    let app = app_with_fake(&server).await;
    type Forge = fn(&str, &str) -> String;
    let cases: [(&str, Forge); 7] = [
        ("tampered payload", |iss, nonce| {
            let token = sign(&claims(iss, nonce), "test-key-1");
            let parts: Vec<&str> = token.split('.').collect();
            let mut forged = claims(iss, nonce);
            forged["sub"] = json!("someone-else");
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(forged.to_string()),
                parts[2]
            )
        }),
        ("unknown key", |iss, nonce| {
            sign(&claims(iss, nonce), "some-other-key")
        }),
        ("alg none", |iss, nonce| {
            let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"test-key-1"}"#);
            format!(
                "{header}.{}.",
                URL_SAFE_NO_PAD.encode(claims(iss, nonce).to_string())
            )
        }),
        ("nonce mismatch", |iss, _| {
            sign(&claims(iss, "another-login"), "test-key-1")
        }),
        ("wrong audience", |iss, nonce| {
            let mut c = claims(iss, nonce);
            c["aud"] = json!("another-client");
            sign(&c, "test-key-1")
        }),
        ("wrong issuer", |_, nonce| {
            sign(&claims("https://evil.example.com", nonce), "test-key-1")
        }),
        ("expired", |iss, nonce| {
            let mut c = claims(iss, nonce);
            c["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
            sign(&c, "test-key-1")
        }),
    ];
    for (case, forge) in cases {
        let (state, nonce) = started(&app).await;
        answer_with_id_token(&server, forge(&server.uri(), &nonce)).await;
        let body = complete_login(&app, "fake", "code", &state).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{case}: {body}"
        );
        assert!(body["data"].is_null(), "{case}: no session");
    }
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(users, 0, "no refused login created a user");
}

async fn fake_github(email: &str, verified: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": 4242, "login": "octo", "name": null })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            { "email": "old@example.com", "primary": false, "verified": true },
            { "email": email, "primary": true, "verified": verified },
        ])))
        .mount(&server)
        .await;
    server
}

fn github_settings(s: &mut switchboard::config::Settings, server: &MockServer, trust: bool) {
    s.auth_providers = "gh".into();
    let uri = server.uri();
    for (k, v) in [
        ("AUTH_GH_KIND", "github".to_owned()),
        ("AUTH_GH_CLIENT_ID", "gh-client".to_owned()),
        ("AUTH_GH_CLIENT_SECRET", "gh-secret".to_owned()),
        ("AUTH_GH_AUTH_URL", format!("{uri}/login/oauth/authorize")),
        (
            "AUTH_GH_TOKEN_URL",
            format!("{uri}/login/oauth/access_token"),
        ),
        ("AUTH_GH_API_URL", uri.clone()),
        ("AUTH_GH_TRUST_EMAIL", trust.to_string()),
    ] {
        s.provider_env.insert(k.into(), v);
    }
}

#[tokio::test]
async fn github_signs_in_with_its_primary_verified_email() {
    let server = fake_github("octo@example.com", true).await;
    let app = TestApp::spawn_with(Backend::Sqlite, |s| github_settings(s, &server, false))
        .await
        .unwrap();
    let (authorization_url, state) = start_login(&app, "gh", None).await;
    assert!(
        authorization_url.starts_with(&format!("{}/login/oauth/authorize?", server.uri())),
        "{authorization_url}"
    );
    assert!(authorization_url.contains("code_challenge="));
    let body = complete_login(&app, "gh", "gh-code", &state).await;
    let user = &body["data"]["completeLogin"]["user"];
    assert_eq!(user["email"], "octo@example.com", "{body}");
    assert_eq!(user["name"], "octo", "login stands in for a missing name");
    assert_eq!(
        user["identities"],
        json!([{ "provider": "gh", "subject": "4242" }])
    );
}

#[tokio::test]
async fn same_verified_email_links_only_when_the_provider_is_trusted_and_refusals_name_no_email() {
    for trusted in [false, true] {
        let server = fake_github("alice@example.com", true).await;
        let op = fake_provider().await;
        let app = TestApp::spawn_with(Backend::Sqlite, |s| {
            github_settings(s, &server, trusted);
            oidc_settings(s, "fake", &op.uri(), &[]);
        })
        .await
        .unwrap();
        // alice first signs in through the OIDC provider, which verified her email.
        let (state, nonce) = started(&app).await;
        let mut c = claims(&op.uri(), &nonce);
        c["email"] = json!("alice@example.com");
        answer_with_id_token(&op, sign(&c, "test-key-1")).await;
        let first = complete_login(&app, "fake", "code", &state).await;
        let alice = first["data"]["completeLogin"]["user"]["id"].clone();

        let (_, state) = start_login(&app, "gh", None).await;
        let body = complete_login(&app, "gh", "gh-code", &state).await;
        if trusted {
            assert_eq!(body["data"]["completeLogin"]["user"]["id"], alice, "{body}");
            assert_eq!(
                body["data"]["completeLogin"]["user"]["identities"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
        } else {
            let error = single_error(&body, "CONFLICT");
            let message = error["message"].as_str().unwrap();
            // The refusal must not tell a stranger which addresses have accounts.
            assert!(!message.contains("alice@example.com"), "{body}");
            assert!(message.contains("sign in the way you did before"), "{body}");
        }
    }
}

/// A fake provider that also has a userinfo endpoint, which answers with `userinfo`; each
/// test mounts the token answer.
async fn fake_provider_with_userinfo(userinfo: Value) -> MockServer {
    let server = MockServer::start().await;
    let issuer = server.uri();
    let mut mocks = fake_provider_mocks(&issuer);
    // Discovery is the first mock; this one names the userinfo endpoint too.
    mocks[0] = Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
        })));
    mocks.push(
        Mock::given(method("GET"))
            .and(path("/userinfo"))
            .respond_with(ResponseTemplate::new(200).set_body_json(userinfo)),
    );
    for mock in mocks {
        mock.mount(&server).await;
    }
    server
}

/// The ID token verified an old address; userinfo reports a new one without saying it is
/// verified. The old verification must not vouch for the new address.
#[tokio::test]
async fn an_email_and_its_verification_come_from_the_same_source() {
    let server = fake_github("alice@example.com", true).await;
    let userinfo = json!({ "sub": "fake-user", "email": "alice@example.com", "name": "Not Alice" });
    let op = fake_provider_with_userinfo(userinfo).await;
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        github_settings(s, &server, false);
        oidc_settings(s, "fake", &op.uri(), &[("TRUST_EMAIL", "true")]);
    })
    .await
    .unwrap();
    // alice's account, with her address verified by GitHub.
    let (_, state) = start_login(&app, "gh", None).await;
    let alice = complete_login(&app, "gh", "gh-code", &state).await;
    let alice_id = alice["data"]["completeLogin"]["user"]["id"].clone();
    assert!(alice_id.is_string(), "{alice}");

    let (state, nonce) = started(&app).await;
    let mut c = claims(&op.uri(), &nonce);
    c["email"] = json!("old@example.com");
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "provider-access-token",
            "token_type": "Bearer",
            "id_token": sign(&c, "test-key-1"),
        })))
        .mount(&op)
        .await;
    let body = complete_login(&app, "fake", "code", &state).await;
    assert_ne!(
        body["data"]["completeLogin"]["user"]["id"], alice_id,
        "an unverified address signed into alice's account: {body}"
    );
    single_error(&body, "CONFLICT");
}
