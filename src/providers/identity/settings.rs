//! What the configuration says about one login provider.

use secrecy::SecretString;
use url::Url;

/// What kind of identity provider a configured name is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenID Connect provider, found through its issuer's discovery document.
    Oidc {
        /// Issuer URL; discovery is `ISSUER/.well-known/openid-configuration`.
        issuer: Url,
    },
    /// GitHub: OAuth 2.0 without OpenID Connect; profile and verified email from its API.
    Github {
        /// Authorization endpoint.
        auth_url: Url,
        /// Token endpoint.
        token_url: Url,
        /// REST API base.
        api_url: Url,
    },
}

impl ProviderKind {
    /// `oidc` or `github` (Google is OIDC with a preset issuer).
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::Oidc { .. } => "oidc",
            ProviderKind::Github { .. } => "github",
        }
    }
}

/// One configured login provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name in `AUTH_PROVIDERS`, used in URLs and the API.
    pub name: String,
    /// Shown on login buttons.
    pub display_name: String,
    /// Protocol and endpoints.
    pub kind: ProviderKind,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// Whether a verified email from this provider may link to an existing account.
    pub trust_email: bool,
}
