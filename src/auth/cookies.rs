//! The web cookies: access token and refresh token (HttpOnly), the CSRF token (readable by the
//! page, which echoes it in the `x-csrf-token` header), and the login cookie that binds a login
//! to the browser that started it (HttpOnly, lives as long as a login may take).
//!
//! When `PUBLIC_URL` is https, the names carry the `__Host-` prefix (the refresh cookie, which
//! is scoped to `/graphql`, the `__Secure-` prefix): a browser then refuses such cookies from a
//! sibling subdomain or plain HTTP, which is what keeps them from being planted (fixation).

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};

/// The access token cookie, before any prefix.
pub const ACCESS: &str = "switchboard_access";
/// The refresh token cookie, before any prefix.
pub const REFRESH: &str = "switchboard_refresh";
/// The double-submit CSRF cookie, before any prefix.
pub const CSRF: &str = "switchboard_csrf";
/// The login binding cookie, before any prefix.
pub const LOGIN: &str = "switchboard_login";

/// The only path that spends the refresh token (`refreshSession`), so the only one that
/// receives it.
pub const REFRESH_PATH: &str = "/graphql";

/// A request carried the same session cookie twice (one may have been planted by a sibling
/// subdomain); which one the browser meant cannot be known, so the request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateCookie(pub String);

impl DuplicateCookie {
    /// The error a client sees.
    pub fn into_error(self) -> crate::error::AppError {
        crate::error::AppError::Forbidden(format!(
            "the request carries the {} cookie twice (another site on this domain may have set one); clear this site's cookies and sign in again",
            self.0
        ))
    }
}

/// What an operation changed about a browser's sign-in. Resolvers say what happened; the HTTP
/// layer writes it as cookies through [`SessionCookies::headers_for`].
#[derive(Clone)]
pub enum CookieChange {
    /// A session was issued or refreshed: sign the browser in with it.
    Session(Box<crate::auth::IssuedSession>),
    /// The browser's session ended: clear its session cookies.
    SignedOut,
    /// A login started, bound to this browser by `value` for `lifetime`.
    LoginStarted {
        /// The login cookie's value.
        value: String,
        /// How long the login may take.
        lifetime: std::time::Duration,
    },
}

/// Names and attributes of the session cookies, fixed by `PUBLIC_URL` at start.
#[derive(Debug, Clone)]
pub struct SessionCookies {
    /// `__Host-`/`__Secure-` names (https only).
    prefixed: bool,
    /// The `Secure` attribute (everywhere but plain HTTP on localhost).
    secure: bool,
}

impl SessionCookies {
    /// Cookies for a server reached at a `PUBLIC_URL` that is https (`prefixed`) or not, and
    /// local plain HTTP (`secure` false) or not.
    pub fn new(prefixed: bool, secure: bool) -> Self {
        Self {
            prefixed,
            secure: secure || prefixed,
        }
    }

    /// Whether cookies carry `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The name a cookie goes by on this server.
    pub fn name(&self, base: &str) -> String {
        match (self.prefixed, base) {
            (false, _) => base.to_owned(),
            // `__Host-` demands `Path=/`; the refresh cookie has a narrower path.
            (true, REFRESH) => format!("__Secure-{base}"),
            (true, _) => format!("__Host-{base}"),
        }
    }

    /// The error of a cookie-authenticated mutation without a matching CSRF header.
    pub fn csrf_refusal(&self) -> crate::error::AppError {
        crate::error::AppError::Forbidden(format!(
            "cookie-authenticated mutations need the x-csrf-token header set to the {} cookie",
            self.name(CSRF)
        ))
    }

