//! CORS: tower-http's layer for requests that carry an `Origin` (and every preflight), and a
//! fast path for the rest.
//!
//! Most API traffic carries no `Origin` (native apps, servers, same-origin GETs that browsers
//! send without it). tower-http builds a header map per request and clones its settings with
//! every route call, and answers a request without `Origin` with three headers. Only one of
//! them means anything there: `Vary: origin`, so a shared cache never hands an answer made for
//! one origin (or for none) to another. `Access-Control-Allow-Credentials` and
//! `Access-Control-Expose-Headers` are read only by a browser making a cross-origin request, and
//! such a request always carries `Origin`; the fast path leaves them off (a test holds it to
//! tower-http's answer less those two).

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Either, Map};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::REQUEST_ID;
use crate::config::Config;

/// Request headers browsers may always send cross-origin: what the API reads, W3C trace
/// context and Sentry tracing, and the headers Apollo Client adds.
const ALLOWED_REQUEST_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "accept",
    "x-csrf-token",
    "traceparent",
    "tracestate",
    "baggage",
    "sentry-trace",
    "apollo-require-preflight",
    "apollographql-client-name",
    "apollographql-client-version",
];

/// How long browsers may reuse a preflight answer (Chromium caps it at two hours).
const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(7200);

/// The full CORS policy, as tower-http applies it to requests with an `Origin`.
pub fn policy(config: &Config) -> CorsLayer {
    let origins = config
        .allowed_origins
        .iter()
        .filter_map(|origin| origin.parse().ok())
        .collect::<Vec<_>>();
    let headers = ALLOWED_REQUEST_HEADERS
        .iter()
        .map(|name| HeaderName::from_static(name))
        .chain([REQUEST_ID.clone()])
        // Validated as header names at start.
        .chain(
            config
                .cors_allowed_headers
                .iter()
                .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok()),
        )
        .collect::<Vec<_>>();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(headers)
        .max_age(PREFLIGHT_MAX_AGE)
        .expose_headers(exposed())
        .allow_credentials(true)
}

fn exposed() -> [HeaderName; 2] {
    [REQUEST_ID.clone(), header::ETAG]
}

/// tower-http's `Vary` on every answer with this policy (a list of origins): the answer
/// depends on `Origin`.
const VARY: HeaderValue = HeaderValue::from_static("origin");

/// Puts on `result` the one CORS header an answer to a request without `Origin` needs:
/// `Vary`, appended to any the handler set.
fn no_origin_headers<E>(result: Result<Response, E>) -> Result<Response, E> {
    result.map(|mut response| {
        response.headers_mut().append(header::VARY, VARY);
        response
    })
}

/// The CORS layer: tower-http's policy where an `Origin` (or a preflight) asks for it, the
/// precomputed headers otherwise.
#[derive(Clone)]
pub struct Cors(Arc<CorsLayer>);

impl Cors {
    /// Applies `config`'s policy.
    pub fn new(config: &Config) -> Self {
        Self(Arc::new(policy(config)))
    }
}

impl<S> Layer<S> for Cors {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsService {
            inner,
            settings: self.0.clone(),
        }
    }
}

/// See [`Cors`].
#[derive(Clone)]
pub struct CorsService<S> {
    inner: S,
    settings: Arc<CorsLayer>,
}

type Answer<E> = Result<Response, E>;

impl<S, E> Service<Request> for CorsService<S>
where
    S: Service<Request, Response = Response, Error = E> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: Send + 'static,
{
    type Response = Response;
    type Error = E;
    type Future = Either<Map<S::Future, fn(Answer<E>) -> Answer<E>>, BoxFuture<'static, Answer<E>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() != Method::OPTIONS && !request.headers().contains_key(header::ORIGIN) {
            let apply: fn(Answer<E>) -> Answer<E> = no_origin_headers;
            return Either::Left(self.inner.call(request).map(apply));
        }
        // The service that was polled ready answers; tower-http gets a ready clone's place.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let mut cors = self.settings.layer(inner);
        Either::Right(Box::pin(async move { cors.call(request).await }))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    fn handler() -> axum::Router {
        axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                // A handler's own Vary survives beside the CORS one.
                ([(header::VARY, "accept")], StatusCode::OK)
            }),
        )
    }

    #[tokio::test]
    async fn answers_without_origin_carry_tower_https_headers_less_the_browser_only_ones() {
        let config =
            crate::config::Config::from_settings(crate::config::cli::Settings::defaults()).unwrap();
        let request = || Request::get("/").body(Body::empty()).unwrap();
        let ours = handler()
            .layer(Cors::new(&config))
            .oneshot(request())
            .await
            .unwrap();
        let theirs = handler()
            .layer(policy(&config))
            .oneshot(request())
            .await
            .unwrap();
        let mut expected = theirs.headers().clone();
        for browser_only in [
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
        ] {
            assert!(expected.remove(&browser_only).is_some(), "{browser_only}");
        }
        assert_eq!(ours.headers(), &expected);
        let vary: Vec<_> = ours.headers().get_all(header::VARY).iter().collect();
        assert_eq!(vary.len(), 2, "{vary:?}");
        assert_eq!(vary[1], "origin");
    }

    #[tokio::test]
    async fn requests_with_origin_and_preflights_get_the_full_policy() {
        let config =
            crate::config::Config::from_settings(crate::config::cli::Settings::defaults()).unwrap();
        let allowed = config.allowed_origins[0].clone();
        for method in [Method::GET, Method::OPTIONS] {
            let request = || {
                Request::builder()
                    .method(method.clone())
                    .uri("/")
                    .header(header::ORIGIN, &allowed)
                    .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
                    .body(Body::empty())
                    .unwrap()
            };
            let ours = handler()
                .layer(Cors::new(&config))
                .oneshot(request())
                .await
                .unwrap();
            let theirs = handler()
                .layer(policy(&config))
                .oneshot(request())
                .await
                .unwrap();
            assert_eq!(ours.headers(), theirs.headers(), "{method}");
            assert_eq!(
                ours.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                allowed.as_str()
            );
        }
    }
}
