//! The authorization code flow: starting a login, consuming its state exactly once, and
//! turning a verified provider identity into a user.

use chrono::Utc;
use url::Url;
use uuid::Uuid;

use super::tokens::{random_token, token_hash};
use super::{AuthService, IssuedSession};
use crate::config::url_on_allowed_origin;
use crate::error::AppError;
use crate::providers::identity::{
    AuthorizationRequest, CodeExchange, IdentityError, IdentityProvider, VerifiedIdentity,
};
use crate::store::{LoginAttempt, NewIdentity, NewUser, StoreError, User};

/// What `startLogin` returns.
#[derive(Clone)]
pub struct LoginStart {
    /// Send the user's browser here.
    pub authorization_url: Url,
    /// The state parameter (clients on the mobile path pass it back to `completeLogin`).
    pub state: String,
}

crate::redact::redacted_debug!(LoginStart { authorization_url } hides { state });

impl AuthService {
    fn provider(&self, name: &str) -> Result<&dyn IdentityProvider, AppError> {
        self.providers.get(name).map(|p| p.as_ref()).ok_or_else(|| {
            AppError::bad_input(
                "provider",
                format!("unknown login provider {name:?}; see loginProviders"),
            )
        })
    }

    /// Checks a web redirect target against the origin allowlist.
    fn redirect_target(&self, raw: &str) -> Result<String, AppError> {
        let refused = || {
            AppError::bad_input(
                "redirectUri",
                "redirectUri must be an absolute http(s) URL on an allowed origin (ALLOWED_ORIGINS)",
            )
        };
        let url = url_on_allowed_origin(&self.allowed_origins, raw).ok_or_else(refused)?;
        Ok(url.to_string())
    }

    /// Starts a login (or, with `link_user`, the linking of another identity to that user).
    ///
    /// With `client_completes`, the callback forwards `code` and `state` to `redirect_to` (an app
    /// link) and the client finishes with `completeLogin`.
    pub async fn start_login(
        &self,
        provider: &str,
        redirect_to: Option<&str>,
        client_completes: bool,
        link_user: Option<Uuid>,
    ) -> Result<LoginStart, AppError> {
        let identity_provider = self.provider(provider)?;
        let redirect_to = redirect_to
            .map(|raw| self.redirect_target(raw))
            .transpose()?;
        if client_completes && redirect_to.is_none() {
            return Err(AppError::bad_input(
                "redirectUri",
                "clientCompletes needs a redirectUri to forward the code to",
            ));
        }
        let (state, pkce_verifier, nonce) = (random_token(), random_token(), random_token());
        let authorization_url = identity_provider
            .authorization_url(AuthorizationRequest {
                state: &state,
                pkce_verifier: &pkce_verifier,
                nonce: &nonce,
            })
            .await
            .map_err(|e| identity_error(provider, e))?;
        let now = Utc::now();
        self.store
            .insert_login_attempt(&LoginAttempt {
                state_hash: token_hash(&state),
                provider: provider.to_owned(),
                pkce_verifier,
                nonce,
                redirect_to,
                client_completes,
                link_user_id: link_user,
                created_at: now,
                expires_at: now + self.login_ttl,
                consumed_at: None,
            })
            .await?;
        Ok(LoginStart {
            authorization_url,
            state,
        })
    }

    /// The login attempt `state` names, if it is still unused, without using it up.
    pub async fn peek_attempt(&self, state: &str) -> Result<Option<LoginAttempt>, AppError> {
        Ok(self.store.peek_login_attempt(&token_hash(state)).await?)
    }

    /// Uses up the login attempt `state` names. Unknown, replayed, expired and cross-provider
    /// states are all refused.
    pub async fn consume_attempt(
        &self,
        provider: &str,
        state: &str,
    ) -> Result<LoginAttempt, AppError> {
        let now = Utc::now();
        let attempt = self
            .store
            .consume_login_attempt(&token_hash(state), now)
            .await?
            .ok_or_else(|| {
                AppError::bad_input(
                    "state",
                    "this login is unknown or was already used; start the login again",
                )
            })?;
        if attempt.expires_at <= now {
            return Err(AppError::bad_input(
                "state",
                "this login took too long and expired; start the login again",
            ));
        }
        if attempt.provider != provider {
            return Err(AppError::bad_input(
                "state",
                "this login was started with another provider",
            ));
        }
        Ok(attempt)
    }

