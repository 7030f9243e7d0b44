//! Login, sessions and provider health in the schema.

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::cookies::record_cookie_change;
use super::kinds::LoginProviderKind;
use super::types::{DateTime, User};
use super::{SchemaDeps, viewer_state};
use crate::auth::{
    CookieChange, Credentials, IssuedSession, LoginOptions, LoginProof, LoginStart as StartedLogin,
    login_cookie_value,
};
use crate::error::{AppError, AuthReason};
use crate::providers::resilience;

/// A way to sign in.
#[derive(SimpleObject)]
pub struct LoginProvider {
    /// The name to pass to `startLogin`.
    pub name: String,
    /// The name to show on a login button.
    pub display_name: String,
    /// The protocol it speaks.
    pub kind: LoginProviderKind,
}

/// A started login.
#[derive(SimpleObject)]
pub struct LoginStart {
    /// Send the user's browser here.
    pub authorization_url: String,
    /// The login's state; mobile and SPA clients pass it back to `completeLogin`.
    pub state: String,
}

impl From<StartedLogin> for LoginStart {
    fn from(start: StartedLogin) -> Self {
        Self {
            authorization_url: start.authorization_url.to_string(),
            state: start.state,
        }
    }
}

/// A signed-in session. In cookie mode (web) the tokens are in HttpOnly cookies and null here.
pub struct Session {
    issued: IssuedSession,
    tokens_in_body: bool,
}

/// A signed-in session. In cookie mode (web) the tokens are in HttpOnly cookies and null here.
#[Object]
impl Session {
    /// Send as `Authorization: Bearer <accessToken>`.
    async fn access_token(&self) -> Option<&str> {
        self.tokens_in_body
            .then_some(self.issued.access_token.as_str())
    }

    /// Spend with `refreshSession` for a new pair; each refresh token works once.
    async fn refresh_token(&self) -> Option<&str> {
        self.tokens_in_body
            .then_some(self.issued.refresh_token.as_str())
    }

    /// When the access token expires; refresh before then.
    async fn expires_at(&self) -> DateTime {
        self.issued.access_expires_at.into()
    }

    /// When the session itself ends, however often it is refreshed.
    async fn session_expires_at(&self) -> DateTime {
        self.issued.session.expires_at.into()
    }

    /// The signed-in user.
    async fn user(&self) -> User {
        User(self.issued.user.clone())
    }
}

/// Circuit breaker state of a provider.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow normally.
    Closed,
    /// Calls fail fast until the provider has had time to recover.
    Open,
    /// A few trial calls test whether the provider has recovered.
    HalfOpen,
}

/// How a provider is doing, as seen by our resilience layer.
#[derive(SimpleObject)]
pub struct ProviderHealth {
    /// Provider name (`stripe`, `sandbox`, or a login provider's name).
    pub name: String,
    /// Circuit breaker state.
    pub state: BreakerState,
    /// Share of recent calls that failed, from 0 to 1.
    pub failure_rate: f64,
    /// When a call last failed.
    pub last_failure_at: Option<DateTime>,
}

impl From<resilience::ProviderHealth> for ProviderHealth {
    fn from(health: resilience::ProviderHealth) -> Self {
        Self {
            state: match health.state {
                resilience::BreakerState::Closed => BreakerState::Closed,
                resilience::BreakerState::Open => BreakerState::Open,
                resilience::BreakerState::HalfOpen => BreakerState::HalfOpen,
            },
            name: health.name,
            failure_rate: health.failure_rate,
            last_failure_at: health.last_failure_at.map(DateTime),
        }
    }
}

/// Login and session mutations.
#[derive(Default)]
pub struct AuthMutation;

/// Login and session mutations.
#[Object]
impl AuthMutation {
    /// Starts a login, bound to this browser by an HttpOnly login cookie set on the answer (or,
    /// for an app, to its own PKCE pair). Web apps pass `redirectUri` (an allowed origin) and
    /// send the browser to `authorizationUrl`; the server finishes at
    /// `/auth/callback/{provider}` in that same browser, sets the session cookies and redirects
    /// there. Apps pass `clientCompletes: true` with an app link as `redirectUri` (the callback
    /// forwards `code` and `state` to it) and finish with `completeLogin`; an app that keeps no
    /// cookies sends `codeChallenge` (S256) here and its verifier there.
    async fn start_login(
        &self,
        ctx: &Context<'_>,
        provider: String,
        redirect_uri: Option<String>,
        #[graphql(default = false)] client_completes: bool,
        code_challenge: Option<String>,
    ) -> Result<LoginStart, AppError> {
        let options = LoginOptions {
            redirect_to: redirect_uri.as_deref(),
            client_completes,
            link_user: None,
            code_challenge: code_challenge.as_deref(),
        };
        start_bound_login(ctx, &provider, options).await
    }

