//! The authorization code flow: starting a login, consuming its state exactly once, and
//! turning a verified provider identity into a user.

use chrono::Utc;
use url::Url;
use uuid::Uuid;

use super::binding::{LoginProof, check_code_challenge, check_proof, started_in_this_browser};
use super::tokens::{random_token, token_hash};
use super::{AuthService, IssuedSession};
use crate::error::AppError;
use crate::origins::url_on_allowed_origin;
use crate::providers::identity::{
    AuthorizationRequest, CodeExchange, IdentityError, IdentityProvider, Pkce, VerifiedIdentity,
};
use crate::store::{LoginAttempt, NewIdentity, NewUser, StoreError, User};

/// How a login starts.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions<'a> {
    /// Where the browser lands afterwards (an allowed origin), or the app link to forward to.
    pub redirect_to: Option<&'a str>,
    /// The client finishes with `completeLogin`; the callback only forwards code and state.
    pub client_completes: bool,
    /// Set when a signed-in user links another identity.
    pub link_user: Option<Uuid>,
    /// An app's own S256 PKCE challenge; it then proves the login with the verifier.
    pub code_challenge: Option<&'a str>,
}

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
    pub(super) fn provider(&self, name: &str) -> Result<&dyn IdentityProvider, AppError> {
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

    /// Starts a login (or, with `link_user`, the linking of another identity to that user),
    /// bound to the browser's `login_cookie` (see [`super::binding::login_cookie_value`]) and,
    /// when the app sent one, to its PKCE challenge.
    pub async fn start_login(
        &self,
        provider: &str,
        options: LoginOptions<'_>,
        login_cookie: &str,
    ) -> Result<LoginStart, AppError> {
        let identity_provider = self.provider(provider)?;
        let redirect_to = options
            .redirect_to
            .map(|raw| self.redirect_target(raw))
            .transpose()?;
        if options.client_completes && redirect_to.is_none() {
            return Err(AppError::bad_input(
                "redirectUri",
                "clientCompletes needs a redirectUri to forward the code to",
            ));
        }
        if let Some(challenge) = options.code_challenge {
            check_code_challenge(challenge)?;
        }
        let (state, nonce, server_verifier) = (random_token(), random_token(), random_token());
        let pkce = match options.code_challenge {
            Some(challenge) => Pkce::Challenge(challenge),
            None => Pkce::Verifier(&server_verifier),
        };
        let authorization_url = identity_provider
            .authorization_url(AuthorizationRequest {
                state: &state,
                pkce,
                nonce: &nonce,
            })
            .await
            .map_err(|e| identity_error(provider, e))?;
        let now = Utc::now();
        self.store
            .insert_login_attempt(&LoginAttempt {
                state_hash: token_hash(&state),
                provider: provider.to_owned(),
                // An app holding its own verifier leaves none here: an intercepted code is useless.
                pkce_verifier: options.code_challenge.is_none().then_some(server_verifier),
                code_challenge: options.code_challenge.map(str::to_owned),
                browser_hash: Some(token_hash(login_cookie)),
                nonce,
                redirect_to,
                client_completes: options.client_completes,
                link_user_id: options.link_user,
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

    /// Finishes a login through the API (`completeLogin`): only with proof of having started
    /// it, and a link only for the signed-in user who asked for it.
    pub async fn complete_login(
        &self,
        provider: &str,
        code: &str,
        state: &str,
        proof: LoginProof<'_>,
        viewer: Option<Uuid>,
    ) -> Result<IssuedSession, AppError> {
        if let Some(attempt) = self.peek_attempt(state).await? {
            check_proof(&attempt, &proof)?;
            check_linking_user(&attempt, viewer)?;
        }
        let attempt = self.consume_attempt(provider, state).await?;
        let identity = self.identify(&attempt, code, proof.code_verifier).await?;
        self.sign_in(&attempt.provider, identity, attempt.link_user_id)
            .await
    }

    /// Uses up the attempt a browser came back with, after checking that this browser started
    /// it and, for a link, that it is signed in as the user who asked for the link.
    pub async fn browser_attempt(
        &self,
        provider: &str,
        state: &str,
        login_cookie: Option<&str>,
        viewer: Option<Uuid>,
    ) -> Result<LoginAttempt, AppError> {
        if let Some(attempt) = self.peek_attempt(state).await? {
            if !started_in_this_browser(&attempt, login_cookie) {
                return Err(AppError::Forbidden(
                    "this sign-in was started in another browser; nothing was changed. Start it again from the app".into(),
                ));
            }
            check_linking_user(&attempt, viewer)?;
        }
        self.consume_attempt(provider, state).await
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

    /// Exchanges the code and verifies who signed in at the provider. The PKCE verifier is the
    /// server's, or the app's when it started the login with its own challenge.
    pub async fn identify(
        &self,
        attempt: &LoginAttempt,
        code: &str,
        client_verifier: Option<&str>,
    ) -> Result<VerifiedIdentity, AppError> {
        let provider = self.provider(&attempt.provider)?;
        let pkce_verifier = match (&attempt.pkce_verifier, client_verifier) {
            (Some(verifier), _) => verifier.as_str(),
            (None, Some(verifier)) => verifier,
            (None, None) => {
                return Err(AppError::Forbidden(
                    "this login was started with a codeChallenge; send its codeVerifier".into(),
                ));
            }
        };
        provider
            .complete(CodeExchange {
                code,
                pkce_verifier,
                nonce: &attempt.nonce,
            })
            .await
            .map_err(|e| identity_error(&attempt.provider, e))
    }

    /// Finds or creates the user of a verified identity (adding it to `link_user` when
    /// linking), brings the admin right in line with `ADMIN_IDENTITIES`, and starts a session.
    pub async fn sign_in(
        &self,
        provider: &str,
        identity: VerifiedIdentity,
        link_user: Option<Uuid>,
    ) -> Result<IssuedSession, AppError> {
        let provider = self.provider(provider)?;
        let user = self.resolve_user(provider, identity, link_user).await?;
        let user = self.reconcile_admin(user).await?;
        tracing::info!(user_id = %user.id, provider = provider.name(), "signed in");
        self.start_session(user, provider.name()).await
    }

    /// Grants or revokes `user`'s admin right so it matches `ADMIN_IDENTITIES`: a user is an
    /// admin exactly when one of its identities is listed.
    pub(super) async fn reconcile_admin(&self, user: User) -> Result<User, AppError> {
        let identities = self.store.identities_of(&[user.id]).await?;
        let listed = identities.iter().any(|identity| {
            self.admin_identities
                .iter()
                .any(|(p, s)| *p == identity.provider && *s == identity.subject)
        });
        if listed == user.is_admin {
            return Ok(user);
        }
        let user = self.store.set_admin(user.id, listed, Utc::now()).await?;
        // Remembered sessions of this user carry the old right.
        self.session_cache.clear();
        tracing::info!(user_id = %user.id, admin = listed, "admin right reconciled with ADMIN_IDENTITIES");
        Ok(user)
    }

    /// The user an identity belongs to, linking or creating as the rules allow.
    pub(super) async fn resolve_user(
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
            // Generic on purpose: naming the address would tell anyone which emails have accounts.
            return Err(AppError::Conflict(format!(
                "this {name} account cannot sign in here yet: if you already have an account, sign in the way you did before and link {name} from it"
            )));
        }
        let profile = NewUser {
            email: identity.email,
            name: identity.name,
        };
        match self
            .store
            .create_user(profile, new_identity, Utc::now())
            .await
        {
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
        match self.store.add_identity(user_id, identity, Utc::now()).await {
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
            AppError::unauthenticated(
                crate::error::AuthReason::TokenInvalid,
                format!("{provider}'s answer failed verification; start the login again"),
            )
        }
    }
}

/// A link finishes only for the signed-in user who started it.
fn check_linking_user(attempt: &LoginAttempt, viewer: Option<Uuid>) -> Result<(), AppError> {
    match attempt.link_user_id {
        Some(linking) if viewer != Some(linking) => Err(AppError::Forbidden(
            "this account link was started by another user or session; sign in as the user who started it and start the link again".into(),
        )),
        _ => Ok(()),
    }
}
