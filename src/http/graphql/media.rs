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
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput.as_str());
    let wire = WireResponse {
        data: None,
        errors: std::slice::from_ref(&error),
        extensions: &Default::default(),
    };
    encode(media, status, &wire)
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
