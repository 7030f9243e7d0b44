//! JSON over HTTP through the resilience layer, shared by the identity providers.

use reqwest::Client;
use serde::de::DeserializeOwned;
use url::Url;

use crate::providers::resilience::http::{classify_response, classify_transport_error};
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};

/// Largest body we quote from an error response.
const SNIPPET: usize = 512;

/// GETs `url` (optionally with a bearer token) and decodes its JSON body.
pub async fn get_json<T: DeserializeOwned>(
    client: &Client,
    provider: &ResilientProvider,
    operation: &'static str,
    url: &Url,
    bearer: Option<&str>,
) -> Result<T, ProviderError> {
    provider
        .call(Operation::read(operation), |attempt| async move {
            let mut request = client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .timeout(attempt.timeout());
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(transport_error)?;
            decode(response).await
        })
        .await
}

/// Classifies a reqwest failure that produced no response.
pub fn transport_error(err: reqwest::Error) -> ProviderError {
    classify_transport_error(err.is_timeout(), err.is_connect(), err.to_string())
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ProviderError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(transport_error)?;
    let text = String::from_utf8_lossy(&body);
    let snippet: String = text.chars().take(SNIPPET).collect();
    if let Some(err) = classify_response(status, &headers, &snippet) {
        return Err(err);
    }
    serde_json::from_slice(&body).map_err(|e| ProviderError::Permanent {
        status: Some(status.as_u16()),
        code: None,
        message: format!("unexpected response body: {e}"),
    })
}
