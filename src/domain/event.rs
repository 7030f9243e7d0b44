//! What a payment event records.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// What kind of change a payment event records. Stored as text: `created`, `refund`, or the
/// provider's event type (`payment_intent.succeeded`) for a change a provider reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum PaymentEventKind {
    /// The payment was created.
    Created,
    /// A refund was recorded.
    Refund,
    /// A provider reported a change; carries the provider's event type.
    Provider(String),
}

impl PaymentEventKind {
    /// The stored text.
    pub fn as_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            PaymentEventKind::Created => "created",
            PaymentEventKind::Refund => "refund",
            PaymentEventKind::Provider(event_type) => event_type,
        })
    }
}

impl From<&str> for PaymentEventKind {
    fn from(text: &str) -> Self {
        match text {
            "created" => PaymentEventKind::Created,
            "refund" => PaymentEventKind::Refund,
            event_type => PaymentEventKind::Provider(event_type.to_owned()),
        }
    }
}

impl From<String> for PaymentEventKind {
    fn from(text: String) -> Self {
        match text.as_str() {
            "created" | "refund" => PaymentEventKind::from(text.as_str()),
            _ => PaymentEventKind::Provider(text),
        }
    }
}

impl From<PaymentEventKind> for String {
    fn from(kind: PaymentEventKind) -> Self {
        match kind {
            PaymentEventKind::Provider(event_type) => event_type,
            known => known.as_text().into_owned(),
        }
    }
}

crate::domain::text::stored_as_text!(PaymentEventKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text_and_json() {
        for text in ["created", "refund", "payment_intent.succeeded"] {
            let kind = PaymentEventKind::from(text);
            assert_eq!(kind.as_text(), text);
            assert_eq!(String::from(kind.clone()), text);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{text}\""));
        }
        assert_eq!(
            PaymentEventKind::from("charge.refunded"),
            PaymentEventKind::Provider("charge.refunded".into())
        );
    }
}
