//! Login and sessions: the authorization code flow (state, PKCE, nonce) against the configured
//! identity providers, users and linked identities, and the server's own sessions (short-lived
//! JWT access tokens, rotating refresh tokens). See docs/auth.md.

mod binding;
pub mod cookies;
mod link;
mod login;
mod session_cache;
mod sessions;
pub mod sockets;
pub mod tokens;
pub mod viewer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::{Config, ProviderKind};
use crate::events::EventBus;
use crate::providers::identity::{
    DevProvider, GithubEndpoints, GithubProvider, IdentityProvider, OidcProvider,
};
use crate::providers::resilience::{ProviderRegistry, ResilientProvider};
use crate::store::{Session, Store, User};

pub use binding::{LoginProof, login_cookie_value};
pub use cookies::SessionCookies;
pub use link::PendingLink;
pub use login::{LoginOptions, LoginStart};
pub use sockets::SessionSockets;
pub use tokens::TokenSigner;
pub use viewer::{CredentialSource, Credentials, Viewer, ViewerState};

/// A freshly issued session, as handed to the client.
#[derive(Clone)]
pub struct IssuedSession {
    /// Bearer access token (a JWT).
    pub access_token: String,
    /// When the access token stops working.
    pub access_expires_at: chrono::DateTime<chrono::Utc>,
    /// Opaque refresh token; spent on use.
    pub refresh_token: String,
    /// The session it belongs to.
    pub session: Session,
    /// Who is signed in.
    pub user: User,
}

crate::redact::redacted_debug!(IssuedSession {
    access_expires_at, session, user
} hides { access_token, refresh_token });

/// The login and session service.
pub struct AuthService {
    store: Store,
    signer: TokenSigner,
    providers: BTreeMap<String, Arc<dyn IdentityProvider>>,
    allowed_origins: Vec<String>,
    public_url: Url,
    login_ttl: Duration,
    session_ttl: Duration,
    /// How long a just-spent refresh token may be replayed by a concurrent request.
    refresh_grace: Duration,
    /// How long an access token lives: sockets re-check their viewer this often.
    access_ttl: Duration,
    admin_identities: Vec<(String, String)>,
    cookies: SessionCookies,
    sockets: SessionSockets,
    session_cache: session_cache::SessionCache,
    /// Tells other instances about ended sessions, and this one about theirs.
    bus: Arc<EventBus>,
}

impl AuthService {
    /// Builds the service and its identity providers, registering each provider's resilience
    /// policy in `registry`.
    pub fn new(
        config: &Config,
        store: Store,
        bus: Arc<EventBus>,
        http: reqwest::Client,
        registry: &mut ProviderRegistry,
    ) -> anyhow::Result<Self> {
        let mut providers: BTreeMap<String, Arc<dyn IdentityProvider>> = BTreeMap::new();
        for provider in &config.auth.providers {
            let policy = config
                .policies
                .get(&provider.name)
                .cloned()
                .unwrap_or_default();
            let resilience = ResilientProvider::new(provider.name.clone(), policy)?;
            registry.register(resilience.clone());
            let redirect_uri = config
                .public_url
                .join(&format!("/auth/callback/{}", provider.name))?;
            let built: Arc<dyn IdentityProvider> = match &provider.kind {
                ProviderKind::Oidc { issuer } => Arc::new(OidcProvider::new(
                    provider.clone(),
                    issuer.clone(),
                    redirect_uri,
                    http.clone(),
                    resilience,
                )),
                ProviderKind::Github {
                    auth_url,
                    token_url,
                    api_url,
                } => Arc::new(GithubProvider::new(
                    provider.clone(),
                    GithubEndpoints {
                        auth_url: auth_url.clone(),
                        token_url: token_url.clone(),
                        api_url: api_url.clone(),
                    },
                    redirect_uri,
                    http.clone(),
                    resilience,
                )),
            };
            providers.insert(provider.name.clone(), built);
        }
        if config.auth.dev_login {
            let dev: Arc<dyn IdentityProvider> = Arc::new(DevProvider::new(&config.public_url));
            providers.insert(dev.name().to_owned(), dev);
        }
        let issuer = config.public_url.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            store,
            signer: TokenSigner::new(
                issuer,
                config.auth.access_token_ttl,
                &config.auth.signing_keys,
            )?,
            providers,
            allowed_origins: config.allowed_origins.clone(),
            public_url: config.public_url.clone(),
            login_ttl: config.auth.login_ttl,
            admin_identities: config.auth.admin_identities.clone(),
            session_ttl: config.auth.session_ttl,
            refresh_grace: config.auth.refresh_grace,
            access_ttl: config.auth.access_token_ttl,
            cookies: SessionCookies::new(
                config.public_url.scheme() == "https",
                !config.is_local_http(),
            ),
            sockets: SessionSockets::default(),
            session_cache: Default::default(),
            bus,
        })
    }

    /// The configured providers, by name.
    pub fn providers(&self) -> impl Iterator<Item = &dyn IdentityProvider> {
        self.providers.values().map(|p| p.as_ref())
    }

    /// The session cookies' names and attributes.
    pub fn cookies(&self) -> &SessionCookies {
        &self.cookies
    }

    /// How long a started login may take.
    pub fn login_ttl(&self) -> Duration {
        self.login_ttl
    }

    /// Makes admins exactly the users with an identity in `ADMIN_IDENTITIES`: it grants and it
    /// revokes. Run at start; logins reconcile their own user.
    pub async fn reconcile_admins(&self) -> Result<(), crate::error::AppError> {
        let changed = self
            .store
            .reconcile_admins(&self.admin_identities, chrono::Utc::now())
            .await?;
        if !changed.is_empty() {
            // Remembered sessions carry their user's old right.
            self.session_cache.clear();
            tracing::info!(
                users = changed.len(),
                "admin rights reconciled with ADMIN_IDENTITIES"
            );
        }
        Ok(())
    }

    /// Open WebSockets by session.
    pub fn sockets(&self) -> &SessionSockets {
        &self.sockets
    }

    /// Whether `origin` (scheme://host[:port]) is on the allowlist.
    pub fn is_allowed_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }

    /// Where a web login lands when it named no target.
    pub fn default_landing(&self) -> Url {
        self.public_url.clone()
    }
}
