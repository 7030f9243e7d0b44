//! Sending a request: async-stripe's builders describe it (method, path, query, form); we send
//! it ourselves over the server's HTTP client, so the answer's headers reach us: async-stripe's
//! own client drops them, and with them `Retry-After` and `Stripe-Should-Retry` (decision record
//! 0022). Our resilience layer does the retrying with the same `Idempotency-Key` on every
//! attempt; the answer is read once, with serde, into this adapter's wire structs.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use stripe::{IdempotencyKey, StripeRequest};
use stripe_client_core::{RequestBuilder, StripeMethod, VERSION};

use crate::providers::resilience::http::{
    classify_response_at, classify_transport_error, retry_after, stripe_should_retry,
};
use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};

/// Stripe's API when no other base is configured.
const DEFAULT_API_BASE: &str = "https://api.stripe.com/";

/// The longest wait a `Retry-After` from Stripe may ask for: longer asks are read as this, so a
/// confused header can neither park a request nor tell clients to come back tomorrow.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How requests reach Stripe: where, as whom, and in which API version.
pub(super) struct Transport {
    http: reqwest::Client,
    base: String,
    secret: SecretString,
    version: String,
}

impl Transport {
    /// Requests to `api_base` (Stripe's API when `None`) with `secret` as the bearer key.
    pub(super) fn new(
        http: reqwest::Client,
        secret: &SecretString,
        api_base: Option<&str>,
    ) -> anyhow::Result<Self> {
        let base = api_base.unwrap_or(DEFAULT_API_BASE);
        let base = url::Url::parse(base)
            .map_err(|e| anyhow::anyhow!("the Stripe API base {base:?} is not a URL: {e}"))?;
        let mut base = base.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        // The API version async-stripe's builders are written for.
        let version = VERSION.as_str().to_owned();
        Ok(Self {
            http,
            base,
            secret: secret.clone(),
            version,
        })
    }

    /// One attempt: sends `request` (in API `version`, this transport's when `None`), answers
    /// its body on a 2xx, or the failure classified once.
    async fn attempt(
        &self,
        request: RequestBuilder,
        key: Option<&IdempotencyKey>,
        version: Option<&str>,
        timeout: Duration,
    ) -> Result<Bytes, ProviderError> {
        let mut url = format!("{}v1{}", self.base, request.path);
        if let Some(query) = &request.query {
            url.push('?');
            url.push_str(query);
        }
        let method = match request.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, url)
            .bearer_auth(self.secret.expose_secret())
            .header("stripe-version", version.unwrap_or(&self.version))
            .timeout(timeout);
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key.as_str());
        }
        if let Some(body) = request.body {
            builder = builder
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body);
        }
        let response = builder.send().await.map_err(transport)?;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.map_err(transport)?;
        match classify(status, &headers, &body, SystemTime::now()) {
            Some(error) => Err(error),
            None => Ok(body),
        }
    }
}

/// Sends `request` through the policy stack and reads its answer as `T`; `key` makes it an
/// idempotent write.
pub(super) async fn send<T: DeserializeOwned + Send>(
    transport: &Transport,
    resilience: &ResilientProvider,
    operation: Operation,
    request: &impl StripeRequest,
    key: Option<&str>,
) -> Result<T, ProviderError> {
    send_at_version(transport, resilience, operation, request, key, None).await
}

/// [`send`] in API `version` instead of the transport's: an ephemeral key must be minted for
/// the version of the mobile SDK that will use it.
pub(super) async fn send_at_version<T: DeserializeOwned + Send>(
    transport: &Transport,
    resilience: &ResilientProvider,
    operation: Operation,
    request: &impl StripeRequest,
    key: Option<&str>,
    version: Option<&str>,
) -> Result<T, ProviderError> {
    let key = key
        .map(|key| {
            IdempotencyKey::new(key).map_err(|e| ProviderError::Permanent {
                status: None,
                code: Some("idempotency_key".into()),
                message: e.to_string(),
            })
        })
        .transpose()?;
    resilience
        .call(operation, |attempt| {
            let request = request.build();
            let key = key.as_ref();
            async move {
                let body = transport
                    .attempt(request, key, version, attempt.timeout())
                    .await?;
                serde_json::from_slice(&body).map_err(|e| ProviderError::Permanent {
                    status: None,
                    code: None,
                    message: format!("unreadable Stripe response: {e}"),
                })
            }
        })
        .await
}

