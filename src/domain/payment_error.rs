//! Why a payment's last attempt failed.

/// Why a payment's last attempt failed, as clients may show it. All `None` when there is
/// nothing to tell (no attempt failed, or a later one succeeded).
///
/// The message is already safe to show: the payment service writes our own words for known
/// codes, or the provider's customer-facing text cleaned and shortened.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentError {
    /// The provider's error code (`card_declined`, `expired_card`, ...).
    #[sqlx(rename = "last_error_code")]
    pub code: Option<String>,
    /// The card network's reason (`insufficient_funds`, ...), when the card was declined.
    #[sqlx(rename = "last_error_decline_code")]
    pub decline_code: Option<String>,
    /// What to tell the payer.
    #[sqlx(rename = "last_error_message")]
    pub message: Option<String>,
}

impl PaymentError {
    /// Whether there is no failure to tell.
    pub fn is_empty(&self) -> bool {
        self.code.is_none() && self.decline_code.is_none() && self.message.is_none()
    }
}
