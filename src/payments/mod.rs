//! Payments: creating PaymentIntents and refunds through the configured provider with
//! end-to-end idempotency, reading a user's payments, and applying provider events to them.
//! See docs/payments.md.

mod apply;
mod cards;
pub mod catalog;
mod change;
mod checkout;
mod errors;
mod failure;
mod idempotency;
mod intents;
pub mod money;
pub mod page;
mod portal;
mod queries;
mod reads;
mod refetch;
mod refunds;
mod service;
pub mod status;
mod subscriptions;
mod trace;
mod validate;

pub use cards::{ApiVersion, CreateSetup, CreatedSetup, CustomerAccess, CustomerAccessRequest};
pub use portal::CreatedPortal;
pub use reads::PaymentReads;
pub use service::{CreateCheckout, CreateIntent, CreatedCheckout, CreatedIntent, PaymentService};
pub use status::PaymentStatus;
pub use subscriptions::{MAX_QUANTITY, PlanChoice, Subscribed};
