//! Login and sessions: the authorization code flow (state, PKCE, nonce) against the configured
//! identity providers, users and linked identities, and the server's own sessions (short-lived
//! JWT access tokens, rotating refresh tokens). See docs/auth.md.

mod binding;
pub mod cookies;
mod link;
mod login;
mod session_cache;
mod sessions;
mod settings;
pub mod sockets;
pub mod tokens;
pub mod viewer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::error::AppError;
use crate::events::EventBus;
use crate::providers::identity::IdentityProvider;
use crate::store::{Identity, Session, Store, User};

pub use binding::{LoginProof, login_cookie_value};
pub use cookies::{CookieChange, SessionCookies};
pub use link::PendingLink;
pub use login::{LoginOptions, LoginStart};
pub use settings::{AuthSettings, SessionSettings};
pub use sockets::{SessionSockets, SocketRechecks, WatchedSocket};
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
    /// Builds the service from its settings and the identity providers it offers (built and
    /// registered with their resilience policies by the caller, like every provider).
    pub fn new(
        settings: AuthSettings,
        identity_providers: Vec<Arc<dyn IdentityProvider>>,
        store: Store,
        bus: Arc<EventBus>,
    ) -> anyhow::Result<Self> {
        let providers = identity_providers
            .into_iter()
            .map(|p| (p.name().to_owned(), p))
            .collect();
        let issuer = settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let secure = settings.public_url.scheme() == "https";
        let sessions = settings.sessions;
        Ok(Self {
            store,
            signer: TokenSigner::new(issuer, sessions.access_token_ttl, &sessions.signing_keys)?,
            providers,
            cookies: SessionCookies::new(secure, !settings.local_http),
            allowed_origins: settings.allowed_origins,
            public_url: settings.public_url,
            login_ttl: sessions.login_ttl,
            admin_identities: sessions.admin_identities,
            session_ttl: sessions.session_ttl,
            refresh_grace: sessions.refresh_grace,
            access_ttl: sessions.access_token_ttl,
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
    pub async fn reconcile_admins(&self) -> Result<(), AppError> {
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

    /// Users by id, for a loader resolving users already visible (owners, the viewer).
    pub async fn users_by_ids(&self, ids: &[uuid::Uuid]) -> Result<Vec<User>, AppError> {
        Ok(self.store.users_by_ids(ids).await?)
    }

    /// The linked identities of many users, for a loader resolving users already visible.
    pub async fn identities_of(&self, user_ids: &[uuid::Uuid]) -> Result<Vec<Identity>, AppError> {
        Ok(self.store.identities_of(user_ids).await?)
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
