//! GitHub: OAuth 2.0 (no OpenID Connect). Who signed in comes from its REST API: `/user` for
//! the account, `/user/emails` for the primary verified address.

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::ProviderConfig;
use super::http::get_json;
use super::oauth;
use super::{
    AuthorizationRequest, CodeExchange, IdentityError, IdentityProvider, VerifiedIdentity,
};
use crate::providers::resilience::ResilientProvider;

#[derive(Debug, Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub (or GitHub Enterprise) through its OAuth app flow.
pub struct GithubProvider {
    config: ProviderConfig,
    auth_url: Url,
    token_url: Url,
    api_url: Url,
    redirect_uri: Url,
    http: reqwest::Client,
    resilience: ResilientProvider,
}

/// GitHub's endpoints.
pub struct GithubEndpoints {
    /// Authorization endpoint.
    pub auth_url: Url,
    /// Token endpoint.
    pub token_url: Url,
    /// REST API base.
    pub api_url: Url,
}

impl GithubProvider {
    /// A provider whose callback is `redirect_uri`.
    pub fn new(
        config: ProviderConfig,
        endpoints: GithubEndpoints,
        redirect_uri: Url,
        http: reqwest::Client,
        resilience: ResilientProvider,
    ) -> Self {
        Self {
            config,
            auth_url: endpoints.auth_url,
            token_url: endpoints.token_url,
            api_url: endpoints.api_url,
            redirect_uri,
            http,
            resilience,
        }
    }

    fn api(&self, path: &str) -> Url {
        let mut url = self.api_url.clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }
}

#[async_trait]
impl IdentityProvider for GithubProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn display_name(&self) -> &str {
        &self.config.display_name
    }

    fn kind(&self) -> crate::domain::LoginKind {
        crate::domain::LoginKind::Github
    }

    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Url, IdentityError> {
        let client = oauth::client(
            &self.config,
            &self.auth_url,
            &self.token_url,
            &self.redirect_uri,
        );
        Ok(oauth::authorization_url(
            &client,
            &self.config.scopes,
            &request,
            false,
        ))
    }

    async fn complete(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let client = oauth::client(
            &self.config,
            &self.auth_url,
            &self.token_url,
            &self.redirect_uri,
        );
        let tokens = oauth::exchange(
            &client,
            &self.http,
            &self.resilience,
            exchange.code,
            exchange.pkce_verifier,
        )
        .await?;
        let token = Some(tokens.access_token.as_str());
        let user: GithubUser = get_json(
            &self.http,
            &self.resilience,
            "github.user",
            &self.api("user"),
            token,
        )
        .await?;
        let emails: Vec<GithubEmail> = get_json(
            &self.http,
            &self.resilience,
            "github.emails",
            &self.api("user/emails"),
            token,
        )
        .await?;
        let primary = emails.into_iter().find(|e| e.primary && e.verified);
        Ok(VerifiedIdentity {
            subject: user.id.to_string(),
            email_verified: primary.is_some(),
            email: primary.map(|e| e.email),
            name: user.name.or(Some(user.login)),
        })
    }

    fn trusts_email(&self) -> bool {
        self.config.trust_email
    }

    fn resilience(&self) -> Option<&ResilientProvider> {
        Some(&self.resilience)
    }
}
