//! The browser side of login, with a real cookie jar: a login and a link finish only in the
//! browser (and session) that started them, linking asks for confirmation, cookie-mode
//! refresh needs the CSRF header, and session cookies are prefixed, scoped and never doubled.

use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::auth_support::*;
use crate::helpers::{Backend, TestApp, single_error};

const ME: &str = "{ me { id name identities { provider subject } } }";

async fn me(browser: &Browser, app: &TestApp) -> Value {
    browser.graphql(app, &[], ME, json!({})).await["data"]["me"].clone()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Asserts a refusal page: 403, HTML a person can read, and no session cookie.
async fn assert_refused(response: reqwest::Response) {
    assert_eq!(response.status(), 403);
    assert!(
        !set_cookies(&response)
            .iter()
            .any(|c| c.contains("switchboard_access")),
        "a refused callback signs nobody in"
    );
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign-in refused"), "{page}");
}

#[tokio::test]
async fn a_login_finishes_only_in_the_browser_that_started_it() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let target = app.url("/app/after-login");
    // Mallory completes a login as herself and sends the victim the callback URL.
    let mallory = Browser::default();
    let authorization_url = mallory
        .start(&app, "startLogin", "corp", Some(&target))
        .await;
    let callback = browser_login(&authorization_url, "mallory").await;

    // The victim's browser has a login cookie of its own; it is not the one this login needs.
    let victim = Browser::default();
    victim
        .start(&app, "startLogin", "corp", Some(&target))
        .await;
    assert_refused(victim.open(callback.as_str()).await).await;
    assert!(
        me(&victim, &app).await.is_null(),
        "the victim is not signed in as mallory"
    );

    // In the browser that started it, the same callback signs in.
    let response = mallory.open(callback.as_str()).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], target.as_str());
    assert_eq!(me(&mallory, &app).await["name"], "User mallory");
}

#[tokio::test]
async fn a_forced_link_ends_in_a_refusal_and_links_nothing() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let target = app.url("/app/settings");
    // Mallory, signed in, starts linking a corp account to her user and sends the victim the
    // provider's URL.
    let mallory = Browser::default();
    assert_eq!(mallory.dev_login(&app, "mallory").await.status(), 303);
    let authorization_url = mallory
        .start(&app, "linkIdentity", "corp", Some(&target))
        .await;

    // The victim is signed in to the app in their own browser and finishes the provider step.
    let victim = Browser::default();
    assert_eq!(victim.dev_login(&app, "victim").await.status(), 303);
    let callback = browser_login(&authorization_url, "victim-corp").await;
    assert_refused(victim.open(callback.as_str()).await).await;

    assert_eq!(
        me(&mallory, &app).await["identities"],
        json!([{ "provider": "dev", "subject": "mallory" }]),
        "nothing was linked to mallory"
    );
    assert_eq!(
        me(&victim, &app).await["identities"],
        json!([{ "provider": "dev", "subject": "victim" }])
    );
    // The victim's corp account still signs in to an account of its own.
    let (authorization_url, _) = start_login(&app, "corp", None).await;
    let (code, state) = code_and_state(&browser_login(&authorization_url, "victim-corp").await);
    let body = complete_login(&app, "corp", &code, &state).await;
    assert_eq!(
        body["data"]["completeLogin"]["user"]["identities"],
        json!([{ "provider": "corp", "subject": "victim-corp" }]),
        "{body}"
    );
}

/// The hidden confirmation token of the link page.
fn confirmation_token(page: &str) -> String {
    let start = page
        .find("name=token value=\"")
        .expect("a confirmation form")
        + 18;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

#[tokio::test]
async fn linking_shows_the_account_and_links_only_when_its_user_confirms() {
    let Some((app, _peer)) = app_with_oidc(|_| {}).await else {
        return;
    };
    let target = app.url("/app/settings");
    let frank = Browser::default();
    assert_eq!(frank.dev_login(&app, "frank").await.status(), 303);
    let authorization_url = frank
        .start(&app, "linkIdentity", "corp", Some(&target))
        .await;
    let callback = browser_login(&authorization_url, "frank-corp").await;

    let page = frank.open(callback.as_str()).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let page = page.text().await.unwrap();
    assert!(page.contains("Corp SSO"), "{page}");
    assert!(page.contains("frank-corp@example.com"), "{page}");
    assert_eq!(
        me(&frank, &app).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing is linked before the confirmation"
    );
    let form = [
        ("token", confirmation_token(&page)),
        ("decision", "link".into()),
    ];

    // The form posted from another browser (or signed in as someone else) links nothing.
    let other = Browser::default();
    assert_eq!(other.dev_login(&app, "other").await.status(), 303);
    let confirm = app.url("/auth/link/confirm");
    let refused = other
        .client
        .post(&confirm)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_refused(refused).await;

    let confirmed = frank
        .client
        .post(&confirm)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 303);
    assert_eq!(
        confirmed.headers()[LOCATION],
        format!("{target}?linked=corp").as_str()
    );
    assert_eq!(
        me(&frank, &app).await["identities"],
        json!([
            { "provider": "dev", "subject": "frank" },
            { "provider": "corp", "subject": "frank-corp" }
        ])
    );
}

