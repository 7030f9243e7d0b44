//! `/health/live` and `/health/ready` for orchestrators and load balancers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// The process is up and serving HTTP.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The server can do useful work: the database answers.
/// 503 with the reason otherwise, so traffic is routed elsewhere until it recovers.
/// Providers whose circuit is not closed are listed as degraded without failing readiness:
/// the server still serves everything that does not need them.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let backend = state.store.backend();
    let degraded: Vec<Value> = state
        .providers
        .degraded()
        .into_iter()
        .map(
            |p| json!({ "name": p.name, "state": p.state.as_str(), "failureRate": p.failure_rate }),
        )
        .collect();
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": if degraded.is_empty() { "ok" } else { "degraded" },
                "database": { "backend": backend, "status": "ok" },
                "degradedProviders": degraded,
            })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed: database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "database": { "backend": backend, "status": "unavailable", "reason": "database did not answer" },
                })),
            )
        }
    }
}
