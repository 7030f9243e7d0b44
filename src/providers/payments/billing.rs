//! The port's words for Stripe Billing: subscriptions to create and change, and what a provider
//! reports of them (in answers and in events).

use crate::domain::SubscriptionStatus;

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    /// The provider's customer to bill (`None` for providers without customers).
    pub customer: Option<String>,
    /// The recurring price (`price_...`).
    pub price_id: String,
    /// Units of the price.
    pub quantity: u32,
    /// Sent as `Idempotency-Key` on every attempt.
    pub idempotency_key: String,
}

/// A change to an existing subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionUpdate {
    /// Move to another price and quantity, prorating the current period.
    ChangePrice {
        /// The new recurring price.
        price_id: String,
        /// Units of it.
        quantity: u32,
    },
    /// Cancel at the end of the current period (it stays in force until then).
    CancelAtPeriodEnd,
    /// Take back a cancellation at period end.
    Resume,
}

/// The latest invoice of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderInvoice {
    /// `in_...`.
    pub id: String,
    /// Minor units still to pay.
    pub amount_due: i64,
    /// Lower-case ISO-4217.
    pub currency: Option<String>,
    /// `draft`, `open`, `paid`, `void`, `uncollectible`.
    pub status: Option<String>,
    /// The provider's hosted page to see and pay the invoice.
    pub hosted_invoice_url: Option<String>,
}

/// A subscription as the provider reports it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSubscription {
    /// `sub_...`.
    pub id: String,
    /// Where it is.
    pub status: SubscriptionStatus,
    /// The price it bills (its single item's).
    pub price_id: String,
    /// Units of the price.
    pub quantity: u32,
    /// End of the paid period (Unix seconds), when known.
    pub current_period_end: Option<i64>,
    /// Whether it ends at the end of the current period.
    pub cancel_at_period_end: bool,
    /// Its latest invoice, when the answer carried it.
    pub latest_invoice: Option<ProviderInvoice>,
    /// The client secret of the latest invoice's payment, while that invoice waits to be paid;
    /// only in answers to our own calls, never in events.
    pub client_secret: Option<String>,
}

crate::redact::redacted_debug!(ProviderSubscription {
    id,
    status,
    price_id,
    quantity,
    current_period_end,
    cancel_at_period_end,
    latest_invoice
} hides { client_secret });

/// What an invoice event says happened to an invoice's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceOutcome {
    /// Paid (`invoice.paid`, `invoice.payment_succeeded`).
    Paid,
    /// A payment attempt failed (`invoice.payment_failed`).
    PaymentFailed,
    /// The payer must authenticate (`invoice.payment_action_required`).
    ActionRequired,
}
