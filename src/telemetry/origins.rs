//! Where a payment change pushed to a subscriber came from.
//!
//! When the processor applies a provider event it notes, under the event's id, when the event
//! was received, the span that applied it and the trace that created the payment. When a feed
//! hands a change caused by that event to a subscriber, the push is measured from the event's
//! arrival ([`super::stages::WEBHOOK_TO_PUSH_SECONDS`]) and, with traces on, recorded as a span
//! that is a child of the apply span and links to the payment's creation.
//!
//! The notes live in this process only, for the most recent events: subscribers on another
//! instance than the one that applied an event get their changes all the same, unmeasured and
//! unlinked.

use std::num::NonZeroUsize;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use lru::LruCache;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::stages::WEBHOOK_TO_PUSH_SECONDS;

/// Applied events remembered; a push of an older one is neither measured nor linked.
const REMEMBERED: usize = 4096;

/// What applying one provider event left for its pushes.
#[derive(Debug, Clone)]
pub struct Origin {
    /// When the event arrived (its inbox row's `received_at`).
    pub received_at: DateTime<Utc>,
    /// The span that applied it.
    pub applied: Option<SpanContext>,
    /// The trace of the request that created the payment.
    pub created: Option<SpanContext>,
}

static ORIGINS: RwLock<Option<LruCache<String, Origin>>> = RwLock::new(None);

/// Notes that provider event `event_id` was applied.
pub fn applied(event_id: &str, origin: Origin) {
    let mut origins = ORIGINS.write().unwrap_or_else(|e| e.into_inner());
    origins
        .get_or_insert_with(|| {
            LruCache::new(NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN))
        })
        .put(event_id.to_owned(), origin);
}

/// What [`applied`] noted for `event_id`, if it is still remembered.
pub fn origin(event_id: &str) -> Option<Origin> {
    let origins = ORIGINS.read().unwrap_or_else(|e| e.into_inner());
    origins.as_ref()?.peek(event_id).cloned()
}

/// Records that the change at `cursor`, caused by provider event `source_event_id`, was handed
/// to one subscriber.
pub fn pushed(source_event_id: Option<&str>, cursor: i64) {
    let Some(origin) = source_event_id.and_then(origin) else {
        return;
    };
    let waited = (Utc::now() - origin.received_at).as_seconds_f64().max(0.0);
    metrics::histogram!(WEBHOOK_TO_PUSH_SECONDS).record(waited);
    if origin.applied.is_none() && origin.created.is_none() {
        return;
    }
    let span =
        tracing::info_span!(parent: None, "subscription.push", cursor, otel.kind = "producer");
    if let Some(applied) = origin.applied {
        let _ = span.set_parent(Context::new().with_remote_span_context(applied));
    }
    if let Some(created) = origin.created {
        span.add_link(created);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_of_unknown_events_are_not_measured() {
        assert!(origin("evt_never_applied").is_none());
        pushed(None, 1);
        pushed(Some("evt_never_applied"), 1);
        let received_at = Utc::now();
        applied(
            "evt_origins_test",
            Origin {
                received_at,
                applied: None,
                created: None,
            },
        );
        assert_eq!(
            origin("evt_origins_test").map(|o| o.received_at),
            Some(received_at)
        );
    }
}
