//! Reconciliation: asks the payment provider for the events of a recent window and puts any the
//! inbox lacks into it, so an event the provider never delivered is still applied.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::providers::payments::PaymentProvider;
use crate::providers::resilience::ProviderError;
use crate::store::{NewInboxEvent, Store, StoreError};

/// Why a reconciliation run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The provider could not list its events.
    #[error("listing events failed: {0}")]
    Provider(#[from] ProviderError),
    /// The inbox could not be written.
    #[error("the inbox is unavailable: {0}")]
    Store(#[from] StoreError),
}

/// Feeds missed provider events into the inbox.
pub struct Reconciler {
    store: Store,
    provider: Arc<dyn PaymentProvider>,
    lookback: Duration,
    wake: Arc<Notify>,
}

impl Reconciler {
    /// A reconciler looking `lookback` into the past on every run.
    pub fn new(
        store: Store,
        provider: Arc<dyn PaymentProvider>,
        lookback: Duration,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            provider,
            lookback,
            wake,
        }
    }

    /// One run: returns how many events were new to the inbox.
    pub async fn run_once(&self) -> Result<usize, ReconcileError> {
        let since = Utc::now().timestamp() - self.lookback.as_secs() as i64;
        let mut added = 0;
        let decoder = self.provider.events();
        for body in self.provider.events_since(since).await? {
            let Ok(header) = decoder.header(body.as_bytes()) else {
                continue;
            };
            let event = NewInboxEvent {
                event_id: header.id,
                event_type: header.kind,
                payload: body,
                // Fetched over the provider's authenticated API: as trustworthy as a signed delivery.
                source: self.provider.name().to_owned(),
            };
            if self.store.insert_inbox_event(&event, Utc::now()).await? {
                added += 1;
            }
        }
        if added > 0 {
            tracing::warn!(
                added,
                "reconciliation found events that were never delivered"
            );
            metrics::counter!("webhook_reconciled_total").increment(added as u64);
            self.wake.notify_one();
        }
        Ok(added)
    }

    /// Runs every `interval` until `stop` is cancelled.
    pub async fn run(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Err(err) = self.run_once().await {
                tracing::warn!(error = %err, "reconciliation failed; will try again");
            }
        }
    }
}
