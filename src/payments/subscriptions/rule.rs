//! The never-backwards rule of subscriptions (docs/decisions/0010-subscription-ordering.md): what
//! a provider's report makes of our record. Pure, so every ordering can be tested.
//!
//! 1. An event older (by the provider's `created`) than the newest one applied changes nothing.
//! 2. A snapshot whose status cannot follow ours ([`SubscriptionStatus::may_become`]) describes
//!    an earlier moment and changes nothing; a terminal status is never left.
//! 3. Invoice events move the status as Stripe would: a paid invoice makes an incomplete, past
//!    due or unpaid subscription active; a failed payment makes an active one past due (a failed
//!    first invoice leaves it incomplete). A final invoice status (`paid`, `void`,
//!    `uncollectible`) is never replaced by an earlier one (`draft`, `open`) of the same invoice.
//!
//! Answers to our own calls are snapshots without a time: rule 2 applies, rule 1 cannot, and
//! they do not move the event clock (our clock and the provider's are not comparable).

use chrono::{DateTime, Utc};

use crate::domain::SubscriptionStatus;
use crate::providers::payments::{InvoiceOutcome, ProviderInvoice, ProviderSubscription};
use crate::store::SubscriptionRow;

/// What the provider reported.
#[derive(Debug, Clone, Copy)]
pub(super) enum Report<'a> {
    /// The subscription as it is (an answer: `occurred_at` is `None`) or was (an event).
    Snapshot {
        subscription: &'a ProviderSubscription,
        occurred_at: Option<i64>,
    },
    /// Something happened to one of its invoices' payment.
    Invoice {
        invoice: &'a ProviderInvoice,
        outcome: InvoiceOutcome,
        occurred_at: i64,
    },
}

/// The record after `report`; equal to `current` when the report changes nothing.
pub(super) fn next(current: &SubscriptionRow, report: Report<'_>) -> SubscriptionRow {
    let occurred_at = match report {
        Report::Snapshot { occurred_at, .. } => occurred_at,
        Report::Invoice { occurred_at, .. } => Some(occurred_at),
    };
    if occurred_at.is_some_and(|at| at < current.provider_event_at) {
        return current.clone();
    }
    let mut next = current.clone();
    if current.status.is_terminal() {
        // Nothing follows; only the clock moves, so older events stay refused.
        next.provider_event_at =
            occurred_at.map_or(next.provider_event_at, |at| at.max(next.provider_event_at));
        return next;
    }
    match report {
        Report::Snapshot { subscription, .. } => {
            if !current.status.may_become(subscription.status) {
                return current.clone();
            }
            next.status = subscription.status;
            next.price_id = subscription.price_id.clone();
            next.quantity = i64::from(subscription.quantity);
            next.cancel_at_period_end = subscription.cancel_at_period_end;
            if let Some(end) = subscription.current_period_end.and_then(timestamp) {
                next.current_period_end = Some(end);
            }
            if let Some(invoice) = &subscription.latest_invoice {
                merge_invoice(&mut next, invoice);
            }
        }
        Report::Invoice {
            invoice, outcome, ..
        } => {
            merge_invoice(&mut next, invoice);
            let moved = match outcome {
                InvoiceOutcome::Paid => matches!(
                    current.status,
                    SubscriptionStatus::Incomplete
                        | SubscriptionStatus::PastDue
                        | SubscriptionStatus::Unpaid
                )
                .then_some(SubscriptionStatus::Active),
                InvoiceOutcome::PaymentFailed => (current.status == SubscriptionStatus::Active)
                    .then_some(SubscriptionStatus::PastDue),
                InvoiceOutcome::ActionRequired => None,
            };
            if let Some(status) = moved.filter(|s| current.status.may_become(*s)) {
                next.status = status;
            }
        }
    }
    if let Some(at) = occurred_at {
        next.provider_event_at = at.max(current.provider_event_at);
    }
    next
}

/// Whether `next` differs from `current` in anything a client sees (not only the clock).
pub(super) fn visible_change(current: &SubscriptionRow, next: &SubscriptionRow) -> bool {
    let mut same_clock = next.clone();
    same_clock.provider_event_at = current.provider_event_at;
    same_clock != *current
}

fn merge_invoice(row: &mut SubscriptionRow, invoice: &ProviderInvoice) {
    let same = row.latest_invoice_id.as_deref() == Some(invoice.id.as_str());
    let regresses = same
        && is_final(row.latest_invoice_status.as_deref())
        && !is_final(invoice.status.as_deref());
    if regresses {
        return;
    }
    row.latest_invoice_id = Some(invoice.id.clone());
    row.latest_invoice_amount_due = Some(invoice.amount_due);
    if invoice.currency.is_some() || !same {
        row.latest_invoice_currency = invoice.currency.clone();
    }
    row.latest_invoice_status = invoice.status.clone();
    if invoice.hosted_invoice_url.is_some() || !same {
        row.latest_invoice_url = invoice.hosted_invoice_url.clone();
    }
}

fn is_final(status: Option<&str>) -> bool {
    matches!(status, Some("paid" | "void" | "uncollectible"))
}

