//! Guarded changes to payments: each applies only if the payment is still as the change
//! expects, and is logged and (for inbox work) finished in the same transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore};
use super::inbox_log::InboxLog;
use super::payment_events::EventLog;
use super::{
    BatchStep, InboxStatus, LoggedEvent, NewPaymentEvent, PaymentChange, StepAction, StepResult,
    StoreError,
};
use crate::domain::{PaymentError, PaymentStatus};

/// Guarded, logged changes to payments.
#[async_trait]
pub trait PaymentChangeRepo {
    /// Applies a change at `now` if the payment is still as `change` expects, appending its event
    /// in the same transaction; `None` when the payment changed meanwhile.
    async fn apply_payment_change(
        &self,
        change: &PaymentChange,
        now: DateTime<Utc>,
    ) -> Result<Option<LoggedEvent>, StoreError>;

    /// Writes `steps` at `now`, in order in one transaction: payment changes (each guarded like
    /// [`PaymentChangeRepo::apply_payment_change`]), their events, and the inbox events they
    /// finish. Returns one result per step.
    async fn apply_steps(
        &self,
        steps: &[BatchStep],
        now: DateTime<Utc>,
    ) -> Result<Vec<StepResult>, StoreError>;
}

const CHANGE_PAYMENTS_WITH: &str =
    "WITH c (cid, from_status, from_refunded, to_status, to_refunded) AS (";
const CHANGE_PAYMENTS_SET: &str = ") UPDATE payments \
     SET status = c.to_status, amount_refunded = c.to_refunded, updated_at = ";
const CHANGE_PAYMENTS_WHERE: &str = " FROM c WHERE payments.id = c.cid \
     AND payments.status = c.from_status AND payments.amount_refunded = c.from_refunded \
     RETURNING id";

#[async_trait]
impl<DB> PaymentChangeRepo for SqlStore<DB>
where
    DB: EventLog + InboxLog,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
{
    async fn apply_payment_change(
        &self,
        change: &PaymentChange,
        now: DateTime<Utc>,
    ) -> Result<Option<LoggedEvent>, StoreError> {
        let step = BatchStep {
            inbox_seq: None,
            payment_id: Some(change.payment_id),
            action: StepAction::Change(change.clone()),
            last_error: None,
        };
        Ok(match self.apply_steps(&[step], now).await?.pop() {
            Some(StepResult::Changed(logged)) => Some(logged),
            _ => None,
        })
    }

    async fn apply_steps(
        &self,
        steps: &[BatchStep],
        now: DateTime<Utc>,
    ) -> Result<Vec<StepResult>, StoreError> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let changes: Vec<&PaymentChange> = steps
            .iter()
            .filter_map(|step| match &step.action {
                StepAction::Change(change) => Some(change),
                StepAction::Finish(_) => None,
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        let changed = change_payments(&mut *tx, &changes, now).await?;
        // A payment not as its first change expected refuses all of its steps: they were
        // decided from the state that change assumed.
        let refused: HashSet<Uuid> = changes
            .iter()
            .map(|change| change.payment_id)
            .filter(|id| !changed.contains(id))
            .collect();
        let mut results = Vec::with_capacity(steps.len());
        let mut errors: Vec<(Uuid, &PaymentError)> = Vec::new();
        let mut events = Vec::new();
        let mut finished: Vec<(i64, InboxStatus)> = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let payment = match &step.action {
                StepAction::Change(change) => Some(change.payment_id),
                StepAction::Finish(_) => step.payment_id,
            };
            if payment.is_some_and(|p| refused.contains(&p)) {
                results.push(StepResult::Contended);
                continue;
            }
            let status = match &step.action {
                StepAction::Change(change) => {
                    events.push((index, new_event(change)));
                    if let Some(error) = &step.last_error {
                        errors.push((change.payment_id, error));
                    }
                    InboxStatus::Applied
                }
                StepAction::Finish(status) => *status,
            };
            if let Some(seq) = step.inbox_seq {
                finished.push((seq, status));
            }
            results.push(StepResult::Finished);
        }
        set_last_errors(&mut *tx, &errors).await?;
        DB::finish_inbox_events(&mut *tx, &finished, now).await?;
        let new: Vec<_> = events.iter().map(|(_, event)| event.clone()).collect();
        let logged = DB::append_events(&mut *tx, &new, now).await?;
        tx.commit().await?;
        for ((index, _), logged) in events.into_iter().zip(logged) {
            results[index] = StepResult::Changed(logged);
        }
        Ok(results)
    }
}

/// Applies the net effect of `changes` on each payment (from the state its first change expects
/// to the state its last change leaves), in one statement, where the payment is still as
/// expected. Returns the payments changed.
async fn change_payments<DB>(
    conn: &mut DB::Connection,
    changes: &[&PaymentChange],
    now: DateTime<Utc>,
) -> Result<HashSet<Uuid>, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
{
    if changes.is_empty() {
        return Ok(HashSet::new());
    }
    // (payment, from status, from refunded, to status, to refunded)
    let mut net: Vec<(Uuid, PaymentStatus, i64, PaymentStatus, i64)> = Vec::new();
    let mut position: HashMap<Uuid, usize> = HashMap::new();
    for change in changes {
        match position.get(&change.payment_id) {
            Some(&i) => {
                let entry = &mut net[i];
                entry.3 = change.status;
                entry.4 = change.amount_refunded;
            }
            None => {
                position.insert(change.payment_id, net.len());
                net.push((
                    change.payment_id,
                    change.from_status,
                    change.from_refunded,
                    change.status,
                    change.amount_refunded,
                ));
            }
        }
    }
    let mut query = QueryBuilder::<DB>::new(CHANGE_PAYMENTS_WITH);
    query.push_values(&net, |mut row, (id, from, from_refunded, to, refunded)| {
        row.push_bind(*id)
            .push_bind(*from)
            .push_bind(*from_refunded)
            .push_bind(*to)
            .push_bind(*refunded);
    });
    query.push(CHANGE_PAYMENTS_SET);
    query.push_bind(now);
    query.push(CHANGE_PAYMENTS_WHERE);
    let changed: Vec<Uuid> = query.build_query_scalar().fetch_all(conn).await?;
    Ok(changed.into_iter().collect())
}

/// Writes each payment's last error, the latest of `errors` winning: one statement per
/// payment, and only failures and successes carry one.
async fn set_last_errors<DB>(
    conn: &mut DB::Connection,
    errors: &[(Uuid, &PaymentError)],
) -> Result<(), StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut latest: Vec<(Uuid, &PaymentError)> = Vec::new();
    for (payment, error) in errors {
        match latest.iter_mut().find(|(p, _)| p == payment) {
            Some(entry) => entry.1 = error,
            None => latest.push((*payment, error)),
        }
    }
    for (payment, error) in latest {
        let mut query = QueryBuilder::<DB>::new("UPDATE payments SET last_error_code = ");
        query.push_bind(error.code.clone());
        query.push(", last_error_decline_code = ");
        query.push_bind(error.decline_code.clone());
        query.push(", last_error_message = ");
        query.push_bind(error.message.clone());
        query.push(" WHERE id = ");
        query.push_bind(payment);
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The event logging `change`.
fn new_event(change: &PaymentChange) -> NewPaymentEvent {
    NewPaymentEvent {
        payment_id: change.payment_id,
        user_id: change.user_id,
        kind: change.kind.clone(),
        status: change.status,
        amount_refunded: change.amount_refunded,
        source_event_id: change.source_event_id.clone(),
    }
}
