//! What each payment priced by the server sold, written with the payment itself.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::dialect::{SqlStore, push_ids};
use super::payment_events::EventLog;
use super::payments::insert_payment_in;
use super::{LoggedEvent, PaymentLine, PaymentRow, StoreError};
use crate::domain::{Metadata, PaymentStatus};

/// Persistence of the line items of payments priced from the catalog.
#[async_trait]
pub trait LineItemRepo {
    /// Records a new payment, its first event and its line items, atomically: a payment priced
    /// from the catalog is never without what it sold.
    async fn insert_priced_payment(
        &self,
        payment: &PaymentRow,
        lines: &[PaymentLine],
    ) -> Result<LoggedEvent, StoreError>;

    /// The line items of many payments, by payment and position.
    async fn line_items_of(&self, payment_ids: &[Uuid]) -> Result<Vec<PaymentLine>, StoreError>;
}

const INSERT_LINE: &str = "INSERT INTO payment_line_items \
     (payment_id, position, price_id, quantity, unit_amount) VALUES ($1, $2, $3, $4, $5)";
const LINES_OF: &str = "SELECT * FROM payment_line_items WHERE payment_id IN ";
const LINES_ORDER: &str = " ORDER BY payment_id, position";

#[async_trait]
impl<DB> LineItemRepo for SqlStore<DB>
where
    DB: EventLog,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> PaymentStatus: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Metadata: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> PaymentLine: FromRow<'r, DB::Row>,
{
    async fn insert_priced_payment(
        &self,
        payment: &PaymentRow,
        lines: &[PaymentLine],
    ) -> Result<LoggedEvent, StoreError> {
        let mut tx = self.pool.begin().await?;
        let logged = insert_payment_in::<DB>(&mut *tx, payment).await?;
        for line in lines {
            sqlx::query(INSERT_LINE)
                .bind(payment.id)
                .bind(line.position)
                .bind(line.price_id.as_str())
                .bind(line.quantity)
                .bind(line.unit_amount)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(logged)
    }

    async fn line_items_of(&self, payment_ids: &[Uuid]) -> Result<Vec<PaymentLine>, StoreError> {
        if payment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<DB>::new(LINES_OF);
        push_ids(&mut query, payment_ids);
        query.push(LINES_ORDER);
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}
