//! The vocabulary every layer shares: statuses, kinds and small values, typed once.
//!
//! The store reads and writes these types directly (each is stored as the same text it always
//! was, so no migration is involved); services decide with them; the GraphQL layer wraps them.
//! Nothing here performs I/O or depends on another module of the crate.

mod event;
mod inbox;
mod login;
mod metadata;
mod payment;
mod payment_error;
mod refund;
mod subscription;
mod text;

pub use event::PaymentEventKind;
pub use inbox::InboxStatus;
pub use login::LoginKind;
pub use metadata::Metadata;
pub use payment::{PaymentStatus, UnknownStatus};
pub use payment_error::PaymentError;
pub use refund::RefundStatus;
pub use subscription::{SubscriptionStatus, UnknownSubscriptionStatus};
