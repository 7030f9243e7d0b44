//! W3C trace context: continuing a caller's trace, writing the current one down (with a payment,
//! in a provider's metadata), and linking later work back to it.
//!
//! Everything here is a no-op when traces are off: spans then have no OpenTelemetry context,
//! so nothing is continued, written down or linked.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header (and metadata key) carrying a W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// [`TRACEPARENT`] as a header name, so looking for it on every request parses nothing.
static TRACEPARENT_HEADER: http::HeaderName = http::HeaderName::from_static(TRACEPARENT);

/// Makes `span` continue the trace of an incoming request's `traceparent` (and `tracestate`)
/// header; without one (or with a malformed one) the span starts a new trace.
pub fn continue_trace(span: &Span, headers: &http::HeaderMap) {
    if !headers.contains_key(&TRACEPARENT_HEADER) {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        // Fails only when the span is already closed or traces are off.
        let _ = span.set_parent(parent);
    }
}

/// The current span's trace context as a `traceparent` value, or `None` when traces are off.
pub fn current_traceparent() -> Option<String> {
    let context = Span::current().context();
    let span = context.span();
    let span = span.span_context();
    span.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span.trace_id(),
            span.span_id(),
            span.trace_flags().to_u8()
        )
    })
}

/// The span context a `traceparent` value names, to link to; `None` when it is malformed.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), value.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// Links `span` to the trace `traceparent` names (what the payment's creation sent along to
/// its provider), when it is a valid one.
pub fn link_to_traceparent(span: &Span, traceparent: &str) {
    if let Some(origin) = parse_traceparent(traceparent) {
        span.add_link(origin);
    }
}

/// The span context of `span`, when traces are on.
pub fn span_context(span: &Span) -> Option<SpanContext> {
    let context = span.context();
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse_only_when_well_formed() {
        let parsed = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .expect("valid");
        assert_eq!(
            parsed.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(parsed.span_id().to_string(), "b7ad6b7169203331");
        assert!(parsed.is_sampled() && parsed.is_remote());
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none()
        );
        assert!(parse_traceparent("not a trace").is_none());
    }

    #[test]
    fn nothing_is_written_down_while_traces_are_off() {
        let span = tracing::info_span!("untraced");
        let _entered = span.enter();
        assert_eq!(current_traceparent(), None);
        assert!(span_context(&span).is_none());
    }
}