    /// Exchanges the code, verifies the identity, finds or creates the user and starts a session.
    pub async fn finish_login(
        &self,
        attempt: &LoginAttempt,
        code: &str,
    ) -> Result<IssuedSession, AppError> {
        let provider = self.provider(&attempt.provider)?;
        let identity = provider
            .complete(CodeExchange {
                code,
                pkce_verifier: &attempt.pkce_verifier,
                nonce: &attempt.nonce,
            })
            .await
            .map_err(|e| identity_error(&attempt.provider, e))?;
        let subject = identity.subject.clone();
        let mut user = self
            .resolve_user(provider, identity, attempt.link_user_id)
            .await?;
        let listed = self
            .admin_identities
            .iter()
            .any(|(p, s)| *p == attempt.provider && *s == subject);
        if listed && !user.is_admin {
            user = self.store.grant_admin(user.id).await?;
            tracing::info!(user_id = %user.id, "admin granted by ADMIN_IDENTITIES");
        }
        tracing::info!(user_id = %user.id, provider = %attempt.provider, "signed in");
        self.start_session(user, &attempt.provider).await
    }

    /// The user an identity belongs to, linking or creating as the rules allow.
    async fn resolve_user(
        &self,
        provider: &dyn IdentityProvider,
        identity: VerifiedIdentity,
        link_user: Option<Uuid>,
    ) -> Result<User, AppError> {
        let name = provider.name();
        if let Some(user) = self.store.user_by_identity(name, &identity.subject).await? {
            if link_user.is_some_and(|id| id != user.id) {
                return Err(AppError::Conflict(format!(
                    "this {name} account is already linked to another user"
                )));
            }
            return Ok(user);
        }
        let new_identity = NewIdentity {
            provider: name.to_owned(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
        };
        if let Some(user_id) = link_user {
            return self.link(user_id, new_identity).await;
        }
        if let Some(email) = &identity.email
            && let Some(existing) = self.store.user_by_verified_email(email).await?
        {
            if identity.email_verified && provider.trusts_email() {
                return self.link(existing.id, new_identity).await;
            }
            return Err(AppError::Conflict(format!(
                "an account with {email} already exists; sign in with the provider you used before, then link {name} from your account"
            )));
        }
        let profile = NewUser {
            email: identity.email,
            name: identity.name,
        };
        match self.store.create_user(profile, new_identity).await {
            Ok(user) => Ok(user),
            // A concurrent first login of the same account won the race: use its user.
            Err(StoreError::Conflict(_)) => self
                .store
                .user_by_identity(name, &identity.subject)
                .await?
                .ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("identity conflict without an owner"))
                }),
            Err(err) => Err(err.into()),
        }
    }

    async fn link(&self, user_id: Uuid, identity: NewIdentity) -> Result<User, AppError> {
        match self.store.add_identity(user_id, identity).await {
            Ok(_) => self
                .store
                .user_by_id(user_id)
                .await?
                .ok_or(AppError::NotFound("user")),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict(
                "this account is already linked to another user".into(),
            )),
            Err(err) => Err(err.into()),
        }
    }
}

/// Maps a provider failure to what the client sees; verification failures are logged here
/// since the client only learns that the login was refused.
fn identity_error(provider: &str, err: IdentityError) -> AppError {
    match err {
        IdentityError::Unavailable(cause) => AppError::ProviderUnavailable {
            provider: provider.to_owned(),
            retry_after: cause.retry_hint(),
        },
        IdentityError::Refused(reason) => AppError::bad_input(
            "code",
            format!("{provider} refused the login ({reason}); start the login again"),
        ),
        IdentityError::InvalidToken(reason) => {
            tracing::warn!(provider, reason, "identity token failed verification");
            AppError::Unauthenticated(format!(
                "{provider}'s answer failed verification; start the login again"
            ))
        }
    }
}
