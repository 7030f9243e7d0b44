//! Provider webhooks: verify, store durably in the inbox (deduplicated by event id), then apply
//! in the background. See docs/webhooks.md.

mod processor;
mod reconcile;
pub mod signature;

use std::sync::Arc;

use chrono::Utc;
use secrecy::SecretString;
use tokio::sync::Notify;

use crate::providers::payments::{DecodeError, EventDecoders};
use crate::store::{NewInboxEvent, Store, StoreError};

pub use processor::{Applied, ApplyError, EventHandler, Outcome, Processor, ProcessorSettings};
pub use reconcile::{ReconcileError, Reconciler};
pub use signature::SignatureError;

/// Why an incoming webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The signature did not check out (400; the sender must not retry as is).
    #[error("signature refused: {0}")]
    Signature(#[from] SignatureError),
    /// No provider sends events under this source (404).
    #[error("unknown event source {0:?}")]
    UnknownSource(String),
    /// The body is not an event of its source (400).
    #[error("the body is not an event")]
    Malformed(#[source] DecodeError),
    /// The event could not be stored (503, so the provider retries later).
    #[error("the event could not be stored")]
    Unavailable(#[source] StoreError),
}

/// What happened to an accepted webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The event id.
    pub event_id: String,
    /// True when the event had been received before and was ignored this time.
    pub duplicate: bool,
}

/// Receives provider webhooks into the inbox.
pub struct WebhookService {
    store: Store,
    secrets: Vec<SecretString>,
    tolerance_seconds: i64,
    wake: Arc<Notify>,
    decoders: EventDecoders,
}

impl WebhookService {
    /// A service accepting events of the sources `decoders` read, signed by any of `secrets`;
    /// `wake` nudges the processor.
    pub fn new(
        store: Store,
        secrets: Vec<SecretString>,
        tolerance_seconds: i64,
        wake: Arc<Notify>,
        decoders: EventDecoders,
    ) -> Self {
        Self {
            store,
            secrets,
            tolerance_seconds,
            wake,
            decoders,
        }
    }

    /// Verifies and stores one event from `source` (the provider's name). Returns only once the
    /// event is durable, so a 2xx means it cannot be lost.
    pub async fn receive(
        &self,
        source: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Receipt, WebhookError> {
        let decoder = self
            .decoders
            .of(source)
            .map_err(|_| WebhookError::UnknownSource(source.to_owned()))?;
        let verified = signature::verify(
            signature,
            body,
            &self.secrets,
            self.tolerance_seconds,
            Utc::now().timestamp(),
        );
        if let Err(err) = verified {
            metrics::counter!("webhook_rejected_total", "source" => source.to_owned(), "reason" => err.reason())
                .increment(1);
            return Err(err.into());
        }
        let header = decoder.header(body).map_err(|err| {
            metrics::counter!("webhook_rejected_total", "source" => source.to_owned(), "reason" => "malformed")
                .increment(1);
            WebhookError::Malformed(err)
        })?;
        let event = NewInboxEvent {
            event_id: header.id.clone(),
            event_type: header.kind.clone(),
            // Stored as received: the processor re-reads it, and replays see the original.
            payload: String::from_utf8_lossy(body).into_owned(),
            source: source.to_owned(),
        };
        let inserted = self
            .store
            .insert_inbox_event(&event, Utc::now())
            .await
            .map_err(WebhookError::Unavailable)?;
        let outcome = if inserted { "accepted" } else { "duplicate" };
        metrics::counter!("webhook_received_total", "source" => source.to_owned(), "outcome" => outcome).increment(1);
        if inserted {
            self.wake.notify_one();
        }
        tracing::info!(event_id = %header.id, event_type = %header.kind, source, duplicate = !inserted, "webhook received");
        Ok(Receipt {
            event_id: header.id,
            duplicate: !inserted,
        })
    }

    /// Puts an event back in line for the processor; `false` when it is unknown.
    pub async fn replay(&self, event_id: &str) -> Result<bool, StoreError> {
        let found = self.store.requeue_inbox_event(event_id, Utc::now()).await?;
        if found {
            self.wake.notify_one();
        }
        Ok(found)
    }
}
