//! Rows as the services see them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A person who has signed in at least once.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Stable id (UUID v7, so ids sort by creation time).
    pub id: Uuid,
    /// The email the user was created with, if any provider asserted one.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Admins may act on other users' payments and replay webhooks.
    pub is_admin: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the profile last changed.
    pub updated_at: DateTime<Utc>,
}

/// An external account (provider + subject) that signs a user in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Identity {
    /// Row id.
    pub id: Uuid,
    /// The user this identity signs in.
    pub user_id: Uuid,
    /// Configured provider name, e.g. `google`.
    pub provider: String,
    /// The provider's stable subject identifier for the account.
    pub subject: String,
    /// Email the provider asserted.
    pub email: Option<String>,
    /// Whether the provider says it verified that email.
    pub email_verified: bool,
    /// When the identity was first linked.
    pub created_at: DateTime<Utc>,
}

/// Profile of a user about to be created.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Email, if known.
    pub email: Option<String>,
    /// Display name, if known.
    pub name: Option<String>,
}

/// An identity about to be linked.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    /// Configured provider name.
    pub provider: String,
    /// The provider's subject.
    pub subject: String,
    /// Email asserted by the provider.
    pub email: Option<String>,
    /// Whether that email is verified.
    pub email_verified: bool,
}

/// A login in progress: what the callback needs to finish it safely.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginAttempt {
    /// SHA-256 of the `state` parameter (the state itself is never stored).
    pub state_hash: String,
    /// Configured provider name.
    pub provider: String,
    /// PKCE code verifier sent with the code exchange; `None` when the client holds its own
    /// (it sent [`Self::code_challenge`] and sends the verifier to `completeLogin`).
    pub pkce_verifier: Option<String>,
    /// The S256 PKCE challenge a client sent with `startLogin`, when it holds the verifier.
    pub code_challenge: Option<String>,
    /// SHA-256 of the login cookie of the browser that started the login, when it has one.
    pub browser_hash: Option<String>,
    /// Nonce the ID token must carry.
    pub nonce: String,
    /// Where a web login returns to (an allowed origin), if it was given.
    pub redirect_to: Option<String>,
    /// True when the client finishes the login itself (`completeLogin`): the callback then
    /// forwards `code` and `state` to `redirect_to` instead of finishing it.
    pub client_completes: bool,
    /// Set when a signed-in user is linking another identity.
    pub link_user_id: Option<Uuid>,
    /// When the attempt started.
    pub created_at: DateTime<Utc>,
    /// After this, the attempt can no longer be finished.
    pub expires_at: DateTime<Utc>,
    /// When the callback used it (single use).
    pub consumed_at: Option<DateTime<Utc>>,
}

crate::redact::redacted_debug!(LoginAttempt {
    provider, code_challenge, redirect_to, client_completes, link_user_id, created_at, expires_at,
    consumed_at
} hides { state_hash, pkce_verifier, browser_hash, nonce });

/// A signed-in session: one login on one device, kept alive by rotating refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// Session id; access tokens carry it as `sid`.
    pub id: Uuid,
    /// Who is signed in.
    pub user_id: Uuid,
    /// The provider the session was started with.
    pub provider: String,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// The session ends here however often it is refreshed.
    pub expires_at: DateTime<Utc>,
    /// Set by logout or by refresh-token reuse.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// True when the session may still be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent and the new one replaces it.
    Rotated(Session),
    /// The token was spent within the grace window by a concurrent request (another tab, a
    /// retry): its successor, still unused, is handed out again.
    Replayed {
        /// The session.
        session: Session,
        /// Hash of the successor the first use issued.
        successor_hash: String,
        /// When the first use rotated the token.
        rotated_at: DateTime<Utc>,
    },
    /// The token had already been spent: the session is revoked, as the token may be stolen.
    Reused(Uuid),
    /// Unknown, expired, or its session is over.
    Invalid,
}

/// Where an inbox event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    /// Waiting to be applied (or to be retried).
    Pending,
    /// Applied to our data.
    Applied,
    /// Understood and deliberately not applied (an event type we do not use).
    Ignored,
    /// Failed too often; kept with its error until replayed.
    Dead,
}

impl InboxStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Pending => "pending",
            InboxStatus::Applied => "applied",
            InboxStatus::Ignored => "ignored",
            InboxStatus::Dead => "dead",
        }
    }
}

/// A verified provider event waiting in (or done with) the inbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxEvent {
    /// Arrival order.
    pub seq: i64,
    /// The provider's event id (the dedupe key).
    pub event_id: String,
    /// e.g. `payment_intent.succeeded`.
    pub event_type: String,
    /// The raw event JSON.
    pub payload: String,
    /// `stripe` or `sandbox`.
    pub source: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// `pending`, `applied`, `ignored` or `dead`.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Not before this.
    pub next_attempt_at: DateTime<Utc>,
    /// A processor holds it until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was applied, ignored or declared dead.
    pub processed_at: Option<DateTime<Utc>>,
}

