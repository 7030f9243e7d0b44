//! Login through a real OpenID Provider (oidc-provider), as a web app and as a mobile app would.

use reqwest::header::LOCATION;
use serde_json::json;

use crate::auth_support::*;
use crate::helpers::single_error;

const ME: &str = "{ me { email name identities { provider subject } } }";

#[tokio::test]
async fn web_login_sets_cookies_and_redirects_to_the_allowed_target() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let target = app.url("/app/after-login");
    let (authorization_url, state) = start_login(&app, "corp", Some(&target)).await;
    assert!(
        authorization_url.contains("code_challenge_method=S256"),
        "{authorization_url}"
    );
    assert!(authorization_url.contains("nonce="), "{authorization_url}");

    let callback = browser_login(&authorization_url, "alice").await;
    // The browser that started the login comes back with its login cookie.
    let response = app
        .client
        .get(app.url(&format!(
            "{}?{}",
            callback.path(),
            callback.query().unwrap()
        )))
        .header("cookie", login_cookie_of(&state).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], target.as_str());
    let set_cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let access = set_cookies
        .iter()
        .find(|c| c.starts_with("switchboard_access="))
        .expect("access cookie");
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Lax"),
        "{access}"
    );
    assert!(
        !access.contains("Secure"),
        "plain HTTP on localhost cannot store Secure cookies"
    );
    let cookies = cookie_header(&response);

    let body = graphql_with(&app, &[("cookie", &cookies)], ME, json!({})).await;
    assert_eq!(body["data"]["me"]["email"], "alice@example.com", "{body}");
    assert_eq!(
        body["data"]["me"]["name"], "User alice",
        "profile claims come from userinfo"
    );
    assert_eq!(
        body["data"]["me"]["identities"],
        json!([{ "provider": "corp", "subject": "alice" }])
    );

    // A cookie-authenticated mutation needs the CSRF header.
    let logout = "mutation { logout }";
    let body = graphql_with(&app, &[("cookie", &cookies)], logout, json!({})).await;
    single_error(&body, "FORBIDDEN");
    let csrf = cookie_value(&cookies, "switchboard_csrf");
    let body = graphql_with(
        &app,
        &[("cookie", &cookies), ("x-csrf-token", &csrf)],
        logout,
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["logout"], true, "{body}");
    let body = graphql_with(&app, &[("cookie", &cookies)], ME, json!({})).await;
    single_error(&body, "UNAUTHENTICATED");
}

#[tokio::test]
async fn mobile_login_returns_tokens_and_the_same_user_next_time() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let mut user_ids = Vec::new();
    for _ in 0..2 {
        let (authorization_url, _) = start_login(&app, "corp", None).await;
        let (code, state) = code_and_state(&browser_login(&authorization_url, "bob").await);
        let body = complete_login(&app, "corp", &code, &state).await;
        let session = &body["data"]["completeLogin"];
        assert_eq!(session["user"]["email"], "bob@example.com", "{body}");
        let token = session["accessToken"].as_str().unwrap();
        let me = graphql_with(&app, &[("authorization", &bearer(token))], ME, json!({})).await;
        assert_eq!(me["data"]["me"]["identities"][0]["subject"], "bob");
        user_ids.push(session["user"]["id"].clone());
    }
    assert_eq!(
        user_ids[0], user_ids[1],
        "the second login finds the first user"
    );
}

#[tokio::test]
async fn app_links_receive_the_code_and_finish_with_complete_login() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let app_link = app.url("/app/login-done");
    let start = start_with(
        &app,
        &[],
        "$r: String",
        "startLogin(provider: \"corp\", redirectUri: $r, clientCompletes: true)",
        json!({ "r": app_link }),
    )
    .await;
    let authorization_url = start["authorizationUrl"].as_str().unwrap();
    let callback = browser_login(authorization_url, "gina").await;
    let response = app.client.get(callback.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no cookies on the app path"
    );
    let forwarded = url::Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(forwarded.as_str().starts_with(&app_link), "{forwarded}");
    let (code, state) = code_and_state(&forwarded);
    let body = complete_login(&app, "corp", &code, &state).await;
    assert_eq!(
        body["data"]["completeLogin"]["user"]["email"], "gina@example.com",
        "{body}"
    );
}

#[tokio::test]
async fn state_is_single_use_and_bound_to_its_provider() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let (authorization_url, _) = start_login(&app, "corp", None).await;
    let (code, state) = code_and_state(&browser_login(&authorization_url, "carol").await);

    let body = complete_login(&app, "dev", "carol", &state).await;
    let error = single_error(&body, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "state");

    // The cross-provider attempt used the state up: the real completion is a replay now.
    let body = complete_login(&app, "corp", &code, &state).await;
    single_error(&body, "BAD_USER_INPUT");
    let body = complete_login(&app, "corp", &code, "made-up-state").await;
    single_error(&body, "BAD_USER_INPUT");
}