fn timestamp(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use SubscriptionStatus::*;

    fn row(status: SubscriptionStatus) -> SubscriptionRow {
        let now = Utc::now();
        SubscriptionRow {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            provider: "stripe".into(),
            provider_subscription_id: "sub_1".into(),
            price_id: "price_1".into(),
            quantity: 1,
            status,
            current_period_end: None,
            cancel_at_period_end: false,
            latest_invoice_id: Some("in_1".into()),
            latest_invoice_amount_due: Some(1000),
            latest_invoice_currency: Some("usd".into()),
            latest_invoice_status: Some("open".into()),
            latest_invoice_url: None,
            provider_event_at: 0,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    fn snapshot(status: SubscriptionStatus, cancel: bool) -> ProviderSubscription {
        ProviderSubscription {
            id: "sub_1".into(),
            status,
            price_id: "price_1".into(),
            quantity: 1,
            current_period_end: Some(1_800_000_000),
            cancel_at_period_end: cancel,
            latest_invoice: None,
            client_secret: None,
        }
    }

    fn invoice(id: &str, status: &str) -> ProviderInvoice {
        ProviderInvoice {
            id: id.into(),
            amount_due: 1000,
            currency: Some("usd".into()),
            status: Some(status.into()),
            hosted_invoice_url: None,
        }
    }

    fn paid(id: &str, at: i64) -> (ProviderInvoice, InvoiceOutcome, i64) {
        (invoice(id, "paid"), InvoiceOutcome::Paid, at)
    }

    fn failed(id: &str, at: i64) -> (ProviderInvoice, InvoiceOutcome, i64) {
        (invoice(id, "open"), InvoiceOutcome::PaymentFailed, at)
    }

    fn apply(
        row: &SubscriptionRow,
        (invoice, outcome, at): &(ProviderInvoice, InvoiceOutcome, i64),
    ) -> SubscriptionRow {
        next(
            row,
            Report::Invoice {
                invoice,
                outcome: *outcome,
                occurred_at: *at,
            },
        )
    }

    #[test]
    fn invoices_move_the_status_like_stripe() {
        let active = apply(&row(Incomplete), &paid("in_1", 10));
        assert_eq!((active.status, active.provider_event_at), (Active, 10));
        let past_due = apply(&active, &failed("in_2", 20));
        assert_eq!(past_due.status, PastDue);
        assert_eq!(past_due.latest_invoice_id.as_deref(), Some("in_2"));
        assert_eq!(apply(&past_due, &paid("in_2", 30)).status, Active);
        // A failed first invoice leaves the subscription incomplete.
        assert_eq!(
            apply(&row(Incomplete), &failed("in_1", 10)).status,
            Incomplete
        );
    }

    #[test]
    fn any_delivery_order_ends_where_the_newest_event_says() {
        // The renewal failed at 20 and its retry succeeded at 30.
        let events = [paid("in_1", 10), failed("in_2", 20), paid("in_2", 30)];
        let orders: [[usize; 3]; 6] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut current = row(Incomplete);
            let mut seen = vec![current.status];
            for i in order {
                current = apply(&current, &events[i]);
                seen.push(current.status);
            }
            assert_eq!(current.status, Active, "{order:?}: {seen:?}");
            assert_eq!(
                current.latest_invoice_status.as_deref(),
                Some("paid"),
                "{order:?}"
            );
            assert_eq!(current.provider_event_at, 30);
        }
    }

    #[test]
    fn older_events_and_earlier_snapshots_change_nothing() {
        let mut current = row(Active);
        current.provider_event_at = 50;
        let old = snapshot(Incomplete, false);
        let stale = next(
            &current,
            Report::Snapshot {
                subscription: &old,
                occurred_at: Some(40),
            },
        );
        assert_eq!(stale, current);
        // Same time, but a status that cannot follow ours: from before it.
        let earlier = next(
            &current,
            Report::Snapshot {
                subscription: &old,
                occurred_at: Some(50),
            },
        );
        assert_eq!(earlier, current);
        let cancelling = snapshot(Active, true);
        let newer = next(
            &current,
            Report::Snapshot {
                subscription: &cancelling,
                occurred_at: Some(60),
            },
        );
        assert!(newer.cancel_at_period_end && visible_change(&current, &newer));
        assert_eq!(newer.provider_event_at, 60);
        // An answer to our own call has no time and leaves the clock alone.
        let answer = next(
            &current,
            Report::Snapshot {
                subscription: &cancelling,
                occurred_at: None,
            },
        );
        assert_eq!(answer.provider_event_at, 50);
    }

    #[test]
    fn canceled_is_final_and_paid_invoices_stay_paid() {
        let mut canceled = row(Canceled);
        canceled.provider_event_at = 10;
        let revived = next(
            &canceled,
            Report::Snapshot {
                subscription: &snapshot(Active, false),
                occurred_at: Some(20),
            },
        );
        assert_eq!(revived.status, Canceled);
        assert!(!visible_change(&canceled, &revived));
        assert_eq!(revived.provider_event_at, 20);
        let mut paid_row = row(Active);
        paid_row.latest_invoice_status = Some("paid".into());
        let late_open = next(
            &paid_row,
            Report::Invoice {
                invoice: &invoice("in_1", "open"),
                outcome: InvoiceOutcome::ActionRequired,
                occurred_at: 5,
            },
        );
        assert_eq!(late_open.latest_invoice_status.as_deref(), Some("paid"));
        assert!(!visible_change(&paid_row, &late_open));
    }
}
