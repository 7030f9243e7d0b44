//! Request rate, errors and duration per route. The route is the template the router matched
//! (`/auth/callback/{provider}`), never the raw path, so clients cannot create series.
//!
//! A hand-written layer rather than `middleware::from_fn`: it runs on every request, and
//! `from_fn` clones and boxes the rest of the route's stack and boxes its own future each time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower::{Layer, Service};

use crate::telemetry::series::record_http;

/// Counts and times each request under its matched route (`unmatched` when none matched).
#[derive(Clone, Copy, Default)]
pub struct RecordLayer;

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record { inner }
    }
}

/// See [`RecordLayer`].
#[derive(Clone)]
pub struct Record<S> {
    inner: S,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The template is shared (`Arc<str>`): holding it costs no copy.
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        Recorded {
            started: Instant::now(),
            inner: self.inner.call(request),
            route,
            method,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner answer, counted and timed when it is ready.
    pub struct Recorded<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        method: &'static str,
        started: Instant,
    }
}

impl<F, E> Future for Recorded<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            record_http(
                this.route.as_ref().map_or("unmatched", MatchedPath::as_str),
                this.method,
                response.status().as_u16(),
                this.started.elapsed(),
            );
        }
        Poll::Ready(result)
    }
}

/// The method as a label; methods outside the standard set share one label.
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::HEAD => "HEAD",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        _ => "other",
    }
}
