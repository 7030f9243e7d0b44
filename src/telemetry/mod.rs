//! Logging: human-readable in development, one JSON object per line in production; the
//! Prometheus recorder behind `/metrics`; and OpenTelemetry traces over OTLP when the standard
//! `OTEL_*` variables ask for them (see [`otlp`]).

pub mod context;
pub mod origins;
pub mod otlp;
pub mod series;
pub mod stages;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
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
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Pretty => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
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
            handle
        })
        .clone()
}
