//! Logging: human-readable in development, one JSON object per line in production; and the
//! Prometheus recorder behind `/metrics`.

pub mod stages;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

use crate::config::{Config, LogFormat};

/// Installs the global tracing subscriber. A second call (tests start many servers in one
/// process) keeps the first subscriber.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
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
/// servers in one test process) shares it.
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder was installed first; ours then records nothing,
            // which is what that caller asked for.
            let _ = metrics::set_global_recorder(recorder);
            crate::providers::resilience::metrics::describe();
            stages::describe();
            stages::initialise();
            handle
        })
        .clone()
}
