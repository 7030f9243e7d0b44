//! Who is asking: credentials read from a request (bearer header or session cookie) and the
//! [`ViewerState`] resolvers see. Cookie and bearer reach the same [`Viewer`].

use axum::http::{HeaderMap, HeaderName, header};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::cookies::{self, DuplicateCookie, SessionCookies};
use crate::error::AppError;

/// Where the access token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// `Authorization: Bearer` (mobile apps, SPAs holding tokens) or a WebSocket init payload.
    Bearer,
    /// The session cookie (web apps through the BFF).
    Cookie,
}

/// A signed-in user making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user.
    pub user_id: Uuid,
    /// The session the token belongs to.
    pub session_id: Uuid,
    /// Admins may act on other users' data. Read from the user row when the session was
    /// verified, never from the token.
    pub is_admin: bool,
    /// How the token arrived.
    pub source: CredentialSource,
}

impl Viewer {
    /// Whether this viewer may see what `owner` owns: their own things, or anyone's as an admin.
    /// The one visibility rule for payments, refunds and users.
    pub fn may_see_owned_by(&self, owner: Uuid) -> bool {
        owner == self.user_id || self.is_admin
    }

    /// Admin rights, or `FORBIDDEN`.
    pub fn require_admin(&self) -> Result<&Viewer, AppError> {
        if self.is_admin {
            Ok(self)
        } else {
            Err(AppError::Forbidden("only admins may do this".into()))
        }
    }
}

/// The outcome of authenticating a request, placed in every operation's context.
#[derive(Debug, Clone)]
pub enum ViewerState {
    /// No credentials were presented.
    Anonymous,
    /// Valid credentials.
    SignedIn(Viewer),
    /// Credentials were presented but refused; the error says why (expired, revoked, CSRF).
    Rejected(AppError),
}

impl ViewerState {
    /// The viewer if signed in, `None` if anonymous; refused credentials are an error so a
    /// client learns its token expired instead of silently seeing signed-out data.
    pub fn viewer(&self) -> Result<Option<&Viewer>, AppError> {
        match self {
            ViewerState::Anonymous => Ok(None),
            ViewerState::SignedIn(viewer) => Ok(Some(viewer)),
            ViewerState::Rejected(err) => Err(err.clone()),
        }
    }

    /// The viewer, or `UNAUTHENTICATED`.
    pub fn require(&self) -> Result<&Viewer, AppError> {
        self.viewer()?.ok_or_else(|| {
            AppError::unauthenticated(crate::error::AuthReason::NoCredentials, "sign in first")
        })
    }
}

/// Credentials as found on an HTTP request.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The access token and where it came from; a bearer header wins over the cookie.
    pub access: Option<(String, CredentialSource)>,
    /// The refresh token cookie (web).
    pub refresh_cookie: Option<String>,
    /// The login cookie: proof that this browser started a login.
    pub login_cookie: Option<String>,
    /// A session cookie that arrived twice; such requests are refused.
    pub duplicate: Option<DuplicateCookie>,
    csrf_cookie: Option<String>,
    csrf_header: Option<String>,
}

crate::redact::redacted_debug!(Credentials {} hides {
    access, refresh_cookie, csrf_cookie, csrf_header
});

/// The header a cookie-authenticated mutation must carry: the value of the CSRF cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// [`CSRF_HEADER`] as a header name: looked up by a string, a header is parsed as a name first,
/// on every request.
static CSRF_HEADER_NAME: HeaderName = HeaderName::from_static(CSRF_HEADER);

impl Credentials {
    /// Reads credentials from request headers.
    pub fn from_headers(headers: &HeaderMap, names: &SessionCookies) -> Self {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(|token| (token.to_owned(), CredentialSource::Bearer));
        let csrf_header = headers
            .get(&CSRF_HEADER_NAME)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !headers.contains_key(header::COOKIE) {
            // Most API clients send no cookies: nothing to look for.
            return Credentials {
                access: bearer,
                csrf_header,
                ..Default::default()
            };
        }
        let mut duplicate = None;
        let mut read = |base: &str| {
            names.read(headers, base).unwrap_or_else(|twice| {
                duplicate.get_or_insert(twice);
                None
            })
        };
        let cookie = read(cookies::ACCESS).map(|token| (token, CredentialSource::Cookie));
        let (refresh_cookie, csrf_cookie, login_cookie) = (
            read(cookies::REFRESH),
            read(cookies::CSRF),
            read(cookies::LOGIN),
        );
        Credentials {
            access: bearer.or(cookie),
            refresh_cookie,
            login_cookie,
            duplicate,
            csrf_cookie,
            csrf_header,
        }
    }

    /// Whether the request relies on its cookies at all: no bearer token.
    pub fn relies_on_cookies(&self) -> bool {
        !matches!(self.access, Some((_, CredentialSource::Bearer)))
    }

    /// Credentials from a bearer token alone (WebSocket `connection_init`).
    pub fn bearer(token: String) -> Self {
        Credentials {
            access: Some((token, CredentialSource::Bearer)),
            ..Default::default()
        }
    }

    /// Whether the access token came from the cookie.
    pub fn uses_cookie(&self) -> bool {
        matches!(self.access, Some((_, CredentialSource::Cookie)))
    }

    /// Double-submit check: the header equals the CSRF cookie (compared in constant time).
    pub fn csrf_matches(&self) -> bool {
        match (&self.csrf_cookie, &self.csrf_header) {
            (Some(cookie), Some(header)) => {
                !cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(header.as_bytes()))
            }
            _ => false,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_wins_over_cookie_and_csrf_must_match() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("switchboard_access=c; switchboard_csrf=t1"),
        );
        let names = SessionCookies::new(false, false);
        let credentials = Credentials::from_headers(&headers, &names);
        assert_eq!(
            credentials.access,
            Some(("c".into(), CredentialSource::Cookie))
        );
        assert!(!credentials.csrf_matches());
        headers.insert(CSRF_HEADER, HeaderValue::from_static("t1"));
        assert!(Credentials::from_headers(&headers, &names).csrf_matches());
        headers.insert(CSRF_HEADER, HeaderValue::from_static("t2"));
        assert!(!Credentials::from_headers(&headers, &names).csrf_matches());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        let credentials = Credentials::from_headers(&headers, &names);
        assert_eq!(
            credentials.access,
            Some(("b".into(), CredentialSource::Bearer))
        );
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
