//! Request rate, errors and duration per route. The route is the template the router matched
//! (`/auth/callback/{provider}`), never the raw path, so clients cannot create series.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::telemetry::series::record_http;

/// Counts and times a request under its matched route (`unmatched` when none matched).
pub async fn record(request: Request, next: Next) -> Response {
    // The template is shared (`Arc<str>`): holding it costs no copy.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    record_http(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
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
