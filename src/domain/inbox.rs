//! Where an inbox event is in its life.

/// Where an inbox event is in its life. Stored as lower-case text (`pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
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
