//! `/demo`: the built web demo (`DEMO_DIR`, development only), served from its folder under
//! the same strict Content-Security-Policy as GraphiQL, so it can only talk to this server.

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// Everything from this origin only (`'self'` covers this host's `ws:`/`wss:`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The demo's routes, serving `dir` (its `index.html` for any path that is not a file, as a
/// single-page app expects).
pub fn router<S: Clone + Send + Sync + 'static>(dir: &std::path::Path) -> Router<S> {
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .nest_service("/demo", files)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        // The build names its assets by content; index.html must be re-read to find new ones.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
}
