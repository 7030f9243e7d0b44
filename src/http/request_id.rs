//! Request ids: taken from a well-formed `x-request-id`, otherwise generated; echoed back on the
//! response and recorded on the request's tracing span.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use rand::RngCore;
use tower::{Layer, Service};

/// The header carrying the id in both directions.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id, for handlers. Shared, so handing it on costs no copy.
#[derive(Debug, Clone)]
pub struct CurrentRequestId(pub Arc<str>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentRequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts.extensions.get::<CurrentRequestId>().cloned();
        Ok(id.unwrap_or_else(|| CurrentRequestId(new_id())))
    }
}

/// Settles the id before anything else runs, then echoes it on the response.
///
/// A hand-written layer rather than `middleware::from_fn`: this runs for every request, and
/// `from_fn` boxes the rest of the stack and its future each time.
#[derive(Clone, Copy, Default)]
pub struct AssignLayer;

impl<S> Layer<S> for AssignLayer {
    type Service = Assign<S>;

    fn layer(&self, inner: S) -> Assign<S> {
        Assign { inner }
    }
}

/// See [`AssignLayer`].
#[derive(Clone)]
pub struct Assign<S> {
    inner: S,
}

impl<S> Service<Request> for Assign<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Echo<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let given = request.headers().get(&REQUEST_ID).and_then(|value| {
            let id = value.to_str().ok().filter(|id| is_acceptable(id))?;
            Some((Arc::from(id), Some(value.clone())))
        });
        let (id, header) = given.unwrap_or_else(|| {
            let id = new_id();
            // Visible ASCII by construction, so always a valid header value.
            let header = HeaderValue::from_str(&id).ok();
            (id, header)
        });
        request.extensions_mut().insert(CurrentRequestId(id));
        Echo {
            inner: self.inner.call(request),
            header,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner answer with the request id on it.
    pub struct Echo<F> {
        #[pin]
        inner: F,
        header: Option<HeaderValue>,
    }
}

impl<F, E> Future for Echo<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(header) = this.header.take() {
            response.headers_mut().insert(REQUEST_ID.clone(), header);
        }
        Poll::Ready(Ok(response))
    }
}

/// A UUIDv7 (time-ordered, so ids sort like the log). Its random part comes from the
/// thread-local generator: `Uuid::now_v7` asks the kernel for randomness on every call, one
/// system call per request. Written as 32 lower-case hex digits without going through `fmt`.
fn new_id() -> Arc<str> {
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let mut text = [0u8; uuid::fmt::Simple::LENGTH];
    Arc::from(
        &*uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .simple()
            .encode_lower(&mut text),
    )
}

/// A client-supplied id is kept only when it cannot forge log lines or bloat them.
fn is_acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::{is_acceptable, new_id};

    #[test]
    fn only_tame_ids_are_kept() {
        assert!(is_acceptable("01890a5d-ac96-774b-bcce-b302099a8057"));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("a b"));
        assert!(!is_acceptable("x\ny"));
        assert!(!is_acceptable(&"a".repeat(129)));
    }

    #[test]
    fn new_ids_are_distinct_time_ordered_uuids() {
        let (first, second) = (new_id(), new_id());
        assert_ne!(first, second);
        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert!(is_acceptable(&first));
        // Ids made later never sort before earlier ones' milliseconds.
        assert!(first[..12] <= second[..12]);
    }
}
