//! Metric names of every stage a payment passes through after the provider call: the HTTP and
//! GraphQL front door, the webhook inbox and its processor, the event bus, the sockets that push
//! to subscribers, and login sessions. Labels are bounded: no ids, no raw paths.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Mutex;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};

/// HTTP requests by `route` (the route template, never the raw path), `method` and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// HTTP request duration by `route` and `method`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// GraphQL operations over HTTP by `operation` (its name, `anonymous` or `other`) and `outcome`
/// (`ok` or `error`).
pub const GRAPHQL_REQUESTS_TOTAL: &str = "graphql_requests_total";
/// GraphQL operation duration over HTTP by `operation`.
pub const GRAPHQL_REQUEST_DURATION_SECONDS: &str = "graphql_request_duration_seconds";
/// WebSockets open now.
pub const WEBSOCKETS_OPEN: &str = "graphql_websockets_open";
/// Subscriptions (and other socket operations) running now.
pub const SUBSCRIPTIONS_ACTIVE: &str = "graphql_subscriptions_active";
/// Inbox events waiting to be applied.
pub const INBOX_PENDING: &str = "webhook_inbox_pending_events";
/// Inbox events set aside as dead, waiting for a replay.
pub const INBOX_DEAD: &str = "webhook_inbox_dead_events";
/// Age of the oldest pending inbox event, 0 when none is pending.
pub const INBOX_OLDEST_PENDING_AGE_SECONDS: &str = "webhook_inbox_oldest_pending_age_seconds";
/// Duration of applying one batch of inbox events, by `outcome` (`ok` or `error`).
pub const APPLY_DURATION_SECONDS: &str = "webhook_apply_duration_seconds";
/// Times subscribers were told to catch up from the store, by `reason` (`reconnect`,
/// `listener_error`, `malformed`, `lagged`).
pub const BUS_RESYNCS_TOTAL: &str = "event_bus_resyncs_total";
/// Time from a payment event's commit to its notice reaching this instance's bus.
pub const BUS_NOTICE_LAG_SECONDS: &str = "event_bus_notice_lag_seconds";
/// Time from a provider event's arrival at the webhook endpoint to a change it caused being
/// handed to a subscriber, once per subscriber, on the instance that applied the event.
pub const WEBHOOK_TO_PUSH_SECONDS: &str = "webhook_received_to_push_seconds";
/// Refresh-token exchanges by `outcome` (`rotated`, `replayed`, `reused`, `invalid`).
pub const SESSION_REFRESHES_TOTAL: &str = "auth_session_refreshes_total";
/// Requests refused by this server's own rate limits.
pub const RATE_LIMITED_TOTAL: &str = "switchboard_rate_limited_total";

/// Distinct GraphQL operation names given their own series; later names count as `other`.
pub const OPERATION_NAMES_CAP: usize = 200;
/// Longest operation name given its own series.
const OPERATION_NAME_MAX_LEN: usize = 64;

/// Registers descriptions and units of the stage metrics with the installed recorder.
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests by route, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "HTTP request duration by route."
    );
    describe_counter!(
        GRAPHQL_REQUESTS_TOTAL,
        Unit::Count,
        "GraphQL operations by name and outcome."
    );
    describe_histogram!(
        GRAPHQL_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "GraphQL operation duration by name."
    );
    describe_gauge!(WEBSOCKETS_OPEN, Unit::Count, "GraphQL WebSockets open.");
    describe_gauge!(
        SUBSCRIPTIONS_ACTIVE,
        Unit::Count,
        "GraphQL socket operations running."
    );
    describe_gauge!(
        INBOX_PENDING,
        Unit::Count,
        "Webhook inbox events waiting to be applied."
    );
    describe_gauge!(
        INBOX_DEAD,
        Unit::Count,
        "Webhook inbox events set aside as dead."
    );
    describe_gauge!(
        INBOX_OLDEST_PENDING_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest pending webhook inbox event."
    );
    describe_histogram!(
        APPLY_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of applying a batch of webhook events."
    );
    describe_counter!(
        BUS_RESYNCS_TOTAL,
        Unit::Count,
        "Event bus resynchronisations by reason."
    );
    describe_histogram!(
        BUS_NOTICE_LAG_SECONDS,
        Unit::Seconds,
        "Time from a payment event's commit to its notice."
    );
    describe_histogram!(
        WEBHOOK_TO_PUSH_SECONDS,
        Unit::Seconds,
        "Time from a webhook's arrival to its change reaching a subscriber."
    );
    describe_counter!(
        SESSION_REFRESHES_TOTAL,
        Unit::Count,
        "Refresh-token exchanges by outcome."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Requests refused by the server's rate limits."
    );
}