    /// Links another provider's account to the signed-in user: like `startLogin`. In a
    /// browser, the callback shows the account found and adds it once the user confirms, and
    /// only in this browser while signed in as this user. Apps pass `clientCompletes` and
    /// finish with `completeLogin`, signed in as this user.
    async fn link_identity(
        &self,
        ctx: &Context<'_>,
        provider: String,
        redirect_uri: Option<String>,
        #[graphql(default = false)] client_completes: bool,
        code_challenge: Option<String>,
    ) -> Result<LoginStart, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let options = LoginOptions {
            redirect_to: redirect_uri.as_deref(),
            client_completes,
            link_user: Some(viewer.user_id),
            code_challenge: code_challenge.as_deref(),
        };
        start_bound_login(ctx, &provider, options).await
    }

    /// Finishes a login with the `code` and `state` the provider redirected back with (app
    /// and SPA path); returns bearer tokens. Only the client that started the login can finish
    /// it: it sends the login cookie `startLogin` set, or `codeVerifier` when it started with
    /// a `codeChallenge`. A link finishes only signed in as the user who started it.
    async fn complete_login(
        &self,
        ctx: &Context<'_>,
        provider: String,
        code: String,
        state: String,
        code_verifier: Option<String>,
    ) -> Result<Session, AppError> {
        let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
        // A stale session cookie must not stand in the way of signing in again; it only
        // matters for a link, which then finds no signed-in user and is refused.
        let viewer = viewer_state(ctx).viewer().ok().flatten().map(|v| v.user_id);
        let credentials = credentials_of(ctx);
        let proof = LoginProof {
            login_cookie: credentials.and_then(|c| c.login_cookie.as_deref()),
            code_verifier: code_verifier.as_deref(),
        };
        let issued = auth
            .complete_login(&provider, &code, &state, proof, viewer)
            .await?;
        Ok(Session {
            issued,
            tokens_in_body: true,
        })
    }

    /// Exchanges a refresh token for a new access and refresh token; the old one stops
    /// working (a concurrent request presenting it within `REFRESH_GRACE_SECONDS` receives the
    /// same new pair). Without `refreshToken`, the refresh cookie is used, the
    /// `x-csrf-token` header is required as for every cookie-authenticated mutation, and new
    /// cookies are set.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> Result<Session, AppError> {
        let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
        let cookie_mode = refresh_token.is_none();
        let token = match refresh_token {
            Some(token) => token,
            None => cookie_refresh_token(ctx)?,
        };
        let issued = auth.refresh(&token).await?;
        if cookie_mode {
            record_cookie_change(ctx, CookieChange::Session(Box::new(issued.clone())));
        }
        Ok(Session {
            issued,
            tokens_in_body: !cookie_mode,
        })
    }

    /// Signs out this session, or with `everywhere` every session of the user. Open
    /// subscriptions of those sessions are closed.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] everywhere: bool,
    ) -> Result<bool, AppError> {
        let viewer = viewer_state(ctx).require()?;
        let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
        auth.logout(viewer, everywhere).await?;
        if viewer.source == crate::auth::CredentialSource::Cookie {
            record_cookie_change(ctx, CookieChange::SignedOut);
        }
        Ok(true)
    }
}

/// Starts a login bound to this browser's login cookie (set, or kept, on the answer).
async fn start_bound_login(
    ctx: &Context<'_>,
    provider: &str,
    options: LoginOptions<'_>,
) -> Result<LoginStart, AppError> {
    let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
    let current = credentials_of(ctx).and_then(|c| c.login_cookie.as_deref());
    let login_cookie = login_cookie_value(current);
    let start = auth.start_login(provider, options, &login_cookie).await?;
    record_cookie_change(
        ctx,
        CookieChange::LoginStarted {
            value: login_cookie,
            lifetime: auth.login_ttl(),
        },
    );
    Ok(start.into())
}

/// The refresh cookie of a cookie-mode `refreshSession`, which like every cookie-authenticated
/// mutation needs the CSRF header: a cross-site page must not rotate (and so unsettle) a
/// browser's session.
fn cookie_refresh_token(ctx: &Context<'_>) -> Result<String, AppError> {
    let credentials = credentials_of(ctx).ok_or_else(|| {
        AppError::unauthenticated(
            AuthReason::NoCredentials,
            "no refresh token was sent; sign in again",
        )
    })?;
    if let Some(duplicate) = &credentials.duplicate {
        return Err(duplicate.clone().into_error());
    }
    let token = credentials.refresh_cookie.clone().ok_or_else(|| {
        AppError::unauthenticated(
            AuthReason::NoCredentials,
            "no refresh token was sent; sign in again",
        )
    })?;
    if !credentials.csrf_matches() {
        let auth = &ctx.data_unchecked::<SchemaDeps>().auth;
        return Err(auth.cookies().csrf_refusal());
    }
    Ok(token)
}

/// The credentials the operation's request carried (none on a WebSocket).
fn credentials_of<'a>(ctx: &Context<'a>) -> Option<&'a Credentials> {
    ctx.data_opt::<super::Caller>()
        .and_then(|caller| caller.credentials.as_ref())
}
