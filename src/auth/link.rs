//! Linking another provider's account in the browser: after the provider step the user sees
//! which account is about to be added and confirms it. The pending link travels in the
//! confirmation form as a short-lived statement signed with the session key, bound to the
//! browser's login cookie and to the signed-in user.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthService;
use super::tokens::token_hash;
use crate::error::AppError;
use crate::providers::identity::VerifiedIdentity;
use crate::store::{LoginAttempt, User};

/// Audience of pending-link statements (never accepted as access tokens).
const AUDIENCE: &str = "switchboard-link";

/// An account verified by its provider, waiting for the user to confirm the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLink {
    /// The user the account is added to.
    pub sub: Uuid,
    /// The provider's configured name.
    pub provider: String,
    /// The provider's subject.
    pub subject: String,
    /// Email the provider asserted.
    pub email: Option<String>,
    /// Whether the provider verified it.
    pub email_verified: bool,
    /// Display name the provider asserted.
    pub name: Option<String>,
    /// Where the browser goes afterwards.
    pub redirect_to: Option<String>,
    /// SHA-256 of the login cookie of the browser that started the link.
    pub browser: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
}

impl PendingLink {
    /// What the confirmation page names: the provider's account.
    pub fn account_label(&self) -> String {
        match (&self.email, &self.name) {
            (Some(email), _) => email.clone(),
            (None, Some(name)) => name.clone(),
            (None, None) => self.subject.clone(),
        }
    }
}

impl AuthService {
    /// A signed pending link for a verified identity, for the confirmation form.
    pub fn pending_link(
        &self,
        attempt: &LoginAttempt,
        user_id: Uuid,
        identity: VerifiedIdentity,
    ) -> Result<(PendingLink, String), AppError> {
        let browser = attempt
            .browser_hash
            .clone()
            .ok_or_else(|| AppError::Forbidden("this link was not started in a browser".into()))?;
        let pending = PendingLink {
            sub: user_id,
            provider: attempt.provider.clone(),
            subject: identity.subject,
            email: identity.email,
            email_verified: identity.email_verified,
            name: identity.name,
            redirect_to: attempt.redirect_to.clone(),
            browser,
            exp: (Utc::now() + self.login_ttl).timestamp(),
        };
        let token = self.signer.sign_statement(AUDIENCE, &pending);
        Ok((pending, token))
    }

    /// Reads a confirmation form's pending link; refused unless this browser started it and
    /// is signed in as its user.
    pub fn confirmed_link(
        &self,
        token: &str,
        login_cookie: Option<&str>,
        viewer: Option<Uuid>,
    ) -> Result<PendingLink, AppError> {
        let pending: PendingLink = self.signer.verify_statement(AUDIENCE, token).map_err(|_| {
            AppError::Forbidden(
                "this confirmation is not valid or has expired; start linking again".into(),
            )
        })?;
        let same_browser = login_cookie.is_some_and(|c| token_hash(c) == pending.browser);
        if !same_browser || viewer != Some(pending.sub) {
            return Err(AppError::Forbidden(
                "this account link belongs to another browser or user; nothing was linked".into(),
            ));
        }
        Ok(pending)
    }

    /// Adds the confirmed account to its user.
    pub async fn link_confirmed(&self, pending: PendingLink) -> Result<User, AppError> {
        let user_id = pending.sub;
        let identity = VerifiedIdentity {
            subject: pending.subject,
            email: pending.email,
            email_verified: pending.email_verified,
            name: pending.name,
        };
        let provider = self.provider(&pending.provider)?;
        let user = self.resolve_user(provider, identity, Some(user_id)).await?;
        let user = self.reconcile_admin(user).await?;
        tracing::info!(user_id = %user.id, provider = %pending.provider, "account linked");
        Ok(user)
    }
}
