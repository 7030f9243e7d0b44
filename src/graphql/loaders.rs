//! DataLoaders: related rows for many parents in one query per batch.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use std::sync::Arc;

use crate::auth::AuthService;
use crate::error::AppError;
use crate::payments::PaymentReads;
use crate::store::{Identity, PaymentLine, PaymentRow, RefundRow, User};

/// Loads the identities of many users at once.
pub struct IdentitiesLoader {
    auth: Arc<AuthService>,
}

impl IdentitiesLoader {
    /// A loader reading through `auth`.
    pub fn new(auth: Arc<AuthService>) -> Self {
        Self { auth }
    }
}

impl Loader<Uuid> for IdentitiesLoader {
    type Value = Vec<Identity>;
    type Error = AppError;

    async fn load(&self, user_ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.auth.identities_of(user_ids).await?;
        let mut by_user: HashMap<Uuid, Vec<Identity>> = HashMap::new();
        for row in rows {
            by_user.entry(row.user_id).or_default().push(row);
        }
        Ok(by_user)
    }
}

/// Loads the refunds of many payments at once.
pub struct RefundsLoader {
    reads: Arc<PaymentReads>,
}

impl RefundsLoader {
    /// A loader reading through `reads`.
    pub fn new(reads: Arc<PaymentReads>) -> Self {
        Self { reads }
    }
}

impl Loader<Uuid> for RefundsLoader {
    type Value = Vec<RefundRow>;
    type Error = AppError;

    async fn load(&self, payment_ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut by_payment: HashMap<Uuid, Vec<RefundRow>> = HashMap::new();
        for row in self.reads.refunds_of(payment_ids).await? {
            by_payment.entry(row.payment_id).or_default().push(row);
        }
        Ok(by_payment)
    }
}

/// Loads the line items of many payments at once.
pub struct LineItemsLoader {
    reads: Arc<PaymentReads>,
}

impl LineItemsLoader {
    /// A loader reading through `reads`.
    pub fn new(reads: Arc<PaymentReads>) -> Self {
        Self { reads }
    }
}

impl Loader<Uuid> for LineItemsLoader {
    type Value = Vec<PaymentLine>;
    type Error = AppError;

    async fn load(&self, payment_ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut by_payment: HashMap<Uuid, Vec<PaymentLine>> = HashMap::new();
        for row in self.reads.line_items_of(payment_ids).await? {
            by_payment.entry(row.payment_id).or_default().push(row);
        }
        Ok(by_payment)
    }
}

/// Loads many payments by id at once (e.g. the `payment` of each event in a page).
pub struct PaymentsLoader {
    reads: Arc<PaymentReads>,
}

impl PaymentsLoader {
    /// A loader reading through `reads`.
    pub fn new(reads: Arc<PaymentReads>) -> Self {
        Self { reads }
    }
}

impl Loader<Uuid> for PaymentsLoader {
    type Value = PaymentRow;
    type Error = AppError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.reads.payments_by_ids(ids).await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Loads many users by id at once (e.g. the owners of a page of payments).
pub struct UsersLoader {
    auth: Arc<AuthService>,
}

impl UsersLoader {
    /// A loader reading through `auth`.
    pub fn new(auth: Arc<AuthService>) -> Self {
        Self { auth }
    }
}

impl Loader<Uuid> for UsersLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.auth.users_by_ids(ids).await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}
