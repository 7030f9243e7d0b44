//! Generic OpenID Connect: discovery, authorization code + PKCE, ID token verification through
//! the provider's JWKS, and the userinfo endpoint for profile claims.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use url::Url;

use super::ProviderConfig;
use super::http::get_json;
use super::oauth::{self, Tokens};
use super::{
    AuthorizationRequest, CodeExchange, IdentityError, IdentityProvider, VerifiedIdentity,
};
use crate::providers::cache::Cached;
use crate::providers::resilience::{ProviderError, ResilientProvider};

/// How long discovery and JWKS documents are trusted before they are fetched again.
const DOCUMENT_TTL: Duration = Duration::from_secs(3600);
/// An unknown key id refreshes the JWKS at most this often, so forged tokens cannot make us
/// hammer the provider.
const JWKS_REFRESH_FLOOR: Duration = Duration::from_secs(10);
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;
/// Only asymmetric signatures: a client secret must never verify an ID token, and `none` never.
const ALLOWED_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The parts of the discovery document we use.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    userinfo_endpoint: Option<Url>,
}

/// Claims we read from an ID token.
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
    azp: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    aud: Vec<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    name: Option<String>,
}

/// Claims we read from the userinfo endpoint.
#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    email_verified: Option<bool>,
    name: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// An OpenID Connect provider found through its issuer.
pub struct OidcProvider {
    config: ProviderConfig,
    issuer: Url,
    redirect_uri: Url,
    http: reqwest::Client,
    resilience: ResilientProvider,
    discovery: Cached<Discovery>,
    jwks: Cached<JwkSet>,
}

impl OidcProvider {
    /// A provider for `issuer` whose callback is `redirect_uri`.
    pub fn new(
        config: ProviderConfig,
        issuer: Url,
        redirect_uri: Url,
        http: reqwest::Client,
        resilience: ResilientProvider,
    ) -> Self {
        Self {
            config,
            issuer,
            redirect_uri,
            http,
            resilience,
            discovery: Cached::new(DOCUMENT_TTL),
            jwks: Cached::new(DOCUMENT_TTL),
        }
    }

    fn oauth_client(&self, discovery: &Discovery) -> oauth::OAuthClient {
        oauth::client(
            &self.config,
            &discovery.authorization_endpoint,
            &discovery.token_endpoint,
            &self.redirect_uri,
        )
    }

    async fn discovery(&self) -> Result<std::sync::Arc<Discovery>, ProviderError> {
        self.discovery
            .get_or_fetch(|| async {
                let mut url = self.issuer.clone();
                let path = format!(
                    "{}/.well-known/openid-configuration",
                    url.path().trim_end_matches('/')
                );
                url.set_path(&path);
                let document: Discovery =
                    get_json(&self.http, &self.resilience, "oidc.discovery", &url, None).await?;
                if document.issuer.trim_end_matches('/')
                    != self.issuer.as_str().trim_end_matches('/')
                {
                    return Err(ProviderError::Permanent {
                        status: None,
                        code: Some("issuer_mismatch".into()),
                        message: format!(
                            "discovery names issuer {:?}, configured {}",
                            document.issuer, self.issuer
                        ),
                    });
                }
                Ok(document)
            })
            .await
    }

    /// The key for `kid`, refreshing the key set once if the id is new (keys rotate).
    async fn decoding_key(
        &self,
        discovery: &Discovery,
        kid: &str,
    ) -> Result<DecodingKey, IdentityError> {
        let fetch = || {
            get_json::<JwkSet>(
                &self.http,
                &self.resilience,
                "oidc.jwks",
                &discovery.jwks_uri,
                None,
            )
        };
        let mut keys = self.jwks.get_or_fetch(fetch).await?;
        if keys.find(kid).is_none() && self.jwks.fresh(JWKS_REFRESH_FLOOR).is_none() {
            keys = self.jwks.refresh(fetch).await?;
        }
        let jwk = keys.find(kid).ok_or_else(|| {
            IdentityError::InvalidToken(format!("no key {kid:?} in the provider's key set"))
        })?;
        DecodingKey::from_jwk(jwk)
            .map_err(|e| IdentityError::InvalidToken(format!("unusable key {kid:?}: {e}")))
    }

    async fn verify_id_token(
        &self,
        discovery: &Discovery,
        token: &str,
        nonce: &str,
    ) -> Result<IdClaims, IdentityError> {
        let invalid = |why: String| IdentityError::InvalidToken(why);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(format!("unreadable header: {e}")))?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the token names no key id".into()))?;
        let key = self.decoding_key(discovery, &kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[discovery.issuer.as_str()]);
        validation.set_audience(&[self.config.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
            .map_err(|e| invalid(format!("{e}")))?
            .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(invalid("nonce does not match this login".into()));
        }
        let audiences: HashSet<&str> = claims.aud.iter().map(String::as_str).collect();
        let azp_required = audiences.len() > 1;
        match claims.azp.as_deref() {
            Some(azp) if azp != self.config.client_id => {
                return Err(invalid("azp names another client".into()));
            }
            None if azp_required => return Err(invalid("several audiences but no azp".into())),
            _ => {}
        }
        Ok(claims)
    }

    async fn user_info(
        &self,
        discovery: &Discovery,
        tokens: &Tokens,
        subject: &str,
    ) -> Result<Option<UserInfo>, IdentityError> {
        let Some(endpoint) = &discovery.userinfo_endpoint else {
            return Ok(None);
        };
        let info: UserInfo = get_json(
            &self.http,
            &self.resilience,
            "oidc.userinfo",
            endpoint,
            Some(&tokens.access_token),
        )
        .await?;
        if info.sub != subject {
            return Err(IdentityError::InvalidToken(
                "userinfo describes another subject".into(),
            ));
        }
        Ok(Some(info))
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn display_name(&self) -> &str {
        &self.config.display_name
    }

    fn kind(&self) -> crate::domain::LoginKind {
        crate::domain::LoginKind::Oidc
    }

    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Url, IdentityError> {
        let discovery = self.discovery().await?;
        let client = self.oauth_client(&discovery);
        Ok(oauth::authorization_url(
            &client,
            &self.config.scopes,
            &request,
            true,
        ))
    }

    async fn complete(
        &self,
        exchange: CodeExchange<'_>,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let discovery = self.discovery().await?;
        let client = self.oauth_client(&discovery);
        let tokens = oauth::exchange(
            &client,
            &self.http,
            &self.resilience,
            exchange.code,
            exchange.pkce_verifier,
        )
        .await?;
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            IdentityError::InvalidToken("the token response has no id_token".into())
        })?;
        let claims = self
            .verify_id_token(&discovery, id_token, exchange.nonce)
            .await?;
        let info = self.user_info(&discovery, &tokens, &claims.sub).await?;
        let (email, email_verified, name) = match info {
            // An address and its verification come from one source: a verification in the ID
            // token says nothing about the (possibly newer) address userinfo reports.
            Some(UserInfo {
                email: Some(email),
                email_verified,
                name,
                ..
            }) => (Some(email), email_verified, name.or(claims.name)),
            Some(UserInfo { name, .. }) => {
                (claims.email, claims.email_verified, name.or(claims.name))
            }
            None => (claims.email, claims.email_verified, claims.name),
        };
        Ok(VerifiedIdentity {
            subject: claims.sub,
            email,
            email_verified: email_verified.unwrap_or(false),
            name,
        })
    }

    fn trusts_email(&self) -> bool {
        self.config.trust_email
    }

    fn resilience(&self) -> Option<&ResilientProvider> {
        Some(&self.resilience)
    }
}