#[tokio::test]
async fn replayed_state_is_refused() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let (authorization_url, _) = start_login(&app, "corp", None).await;
    let (code, state) = code_and_state(&browser_login(&authorization_url, "dave").await);
    let body = complete_login(&app, "corp", &code, &state).await;
    assert!(body["data"]["completeLogin"].is_object(), "{body}");
    let body = complete_login(&app, "corp", &code, &state).await;
    let error = single_error(&body, "BAD_USER_INPUT");
    assert!(
        error["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );
}

#[tokio::test]
async fn expired_state_and_wrong_pkce_verifier_are_refused() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let db = sqlx::SqlitePool::connect(app.database.url()).await.unwrap();

    let (authorization_url, _) = start_login(&app, "corp", None).await;
    let (code, state) = code_and_state(&browser_login(&authorization_url, "erin").await);
    sqlx::query("UPDATE login_attempts SET expires_at = '2000-01-01T00:00:00Z'")
        .execute(&db)
        .await
        .unwrap();
    let body = complete_login(&app, "corp", &code, &state).await;
    let error = single_error(&body, "BAD_USER_INPUT");
    assert!(
        error["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let (authorization_url, _) = start_login(&app, "corp", None).await;
    let (code, state) = code_and_state(&browser_login(&authorization_url, "erin").await);
    sqlx::query("UPDATE login_attempts SET pkce_verifier = 'a-verifier-that-does-not-match-the-challenge-sent'")
        .execute(&db)
        .await
        .unwrap();
    let body = complete_login(&app, "corp", &code, &state).await;
    let error = single_error(&body, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "code");
    assert!(
        error["message"].as_str().unwrap().contains("invalid_grant"),
        "{body}"
    );
}

#[tokio::test]
async fn redirect_targets_outside_the_allowlist_are_refused() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    for target in [
        "https://evil.example.com/steal",
        "javascript:alert(1)",
        "/relative",
    ] {
        let body = app
            .graphql(
                "mutation($r: String) { startLogin(provider: \"corp\", redirectUri: $r) { state } }",
                json!({ "r": target }),
            )
            .await;
        let error = single_error(&body, "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], "redirectUri", "{target}");
    }
}

#[tokio::test]
async fn an_unreachable_provider_is_provider_unavailable() {
    let Some(app) = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        oidc_settings(s, "corp", &format!("http://127.0.0.1:{}", free_port()), &[]);
        s.admin_identities = "dev:root".into();
    })
    .await
    else {
        return;
    };
    let body = app
        .graphql(
            "mutation { startLogin(provider: \"corp\") { state } }",
            json!({}),
        )
        .await;
    let error = single_error(&body, "PROVIDER_UNAVAILABLE");
    assert!(
        error["extensions"]["retryAfterSeconds"].is_null()
            || error["extensions"]["retryAfterSeconds"].is_u64()
    );
    let anonymous = app.graphql("{ providerHealth { name } }", json!({})).await;
    single_error(&anonymous, "UNAUTHENTICATED");
    let (root, _) = dev_sign_in(&app, "root").await;
    let health = graphql_with(
        &app,
        &[("authorization", &bearer(&root))],
        "{ providerHealth { name state failureRate } }",
        json!({}),
    )
    .await;
    let corp = &health["data"]["providerHealth"][0];
    assert_eq!(corp["name"], "corp");
    assert!(corp["failureRate"].as_f64().unwrap() > 0.0, "{health}");
}

