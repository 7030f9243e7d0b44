//! The error clients see: one enum, each variant mapped once to a stable GraphQL
//! `extensions.code` and an HTTP status.
//!
//! Internal causes travel inside [`AppError::Internal`] to the GraphQL error extension
//! (`graphql::errors`), which logs them once with the request id; the client only ever sees a
//! generic message and that request id.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;

/// Stable machine-readable error codes (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed or a value is invalid; the message names the field.
    BadUserInput,
    /// No valid session.
    Unauthenticated,
    /// Signed in, but not allowed to do this.
    Forbidden,
    /// The thing asked for does not exist (or is not visible to the viewer).
    NotFound,
    /// The state does not allow this now (e.g. a request with this idempotency key is in flight).
    Conflict,
    /// An idempotency key was reused with a different request.
    IdempotencyKeyReused,
    /// The card or payment method was declined.
    PaymentDeclined,
    /// A client-chosen amount, where this server prices payments from its catalog only.
    CustomAmountNotAllowed,
    /// A line item names a price the catalog does not hold.
    PriceNotFound,
    /// The refund policy does not let this viewer refund this payment (now).
    RefundNotAllowed,
    /// A provider (Stripe, an identity provider) is down or its circuit is open; retry later.
    ProviderUnavailable,
    /// Too many requests; retry later.
    RateLimited,
    /// A bug or an outage on our side; the message carries only the request id.
    Internal,
}

impl ErrorCode {
    /// The code as it appears in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::PaymentDeclined => "PAYMENT_DECLINED",
            ErrorCode::CustomAmountNotAllowed => "CUSTOM_AMOUNT_NOT_ALLOWED",
            ErrorCode::PriceNotFound => "PRICE_NOT_FOUND",
            ErrorCode::RefundNotAllowed => "REFUND_NOT_ALLOWED",
            ErrorCode::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The HTTP status for plain HTTP endpoints (callbacks, webhooks) that report this code.
    pub fn http_status(self) -> StatusCode {
        match self {
            ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden
            | ErrorCode::CustomAmountNotAllowed
            | ErrorCode::RefundNotAllowed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound | ErrorCode::PriceNotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::IdempotencyKeyReused => StatusCode::CONFLICT,
            ErrorCode::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            ErrorCode::ProviderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Why a request is `UNAUTHENTICATED`, sent as `extensions.reason` (and as the close reason of
/// a refused WebSocket) so a client knows whether to refresh or to sign in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthReason {
    /// Nothing was sent: sign in.
    NoCredentials,
    /// The access token expired: refresh it with `refreshSession`, then retry.
    TokenExpired,
    /// A token was not issued by this server or was tampered with: sign in again.
    TokenInvalid,
    /// The session was signed out, expired, or ended for safety: sign in again.
    SessionEnded,
}

impl AuthReason {
    /// The reason as it appears in `extensions.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthReason::NoCredentials => "NO_CREDENTIALS",
            AuthReason::TokenExpired => "TOKEN_EXPIRED",
            AuthReason::TokenInvalid => "TOKEN_INVALID",
            AuthReason::SessionEnded => "SESSION_ENDED",
        }
    }
}

/// An internal cause, shared so the GraphQL error can carry it to the logging extension.
pub type InternalCause = Arc<anyhow::Error>;

/// An error at the API boundary. Each variant's doc says what the client sees.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// `BAD_USER_INPUT` with the message; `field` names the offending input.
    #[error("{message}")]
    BadUserInput {
        /// Input path, e.g. `input.amount`.
        field: Option<String>,
        /// What is wrong and what to send instead.
        message: String,
    },
    /// `UNAUTHENTICATED` with `extensions.reason`.
    #[error("{message}")]
    Unauthenticated {
        /// What the client should do about it.
        reason: AuthReason,
        /// The same in words.
        message: String,
    },
    /// `FORBIDDEN`.
    #[error("{0}")]
    Forbidden(String),
    /// `NOT_FOUND`: "<what> not found".
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `CONFLICT` with the message.
    #[error("{0}")]
    Conflict(String),
    /// `IDEMPOTENCY_KEY_REUSED`: the key was used for a different request.
    #[error(
        "this idempotency key was already used for a different request; use a new key for a new request"
    )]
    IdempotencyKeyReused,
    /// `PAYMENT_DECLINED` with the provider's reason in plain words and its `declineCode`.
    #[error("{message}")]
    PaymentDeclined {
        /// What to tell the payer.
        message: String,
        /// The provider's decline code, e.g. `insufficient_funds`.
        decline_code: Option<String>,
    },
    /// `CUSTOM_AMOUNT_NOT_ALLOWED`: `PAYMENTS_ALLOW_CUSTOM_AMOUNT` is off, so payments are
    /// priced from the catalog (`lineItems`) only.
    #[error(
        "this server prices payments from its catalog: send lineItems instead of amount and currency"
    )]
    CustomAmountNotAllowed,
    /// `PRICE_NOT_FOUND` with `extensions.field`: the catalog holds no such price (it may have
    /// been archived; read `catalog` again).
    #[error("no price {price_id:?} in the catalog; read catalog again for the current prices")]
    PriceNotFound {
        /// The price asked for.
        price_id: String,
    },
    /// `REFUND_NOT_ALLOWED` with `extensions.reason` and the reason in words.
    #[error("{message}")]
    RefundNotAllowed {
        /// Why, for machines: `OWNER_REFUNDS_OFF` or `REFUND_WINDOW_PASSED`.
        reason: &'static str,
        /// Why, for people.
        message: String,
    },
    /// `PROVIDER_UNAVAILABLE` with `retryAfterSeconds`.
    #[error("{provider} is unavailable right now; try again later")]
    ProviderUnavailable {
        /// The provider's configured name.
        provider: String,
        /// When trying again makes sense.
        retry_after: Option<Duration>,
    },
    /// `RATE_LIMITED` with `retryAfterSeconds`.
    #[error("too many requests; try again later")]
    RateLimited {
        /// When trying again makes sense.
        retry_after: Option<Duration>,
    },
    /// `INTERNAL`: a generic message and the request id; the cause is logged, never shown.
    #[error("internal error")]
    Internal(InternalCause),
}

