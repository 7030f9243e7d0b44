//! The inbox processor: applies stored events in arrival order, in batches (one transaction
//! each), retries failures with exponential backoff, and sets aside ("dead") events that keep
//! failing. Work is claimed with a short lease that is renewed while the processor works on it,
//! so events claimed by a processor that died are picked up again within seconds, and several
//! instances on PostgreSQL share the work without applying an event twice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::providers::payments::DecodeError;
use crate::store::{InboxEvent, InboxStatus, Store, StoreError};
use crate::telemetry::stages;

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

/// Why an event could not be applied. Outages and races are retried with backoff; an event
/// that can never apply as is goes to the dead letters at once. The message (without its
/// causes) is what the inbox records; the whole chain is logged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    /// The store failed: an outage; retried.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The payment is not recorded yet (its creating request is still running); retried.
    #[error("payment {0} is not recorded yet")]
    NotRecordedYet(String),
    /// Other writers kept changing the payment; retried.
    #[error("the payment kept changing")]
    Contended,
    /// The payload is not an event of its source; never retried.
    #[error("stored payload is not an event")]
    Undecodable(#[source] DecodeError),
    /// Our own data contradicts the event's handling (a stored status this version does not
    /// know); never retried.
    #[error("the payment's stored data is inconsistent")]
    Inconsistent(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl ApplyError {
    /// Whether trying again later may work.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApplyError::Store(_) | ApplyError::NotRecordedYet(_) | ApplyError::Contended
        )
    }

    /// The error and its causes, for the log.
    fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

impl From<StoreError> for ApplyError {
    fn from(err: StoreError) -> Self {
        ApplyError::Store(Arc::new(err))
    }
}

impl From<DecodeError> for ApplyError {
    fn from(err: DecodeError) -> Self {
        ApplyError::Undecodable(err)
    }
}

/// What became of one event of a batch.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Applied, found to change nothing, or ignored; finished in the inbox in the same
    /// transaction as its change.
    Done(Applied),
    /// Not applied; the processor retries it later or sets it aside.
    Failed(ApplyError),
}

/// Applies provider events to our data.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Applies `events` in the order given and finishes each one it applied, left unchanged or
    /// ignored in the inbox, in the same transaction as its change; an event whose data another
    /// writer changed meanwhile is decided again by the handler. Returns one outcome per event,
    /// in order. Must be idempotent: an event whose claim ran out may be handed over again.
    async fn apply_batch(&self, events: &[InboxEvent]) -> Result<Vec<Outcome>, StoreError>;
}

/// Tuning of the processor.
#[derive(Debug, Clone)]
pub struct ProcessorSettings {
    /// How often the inbox is swept even without a nudge.
    pub sweep_interval: Duration,
    /// How long a claim lasts unless renewed; the processor renews it every third of this while
    /// it works, so a processor that died gives its events up after at most this long.
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
            lease: Duration::from_secs(5),
            batch: 100,
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

/// The shortest pause between drains, so claims held by a live peer are not polled in a loop.
const MIN_WAIT: Duration = Duration::from_millis(20);
/// The inbox gauges are read from the store at most this often, however busy the processor.
const REPORT_EVERY: Duration = Duration::from_secs(1);

fn lease_of(lease: Duration) -> chrono::Duration {
    chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

fn outcome_label(applied: Applied) -> &'static str {
    match applied {
        Applied::Changed => "changed",
        Applied::Unchanged => "unchanged",
        Applied::Ignored => "ignored",
    }
}

fn count(event: &InboxEvent, outcome: &'static str) {
    metrics::counter!("webhook_events_total", "type" => event.event_type.clone(), "outcome" => outcome)
        .increment(1);
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

    /// Works until `stop` is cancelled: drains due events, then waits for a nudge, the next
    /// event to fall due (or claim to run out), or the sweep.
    pub async fn run(self, stop: CancellationToken) {
        let mut reported: Option<tokio::time::Instant> = None;
        loop {
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, "webhook inbox unavailable; will retry");
            }
            if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
                self.report_inbox().await;
                reported = Some(tokio::time::Instant::now());
            }
            let wait = self.next_wait().await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sets the inbox gauges: pending and dead events, and how long the oldest pending one has
    /// waited. Every instance reports the same inbox; dashboards take the maximum.
    async fn report_inbox(&self) {
        match self.store.inbox_stats().await {
            Ok(stats) => {
                metrics::gauge!(stages::INBOX_PENDING).set(stats.pending as f64);
                metrics::gauge!(stages::INBOX_DEAD).set(stats.dead as f64);
                let age = stats
                    .oldest_pending_received_at
                    .map_or(0.0, |at| (Utc::now() - at).as_seconds_f64().max(0.0));
                metrics::gauge!(stages::INBOX_OLDEST_PENDING_AGE_SECONDS).set(age);
            }
            Err(err) => tracing::warn!(error = %err, "could not read the webhook inbox's size"),
        }
    }

