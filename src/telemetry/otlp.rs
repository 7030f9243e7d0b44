//! OpenTelemetry traces over OTLP/HTTP with protobuf bodies.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//! The SDK reads the other standard variables itself: `OTEL_SERVICE_NAME` and
//! `OTEL_RESOURCE_ATTRIBUTES` (the service is called `switchboard` unless they name it),
//! `OTEL_EXPORTER_OTLP_HEADERS` and `_TIMEOUT`, `OTEL_TRACES_SAMPLER` and `_ARG`, and the batch
//! processor's `OTEL_BSP_*`. `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn traces
//! off. Only the `http/protobuf` protocol is built in (no gRPC stack).

use std::sync::Mutex;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// The name spans are exported under unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`
/// give another.
pub const SERVICE_NAME: &str = "switchboard";

/// A layer that exports spans, and the provider that sends them.
pub type Exporting<S> = (OpenTelemetryLayer<S, SdkTracer>, SdkTracerProvider);

/// The provider whose batch exporter [`shutdown`] flushes.
static PROVIDER: Mutex<Option<SdkTracerProvider>> = Mutex::new(None);

/// Whether the variables read through `env` ask for traces.
pub fn requested(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
    {
        return false;
    }
    set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
}

/// The tracing layer that exports spans, and its provider (to [`keep`] once the layer is
/// installed), when the variables read through `env` ask for it; `Err` names a setting that
/// cannot be honoured (traces then stay off).
pub fn layer<S>(env: impl Fn(&str) -> Option<String>) -> Result<Option<Exporting<S>>, String>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if !requested(&env) {
        return Ok(None);
    }
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        match env(name).as_deref().map(str::trim) {
            None | Some("" | "http/protobuf") => {}
            Some(other) => {
                return Err(format!(
                    "{name}={other} is not supported; use http/protobuf"
                ));
            }
        }
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|err| format!("the OTLP exporter could not be built: {err}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(&env))
        .build();
    let tracer = provider.tracer(SERVICE_NAME);
    Ok(Some((
        tracing_opentelemetry::layer().with_tracer(tracer),
        provider,
    )))
}

/// Keeps the provider of the installed layer, for [`shutdown`] to flush.
pub fn keep(provider: SdkTracerProvider) {
    *PROVIDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(provider);
}

/// The service's resource: what the environment says, named `switchboard` unless it names it.
fn resource(env: &impl Fn(&str) -> Option<String>) -> Resource {
    let named = env("OTEL_SERVICE_NAME").is_some_and(|v| !v.trim().is_empty())
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|v| v.contains("service.name="));
    let builder = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    if named {
        builder.build()
    } else {
        builder.with_service_name(SERVICE_NAME).build()
    }
}

/// Flushes pending spans and stops the exporter; later spans are dropped.
pub fn shutdown() {
    let provider = PROVIDER.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(provider) = provider
        && let Err(err) = provider.shutdown()
    {
        eprintln!("switchboard: flushing OpenTelemetry traces failed: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn traces_are_off_unless_an_endpoint_is_set() {
        assert!(!requested(env(&[])));
        assert!(!requested(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318"
        )])));
        assert!(requested(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4318/v1/traces"
        )])));
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert!(!requested(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                off
            ])));
        }
    }

    #[test]
    fn grpc_is_refused_with_the_variable_named() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ];
        let error = layer::<tracing_subscriber::Registry>(env(&vars))
            .err()
            .expect("refused");
        assert!(
            error.starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
            "{error}"
        );
    }
}