    /// The value of cookie `base` on a request; two cookies of that name are refused.
    pub fn read(&self, headers: &HeaderMap, base: &str) -> Result<Option<String>, DuplicateCookie> {
        let name = self.name(base);
        let mut found = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == name);
        let first = found.next().map(|c| c.value().to_owned());
        if found.next().is_some() {
            return Err(DuplicateCookie(name));
        }
        Ok(first)
    }

    /// The `Set-Cookie` values that carry out `change`.
    pub fn headers_for(&self, change: &CookieChange) -> Vec<HeaderValue> {
        match change {
            CookieChange::Session(issued) => self.for_session(issued),
            CookieChange::SignedOut => self.sign_out(),
            CookieChange::LoginStarted { value, lifetime } => vec![self.login(value, *lifetime)],
        }
    }

    /// `Set-Cookie` values for a freshly issued session, with a new CSRF token.
    pub fn for_session(&self, issued: &crate::auth::IssuedSession) -> Vec<HeaderValue> {
        self.sign_in(
            &issued.access_token,
            issued.access_expires_at,
            &issued.refresh_token,
            issued.session.expires_at,
            &crate::auth::tokens::random_token(),
        )
    }

    /// `Set-Cookie` values that sign a browser in.
    pub fn sign_in(
        &self,
        access: &str,
        access_expires_at: DateTime<Utc>,
        refresh: &str,
        session_expires_at: DateTime<Utc>,
        csrf: &str,
    ) -> Vec<HeaderValue> {
        let now = Utc::now();
        vec![
            self.build(ACCESS, access, access_expires_at - now),
            self.build(REFRESH, refresh, session_expires_at - now),
            self.build(CSRF, csrf, session_expires_at - now),
        ]
    }

    /// `Set-Cookie` values that sign a browser out.
    pub fn sign_out(&self) -> Vec<HeaderValue> {
        [ACCESS, REFRESH, CSRF]
            .into_iter()
            .map(|base| self.build(base, "", chrono::Duration::zero()))
            .collect()
    }

    /// The login cookie, kept for as long as a login may take.
    pub fn login(&self, value: &str, lifetime: std::time::Duration) -> HeaderValue {
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::zero());
        self.build(LOGIN, value, lifetime)
    }

    fn build(&self, base: &str, value: &str, max_age: chrono::Duration) -> HeaderValue {
        let cookie = Cookie::build((self.name(base), value))
            .path(if base == REFRESH { REFRESH_PATH } else { "/" })
            // The page reads the CSRF token to echo it; nothing else is for scripts.
            .http_only(base != CSRF)
            // Lax keeps the cookies off cross-site POSTs while letting the login redirect land.
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(
                max_age.num_seconds().max(0),
            ))
            .build();
        // Names and values are base64url or JWTs: always valid header text.
        HeaderValue::from_str(&cookie.to_string()).expect("cookie text is a valid header value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static(cookie));
        headers
    }

    #[test]
    fn https_names_are_prefixed_and_the_refresh_cookie_is_scoped() {
        let cookies = SessionCookies::new(true, true);
        let set: Vec<String> = cookies
            .sign_in("a", Utc::now(), "r", Utc::now(), "c")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert!(
            set[0].starts_with("__Host-switchboard_access=a;"),
            "{set:?}"
        );
        assert!(set[0].contains("Path=/;") && set[0].contains("Secure"));
        assert!(set[1].starts_with("__Secure-switchboard_refresh=r;"));
        assert!(set[1].contains("Path=/graphql"), "{set:?}");
        assert!(set[2].starts_with("__Host-switchboard_csrf=c;") && !set[2].contains("HttpOnly"));
        let local = SessionCookies::new(false, false);
        assert_eq!(local.name(ACCESS), "switchboard_access");
        assert!(!local.sign_out()[0].to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn a_cookie_sent_twice_is_refused() {
        let cookies = SessionCookies::new(false, false);
        let twice = headers("switchboard_access=mine; other=1; switchboard_access=planted");
        assert_eq!(
            cookies.read(&twice, ACCESS),
            Err(DuplicateCookie("switchboard_access".into()))
        );
        assert_eq!(cookies.read(&twice, CSRF), Ok(None));
        let once = headers("switchboard_access=mine");
        assert_eq!(cookies.read(&once, ACCESS), Ok(Some("mine".into())));
        // An unprefixed cookie does not stand in for a prefixed one.
        assert_eq!(
            SessionCookies::new(true, true).read(&once, ACCESS),
            Ok(None)
        );
    }
}