/// Counters that alerts watch with `increase()` start at zero, so the first event after a start
/// is seen as an increase rather than as a new series.
pub fn initialise() {
    metrics::counter!("webhook_reconciled_total").increment(0);
    for reason in ["mismatch", "stale"] {
        metrics::counter!("webhook_rejected_total", "source" => "stripe", "reason" => reason)
            .increment(0);
    }
    for reason in ["reconnect", "listener_error", "malformed"] {
        metrics::counter!(BUS_RESYNCS_TOTAL, "reason" => reason).increment(0);
    }
}

/// The label a GraphQL operation is counted under: its name when it is a valid GraphQL name
/// among the first [`OPERATION_NAMES_CAP`] seen, `anonymous` without a name, `other` otherwise.
/// A client inventing names cannot grow the number of series past the cap.
///
/// Labels are `'static`: an admitted name is kept for the life of the process (at most
/// [`OPERATION_NAMES_CAP`] of them, [`OPERATION_NAME_MAX_LEN`] bytes each), so counting an
/// operation allocates nothing. Each thread remembers the names it has seen admitted, so only a
/// name new to the thread takes the lock every thread shares.
pub fn operation_label(name: Option<&str>) -> &'static str {
    thread_local! {
        static ADMITTED_HERE: RefCell<HashSet<&'static str, foldhash::fast::RandomState>> =
            RefCell::default();
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous";
    };
    if let Some(label) = ADMITTED_HERE.with_borrow(|here| here.get(name).copied()) {
        return label;
    }
    if !is_graphql_name(name) {
        return "other";
    }
    let Some(label) = admit(name) else {
        return "other";
    };
    ADMITTED_HERE.with_borrow_mut(|here| here.insert(label));
    label
}

/// `name` as a label, when it was admitted before or there is still room for it.
fn admit(name: &str) -> Option<&'static str> {
    static ADMITTED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut admitted = ADMITTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let admitted = admitted.get_or_insert_with(HashSet::new);
    if let Some(label) = admitted.get(name) {
        return Some(label);
    }
    if admitted.len() >= OPERATION_NAMES_CAP {
        return None;
    }
    let label: &'static str = Box::leak(Box::from(name));
    admitted.insert(label);
    Some(label)
}

fn is_graphql_name(name: &str) -> bool {
    name.len() <= OPERATION_NAME_MAX_LEN
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

/// Counts one open WebSocket for as long as it lives.
pub struct OpenSocket(());

impl OpenSocket {
    /// Counts a socket as open until the value is dropped.
    pub fn open() -> Self {
        gauge!(WEBSOCKETS_OPEN).increment(1.0);
        OpenSocket(())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        gauge!(WEBSOCKETS_OPEN).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded_and_validated() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("")), "anonymous");
        assert_eq!(operation_label(Some("has space")), "other");
        assert_eq!(operation_label(Some("1Leading")), "other");
        assert_eq!(operation_label(Some(&"a".repeat(65))), "other");
        assert_eq!(operation_label(Some("Checkout")), "Checkout");
        for i in 0..OPERATION_NAMES_CAP * 2 {
            operation_label(Some(&format!("Invented{i}")));
        }
        assert_eq!(operation_label(Some("NeverSeenBefore")), "other");
        assert_eq!(
            operation_label(Some("Checkout")),
            "Checkout",
            "names seen earlier keep their series"
        );
        // Another thread remembers nothing yet: it is answered from what every thread shares.
        std::thread::spawn(|| {
            assert_eq!(operation_label(Some("Checkout")), "Checkout");
            assert_eq!(operation_label(Some("Invented0")), "Invented0");
            assert_eq!(operation_label(Some("NeverSeenOnAnyThread")), "other");
        })
        .join()
        .unwrap();
    }
}
