//! Where a subscription is (Stripe Billing's statuses), and the order they may follow each other.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

// Stored, published and shown as `SCREAMING_SNAKE_CASE` text (`PAST_DUE`), like payment statuses.
// The doc line below is the schema's description.
/// Where a subscription is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, async_graphql::Enum,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "TEXT", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    /// Created; its first invoice waits to be paid (confirm the `clientSecret`).
    Incomplete,
    /// The first invoice was not paid in time; the subscription never started.
    IncompleteExpired,
    /// In a free trial.
    Trialing,
    /// Paid and in force.
    Active,
    /// A renewal payment failed; the provider is retrying it.
    PastDue,
    /// Ended.
    Canceled,
    /// Renewal payments failed and retries ran out; in force no more until an invoice is paid.
    Unpaid,
    /// Paused (no invoices are created).
    Paused,
}

impl SubscriptionStatus {
    /// Every status.
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
    ];

    /// The stored and wire form, e.g. `PAST_DUE`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "INCOMPLETE",
            SubscriptionStatus::IncompleteExpired => "INCOMPLETE_EXPIRED",
            SubscriptionStatus::Trialing => "TRIALING",
            SubscriptionStatus::Active => "ACTIVE",
            SubscriptionStatus::PastDue => "PAST_DUE",
            SubscriptionStatus::Canceled => "CANCELED",
            SubscriptionStatus::Unpaid => "UNPAID",
            SubscriptionStatus::Paused => "PAUSED",
        }
    }

    /// Whether nothing can follow: a canceled subscription, or one that never started.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }

    /// Whether the subscription is in force, so what its price grants applies: trialing,
    /// active, or past due (the provider is still collecting; access is kept meanwhile).
    pub fn is_in_force(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }

    /// Whether a subscription in this status may move to `next` (staying is always allowed).
    /// The lattice of docs/decisions/0010-subscription-ordering.md: nothing leaves a terminal
    /// status; nothing returns to `INCOMPLETE`; `INCOMPLETE_EXPIRED` only follows `INCOMPLETE`;
    /// every other move (active ↔ past due, trialing → active, → unpaid, → paused, → canceled)
    /// is allowed, and events older than the last one applied are refused before this is asked.
    pub fn may_become(self, next: SubscriptionStatus) -> bool {
        if self == next {
            return true;
        }
        if self.is_terminal() {
            return false;
        }
        match next {
            SubscriptionStatus::Incomplete => false,
            SubscriptionStatus::IncompleteExpired => self == SubscriptionStatus::Incomplete,
            _ => true,
        }
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription status text this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown subscription status {0:?}")]
pub struct UnknownSubscriptionStatus(pub String);

impl FromStr for SubscriptionStatus {
    type Err = UnknownSubscriptionStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubscriptionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownSubscriptionStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::SubscriptionStatus::*;
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_text() {
        for status in SubscriptionStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
        assert!("active".parse::<SubscriptionStatus>().is_err());
    }

    #[test]
    fn terminal_statuses_are_never_left_and_incomplete_never_returns() {
        for next in SubscriptionStatus::ALL {
            assert_eq!(Canceled.may_become(next), next == Canceled, "{next}");
            assert_eq!(
                IncompleteExpired.may_become(next),
                next == IncompleteExpired,
                "{next}"
            );
            assert_eq!(
                Active.may_become(next),
                !matches!(next, Incomplete | IncompleteExpired)
            );
        }
        assert!(Incomplete.may_become(Active));
        assert!(Incomplete.may_become(IncompleteExpired));
        assert!(Active.may_become(PastDue) && PastDue.may_become(Active));
        assert!(Unpaid.may_become(Active) && Paused.may_become(Active));
        assert!(!Trialing.may_become(Incomplete));
    }

    #[test]
    fn in_force_is_trialing_active_or_past_due() {
        let in_force: Vec<_> = SubscriptionStatus::ALL
            .into_iter()
            .filter(|s| s.is_in_force())
            .collect();
        assert_eq!(in_force, [Trialing, Active, PastDue]);
    }
}
