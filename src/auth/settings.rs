//! What the login and session service is built from.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// The settings of [`super::AuthService`]; the configuration fills them in.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The server's public base URL: token issuer, callback base and default landing page.
    pub public_url: Url,
    /// True when browsers reach the server over plain HTTP on the local machine, where cookies
    /// cannot be `Secure` or use the `__Host-` prefix.
    pub local_http: bool,
    /// Origins a login may redirect to.
    pub allowed_origins: Vec<String>,
    /// Signing keys, lifetimes and admins.
    pub sessions: SessionSettings,
}

/// Signing keys, lifetimes and admins: the part of [`AuthSettings`] read from the auth
/// variables alone.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `(kid, secret)` pairs; the first signs. Empty: generate one at start (development only).
    pub signing_keys: Vec<(String, SecretString)>,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Login attempt lifetime.
    pub login_ttl: Duration,
    /// How long a just-spent refresh token may be replayed by a concurrent request.
    pub refresh_grace: Duration,
    /// `(provider, subject)` pairs whose users are admins; reconciled at start and each login.
    pub admin_identities: Vec<(String, String)>,
}
