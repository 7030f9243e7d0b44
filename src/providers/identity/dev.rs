//! The development login: signs in any named local user, with no external provider and no
//! password. Offered only outside production (the config refuses it there).
//!
//! The authorization URL is a small form served by this server (`/auth/dev`); the "code" it
//! returns is the chosen login name.

use async_trait::async_trait;
use url::Url;

use super::{
    AuthorizationRequest, CodeExchange, IdentityError, IdentityProvider, VerifiedIdentity,
};
use crate::providers::resilience::ResilientProvider;

/// The name of the built-in development provider.
pub const DEV_PROVIDER: &str = "dev";

/// The keyless development provider.
pub struct DevProvider {
    form_url: Url,
}

impl DevProvider {
    /// A dev provider whose login form is served at `PUBLIC_URL/auth/dev`.
    pub fn new(public_url: &Url) -> Self {
        let mut form_url = public_url.clone();
        form_url.set_path("/auth/dev");
        Self { form_url }
    }
}

/// A dev login name: 1 to 64 lower-case letters, digits, '.', '_' or '-'.
pub fn is_valid_login(login: &str) -> bool {
    (1..=64).contains(&login.len())
        && login.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

#[async_trait]
impl IdentityProvider for DevProvider {
    fn name(&self) -> &str {
        DEV_PROVIDER
    }

    fn display_name(&self) -> &str {
        "Development login"
    }

    fn kind(&self) -> crate::domain::LoginKind {
        crate::domain::LoginKind::Dev
    }

    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Url, IdentityError> {
        let mut url = self.form_url.clone();
        url.query_pairs_mut().append_pair("state", request.state);
        Ok(url)
    }

    async fn complete(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let login = exchange.code;
        if !is_valid_login(login) {
            return Err(IdentityError::Refused(
                "a dev login name is 1-64 lower-case letters, digits, '.', '_' or '-'".into(),
            ));
        }
        Ok(VerifiedIdentity {
            subject: login.to_owned(),
            email: Some(format!("{login}@dev.localhost")),
            // Never verified: a dev login must not link to real accounts by email.
            email_verified: false,
            name: Some(login.to_owned()),
        })
    }

    fn trusts_email(&self) -> bool {
        false
    }

    fn resilience(&self) -> Option<&ResilientProvider> {
        None
    }
}