    /// Until the next pending event falls due or its claim runs out, within the sweep interval.
    async fn next_wait(&self) -> Duration {
        let sweep = self.settings.sweep_interval;
        match self.store.next_inbox_wakeup().await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(MIN_WAIT, sweep.max(MIN_WAIT)),
            Ok(None) | Err(_) => sweep,
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
            self.holding_claims(&batch, self.process(&batch)).await?;
            handled += batch.len();
        }
    }

    /// Runs `work` while renewing the claims on `batch`.
    async fn holding_claims(
        &self,
        batch: &[InboxEvent],
        work: impl Future<Output = Result<(), StoreError>>,
    ) -> Result<(), StoreError> {
        let seqs: Vec<i64> = batch.iter().map(|e| e.seq).collect();
        let every = self.settings.lease / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = renew.tick() => {
                    let until = Utc::now() + lease_of(self.settings.lease);
                    if let Err(err) = self.store.renew_inbox_claims(&seqs, until).await {
                        tracing::warn!(error = %err, "could not renew webhook claims");
                    }
                }
            }
        }
    }

    /// Applies a claimed batch; an error of the whole batch is narrowed down to its events.
    async fn process(&self, batch: &[InboxEvent]) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let applied = self.handler.apply_batch(batch).await;
        let outcome = if applied.is_ok() { "ok" } else { "error" };
        metrics::histogram!(stages::APPLY_DURATION_SECONDS, "outcome" => outcome)
            .record(started.elapsed());
        let outcomes = match applied {
            Ok(outcomes) => outcomes,
            Err(err) if batch.len() == 1 => vec![Outcome::Failed(err.into())],
            Err(err) => {
                tracing::warn!(error = %err, events = batch.len(), "a webhook batch failed; applying its events one by one");
                let mut outcomes = Vec::with_capacity(batch.len());
                for event in batch {
                    outcomes.push(
                        match self.handler.apply_batch(std::slice::from_ref(event)).await {
                            Ok(mut one) => {
                                one.pop().unwrap_or(Outcome::Failed(ApplyError::Contended))
                            }
                            Err(err) => Outcome::Failed(err.into()),
                        },
                    );
                }
                outcomes
            }
        };
        for (event, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Outcome::Done(applied) => count(event, outcome_label(applied)),
                Outcome::Failed(err) => self.fail(event, err).await?,
            }
        }
        Ok(())
    }

    /// Schedules a retry of `event`, or sets it aside once it has failed too often.
    async fn fail(&self, event: &InboxEvent, err: ApplyError) -> Result<(), StoreError> {
        let now = Utc::now();
        let (message, chain) = (err.to_string(), err.chain());
        if err.is_retryable() && event.attempts + 1 < self.settings.max_attempts {
            count(event, "retry");
            let delay = self.backoff(event.attempts);
            tracing::warn!(event_id = %event.event_id, attempt = event.attempts + 1, error = chain, "webhook event failed; will retry");
            let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            self.store
                .retry_inbox_event(event.seq, &message, next)
                .await
        } else {
            count(event, "dead");
            tracing::error!(event_id = %event.event_id, error = chain, "webhook event set aside as dead; replay it once fixed");
            self.store
                .finish_inbox_event(event.seq, InboxStatus::Dead, Some(&message), now)
                .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outages_and_races_retry_and_the_log_keeps_the_cause() {
        let undecodable =
            ApplyError::from(DecodeError::malformed("stripe", "expected value at line 1"));
        assert!(!undecodable.is_retryable());
        assert_eq!(undecodable.to_string(), "stored payload is not an event");
        assert_eq!(
            undecodable.chain(),
            "stored payload is not an event: not a stripe event: expected value at line 1"
        );
        let corrupt = crate::domain::UnknownStatus("LOST".into());
        assert!(!ApplyError::Inconsistent(Arc::new(corrupt)).is_retryable());
        assert!(ApplyError::NotRecordedYet("pi_1".into()).is_retryable());
        assert!(ApplyError::Contended.is_retryable());
        assert!(ApplyError::from(StoreError::Conflict("x".into())).is_retryable());
    }
}
