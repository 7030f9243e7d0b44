//! Payments: creating PaymentIntents and refunds through the configured provider with
//! end-to-end idempotency, reading a user's payments, and applying provider events to them.
//! See docs/payments.md.

mod apply;
mod idempotency;
pub mod money;
mod reads;
mod service;
pub mod status;

pub use reads::PaymentReads;
pub use service::{CreateCheckout, CreateIntent, CreatedCheckout, CreatedIntent, PaymentService};
pub use status::PaymentStatus;
