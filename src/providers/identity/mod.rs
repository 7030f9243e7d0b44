//! Identity providers: who the user is, according to an external account.
//!
//! Every network call goes through the provider's [`ResilientProvider`]; the login service in
//! `crate::auth` only sees [`IdentityProvider`].

mod dev;
mod github;
mod http;
mod oauth;
mod oidc;
mod settings;

use async_trait::async_trait;
use url::Url;

use super::resilience::{ProviderError, ProviderHealth, ResilientProvider};

pub use dev::is_valid_login;
pub use dev::{DEV_PROVIDER, DevProvider};
pub use github::{GithubEndpoints, GithubProvider};
pub use oidc::OidcProvider;
pub use settings::{ProviderConfig, ProviderKind};

/// What the login service asks a provider to put in the authorization URL.
#[derive(Clone)]
pub struct AuthorizationRequest<'a> {
    /// Opaque value the provider sends back; binds the callback to this attempt.
    pub state: &'a str,
    /// The PKCE verifier (the server holds it) or an app's own S256 challenge.
    pub pkce: Pkce<'a>,
    /// Nonce the ID token must echo.
    pub nonce: &'a str,
}

/// Who holds a login's PKCE verifier.
#[derive(Debug, Clone, Copy)]
pub enum Pkce<'a> {
    /// The server: the URL carries the verifier's S256 challenge.
    Verifier(&'a str),
    /// An app, which sent this S256 challenge and will send the verifier to `completeLogin`.
    Challenge(&'a str),
}

/// What the callback hands back to the provider.
#[derive(Clone)]
pub struct CodeExchange<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The PKCE verifier stored with the attempt, or the one the app sent.
    pub pkce_verifier: &'a str,
    /// The nonce stored with the attempt.
    pub nonce: &'a str,
}

crate::redact::redacted_debug!(AuthorizationRequest<'_> {} hides { state, pkce, nonce });
crate::redact::redacted_debug!(CodeExchange<'_> {} hides { code, pkce_verifier, nonce });

/// A provider account, as verified by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's stable id for the account.
    pub subject: String,
    /// Email address, if shared.
    pub email: Option<String>,
    /// Whether the provider verified that email.
    pub email_verified: bool,
    /// Display name, if shared.
    pub name: Option<String>,
}

/// Why a provider could not tell us who the user is.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityError {
    /// The provider is down, slow or its circuit is open; try again later.
    #[error("{0}")]
    Unavailable(ProviderError),
    /// The provider refused the code (expired, reused, wrong PKCE verifier...).
    #[error("the provider refused the login: {0}")]
    Refused(String),
    /// The provider's answer failed verification (signature, issuer, audience, nonce...).
    #[error("the provider's token failed verification: {0}")]
    InvalidToken(String),
}

impl From<ProviderError> for IdentityError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::Permanent { code, message, .. } => {
                IdentityError::Refused(code.map_or(message.clone(), |c| format!("{c}: {message}")))
            }
            other => IdentityError::Unavailable(other),
        }
    }
}

/// One configured way to sign in.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Configured name (`AUTH_PROVIDERS` entry, or `dev`).
    fn name(&self) -> &str;

    /// Name for login buttons.
    fn display_name(&self) -> &str;

    /// The protocol it speaks.
    fn kind(&self) -> crate::domain::LoginKind;

    /// Where to send the user's browser to sign in.
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Url, IdentityError>;

    /// Exchanges the code and verifies who signed in.
    async fn complete(&self, exchange: CodeExchange<'_>)
    -> Result<VerifiedIdentity, IdentityError>;

    /// Whether accounts from this provider may link by verified email.
    fn trusts_email(&self) -> bool;

    /// The provider's resilience state, when it makes network calls.
    fn resilience(&self) -> Option<&ResilientProvider>;

    /// Health of the provider's network calls, if it makes any.
    fn health(&self) -> Option<ProviderHealth> {
        self.resilience().map(ResilientProvider::health)
    }
}