/// How much of the inbox waits, as reported on `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxStats {
    /// Events waiting to be applied.
    pub pending: i64,
    /// Events set aside as dead.
    pub dead: i64,
    /// When the oldest pending event arrived, if any is pending.
    pub oldest_pending_received_at: Option<DateTime<Utc>>,
}

/// A verified event about to be stored.
#[derive(Debug, Clone)]
pub struct NewInboxEvent {
    /// The provider's event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The raw event JSON.
    pub payload: String,
    /// `stripe` or `sandbox`.
    pub source: String,
}

/// One change applied to a payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct PaymentEventRow {
    /// Global, increasing position: clients resume after it.
    pub cursor: i64,
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Position within the payment's own history, from 1.
    pub sequence: i32,
    /// What happened, e.g. `created`, `payment_intent.succeeded`, `refund`.
    pub kind: String,
    /// The payment's status after the change (`SUCCEEDED`, ...).
    pub status: String,
    /// Refunded amount after the change, in minor units.
    pub amount_refunded: i64,
    /// The provider event that caused it, if any.
    pub source_event_id: Option<String>,
    /// When it was applied.
    pub occurred_at: DateTime<Utc>,
}

/// A change about to be recorded.
#[derive(Debug, Clone)]
pub struct NewPaymentEvent {
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// What happened.
    pub kind: String,
    /// Status after the change.
    pub status: String,
    /// Refunded amount after the change.
    pub amount_refunded: i64,
    /// The provider event behind it.
    pub source_event_id: Option<String>,
}

/// Which events a reader wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventScope {
    /// One payment's events (its owner is checked by the caller).
    Payment(Uuid),
    /// Every event of one user's payments.
    User(Uuid),
}

/// A payment as we record it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRow {
    /// Our id (UUID v7: sorts by creation).
    pub id: Uuid,
    /// Who pays.
    pub user_id: Uuid,
    /// `stripe` or `sandbox`.
    pub provider: String,
    /// The provider's id (`pi_...`).
    pub provider_payment_id: String,
    /// `PaymentStatus` as text.
    pub status: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO-4217.
    pub currency: String,
    /// Refunded so far, minor units.
    pub amount_refunded: i64,
    /// Shown on statements and receipts.
    pub description: Option<String>,
    /// Client metadata as a JSON object.
    pub metadata: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefundRow {
    /// Our id.
    pub id: Uuid,
    /// The payment refunded.
    pub payment_id: Uuid,
    /// The provider's id (`re_...`).
    pub provider_refund_id: String,
    /// Minor units.
    pub amount: i64,
    /// The provider's refund status (`succeeded`, `pending`, ...).
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// What an idempotency key says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// First use: go ahead.
    Fresh,
    /// Done before with the same request: here is the stored response.
    Replay(String),
    /// The same request is still being handled.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// A change to apply to a payment, guarded by the state it must still be in.
#[derive(Debug, Clone)]
pub struct PaymentChange {
    /// The payment.
    pub payment_id: Uuid,
    /// Its owner (for the event log).
    pub user_id: Uuid,
    /// The status it must still have (optimistic concurrency).
    pub from_status: String,
    /// The refunded amount it must still have.
    pub from_refunded: i64,
    /// New status.
    pub status: String,
    /// New refunded amount.
    pub amount_refunded: i64,
    /// Event kind for the log.
    pub kind: String,
    /// Provider event behind it.
    pub source_event_id: Option<String>,
}

/// An event just appended to the log, with the cursor of the event logged right before it (in
/// any scope). Appends are serialised, so `previous` chains every event of the log: a reader
/// that has seen `previous` and now sees this event knows nothing lies between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The event.
    pub event: PaymentEventRow,
    /// Cursor of the event before it in the whole log (0 for the first).
    pub previous: i64,
}

/// Events of one scope read at one moment, with how far the whole log was complete then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Every event at or below this cursor had committed before the events were read, so the
    /// page holds every event of its scope up to here (or up to its last event, if later).
    pub horizon: i64,
    /// The events, oldest first.
    pub events: Vec<PaymentEventRow>,
}

/// One step of a batch of inbox work, written in order in one transaction.
#[derive(Debug, Clone)]
pub struct BatchStep {
    /// The inbox event this step finishes, if any.
    pub inbox_seq: Option<i64>,
    /// The payment the step concerns: once a change to it is refused, its later steps in the
    /// batch are not written (they were decided from the state the refused change assumed).
    pub payment_id: Option<Uuid>,
    /// What to write.
    pub action: StepAction,
}

/// What a batch step writes.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// Apply a payment change (its inbox event, if any, is then finished as applied).
    Change(PaymentChange),
    /// Only finish the inbox event with this status (unchanged, ignored).
    Finish(InboxStatus),
}

/// What happened to a batch step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// The change was applied and logged.
    Changed(LoggedEvent),
    /// The inbox event was finished without a change.
    Finished,
    /// The payment was not as the step assumed (another writer got there first): nothing was
    /// written for this step; decide again from fresh state.
    Contended,
}
