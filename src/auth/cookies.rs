//! The web session cookies: access token and refresh token (HttpOnly), and the CSRF token
//! (readable by the page, which echoes it in the `x-csrf-token` header).

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};

/// The access token cookie.
pub const ACCESS: &str = "switchboard_access";
/// The refresh token cookie.
pub const REFRESH: &str = "switchboard_refresh";
/// The double-submit CSRF cookie.
pub const CSRF: &str = "switchboard_csrf";

/// The value of cookie `name` on a request.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// `Set-Cookie` values that sign a browser in.
pub fn sign_in(
    access: &str,
    access_expires_at: DateTime<Utc>,
    refresh: &str,
    session_expires_at: DateTime<Utc>,
    csrf: &str,
    secure: bool,
) -> Vec<HeaderValue> {
    let now = Utc::now();
    vec![
        build(ACCESS, access, access_expires_at - now, true, secure),
        build(REFRESH, refresh, session_expires_at - now, true, secure),
        build(CSRF, csrf, session_expires_at - now, false, secure),
    ]
}

/// `Set-Cookie` values for a freshly issued session, with a new CSRF token.
pub fn for_session(issued: &crate::auth::IssuedSession, secure: bool) -> Vec<HeaderValue> {
    sign_in(
        &issued.access_token,
        issued.access_expires_at,
        &issued.refresh_token,
        issued.session.expires_at,
        &crate::auth::tokens::random_token(),
        secure,
    )
}

/// `Set-Cookie` values that sign a browser out.
pub fn sign_out(secure: bool) -> Vec<HeaderValue> {
    [ACCESS, REFRESH, CSRF]
        .into_iter()
        .map(|name| build(name, "", chrono::Duration::zero(), name != CSRF, secure))
        .collect()
}

fn build(
    name: &str,
    value: &str,
    max_age: chrono::Duration,
    http_only: bool,
    secure: bool,
) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(http_only)
        // Lax keeps the cookies off cross-site POSTs while letting the login redirect land.
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            max_age.num_seconds().max(0),
        ))
        .build();
    // Names and values are base64url or JWTs: always valid header text.
    HeaderValue::from_str(&cookie.to_string()).expect("cookie text is a valid header value")
}
