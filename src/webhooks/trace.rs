//! The processor's span: one per claimed batch, linked to the trace each of its events' payments
//! was created in, and notes for the pushes that follow (see [`crate::telemetry::origins`]).

use std::collections::HashMap;

use opentelemetry::trace::SpanContext;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::Applied;
use crate::providers::payments::EventDecoders;
use crate::store::{InboxEvent, Store};
use crate::telemetry::context::{parse_traceparent, span_context};
use crate::telemetry::origins::{self, Origin};

/// The span a batch is applied in, and the creation trace of each event's payment.
pub(super) struct ApplyTrace {
    span: Span,
    created: HashMap<String, SpanContext>,
}

impl ApplyTrace {
    /// Opens the span of applying `batch`. With traces on, each event's payment's creation trace
    /// is read from what the event carried back (its adapter reads it), else from what was
    /// recorded with the payment (one store read for the batch), and linked.
    pub(super) async fn open(
        store: &Store,
        decoders: &EventDecoders,
        batch: &[InboxEvent],
    ) -> Self {
        let span = tracing::info_span!(parent: None, "webhook.apply", events = batch.len(), otel.kind = "consumer");
        let mut trace = ApplyTrace {
            span,
            created: HashMap::new(),
        };
        if span_context(&trace.span).is_none() {
            return trace;
        }
        let mut unknown: HashMap<String, Vec<&str>> = HashMap::new();
        for event in batch {
            let body = event.payload.as_bytes();
            let carried = decoders
                .header(&event.source, body)
                .ok()
                .and_then(|header| header.traceparent);
            match carried.as_deref().and_then(parse_traceparent) {
                Some(origin) => {
                    trace.created.insert(event.event_id.clone(), origin);
                }
                None => {
                    let payment = decoders.decode(&event.source, body).ok();
                    if let Some(id) = payment.as_ref().and_then(|e| e.provider_payment_id()) {
                        unknown
                            .entry(id.to_owned())
                            .or_default()
                            .push(&event.event_id);
                    }
                }
            }
        }
        if !unknown.is_empty() {
            let ids: Vec<String> = unknown.keys().cloned().collect();
            match store.payment_traces_by_provider_ids(&ids).await {
                Ok(found) => {
                    for (id, traceparent) in found {
                        let Some(origin) = parse_traceparent(&traceparent) else {
                            continue;
                        };
                        for event_id in unknown.get(&id).into_iter().flatten() {
                            trace.created.insert((*event_id).to_owned(), origin.clone());
                        }
                    }
                }
                Err(err) => tracing::debug!(error = %err, "payment traces unavailable; not linked"),
            }
        }
        let mut linked = Vec::new();
        for origin in trace.created.values() {
            if !linked.contains(&origin.span_id()) {
                linked.push(origin.span_id());
                trace.span.add_link(origin.clone());
            }
        }
        trace
    }

    /// The span to apply the batch in.
    pub(super) fn span(&self) -> &Span {
        &self.span
    }

    /// Notes that `event` was applied, for the pushes of the change it caused.
    pub(super) fn applied(&self, event: &InboxEvent, applied: Applied) {
        if applied != Applied::Changed {
            return;
        }
        origins::applied(
            &event.event_id,
            Origin {
                received_at: event.received_at,
                applied: span_context(&self.span),
                created: self.created.get(&event.event_id).cloned(),
            },
        );
    }
}
