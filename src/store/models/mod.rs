//! Rows as the services see them, by area. Statuses and kinds are domain types, stored as the
//! same text as always.

mod audit;
mod auth;
mod events;
mod inbox;
mod payments;
mod users;

pub use audit::{PaymentLine, RefundAuditRow};
pub use auth::{LoginAttempt, Rotation, Session};
pub use events::{EventPage, EventScope, LoggedEvent, NewPaymentEvent, PaymentEventRow};
pub use inbox::{InboxEvent, InboxStats, NewInboxEvent};
pub use payments::{
    BatchStep, IdempotencyStart, PaymentChange, PaymentRow, RefundRow, StepAction, StepResult,
};
pub use users::{Identity, NewIdentity, NewUser, User};
