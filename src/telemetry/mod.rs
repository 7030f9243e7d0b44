//! Logging: human-readable in development, one JSON object per line in production; the
//! Prometheus recorder behind `/metrics`; and OpenTelemetry traces over OTLP when the standard
//! `OTEL_*` variables ask for them (see [`otlp`]).

#[cfg(test)]
pub(crate) mod captured;
pub mod context;
pub mod origins;
pub mod otlp;
pub mod series;
mod span_fields;
pub mod stages;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global tracing subscriber with the `level` filter (`RUST_LOG` syntax), with the
/// OTLP trace exporter when the environment asks for it. A second call (tests start many servers
/// in one process) keeps the first subscriber.
pub fn init(level: &str, format: LogFormat) {
    let filter = filter(level);
    let logs = match format {
        LogFormat::Pretty => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(span_fields::SpanFieldsJson)
            .boxed(),
    };
    let (traces, problem) = match otlp::layer(|name| std::env::var(name).ok()) {
        Ok(traces) => (traces, None),
        Err(problem) => (None, Some(problem)),
    };
    let (layer, provider) = traces.unzip();
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(layer)
        .try_init()
        .is_ok();
    match provider {
        Some(provider) if installed => {
            otlp::keep(provider);
            tracing::info!("exporting OpenTelemetry traces over OTLP/HTTP");
        }
        // Another subscriber was first; its exporter (if any) stays the one in use.
        Some(provider) => {
            let _ = provider.shutdown();
        }
        None => {}
    }
    if let Some(problem) = problem.filter(|_| installed) {
        tracing::warn!(error = %problem, "OpenTelemetry traces are off");
    }
}

/// The filter of `level`. A level made of targets and levels only (`info`,
/// `switchboard=debug,sqlx=warn`: nearly every setting) becomes a static [`Targets`]
/// filter, decided once per call site. [`EnvFilter`] is kept for directives that match span
/// field values, which only it understands: it takes a lock shared by every thread each time
/// any span is entered or left, and every request enters its span on each poll.
fn filter<S>(level: &str) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if let Ok(targets) = level.parse::<Targets>() {
        return targets.boxed();
    }
    EnvFilter::try_new(level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .boxed()
}

/// Flushes and stops the trace exporter, if one runs. Blocks until pending spans were sent
/// (bounded by the exporter's timeout); call it once serving has stopped.
pub fn shutdown() {
    otlp::shutdown();
}

/// The process-wide Prometheus recorder, installed on first use; every later call (several
/// servers in one test process) shares it. Each part describes its own metrics once the
/// recorder is in place (the providers through `providers::resilience::metrics::describe`).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder was installed first; ours then records nothing,
            // which is what that caller asked for.
            let _ = metrics::set_global_recorder(recorder);
            stages::describe();
            stages::initialise();
            keep_up(handle.clone());
            handle
        })
        .clone()
}

/// How often recorded durations are folded into their summaries.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds recorded durations into their summaries every [`UPKEEP_INTERVAL`], on a thread of
/// its own for the life of the process.
///
/// The recorder keeps every duration sample until the next upkeep; without one, only a scrape
/// of `/metrics` drained them, so a server nobody scraped grew by 8 bytes per recorded duration
/// (two per GraphQL request), for ever.
fn keep_up(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(err) = started {
        tracing::warn!(error = %err, "cannot start the metrics upkeep thread; samples are folded only when /metrics is scraped");
    }
}
