//! Enums for values that come from providers as text. Each keeps an `OTHER` value, so a value a
//! provider adds later reaches clients as `OTHER` instead of breaking their generated types.

use async_graphql::Enum;

use crate::domain;

/// Which payment provider holds a payment.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentProvider {
    /// Stripe.
    Stripe,
    /// The built-in sandbox of development servers.
    Sandbox,
    /// A provider this version of the schema does not name.
    Other,
}

impl From<&str> for PaymentProvider {
    fn from(name: &str) -> Self {
        match name {
            "stripe" => Self::Stripe,
            "sandbox" => Self::Sandbox,
            _ => Self::Other,
        }
    }
}

/// The protocol a login provider speaks.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginProviderKind {
    /// OpenID Connect (Google, Microsoft, Okta, ...).
    Oidc,
    /// GitHub's OAuth.
    Github,
    /// The development login (never in production).
    Dev,
    /// A kind this version of the schema does not name.
    Other,
}

impl From<domain::LoginKind> for LoginProviderKind {
    fn from(kind: domain::LoginKind) -> Self {
        match kind {
            domain::LoginKind::Oidc => Self::Oidc,
            domain::LoginKind::Github => Self::Github,
            domain::LoginKind::Dev => Self::Dev,
        }
    }
}

/// Where a refund is, as the provider reports it.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    /// Sent; the money is on its way back.
    Pending,
    /// The payer must act before the refund can complete.
    RequiresAction,
    /// Done.
    Succeeded,
    /// The provider could not refund.
    Failed,
    /// Called off.
    Canceled,
    /// A status this version of the schema does not name.
    Other,
}

impl From<&domain::RefundStatus> for RefundStatus {
    fn from(status: &domain::RefundStatus) -> Self {
        match status {
            domain::RefundStatus::Pending => Self::Pending,
            domain::RefundStatus::RequiresAction => Self::RequiresAction,
            domain::RefundStatus::Succeeded => Self::Succeeded,
            domain::RefundStatus::Failed => Self::Failed,
            domain::RefundStatus::Canceled => Self::Canceled,
            domain::RefundStatus::Other(_) => Self::Other,
        }
    }
}

/// What kind of change a payment event records.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentEventKind {
    /// The payment was created.
    Created,
    /// The provider reported a change (`providerEventType` says which).
    ProviderUpdate,
    /// A refund was recorded.
    Refund,
    /// A kind this version of the schema does not name.
    Other,
}

impl From<&domain::PaymentEventKind> for PaymentEventKind {
    fn from(kind: &domain::PaymentEventKind) -> Self {
        match kind {
            domain::PaymentEventKind::Created => Self::Created,
            domain::PaymentEventKind::Refund => Self::Refund,
            // Provider event types are dotted: `payment_intent.succeeded`.
            domain::PaymentEventKind::Provider(t) if t.contains('.') => Self::ProviderUpdate,
            domain::PaymentEventKind::Provider(_) => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_other() {
        assert_eq!(PaymentProvider::from("adyen"), PaymentProvider::Other);
        assert_eq!(
            RefundStatus::from(&domain::RefundStatus::from("reversed")),
            RefundStatus::Other
        );
        let kind = |text: &str| PaymentEventKind::from(&domain::PaymentEventKind::from(text));
        assert_eq!(kind("dispute"), PaymentEventKind::Other);
        assert_eq!(
            kind("payment_intent.succeeded"),
            PaymentEventKind::ProviderUpdate
        );
        assert_eq!(kind("refund"), PaymentEventKind::Refund);
    }
}
