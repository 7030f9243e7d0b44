//! Request ids: taken from a well-formed `x-request-id`, otherwise generated; echoed back on the
//! response and recorded on the request's tracing span.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header carrying the id in both directions.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id, for handlers.
#[derive(Debug, Clone)]
pub struct CurrentRequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CurrentRequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts.extensions.get::<CurrentRequestId>().cloned();
        Ok(id.unwrap_or_else(|| CurrentRequestId(new_id())))
    }
}

/// Middleware: settles the id before anything else runs, then echoes it on the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(new_id);
    // The id is visible ASCII by construction, so it is always a valid header value.
    let header = HeaderValue::from_str(&id).ok();
    if let Some(header) = &header {
        request
            .headers_mut()
            .insert(REQUEST_ID.clone(), header.clone());
    }
    request.extensions_mut().insert(CurrentRequestId(id));
    let mut response = next.run(request).await;
    if let Some(header) = header {
        response.headers_mut().insert(REQUEST_ID.clone(), header);
    }
    response
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
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
    use super::is_acceptable;

    #[test]
    fn only_tame_ids_are_kept() {
        assert!(is_acceptable("01890a5d-ac96-774b-bcce-b302099a8057"));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("a b"));
        assert!(!is_acceptable("x\ny"));
        assert!(!is_acceptable(&"a".repeat(129)));
    }
}
