//! Logging: human-readable in development, one JSON object per line in production; and the
//! Prometheus recorder behind `/metrics`.

pub mod stages;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global tracing subscriber with the `level` filter (`RUST_LOG` syntax). A second
/// call (tests start many servers in one process) keeps the first subscriber.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
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
