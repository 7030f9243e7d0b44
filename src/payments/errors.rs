//! What payers and clients see when a provider fails.

use crate::error::AppError;
use crate::providers::resilience::ProviderError;

/// What a payer or client sees for a provider failure.
pub(super) fn provider_error(provider: &str, err: ProviderError) -> AppError {
    match err {
        ProviderError::Permanent {
            status: Some(402),
            code,
            message,
        } => AppError::PaymentDeclined {
            message: decline_message(code.as_deref(), &message),
            decline_code: code,
        },
        ProviderError::Permanent {
            status,
            code,
            message,
        } => {
            // Our request was wrong or our credentials are: a bug or a misconfiguration.
            tracing::error!(
                provider,
                ?status,
                ?code,
                message,
                "payment provider refused our request"
            );
            AppError::internal(anyhow::anyhow!("{provider} refused the request: {message}"))
        }
        other => AppError::ProviderUnavailable {
            provider: provider.to_owned(),
            retry_after: other.retry_hint(),
        },
    }
}

/// A decline reason in plain words.
pub(super) fn decline_message(code: Option<&str>, fallback: &str) -> String {
    match code {
        Some("insufficient_funds") => "The card has insufficient funds. Try another card.".into(),
        Some("expired_card") => "The card has expired. Try another card.".into(),
        Some("incorrect_cvc") => "The card's security code is incorrect.".into(),
        Some("card_declined") | Some("generic_decline") => {
            "The card was declined. Try another card or contact the bank.".into()
        }
        _ => format!("The payment was declined: {fallback}"),
    }
}
