//! The request path's metric handles, looked up once per thread and label set.
//!
//! `metrics::counter!` with labels builds its key (allocating the labels) and looks it up in
//! the recorder's registry on every call. The front door records four series per request, with
//! labels drawn from small bounded sets (route templates, methods, statuses, operation names), so
//! each worker thread keeps the handles it has used. The handles are the registry's own, so
//! `/metrics` renders the same series as before.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::stages::{
    GRAPHQL_REQUEST_DURATION_SECONDS, GRAPHQL_REQUESTS_TOTAL, HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_TOTAL,
};

/// The series of one route and method: its duration, and its count per status.
struct RouteSeries {
    method: &'static str,
    duration: Histogram,
    by_status: Vec<(u16, Counter)>,
}

/// The series of one operation name: its duration, and its count per outcome (each made
/// when first used, as the macros made them).
struct OperationSeries {
    duration: Histogram,
    ok: Option<Counter>,
    error: Option<Counter>,
}

/// A thread's own map: its keys are the few labels of this thread's traffic, so a fast
/// hasher does (no client picks them: routes are templates, operations are capped).
type LocalMap<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;

thread_local! {
    static ROUTES: RefCell<LocalMap<Vec<RouteSeries>>> = RefCell::default();
    static OPERATIONS: RefCell<LocalMap<OperationSeries>> = RefCell::default();
}

/// Records one HTTP request under its route template, method and status.
pub fn record_http(route: &str, method: &'static str, status: u16, elapsed: Duration) {
    ROUTES.with_borrow_mut(|routes| {
        let methods = routes.entry_ref_or_insert_with(route, Vec::new);
        let index = match methods.iter().position(|s| s.method == method) {
            Some(index) => index,
            None => {
                methods.push(RouteSeries {
                    method,
                    duration: metrics::histogram!(
                        HTTP_REQUEST_DURATION_SECONDS,
                        "route" => route.to_owned(),
                        "method" => method
                    ),
                    by_status: Vec::new(),
                });
                methods.len() - 1
            }
        };
        let series = &mut methods[index];
        series.duration.record(elapsed);
        match series.by_status.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.increment(1),
            None => {
                let counter = metrics::counter!(
                    HTTP_REQUESTS_TOTAL,
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.to_string()
                );
                counter.increment(1);
                series.by_status.push((status, counter));
            }
        }
    });
}

/// Records one GraphQL operation under its (already bounded) name label and outcome.
pub fn record_operation(operation: &str, ok: bool, elapsed: Duration) {
    OPERATIONS.with_borrow_mut(|operations| {
        let series = operations.entry_ref_or_insert_with(operation, || OperationSeries {
            duration: metrics::histogram!(
                GRAPHQL_REQUEST_DURATION_SECONDS,
                "operation" => operation.to_owned()
            ),
            ok: None,
            error: None,
        });
        series.duration.record(elapsed);
        let (slot, outcome) = if ok {
            (&mut series.ok, "ok")
        } else {
            (&mut series.error, "error")
        };
        slot.get_or_insert_with(|| {
            metrics::counter!(
                GRAPHQL_REQUESTS_TOTAL,
                "operation" => operation.to_owned(),
                "outcome" => outcome
            )
        })
        .increment(1);
    });
}

/// Lookup by `&str` without allocating, inserting on a miss.
trait EntryRef<V> {
    fn entry_ref_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V;
}

impl<V> EntryRef<V> for LocalMap<V> {
    fn entry_ref_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        if !self.contains_key(key) {
            self.insert(Box::from(key), make());
        }
        self.get_mut(key).expect("inserted above")
    }
}
