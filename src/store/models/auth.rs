//! Logins in progress, sessions and refresh-token rotation.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A login in progress: what the callback needs to finish it safely.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginAttempt {
    /// SHA-256 of the `state` parameter (the state itself is never stored).
    pub state_hash: String,
    /// Configured provider name.
    pub provider: String,
    /// PKCE code verifier sent with the code exchange; `None` when the client holds its own
    /// (it sent [`Self::code_challenge`] and sends the verifier to `completeLogin`).
    pub pkce_verifier: Option<String>,
    /// The S256 PKCE challenge a client sent with `startLogin`, when it holds the verifier.
    pub code_challenge: Option<String>,
    /// SHA-256 of the login cookie of the browser that started the login, when it has one.
    pub browser_hash: Option<String>,
    /// Nonce the ID token must carry.
    pub nonce: String,
    /// Where a web login returns to (an allowed origin), if it was given.
    pub redirect_to: Option<String>,
    /// True when the client finishes the login itself (`completeLogin`): the callback then
    /// forwards `code` and `state` to `redirect_to` instead of finishing it.
    pub client_completes: bool,
    /// Set when a signed-in user is linking another identity.
    pub link_user_id: Option<Uuid>,
    /// When the attempt started.
    pub created_at: DateTime<Utc>,
    /// After this, the attempt can no longer be finished.
    pub expires_at: DateTime<Utc>,
    /// When the callback used it (single use).
    pub consumed_at: Option<DateTime<Utc>>,
}

crate::redact::redacted_debug!(LoginAttempt {
    provider, code_challenge, redirect_to, client_completes, link_user_id, created_at, expires_at,
    consumed_at
} hides { state_hash, pkce_verifier, browser_hash, nonce });

/// A signed-in session: one login on one device, kept alive by rotating refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// Session id; access tokens carry it as `sid`.
    pub id: Uuid,
    /// Who is signed in.
    pub user_id: Uuid,
    /// The provider the session was started with.
    pub provider: String,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// The session ends here however often it is refreshed.
    pub expires_at: DateTime<Utc>,
    /// Set by logout or by refresh-token reuse.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// True when the session may still be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent and the new one replaces it.
    Rotated(Session),
    /// The token was spent within the grace window by a concurrent request (another tab, a
    /// retry): its successor, still unused, is handed out again.
    Replayed {
        /// The session.
        session: Session,
        /// Hash of the successor the first use issued.
        successor_hash: String,
        /// When the first use rotated the token.
        rotated_at: DateTime<Utc>,
    },
    /// The token had already been spent: the session is revoked, as the token may be stolen.
    Reused(Uuid),
    /// Unknown, expired, or its session is over.
    Invalid,
}
