//! The request's tracing span: every log line and exported span of a request carries its id,
//! method and path.
//!
//! A hand-written layer rather than tower-http's `TraceLayer`. `TraceLayer` also wraps the
//! response body (one more boxed body per request, its span entered again on every frame) to
//! report the end of streams; switchboard's answers are whole in memory when the handler
//! returns, so the span ends with the response head. The events are `TraceLayer`'s: a debug
//! line as a request starts and ends, and an error line for every 5xx answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Span;

use super::CurrentRequestId;

/// Opens a span per request and runs the rest of the stack inside it.
#[derive(Clone, Copy, Default)]
pub struct RequestSpanLayer;

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;

    fn layer(&self, inner: S) -> RequestSpan<S> {
        RequestSpan { inner }
    }
}

/// See [`RequestSpanLayer`].
#[derive(Clone)]
pub struct RequestSpan<S> {
    inner: S,
}

impl<S> Service<Request> for RequestSpan<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = InSpan<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let span = span_of(&request);
        let inner = {
            let _entered = span.enter();
            tracing::debug!("started processing request");
            self.inner.call(request)
        };
        InSpan {
            inner,
            span,
            started: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The rest of the stack's answer, polled inside the request's span.
    pub struct InSpan<F> {
        #[pin]
        inner: F,
        span: Span,
        started: Instant,
    }
}

impl<F, E> Future for InSpan<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let latency_ms = this.started.elapsed().as_secs_f64() * 1_000.0;
            let status = response.status();
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), latency_ms, "response failed");
            } else {
                tracing::debug!(
                    status = status.as_u16(),
                    latency_ms,
                    "finished processing request"
                );
            }
        }
        Poll::Ready(result)
    }
}

/// The span of `request`, continuing the caller's W3C trace when it sent one.
fn span_of(request: &Request) -> Span {
    let request_id = request
        .extensions()
        .get::<CurrentRequestId>()
        .map(|id| &*id.0)
        .unwrap_or("-");
    let span = tracing::info_span!(
        "http",
        method = request.method().as_str(),
        path = request.uri().path(),
        request_id,
        otel.kind = "server",
    );
    // A caller's W3C `traceparent` (on any route, the WebSocket upgrade included) is continued.
    crate::telemetry::context::continue_trace(&span, request.headers());
    span
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::http::REQUEST_ID;
    use crate::http::request_id::AssignLayer;
    use crate::telemetry::captured::CapturedLogs;

    /// Sends `GET path` through the request id and span layers; returns the answer's
    /// request id and the JSON log lines written meanwhile.
    async fn logged(path: &str) -> (String, Vec<serde_json::Value>) {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(logs.json_layer(JsonFields::new()));
        let _default = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route(
                "/works",
                get(|| async {
                    tracing::info!("inside");
                    StatusCode::OK
                }),
            )
            .route("/fails", get(|| async { StatusCode::BAD_GATEWAY }))
            .layer(RequestSpanLayer)
            .layer(AssignLayer);
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let id = response.headers()[&REQUEST_ID].to_str().unwrap().to_owned();
        (id, logs.lines())
    }

    #[tokio::test]
    async fn what_a_handler_logs_carries_the_request_id_method_and_path() {
        let (id, lines) = logged("/works").await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["message"], "inside");
        assert_eq!(lines[0]["span"]["request_id"], id.as_str());
        assert_eq!(lines[0]["span"]["method"], "GET");
        assert_eq!(lines[0]["span"]["path"], "/works");
    }

    #[tokio::test]
    async fn a_server_error_answer_is_logged_as_an_error_in_the_request_span() {
        let (id, lines) = logged("/fails").await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["level"], "ERROR");
        assert_eq!(lines[0]["message"], "response failed");
        assert_eq!(lines[0]["status"], 502);
        assert_eq!(lines[0]["span"]["request_id"], id.as_str());
    }
}