#[tokio::test]
async fn signed_in_users_link_a_second_provider_explicitly() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let (token, _) = dev_sign_in(&app, "frank").await;
    let frank = bearer(&token);
    let start = start_with(
        &app,
        &[("authorization", &frank)],
        "$p: String!",
        "linkIdentity(provider: $p)",
        json!({ "p": "corp" }),
    )
    .await;
    let authorization_url = start["authorizationUrl"].as_str().unwrap();
    let (code, state) = code_and_state(&browser_login(authorization_url, "frank-corp").await);
    let variables = json!({ "p": "corp", "c": code, "s": state });

    // The app that started the link, signed out: refused, and nothing is used up.
    let body = complete_login(&app, "corp", &code, &state).await;
    single_error(&body, "FORBIDDEN");

    let login_cookie = login_cookie_of(&state).unwrap();
    let headers = [("authorization", frank.as_str()), ("cookie", &login_cookie)];
    let body = graphql_with(&app, &headers, COMPLETE_LOGIN, variables).await;
    let providers: Vec<&str> = body["data"]["completeLogin"]["user"]["identities"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|i| i["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, vec!["dev", "corp"], "{body}");
}

#[tokio::test]
async fn an_open_breaker_fails_fast_and_readiness_reports_it_degraded() {
    let Some(app) = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        oidc_settings(s, "corp", &format!("http://127.0.0.1:{}", free_port()), &[]);
        for (k, v) in [
            ("BREAKER_MIN_CALLS", "2"),
            ("MAX_ATTEMPTS", "1"),
            ("BREAKER_OPEN_MS", "60000"),
        ] {
            s.provider_env
                .insert(format!("PROVIDER_CORP_{k}"), v.into());
        }
        s.admin_identities = "dev:root".into();
    })
    .await
    else {
        return;
    };
    let start = "mutation { startLogin(provider: \"corp\") { state } }";
    for _ in 0..2 {
        single_error(&app.graphql(start, json!({})).await, "PROVIDER_UNAVAILABLE");
    }
    let body = app.graphql(start, json!({})).await;
    let error = single_error(&body, "PROVIDER_UNAVAILABLE");
    assert!(
        error["extensions"]["retryAfterSeconds"].as_u64().unwrap() >= 1,
        "open breaker gives a hint: {body}"
    );
    let (root, _) = dev_sign_in(&app, "root").await;
    let health = graphql_with(
        &app,
        &[("authorization", &bearer(&root))],
        "{ providerHealth { name state } }",
        json!({}),
    )
    .await;
    assert_eq!(
        health["data"]["providerHealth"],
        json!([{ "name": "corp", "state": "OPEN" }, { "name": "sandbox", "state": "CLOSED" }])
    );

    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a degraded provider does not fail readiness"
    );
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["degradedProviders"][0]["name"], "corp");
    assert_eq!(body["degradedProviders"][0]["state"], "open");

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("provider_calls_total{"),
        "metrics exported"
    );
    assert!(metrics.contains("provider=\"corp\""), "{metrics}");
}

/// `BASE64URL(SHA-256(verifier))`, the S256 PKCE challenge.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

#[tokio::test]
async fn an_app_holding_its_own_pkce_verifier_makes_an_intercepted_code_useless() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let verifier = "an-app-generated-verifier-of-at-least-43-characters";
    let challenge = s256(verifier);
    let start = start_with(
        &app,
        &[],
        "$r: String, $c: String",
        "startLogin(provider: \"corp\", redirectUri: $r, clientCompletes: true, codeChallenge: $c)",
        json!({ "r": app.url("/app/login-done"), "c": challenge }),
    )
    .await;
    let authorization_url = start["authorizationUrl"].as_str().unwrap();
    assert!(
        authorization_url.contains(&format!("code_challenge={challenge}")),
        "the provider checks the app's own challenge: {authorization_url}"
    );
    let callback = browser_login(authorization_url, "hana").await;
    let forwarded = app.client.get(callback.as_str()).send().await.unwrap();
    let forwarded = url::Url::parse(forwarded.headers()[LOCATION].to_str().unwrap()).unwrap();
    let (code, state) = code_and_state(&forwarded);

    // Whoever intercepted the app link has the code and state, not the verifier. Even the
    // app's login cookie does not stand in for it.
    let cookie = login_cookie_of(&state).unwrap();
    for (headers, verifier) in [
        (vec![], None),
        (vec![("cookie", cookie.as_str())], None),
        (
            vec![],
            Some("a-guessed-verifier-that-is-long-enough-to-be-valid"),
        ),
    ] {
        let variables = json!({ "p": "corp", "c": code, "s": state, "v": verifier });
        let body = graphql_with(&app, &headers, COMPLETE_LOGIN, variables).await;
        single_error(&body, "FORBIDDEN");
    }

    let variables = json!({ "p": "corp", "c": code, "s": state, "v": verifier });
    let body = graphql_with(&app, &[], COMPLETE_LOGIN, variables).await;
    assert_eq!(
        body["data"]["completeLogin"]["user"]["email"], "hana@example.com",
        "{body}"
    );
}

#[tokio::test]
async fn an_intercepted_code_without_the_login_cookie_is_refused() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let (authorization_url, _) = start_login(&app, "corp", None).await;
    let (code, state) = code_and_state(&browser_login(&authorization_url, "ines").await);
    let variables = json!({ "p": "corp", "c": code, "s": state });
    let body = graphql_with(&app, &[], COMPLETE_LOGIN, variables).await;
    single_error(&body, "FORBIDDEN");
    // The client that started it still finishes it: the refusal used nothing up.
    let body = complete_login(&app, "corp", &code, &state).await;
    assert_eq!(
        body["data"]["completeLogin"]["user"]["email"], "ines@example.com",
        "{body}"
    );
}
