//! `POST /webhooks/{source}` (`/webhooks/stripe` for Stripe): 200 once the event is durable (or
//! was already received), 400 for a bad signature or body (the sender should not retry it as
//! is), 404 for a source no provider sends as, 503 when the database is down (the sender retries
//! later).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::AppState;
use crate::webhooks::WebhookError;

/// Receives a Stripe event (its own route, so its metrics keep their route label).
pub async fn stripe(
    state: State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    accept(state, "stripe", headers, body).await
}

/// Receives an event of another payment provider.
pub async fn receive(
    state: State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    accept(state, &source, headers, body).await
}

/// Stores an event of `source`; the signature is in `Stripe-Signature`.
async fn accept(
    State(state): State<AppState>,
    source: &str,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match state.webhooks.receive(source, signature, &body).await {
        Ok(receipt) => (
            StatusCode::OK,
            Json(
                json!({ "received": true, "id": receipt.event_id, "duplicate": receipt.duplicate }),
            ),
        ),
        Err(WebhookError::Unavailable(err)) => {
            tracing::error!(error = %err, "webhook could not be stored; the sender will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "temporarily unavailable; retry later" })),
            )
        }
        Err(err @ WebhookError::UnknownSource(_)) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": err.to_string() })),
        ),
        Err(err) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": err.to_string() })),
        ),
    }
}
