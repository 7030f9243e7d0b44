//! HTTP caching of GraphQL answers: a GET of public fields only, by an anonymous client, may be
//! kept by browsers and CDNs for a short while and revalidated by `ETag`; every other answer is
//! `private, no-store`, so nothing signed in is ever kept by a shared cache.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

/// How long a public answer may be reused before revalidation.
pub const PUBLIC_MAX_AGE_SECONDS: u32 = 30;

/// Marks `response` as private: never stored.
pub fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Makes a successful public answer cacheable with an `ETag`, answering `304 Not Modified`
/// when the client already holds this very answer.
pub async fn public(response: Response, request: &HeaderMap) -> Response {
    if response.status() != StatusCode::OK {
        return private(response);
    }
    let (mut parts, body) = response.into_parts();
    // The body is the encoded JSON already in memory.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return private(Response::from_parts(parts, Body::empty()));
    };
    let etag = etag_of(&bytes);
    let headers = &mut parts.headers;
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={PUBLIC_MAX_AGE_SECONDS}"))
            .expect("a valid header value"),
    );
    headers.append(header::VARY, HeaderValue::from_static("accept"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header value"),
    );
    if matches_etag(request, &etag) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A strong validator: the first 128 bits of the body's SHA-256.
fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `If-None-Match` lists `etag` (weak comparison, as RFC 9110 asks for this header) or is `*`.
fn matches_etag(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let etag = etag_of(b"{}");
        let mut headers = HeaderMap::new();
        assert!(!matches_etag(&headers, &etag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{etag}")).unwrap(),
        );
        assert!(matches_etag(&headers, &etag));
        assert!(!matches_etag(&headers, &etag_of(b"[]")));
    }
}
