//! Middleware: finding the client's address, and the rate limits of the plain HTTP routes
//! (answered with 429 and `Retry-After`; GraphQL answers `RATE_LIMITED` per operation instead).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::{Layer, Service};

use super::AppState;
use crate::error::AppError;
use crate::limits::{ClientIp, InboundLimits, client_ip};

/// Sets [`ClientIp`] on every request, from the peer address and trusted proxies.
///
/// A hand-written layer rather than `middleware::from_fn`: it runs on every request, and
/// `from_fn` clones and boxes the rest of the stack and boxes its own future each time. This
/// one only adds an extension and hands the request on.
#[derive(Clone)]
pub struct ClientAddressLayer {
    limits: Arc<InboundLimits>,
}

impl ClientAddressLayer {
    /// Trusts the proxies `limits` was configured with.
    pub fn new(limits: Arc<InboundLimits>) -> Self {
        Self { limits }
    }
}

impl<S> Layer<S> for ClientAddressLayer {
    type Service = ClientAddress<S>;

    fn layer(&self, inner: S) -> ClientAddress<S> {
        ClientAddress {
            inner,
            limits: self.limits.clone(),
        }
    }
}

/// See [`ClientAddressLayer`].
#[derive(Clone)]
pub struct ClientAddress<S> {
    inner: S,
    limits: Arc<InboundLimits>,
}

impl<S> Service<Request> for ClientAddress<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> S::Future {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |info| info.0.ip());
        let client = client_ip::resolve(peer, request.headers(), self.limits.trusted_proxies());
        request.extensions_mut().insert(client);
        self.inner.call(request)
    }
}

/// The login quota, per client address.
pub async fn login_quota(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = client_of(&request);
    match state.limits.login(client, 1) {
        Ok(()) => next.run(request).await,
        Err(err) => too_many_requests(&err),
    }
}

/// The anonymous quota, per client address.
pub async fn anonymous_quota(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let client = client_of(&request);
    match state.limits.anonymous(client) {
        Ok(()) => next.run(request).await,
        Err(err) => too_many_requests(&err),
    }
}

fn client_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ClientIp>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ip| ip.0)
}

/// 429 with `Retry-After` and the same code and hint GraphQL clients get.
pub fn too_many_requests(err: &AppError) -> Response {
    let seconds = err.retry_after().map_or(1, |d| d.as_secs().max(1));
    let body = json!({ "error": {
        "code": err.code().as_str(),
        "message": err.to_string(),
        "retryAfterSeconds": seconds,
    }});
    let mut response = (err.code().http_status(), axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}
