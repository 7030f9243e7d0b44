//! Sending a request: async-stripe builds it, authenticates it and sets `Idempotency-Key`; our
//! resilience layer does the retrying (async-stripe's own strategy is always `Once` or
//! `Idempotent`, never its retries, so a request is never sent by both); the answer is read
//! once, into this adapter's wire structs.

use std::sync::Mutex;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use stripe::{Client, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_client_core::{CustomizedStripeRequest, StripeClient};

use crate::providers::resilience::{Operation, ProviderError, ResilientProvider};
use crate::sync::lock;

/// Sends `request` through the policy stack and reads its answer as `T`; `key` makes it an
/// idempotent write.
pub(super) async fn send<T: DeserializeOwned + Send>(
    client: &Client,
    resilience: &ResilientProvider,
    operation: Operation,
    request: &impl StripeRequest,
    key: Option<&str>,
) -> Result<T, ProviderError> {
    let strategy = match key {
        Some(key) => RequestStrategy::Idempotent(IdempotencyKey::new(key).map_err(|e| {
            ProviderError::Permanent {
                status: None,
                code: Some("idempotency_key".into()),
                message: e.to_string(),
            }
        })?),
        None => RequestStrategy::Once,
    };
    resilience
        .call(operation, |attempt| {
            let builder = request.build();
            let strategy = strategy.clone();
            async move {
                let raw = RawBody::new(client);
                builder
                    .customize::<()>()
                    .request_strategy(strategy)
                    .timeout(attempt.timeout())
                    .send(&raw)
                    .await
                    .map_err(classify)?;
                serde_json::from_slice(&raw.into_body()).map_err(|e| ProviderError::Permanent {
                    status: None,
                    code: None,
                    message: format!("unreadable Stripe response: {e}"),
                })
            }
        })
        .await
}

/// An async-stripe client that keeps the answer's body for us, so it is read once, with serde,
/// into our wire structs (async-stripe would read it with miniserde into its own models, which
/// follow one API version).
struct RawBody<'a> {
    client: &'a Client,
    body: Mutex<Option<Bytes>>,
}

impl<'a> RawBody<'a> {
    fn new(client: &'a Client) -> Self {
        Self {
            client,
            body: Mutex::new(None),
        }
    }

    fn into_body(self) -> Bytes {
        self.body
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unwrap_or_default()
    }
}

impl StripeClient for RawBody<'_> {
    type Err = StripeError;

    async fn execute(&self, request: CustomizedStripeRequest) -> Result<Bytes, StripeError> {
        let body = self.client.execute(request).await?;
        *lock(&self.body) = Some(body);
        // What async-stripe reads into the `()` we asked for.
        Ok(Bytes::from_static(b"null"))
    }
}

/// Classifies an async-stripe failure once.
fn classify(err: StripeError) -> ProviderError {
    match err {
        StripeError::Stripe(body, status) => {
            let code = body
                .decline_code
                .clone()
                .or_else(|| body.code.as_ref().map(|c| c.to_string()));
            let message = body
                .message
                .clone()
                .unwrap_or_else(|| "Stripe refused the request".into());
            match status {
                429 => ProviderError::RateLimited { retry_after: None },
                // A declined card is 402; we treat any card decline as one, whatever the status.
                _ if body.decline_code.is_some() || code.as_deref() == Some("card_declined") => {
                    ProviderError::Permanent {
                        status: Some(402),
                        code,
                        message,
                    }
                }
                409 | 500.. => ProviderError::Transient { message },
                _ => ProviderError::Permanent {
                    status: Some(status),
                    code,
                    message,
                },
            }
        }
        StripeError::Timeout => ProviderError::Timeout,
        StripeError::ClientError(message) => ProviderError::Transient { message },
        StripeError::JSONDeserialize(message) | StripeError::ConfigError(message) => {
            ProviderError::Permanent {
                status: None,
                code: None,
                message,
            }
        }
    }
}