impl AppError {
    /// A `BAD_USER_INPUT` error naming `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::BadUserInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An `UNAUTHENTICATED` error.
    pub fn unauthenticated(reason: AuthReason, message: impl Into<String>) -> Self {
        AppError::Unauthenticated {
            reason,
            message: message.into(),
        }
    }

    /// Wraps any error as `INTERNAL`.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(Arc::new(cause.into()))
    }

    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::BadUserInput { .. } => ErrorCode::BadUserInput,
            AppError::Unauthenticated { .. } => ErrorCode::Unauthenticated,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            AppError::PaymentDeclined { .. } => ErrorCode::PaymentDeclined,
            AppError::CustomAmountNotAllowed => ErrorCode::CustomAmountNotAllowed,
            AppError::PriceNotFound { .. } => ErrorCode::PriceNotFound,
            AppError::RefundNotAllowed { .. } => ErrorCode::RefundNotAllowed,
            AppError::ProviderUnavailable { .. } => ErrorCode::ProviderUnavailable,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Seconds after which retrying makes sense, for codes that have one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AppError::ProviderUnavailable { retry_after, .. }
            | AppError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        let mut error = match &err {
            // The cause rides along as the error's source; only the logging extension reads it.
            AppError::Internal(cause) => async_graphql::Error {
                message: err.to_string(),
                source: Some(cause.clone()),
                extensions: None,
            },
            _ => async_graphql::Error::new(err.to_string()),
        };
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("code", err.code().as_str());
        if let AppError::BadUserInput {
            field: Some(field), ..
        } = &err
        {
            extensions.set("field", field.as_str());
        }
        if let AppError::Unauthenticated { reason, .. } = &err {
            extensions.set("reason", reason.as_str());
        }
        if let AppError::RefundNotAllowed { reason, .. } = &err {
            extensions.set("reason", *reason);
        }
        if let AppError::PriceNotFound { price_id } = &err {
            extensions.set("field", "input.lineItems.priceId");
            extensions.set("priceId", price_id.as_str());
        }
        if let AppError::PaymentDeclined {
            decline_code: Some(code),
            ..
        } = &err
        {
            extensions.set("declineCode", code.as_str());
        }
        if let Some(retry_after) = err.retry_after() {
            extensions.set("retryAfterSeconds", retry_after.as_secs().max(1));
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let err: async_graphql::Error =
            AppError::internal(anyhow::anyhow!("password=hunter2")).into();
        assert_eq!(err.message, "internal error");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
        assert!(err.source.is_some());
    }

    #[test]
    fn user_errors_carry_field_and_retry_hint() {
        let err: async_graphql::Error =
            AppError::bad_input("input.amount", "must be positive").into();
        let ext = err.extensions.unwrap();
        assert_eq!(
            ext.get("field"),
            Some(&async_graphql::Value::from("input.amount"))
        );
        let err: async_graphql::Error = AppError::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        }
        .into();
        let ext = err.extensions.unwrap();
        assert_eq!(
            ext.get("retryAfterSeconds"),
            Some(&async_graphql::Value::from(1u64))
        );
    }
}
