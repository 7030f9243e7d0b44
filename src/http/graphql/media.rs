//! Content negotiation and response encoding per the GraphQL-over-HTTP specification.

use async_graphql::{Response as GqlResponse, ServerError, Value};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ErrorCode;
use crate::graphql::is_request_error;

/// The two response media types the specification defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphqlResponse,
    /// `application/json`: the legacy type, always 200 for a well-formed request.
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// Picks the response type from `Accept`; `None` when the client accepts neither.
///
/// No `Accept`, or `*/*` alone, means `application/json` (the specification's advice for clients
/// that predate the new type); otherwise the acceptable type with the highest `q` wins, the new
/// type winning ties.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let range = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match range.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((best_q, best_media)) => {
                q > best_q
                    || (q == best_q
                        && media == MediaType::GraphqlResponse
                        && best_media == MediaType::Json)
            }
        };
        if q > 0.0 && better {
            best = Some((q, media));
        }
    }
    best.map(|(_, media)| media)
}

#[derive(Serialize)]
struct WireResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, Value>,
}

/// Encodes an executed operation's result.
pub fn graphql_response(media: MediaType, response: GqlResponse) -> Response {
    let request_error = is_request_error(&response);
    let status = if request_error && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let wire = WireResponse {
        // A request error has no data entry at all, as the specification asks.
        data: (!request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let mut http = encode(media, status, &wire);
    http.headers_mut().extend(response.http_headers);
    http
}

/// Answers a request that could not be read as a GraphQL request at all.
pub fn request_error(media: MediaType, status: StatusCode, message: impl Into<String>) -> Response {
    coded_request_error(media, status, ErrorCode::BadUserInput.as_str(), message)
}

/// Answers a request that was refused before execution, with `code` in `extensions.code`.
pub fn coded_request_error(
    media: MediaType,
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
) -> Response {
    let error = coded_error(code, message);
    let wire = WireResponse {
        data: None,
        errors: std::slice::from_ref(&error),
        extensions: &Default::default(),
    };
    encode(media, status, &wire)
}

/// The status of a refusal that concerns the operation rather than the HTTP request: 400 for
/// `application/graphql-response+json`, 200 for legacy `application/json` clients.
pub fn operation_refusal_status(media: MediaType) -> StatusCode {
    match media {
        MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    }
}

/// Most operations a refused batch is answered for one by one; a larger batch gets one error.
const MAX_BATCH_ANSWERS: usize = 100;

/// Refuses a JSON array of `operations` operations with `BATCHING_NOT_SUPPORTED`: one
/// response per operation, so a batching client (Apollo's `BatchHttpLink`) hands each
/// operation its own clear error instead of failing on a count mismatch.
pub fn batch_refused(media: MediaType, operations: usize) -> Response {
    const MESSAGE: &str =
        "Batched requests are not supported; send each operation in its own request.";
    if operations > MAX_BATCH_ANSWERS {
        return coded_request_error(
            media,
            StatusCode::BAD_REQUEST,
            BATCHING_NOT_SUPPORTED,
            MESSAGE,
        );
    }
    let errors = [coded_error(BATCHING_NOT_SUPPORTED, MESSAGE)];
    let wire = WireResponse {
        data: None,
        errors: &errors,
        extensions: &Default::default(),
    };
    let answers = vec![&wire; operations];
    match serde_json::to_vec(&answers) {
        Ok(body) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, media.content_type())],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "could not encode a batch refusal");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `extensions.code` of a JSON array of operations.
pub const BATCHING_NOT_SUPPORTED: &str = "BATCHING_NOT_SUPPORTED";
/// `extensions.code` of a multipart request (file uploads).
pub const UPLOADS_NOT_SUPPORTED: &str = "UPLOADS_NOT_SUPPORTED";

fn coded_error(code: &str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

fn encode(media: MediaType, status: StatusCode, wire: &WireResponse<'_>) -> Response {
    match serde_json::to_vec(wire) {
        Ok(body) => (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response(),
        // Serialising values the engine produced cannot fail; answer honestly if it ever does.
        Err(err) => {
            tracing::error!(error = %err, "could not encode a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<MediaType> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn negotiation_follows_the_specification() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(accept("*/*"), Some(MediaType::Json));
        assert_eq!(accept("application/json"), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(accept("application/graphql-response+json;q=0"), None);
        assert_eq!(accept("text/html"), None);
    }
}
