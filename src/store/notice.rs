//! Announcements of appended events, as they travel on PostgreSQL's `NOTIFY` (sent by the store
//! inside the appending transaction, so they arrive in commit order) and on the in-process bus.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{LoggedEvent, PaymentEventRow};

/// The `NOTIFY` channel of payment notices, which every instance listens on.
pub const NOTICE_CHANNEL: &str = "switchboard_payment_events";

/// What an event of the log is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogSubject {
    /// A payment (`payment_id` is the payment's).
    #[default]
    #[serde(rename = "p")]
    Payment,
    /// A subscription (`payment_id` is the subscription's).
    #[serde(rename = "s")]
    Subscription,
}

impl LogSubject {
    fn is_payment(&self) -> bool {
        *self == LogSubject::Payment
    }
}

/// A payment changed: its event at `cursor` is in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Cursor of the event logged just before this one, in any scope (0 for the first).
    #[serde(rename = "p")]
    pub previous: i64,
    /// Global cursor of the new payment event.
    #[serde(rename = "c")]
    pub cursor: i64,
    /// The payment.
    #[serde(rename = "y")]
    pub payment_id: Uuid,
    /// Its owner.
    #[serde(rename = "u")]
    pub user_id: Uuid,
    /// The event itself, shared by every subscriber that hears it; absent when it did not fit
    /// a NOTIFY payload (subscribers then read it from the store).
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Arc<PaymentEventRow>>,
    /// What the event is about; notices without it (older instances) are about payments.
    #[serde(rename = "s", default, skip_serializing_if = "LogSubject::is_payment")]
    pub subject: LogSubject,
}

impl From<&LoggedEvent> for Notice {
    fn from(logged: &LoggedEvent) -> Self {
        Notice {
            previous: logged.previous,
            cursor: logged.event.cursor,
            payment_id: logged.event.payment_id,
            user_id: logged.event.user_id,
            event: Some(Arc::new(logged.event.clone())),
            subject: LogSubject::Payment,
        }
    }
}

/// PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
const PAYLOAD_LIMIT: usize = 7900;

/// NOTIFY payloads for `notices`: JSON arrays, as many notices per payload as fit. A notice
/// whose event alone would not fit travels without it.
pub fn encode_notices(notices: &[Notice]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    for notice in notices {
        let mut text = serde_json::to_string(notice).unwrap_or_default();
        if text.len() + 2 > PAYLOAD_LIMIT {
            let header = Notice {
                event: None,
                ..notice.clone()
            };
            text = serde_json::to_string(&header).unwrap_or_default();
        }
        if !current.is_empty() && current.len() + text.len() + 2 > PAYLOAD_LIMIT {
            current.push(']');
            payloads.push(std::mem::take(&mut current));
        }
        current.push(if current.is_empty() { '[' } else { ',' });
        current.push_str(&text);
    }
    if !current.is_empty() {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

/// The notices in a payload written by [`encode_notices`]; `None` when it is not one.
pub fn decode_notices(payload: &str) -> Option<Vec<Notice>> {
    serde_json::from_str(payload).ok()
}

/// A logged event for tests.
#[cfg(test)]
pub(crate) fn logged(cursor: i64, previous: i64) -> LoggedEvent {
    LoggedEvent {
        previous,
        event: PaymentEventRow {
            cursor,
            payment_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            sequence: 1,
            kind: crate::domain::PaymentEventKind::Created,
            status: crate::domain::PaymentStatus::Processing,
            amount_refunded: 0,
            source_event_id: Some("evt_1".into()),
            occurred_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_through_notify_payloads_with_their_events() {
        let notices: Vec<Notice> = (1..=3).map(|c| Notice::from(&logged(c, c - 1))).collect();
        let payloads = encode_notices(&notices);
        assert_eq!(payloads.len(), 1);
        assert_eq!(decode_notices(&payloads[0]), Some(notices));
        assert_eq!(decode_notices("[{\"p\":1}]"), None);
    }

    #[test]
    fn many_notices_are_split_across_payloads_below_the_limit() {
        let notices: Vec<Notice> = (1..=200).map(|c| Notice::from(&logged(c, c - 1))).collect();
        let payloads = encode_notices(&notices);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8000));
        let decoded: Vec<Notice> = payloads
            .iter()
            .flat_map(|p| decode_notices(p).unwrap())
            .collect();
        assert_eq!(decoded, notices);
    }

    #[test]
    fn an_event_too_big_for_a_payload_travels_as_a_bare_notice() {
        let mut big = logged(7, 5);
        big.event.kind = crate::domain::PaymentEventKind::Provider("x".repeat(9000));
        let payloads = encode_notices(&[Notice::from(&big)]);
        let decoded = decode_notices(&payloads[0]).unwrap();
        assert_eq!(decoded[0].cursor, 7);
        assert_eq!(decoded[0].previous, 5);
        assert_eq!(decoded[0].event, None);
        assert!(payloads[0].len() < 8000);
    }
}
