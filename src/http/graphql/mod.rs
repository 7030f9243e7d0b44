//! `GET` and `POST /graphql`: the GraphQL-over-HTTP transport, and GraphiQL for browsers.

mod caching;
pub mod graphiql;
mod media;
mod params;
mod persisted;
pub mod trusted;
mod ws_trust;

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use self::media::{
    MediaType, UPLOADS_NOT_SUPPORTED, batch_refused, coded_request_error, graphql_response,
    negotiate, operation_refusal_status, request_error,
};
use self::params::{Params, ParamsError};
use super::AppState;
use super::request_id::CurrentRequestId;
use crate::auth::{Credentials, ViewerState};
use crate::error::ErrorCode;
use crate::graphql::{Caller, CookieChanges};
use crate::limits::ClientIp;

/// `GET /graphql`: GraphiQL for a browser, otherwise a query (never a mutation).
pub async fn get(
    State(state): State<AppState>,
    CurrentRequestId(request_id): CurrentRequestId,
    Extension(client): Extension<ClientIp>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    if let Some(graphiql) = &state.graphiql_html
        && wants_html(&headers)
        && !raw.contains("query=")
    {
        return graphiql::page_response(graphiql);
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let params = match Params::from_query_string(&raw)
        .and_then(|params| with_persisted(params, &state, &headers))
    {
        Ok(params) => params,
        Err(err) => return params_error(media, err),
    };
    if params.selects_mutation(&state.documents) {
        let mut response = request_error(
            media,
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations cannot be sent with GET; send them with POST.",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(
        &state,
        media,
        params,
        (request_id, client),
        &headers,
        Method::Get,
    )
    .await
}

/// `POST /graphql`: any operation, as a JSON body.
pub async fn post(
    State(state): State<AppState>,
    CurrentRequestId(request_id): CurrentRequestId,
    Extension(client): Extension<ClientIp>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    match Params::from_json_body(&headers, &body)
        .and_then(|params| with_persisted(params, &state, &headers))
    {
        Ok(params) => {
            execute(
                &state,
                media,
                params,
                (request_id, client),
                &headers,
                Method::Post,
            )
            .await
        }
        Err(err) => params_error(media, err),
    }
}

/// How the operation arrived: only GET answers may be cached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

async fn execute(
    state: &AppState,
    media: MediaType,
    params: Params,
    (request_id, client): (Arc<str>, ClientIp),
    headers: &HeaderMap,
    method: Method,
) -> Response {
    let credentials = Credentials::from_headers(headers, state.auth.cookies());
    // GET never runs mutations, so only a POST can need the CSRF check.
    let viewer = state
        .auth
        .authenticate(&credentials, || params.selects_mutation(&state.documents))
        .await;
    let public = method == Method::Get
        && matches!(viewer, ViewerState::Anonymous)
        && params.reads_only_public_fields(&state.documents);
    let operation = crate::telemetry::stages::operation_label(params.operation_name());
    let started = std::time::Instant::now();
    let cookie_changes = CookieChanges::default();
    let request = params.into_request().data(Caller {
        request_id,
        client,
        viewer,
        credentials: Some(credentials),
        cookies: Some(cookie_changes.clone()),
    });
    // Boxed: the engine's future is kilobytes, and this handler's future, moved several
    // times on its way through the router, would otherwise carry it.
    let response = Box::pin(state.schema.execute(request)).await;
    record_operation(operation, started, response.errors.is_empty());
    let retry_after = rate_limit_hint(&response);
    let public = public && response.errors.is_empty();
    let mut http = graphql_response(media, response);
    // Resolvers say what happened to the sign-in; the cookies that carry it are written here.
    for change in cookie_changes.take() {
        for cookie in state.auth.cookies().headers_for(&change) {
            http.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    if let Some(seconds) = retry_after {
        // The body says RATE_LIMITED; the header lets proxies and generic clients back off too.
        http.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if public {
        // Boxed: a rare path (an anonymous GET of public fields) whose future would otherwise
        // size every request's.
        Box::pin(caching::public(http, headers)).await
    } else {
        caching::private(http)
    }
}

/// Counts and times one GraphQL operation under its bounded name label.
fn record_operation(operation: &str, started: std::time::Instant, ok: bool) {
    crate::telemetry::series::record_operation(operation, ok, started.elapsed());
}

/// The `retryAfterSeconds` of a `RATE_LIMITED` error in `response`, if any.
fn rate_limit_hint(response: &async_graphql::Response) -> Option<u64> {
    response.errors.iter().find_map(|error| {
        let extensions = error.extensions.as_ref()?;
        let limited = matches!(
            extensions.get("code"),
            Some(async_graphql::Value::String(code)) if code == ErrorCode::RateLimited.as_str()
        );
        match extensions.get("retryAfterSeconds") {
            Some(async_graphql::Value::Number(n)) if limited => n.as_u64(),
            _ => None,
        }
    })
}

fn with_persisted(
    mut params: Params,
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Params, ParamsError> {
    let sender = if headers.contains_key(&trusted::GRAPHIQL_HEADER) {
        trusted::Sender::Graphiql
    } else {
        trusted::Sender::Client
    };
    params.resolve_persisted(&state.documents, &state.document_policy, sender)?;
    Ok(params)
}

fn params_error(media: MediaType, err: ParamsError) -> Response {
    match err {
        ParamsError::Batch(operations) => batch_refused(media, operations),
        ParamsError::Multipart => coded_request_error(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UPLOADS_NOT_SUPPORTED,
            "Multipart requests (file uploads) are not supported; upload files elsewhere and send their URL.",
        ),
        ParamsError::Persisted(err) => {
            let (code, message) = err.code_and_message();
            coded_request_error(media, operation_refusal_status(media), code, message)
        }
        ParamsError::Malformed(message) => request_error(media, StatusCode::BAD_REQUEST, message),
        ParamsError::UnsupportedMediaType => request_error(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the request as Content-Type: application/json.",
        ),
    }
}

fn not_acceptable() -> Response {
    request_error(
        MediaType::Json,
        StatusCode::NOT_ACCEPTABLE,
        "Accept application/graphql-response+json or application/json.",
    )
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub use self::ws_trust::TrustedExecutor;
