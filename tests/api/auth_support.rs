//! Helpers for the login tests: a real OpenID Provider process, a browser-like walk through
//! its login and consent pages, and GraphQL calls with credentials.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::helpers::{Backend, TestApp, node_peers};

/// The client the OpenID Provider knows us as.
pub const CLIENT_ID: &str = "switchboard";
/// Its secret.
pub const CLIENT_SECRET: &str = "switchboard-secret";

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An `oidc-provider` process, stopped when dropped.
pub struct OidcPeer {
    pub issuer: String,
    _child: Child,
}

impl OidcPeer {
    /// Starts a provider on `port` that redirects to `redirect_uri`; waits until it listens.
    pub async fn start(port: u16, redirect_uri: &str) -> OidcPeer {
        let peers = node_peers().expect("Node peers are installed");
        let mut child = Command::new("node")
            .arg(peers.join("oidc-provider.mjs"))
            .arg(port.to_string())
            .arg(redirect_uri)
            .current_dir(&peers)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line == "ready" {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "oidc-provider did not start");
        // Keep draining its output: a closed pipe would kill it on its next notice.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        OidcPeer {
            issuer: format!("http://127.0.0.1:{port}"),
            _child: child,
        }
    }
}

/// Settings for an OIDC provider named `name` at `issuer`.
pub fn oidc_settings(
    settings: &mut switchboard::config::Settings,
    name: &str,
    issuer: &str,
    extra: &[(&str, &str)],
) {
    settings.auth_providers = if settings.auth_providers.is_empty() {
        name.to_owned()
    } else {
        format!("{},{name}", settings.auth_providers)
    };
    let prefix = switchboard::config::auth::env_prefix(name);
    let mut put = |k: &str, v: &str| {
        settings
            .provider_env
            .insert(format!("{prefix}{k}"), v.to_owned());
    };
    put("KIND", "oidc");
    put("ISSUER", issuer);
    put("CLIENT_ID", CLIENT_ID);
    put("CLIENT_SECRET", CLIENT_SECRET);
    put("DISPLAY_NAME", "Corp SSO");
    for (k, v) in extra {
        put(k, v);
    }
    // Fail fast in tests: two quick attempts.
    settings.provider_env.insert(
        format!("PROVIDER_{}_MAX_ATTEMPTS", name.to_ascii_uppercase()),
        "2".into(),
    );
    settings.provider_env.insert(
        format!("PROVIDER_{}_BACKOFF_BASE_MS", name.to_ascii_uppercase()),
        "10".into(),
    );
}

/// A server with a real OpenID Provider configured as `corp`. `None` when Node peers are absent.
pub async fn app_with_oidc(
    change: impl FnOnce(&mut switchboard::config::Settings),
) -> Option<(TestApp, OidcPeer)> {
    node_peers()?;
    let (app_port, op_port) = (free_port(), free_port());
    let public_url = format!("http://127.0.0.1:{app_port}");
    let peer = OidcPeer::start(op_port, &format!("{public_url}/auth/callback/corp")).await;
    let issuer = peer.issuer.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.listen_addr = format!("127.0.0.1:{app_port}");
        s.public_url = public_url.clone();
        oidc_settings(s, "corp", &issuer, &[("SCOPES", "openid email profile")]);
        change(s);
    })
    .await?;
    Some((app, peer))
}

/// Walks the provider's login and consent pages as a browser would (cookie jar, no automatic
/// redirects) and returns the URL it finally redirects to: our callback with `code` and `state`.
pub async fn browser_login(authorization_url: &str, login: &str) -> Url {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = Url::parse(authorization_url).unwrap();
    for _ in 0..12 {
        if url.path().starts_with("/auth/callback/") {
            return url;
        }
        let page = browser.get(url.clone()).send().await.unwrap();
        let response = if let Some(location) = page.headers().get(LOCATION) {
            url = url.join(location.to_str().unwrap()).unwrap();
            continue;
        } else {
            let html = page.text().await.unwrap();
            let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else {
                vec![("prompt", "consent")]
            };
            browser.post(url.clone()).form(&form).send().await.unwrap()
        };
        let location = response
            .headers()
            .get(LOCATION)
            .expect("the form redirects");
        url = url.join(location.to_str().unwrap()).unwrap();
    }
    panic!("no redirect to the callback; last URL {url}");
}

/// The `code` and `state` of a callback URL.
pub fn code_and_state(callback: &Url) -> (String, String) {
    let get = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{name} in {callback}"))
    };
    (get("code"), get("state"))
}

/// The login cookie each started login's client received, by state: [`complete_login`] sends
/// it back, as the client that started a login does.
static LOGIN_COOKIES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The `Cookie` header value the client that started the login with `state` holds.
pub fn login_cookie_of(state: &str) -> Option<String> {
    LOGIN_COOKIES.lock().unwrap().get(state).cloned()
}