const REFRESH: &str = "mutation { refreshSession { expiresAt } }";

#[tokio::test]
async fn cookie_mode_refresh_needs_the_csrf_header() {
    let app = TestApp::spawn().await;
    let browser = Browser::default();
    assert_eq!(browser.dev_login(&app, "alice").await.status(), 303);

    // A cross-site page can make the browser send its cookies, but not read the CSRF cookie.
    let body = browser.graphql(&app, &[], REFRESH, json!({})).await;
    single_error(&body, "FORBIDDEN");

    let csrf = browser
        .cookie(&app.url("/graphql"), "switchboard_csrf")
        .unwrap();
    let body = browser
        .graphql(&app, &[("x-csrf-token", &csrf)], REFRESH, json!({}))
        .await;
    assert!(
        body["data"]["refreshSession"]["expiresAt"].is_string(),
        "{body}"
    );
    assert_eq!(me(&browser, &app).await["name"], "alice");
}

#[tokio::test]
async fn duplicate_session_cookies_are_refused() {
    let app = TestApp::spawn().await;
    let (victim, victim_refresh) = dev_sign_in(&app, "victim").await;
    let (planted, planted_refresh) = dev_sign_in(&app, "mallory").await;
    // A sibling subdomain planted its own cookie next to the victim's: which one the browser
    // meant cannot be known.
    let cookies = format!("switchboard_access={planted}; switchboard_access={victim}");
    let body = graphql_with(&app, &[("cookie", &cookies)], ME, json!({})).await;
    let error = single_error(&body, "FORBIDDEN");
    assert!(
        error["message"].as_str().unwrap().contains("twice"),
        "{body}"
    );

    let cookies = format!(
        "switchboard_refresh={planted_refresh}; switchboard_refresh={victim_refresh}; switchboard_csrf=t"
    );
    let body = graphql_with(
        &app,
        &[("cookie", &cookies), ("x-csrf-token", "t")],
        REFRESH,
        json!({}),
    )
    .await;
    single_error(&body, "FORBIDDEN");
}

#[tokio::test]
async fn https_cookies_are_host_prefixed_and_the_refresh_cookie_is_scoped_to_graphql() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.public_url = "https://localhost".into();
    })
    .await
    .unwrap();
    let started = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "mutation { startLogin(provider: \"dev\") { state } }" }))
        .send()
        .await
        .unwrap();
    let login = set_cookies(&started);
    assert_eq!(login.len(), 1, "{login:?}");
    assert!(
        login[0].starts_with("__Host-switchboard_login="),
        "{login:?}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(login[0].contains(attribute), "{attribute} in {login:?}");
    }
    let login_cookie = cookie_header(&started);
    let body: Value = started.json().await.unwrap();
    let state = body["data"]["startLogin"]["state"].as_str().unwrap();

    let callback = app
        .client
        .get(app.url(&format!("/auth/callback/dev?code=alice&state={state}")))
        .header("cookie", &login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 303);
    let set = set_cookies(&callback);
    let find = |name: &str| {
        set.iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {set:?}"))
            .clone()
    };
    let attributes =
        |cookie: &str| -> Vec<String> { cookie.split("; ").skip(1).map(str::to_owned).collect() };
    let access = attributes(&find("__Host-switchboard_access"));
    for attribute in ["HttpOnly", "Secure", "Path=/"] {
        assert!(
            access.iter().any(|a| a == attribute),
            "{attribute} in {access:?}"
        );
    }
    let refresh = attributes(&find("__Secure-switchboard_refresh"));
    for attribute in ["HttpOnly", "Secure", "Path=/graphql"] {
        assert!(
            refresh.iter().any(|a| a == attribute),
            "{attribute} in {refresh:?}"
        );
    }
    let csrf = attributes(&find("__Host-switchboard_csrf"));
    assert!(
        !csrf.iter().any(|a| a == "HttpOnly"),
        "the page reads the CSRF token"
    );

    // The prefixed cookies are the ones the server reads.
    let cookies = cookie_header(&callback);
    let csrf_value = cookie_value(&cookies, "__Host-switchboard_csrf");
    let body = graphql_with(&app, &[("cookie", &cookies)], ME, json!({})).await;
    assert_eq!(body["data"]["me"]["name"], "alice", "{body}");
    let body = graphql_with(
        &app,
        &[("cookie", &cookies), ("x-csrf-token", &csrf_value)],
        REFRESH,
        json!({}),
    )
    .await;
    assert!(body["data"]["refreshSession"].is_object(), "{body}");
}
