//! The OAuth 2.0 authorization code flow with PKCE, through the `oauth2` crate, shared by the
//! OIDC and GitHub providers.

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, HttpClientError, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use url::Url;

use super::ProviderConfig;
use super::http::transport_error;
use super::{AuthorizationRequest, Pkce};
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};

/// The token response's `id_token`, which plain OAuth 2.0 does not define.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IdTokenField {
    /// The OpenID Connect ID token, when the provider issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type TokenBody = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// An OAuth client for one provider's endpoints.
pub type OAuthClient = Client<
    BasicErrorResponse,
    TokenBody,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Tokens from a successful code exchange.
pub struct Tokens {
    /// Access token for the provider's APIs (userinfo, GitHub's API).
    pub access_token: String,
    /// OpenID Connect ID token.
    pub id_token: Option<String>,
}

/// A client for one provider's authorization and token endpoints.
pub fn client(
    config: &ProviderConfig,
    auth_url: &Url,
    token_url: &Url,
    redirect_uri: &Url,
) -> OAuthClient {
    Client::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            config.client_secret.expose_secret().to_owned(),
        ))
        .set_auth_uri(AuthUrl::from_url(auth_url.clone()))
        .set_token_uri(TokenUrl::from_url(token_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()))
}

/// The URL to send the browser to: scopes, state, PKCE challenge and (for OIDC) the nonce.
pub fn authorization_url(
    client: &OAuthClient,
    scopes: &[String],
    request: &AuthorizationRequest<'_>,
    with_nonce: bool,
) -> Url {
    let state = request.state.to_owned();
    let mut builder = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(scopes.iter().cloned().map(Scope::new));
    builder = match request.pkce {
        Pkce::Verifier(verifier) => {
            builder.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(
                &PkceCodeVerifier::new(verifier.to_owned()),
            ))
        }
        // The app holds the verifier; its challenge goes to the provider as it came.
        Pkce::Challenge(challenge) => builder
            .add_extra_param("code_challenge", challenge)
            .add_extra_param("code_challenge_method", "S256"),
    };
    if with_nonce {
        builder = builder.add_extra_param("nonce", request.nonce);
    }
    builder.url().0
}

/// Exchanges an authorization code. Never retried: a code is single-use, so a second attempt
/// after a lost answer would fail anyway.
pub async fn exchange(
    client: &OAuthClient,
    http: &reqwest::Client,
    provider: &ResilientProvider,
    code: &str,
    pkce_verifier: &str,
) -> Result<Tokens, ProviderError> {
    provider
        .call(
            Operation::unsafe_write("oauth.token"),
            |_attempt| async move {
                let response = client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
                    .request_async(http)
                    .await
                    .map_err(token_error)?;
                Ok(Tokens {
                    access_token: response.access_token().secret().clone(),
                    id_token: response.extra_fields().id_token.clone(),
                })
            },
        )
        .await
}

fn token_error(
    err: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> ProviderError {
    match err {
        RequestTokenError::ServerResponse(body) => ProviderError::Permanent {
            status: None,
            code: Some(body.error().as_ref().to_owned()),
            message: body
                .error_description()
                .cloned()
                .unwrap_or_else(|| "the token request was refused".into()),
        },
        RequestTokenError::Request(HttpClientError::Reqwest(err)) => transport_error(*err),
        // A body that is not an OAuth response (an HTML error page from a proxy, say) means the
        // provider is not working properly right now.
        other => ProviderError::Transient {
            message: format!("token endpoint: {other}"),
        },
    }
}