/// Starts a login through the API and returns `(authorizationUrl, state)`; the login cookie
/// it set is kept for [`complete_login`].
pub async fn start_login(
    app: &TestApp,
    provider: &str,
    redirect_uri: Option<&str>,
) -> (String, String) {
    let start = start_with(
        app,
        &[],
        "$p: String!, $r: String",
        "startLogin(provider: $p, redirectUri: $r)",
        json!({ "p": provider, "r": redirect_uri }),
    )
    .await;
    (
        start["authorizationUrl"].as_str().unwrap().to_owned(),
        start["state"].as_str().unwrap().to_owned(),
    )
}

/// Runs a login-starting mutation (`field` is its call, e.g. `linkIdentity(provider: $p)`,
/// over the variables `declarations` declares) with extra headers; returns its
/// `{ authorizationUrl state }` and keeps the login cookie it set for [`complete_login`].
pub async fn start_with(
    app: &TestApp,
    headers: &[(&str, &str)],
    declarations: &str,
    field: &str,
    variables: Value,
) -> Value {
    let query =
        format!("mutation({declarations}) {{ started: {field} {{ authorizationUrl state }} }}");
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let cookies = cookie_header(&response);
    let body: Value = response.json().await.unwrap();
    let start = body["data"]["started"].clone();
    assert!(start.is_object(), "{field} failed: {body}");
    let state = start["state"].as_str().unwrap().to_owned();
    LOGIN_COOKIES.lock().unwrap().insert(state, cookies);
    start
}

/// The `completeLogin` mutation, selecting the tokens and the user.
pub const COMPLETE_LOGIN: &str = "mutation($p: String!, $c: String!, $s: String!, $v: String) {
    completeLogin(provider: $p, code: $c, state: $s, codeVerifier: $v) {
        accessToken refreshToken expiresAt user { id email name identities { provider subject } }
    }
}";

/// The mobile path: `completeLogin` from the client that started the login (it sends that
/// client's login cookie), returning the whole response body.
pub async fn complete_login(app: &TestApp, provider: &str, code: &str, state: &str) -> Value {
    let cookie = login_cookie_of(state).unwrap_or_default();
    graphql_with(
        app,
        &[("cookie", &cookie)],
        COMPLETE_LOGIN,
        json!({ "p": provider, "c": code, "s": state }),
    )
    .await
}

/// A browser: a cookie jar that keeps what the server sets and sends it back, and follows no
/// redirects (tests look at each one).
pub struct Browser {
    pub client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { client, jar }
    }
}

impl Browser {
    /// POSTs an operation with extra headers and returns the JSON body.
    pub async fn graphql(
        &self,
        app: &TestApp,
        headers: &[(&str, &str)],
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self
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

    /// Opens a URL as a navigation would.
    pub async fn open(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    /// The value of a cookie the jar would send to `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let header = self.jar.cookies(&Url::parse(url).unwrap())?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// Starts a web login (or, with a `link` mutation, a link) in this browser and returns its
    /// authorization URL.
    pub async fn start(
        &self,
        app: &TestApp,
        mutation: &str,
        provider: &str,
        target: Option<&str>,
    ) -> String {
        let csrf = self.cookie(&app.url("/graphql"), "switchboard_csrf");
        let headers: Vec<(&str, &str)> =
            csrf.iter().map(|v| ("x-csrf-token", v.as_str())).collect();
        let body = self
            .graphql(
                app,
                &headers,
                &format!("mutation($p: String!, $r: String) {{ {mutation}(provider: $p, redirectUri: $r) {{ authorizationUrl }} }}"),
                json!({ "p": provider, "r": target }),
            )
            .await;
        body["data"][mutation]["authorizationUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("{mutation} failed: {body}"))
            .to_owned()
    }

    /// Signs in through the dev login in this browser, as a person would: start, the form,
    /// the callback. Returns the callback's answer.
    pub async fn dev_login(&self, app: &TestApp, login: &str) -> reqwest::Response {
        let authorization_url = self.start(app, "startLogin", "dev", None).await;
        let callback = dev_callback(app, &authorization_url, login);
        self.open(callback.as_str()).await
    }
}

/// The callback URL the dev login form sends the browser to for `login`.
pub fn dev_callback(app: &TestApp, authorization_url: &str, login: &str) -> Url {
    let form = Url::parse(authorization_url).unwrap();
    let state = form
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state in the dev form URL");
    let mut callback = Url::parse(&app.url("/auth/callback/dev")).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("code", login)
        .append_pair("state", &state);
    callback
}

/// Signs `login` in through the dev provider and returns its access and refresh tokens.
pub async fn dev_sign_in(app: &TestApp, login: &str) -> (String, String) {
    let (_, state) = start_login(app, "dev", None).await;
    let body = complete_login(app, "dev", login, &state).await;
    let session = &body["data"]["completeLogin"];
    assert!(session.is_object(), "dev login failed: {body}");
    (
        session["accessToken"].as_str().unwrap().to_owned(),
        session["refreshToken"].as_str().unwrap().to_owned(),
    )
}

/// POSTs an operation with extra headers and returns the JSON body.
pub async fn graphql_with(
    app: &TestApp,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> Value {
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

/// `Authorization: Bearer` for a token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Cookies a response set, as one `Cookie` request header value.
pub fn cookie_header(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value of one cookie in a `Cookie` header value.
pub fn cookie_value(cookies: &str, name: &str) -> String {
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in {cookies}"))
        .to_owned()
}
