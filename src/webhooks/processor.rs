//! The inbox processor: applies stored events in arrival order, retries failures with
//! exponential backoff, and sets aside ("dead") events that keep failing. Work is claimed with a
//! lease, so events claimed by a processor that crashed are picked up again when it expires,
//! and several instances on PostgreSQL share the work without applying an event twice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Envelope;
use crate::store::{InboxEvent, InboxStatus, Store, StoreError};

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Our data changed.
    Changed,
    /// Understood, but nothing changed (a duplicate or an older state).
    Unchanged,
    /// An event type we do not act on.
    Ignored,
}

/// Why an event could not be applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    /// Might work later (the payment is not recorded yet, the database is busy).
    #[error("{0}")]
    Retry(String),
    /// Will never work as is (an event that contradicts our data); set aside at once.
    #[error("{0}")]
    Fatal(String),
}

impl From<StoreError> for ApplyError {
    fn from(err: StoreError) -> Self {
        ApplyError::Retry(err.to_string())
    }
}

/// Applies one kind of provider event to our data.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Applies `event`, received from `source`. Must be idempotent: an event can be applied
    /// again after a crash between applying and recording that it was.
    async fn apply(&self, event: &Envelope, source: &str) -> Result<Applied, ApplyError>;
}

/// A handler that acts on nothing (used when no payment provider handles events).
pub struct IgnoreAll;

#[async_trait]
impl EventHandler for IgnoreAll {
    async fn apply(&self, _event: &Envelope, _source: &str) -> Result<Applied, ApplyError> {
        Ok(Applied::Ignored)
    }
}

/// Tuning of the processor.
#[derive(Debug, Clone)]
pub struct ProcessorSettings {
    /// How often the inbox is swept even without a nudge.
    pub sweep_interval: Duration,
    /// How long a claim lasts before another processor may take the event.
    pub lease: Duration,
    /// Events claimed at once.
    pub batch: i64,
    /// Failed attempts before an event is set aside as dead.
    pub max_attempts: i32,
    /// First retry delay; doubles per attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            batch: 50,
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
        }
    }
}

/// Applies inbox events.
pub struct Processor {
    store: Store,
    handler: Arc<dyn EventHandler>,
    wake: Arc<Notify>,
    settings: ProcessorSettings,
}

impl Processor {
    /// A processor applying events with `handler`; `wake` nudges it when an event arrives.
    pub fn new(
        store: Store,
        handler: Arc<dyn EventHandler>,
        wake: Arc<Notify>,
        settings: ProcessorSettings,
    ) -> Self {
        Self {
            store,
            handler,
            wake,
            settings,
        }
    }

    /// Works until `stop` is cancelled: drains due events, then waits for a nudge or the sweep.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, "webhook inbox unavailable; will retry");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.sweep_interval) => {}
            }
        }
    }

    /// Applies every event that is due now; returns how many were handled.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut handled = 0;
        loop {
            let batch = self
                .store
                .claim_due_events(Utc::now(), self.settings.lease, self.settings.batch)
                .await?;
            if batch.is_empty() {
                return Ok(handled);
            }
            for event in &batch {
                self.process(event).await?;
                handled += 1;
            }
        }
    }

    async fn process(&self, event: &InboxEvent) -> Result<(), StoreError> {
        let now = Utc::now();
        let outcome = match Envelope::parse(event.payload.as_bytes()) {
            Some(envelope) => self.handler.apply(&envelope, &event.source).await,
            None => Err(ApplyError::Fatal("stored payload is not an event".into())),
        };
        let label = match &outcome {
            Ok(Applied::Changed) => "changed",
            Ok(Applied::Unchanged) => "unchanged",
            Ok(Applied::Ignored) => "ignored",
            Err(ApplyError::Retry(_)) => "retry",
            Err(ApplyError::Fatal(_)) => "dead",
        };
        metrics::counter!("webhook_events_total", "type" => event.event_type.clone(), "outcome" => label).increment(1);
        match outcome {
            Ok(Applied::Ignored) => {
                self.store
                    .finish_inbox_event(event.seq, InboxStatus::Ignored, None, now)
                    .await
            }
            Ok(_) => {
                self.store
                    .finish_inbox_event(event.seq, InboxStatus::Applied, None, now)
                    .await
            }
            Err(ApplyError::Retry(error)) if event.attempts + 1 < self.settings.max_attempts => {
                let delay = self.backoff(event.attempts);
                tracing::warn!(event_id = %event.event_id, attempt = event.attempts + 1, error, "webhook event failed; will retry");
                let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                self.store.retry_inbox_event(event.seq, &error, next).await
            }
            Err(ApplyError::Retry(error) | ApplyError::Fatal(error)) => {
                tracing::error!(event_id = %event.event_id, error, "webhook event set aside as dead; replay it once fixed");
                self.store
                    .finish_inbox_event(event.seq, InboxStatus::Dead, Some(&error), now)
                    .await
            }
        }
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 20) as u32);
        self.settings
            .backoff_base
            .saturating_mul(factor)
            .min(self.settings.backoff_max)
    }
}
