//! Each call's span carries its policy outcome: attempts, the rate limit's wait, the breaker's
//! state and the outcome.

use std::collections::HashMap;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use super::*;

/// The fields of every `provider.call` span, in the order the spans were opened.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<HashMap<String, String>>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

/// Where a span's fields live: its index in [`Recorded`].
struct Slot(usize);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorded {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "provider.call" {
            return;
        }
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push(fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(Slot(slot)) = span.extensions().get::<Slot>().map(|s| Slot(s.0)) else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[slot]));
    }
}

impl Recorded {
    fn field(&self, span: usize, name: &str) -> Option<String> {
        self.0.lock().unwrap().get(span)?.get(name).cloned()
    }
}

#[tokio::test(start_paused = true)]
async fn call_spans_carry_attempts_wait_breaker_state_and_outcome() {
    let recorded = Recorded::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorded.clone()));
    let provider = provider(PolicyConfig {
        rate_limit_per_sec: 10,
        rate_limit_burst: 1,
        ..config()
    });
    assert_eq!(scripted(&provider, READ, &[Ok("ok")]).await.0, Ok("ok"));
    // Paced by the limiter (100 ms), then retried once after a transient failure.
    let paced = scripted(&provider, READ, &[Err(transient()), Ok("ok")]).await;
    assert_eq!(paced.0, Ok("ok"));
    let declined = scripted(&provider, READ, &[Err(declined())]).await;
    assert!(declined.0.is_err());

    let fields = |span, name| recorded.field(span, name);
    assert_eq!(
        fields(0, "operation").as_deref(),
        Some("customers.retrieve")
    );
    assert_eq!(fields(0, "provider").as_deref(), Some("stripe"));
    assert_eq!(fields(0, "attempts").as_deref(), Some("1"));
    assert_eq!(fields(0, "rate_limit_wait_ms").as_deref(), Some("0.0"));
    assert_eq!(fields(0, "breaker_state").as_deref(), Some("closed"));
    assert_eq!(fields(0, "outcome").as_deref(), Some("success"));
    assert_eq!(fields(1, "attempts").as_deref(), Some("2"));
    let waited: f64 = fields(1, "rate_limit_wait_ms").unwrap().parse().unwrap();
    assert!(waited >= 100.0, "{waited}");
    assert_eq!(fields(1, "outcome").as_deref(), Some("success"));
    assert_eq!(fields(2, "outcome").as_deref(), Some("permanent"));
    assert_eq!(fields(2, "otel.status_code").as_deref(), Some("ERROR"));
}