fn transport(error: reqwest::Error) -> ProviderError {
    classify_transport_error(error.is_timeout(), error.is_connect(), error.to_string())
}

/// Stripe's error body: `{"error": {"type", "code", "decline_code", "message"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: StripeErrorDetails,
}

#[derive(Debug, Default, Deserialize)]
struct StripeErrorDetails {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
}

/// Classifies Stripe's answer once; `None` for a 2xx.
///
/// A card decline is permanent whatever the status (Stripe says 402, localstripe may not), with
/// the most specific code. Otherwise the shared HTTP rules apply, which honour
/// `Stripe-Should-Retry` (`false`: never retried; `true`: retried even where the status would
/// not be) and read `Retry-After` (capped at [`MAX_RETRY_AFTER`]). Without the header, a 409
/// (a lock or idempotency conflict that clears) is retried, as Stripe's own libraries do.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Option<ProviderError> {
    if status.is_success() {
        return None;
    }
    let details = serde_json::from_slice::<ErrorBody>(body)
        .unwrap_or_default()
        .error;
    let declined = details.decline_code.is_some()
        || details.kind.as_deref() == Some("card_error")
        || details.code.as_deref() == Some("card_declined");
    if declined {
        return Some(ProviderError::Permanent {
            status: Some(402),
            code: details.decline_code.or(details.code),
            message: details
                .message
                .unwrap_or_else(|| "The card was declined".into()),
        });
    }
    let should_retry = stripe_should_retry(headers);
    if status == StatusCode::CONFLICT && should_retry.is_none() {
        return Some(ProviderError::Transient {
            message: format!("HTTP {status}: {}", details.message.unwrap_or_default()),
        });
    }
    let text = String::from_utf8_lossy(body);
    Some(match classify_response_at(status, headers, &text, now)? {
        ProviderError::RateLimited { .. } => ProviderError::RateLimited {
            retry_after: retry_after(headers, now).map(|wait| wait.min(MAX_RETRY_AFTER)),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn classify_with(
        status: u16,
        headers: &[(&'static str, &'static str)],
        body: &str,
    ) -> ProviderError {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        let status = StatusCode::from_u16(status).expect("status");
        classify(status, &map, body.as_bytes(), SystemTime::now()).expect("an error")
    }

    #[test]
    fn a_decline_is_permanent_with_the_most_specific_code() {
        let body = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#;
        assert_eq!(
            classify_with(402, &[], body),
            ProviderError::Permanent {
                status: Some(402),
                code: Some("insufficient_funds".into()),
                message: "Your card has insufficient funds.".into(),
            }
        );
        // localstripe declines with another type and status.
        let body = r#"{"error":{"type":"invalid_request_error","code":"card_declined","message":"declined"}}"#;
        assert!(matches!(
            classify_with(400, &[], body),
            ProviderError::Permanent {
                status: Some(402),
                ..
            }
        ));
    }

    #[test]
    fn retry_after_is_read_and_capped() {
        assert_eq!(
            classify_with(429, &[("retry-after", "2")], "{}"),
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            classify_with(429, &[("retry-after", "86400")], "{}"),
            ProviderError::RateLimited {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
        assert_eq!(
            classify_with(429, &[], "{}"),
            ProviderError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn stripe_should_retry_overrides_the_status() {
        let lock =
            r#"{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"busy"}}"#;
        assert!(
            classify_with(409, &[], lock).is_retryable(),
            "409 retried by default"
        );
        assert!(classify_with(409, &[("stripe-should-retry", "true")], lock).is_retryable());
        let refused = classify_with(409, &[("stripe-should-retry", "false")], lock);
        assert!(!refused.is_retryable(), "{refused:?}");
        let refused = classify_with(500, &[("stripe-should-retry", "false")], "{}");
        assert!(
            !refused.is_retryable() && refused.counts_as_failure(),
            "{refused:?}"
        );
        assert!(classify_with(500, &[], "{}").is_retryable());
        assert!(classify_with(400, &[("stripe-should-retry", "true")], "{}").is_retryable());
        assert!(!classify_with(400, &[], "{}").is_retryable());
    }
}
