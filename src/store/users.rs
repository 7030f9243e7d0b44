//! Users and the identities that sign them in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Executor, FromRow, QueryBuilder};
use uuid::Uuid;

use super::dialect::{Dialect, SqlStore, push_ids};
use super::{BatchRead, Identity, NewIdentity, NewUser, StoreError, User};

/// Reading and writing users and their identities.
#[async_trait]
pub trait UserRepo {
    /// Creates a user together with its first identity, atomically.
    /// Fails with [`StoreError::Conflict`] when the identity already belongs to someone.
    async fn create_user(
        &self,
        user: NewUser,
        identity: NewIdentity,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Finds a user by id.
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError>;

    /// Finds many users at once (for DataLoaders); unknown ids are simply absent.
    async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError>;

    /// Finds the user an identity signs in.
    async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;

    /// Links another identity to an existing user.
    /// Fails with [`StoreError::Conflict`] when the identity already belongs to someone.
    async fn add_identity(
        &self,
        user_id: Uuid,
        identity: NewIdentity,
        now: DateTime<Utc>,
    ) -> Result<Identity, StoreError>;

    /// Grants or revokes a user's admin right; returns the updated user.
    async fn set_admin(
        &self,
        user_id: Uuid,
        is_admin: bool,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Makes admins exactly the users owning one of the `(provider, subject)` identities listed,
    /// atomically; returns the users whose right changed.
    async fn reconcile_admins(
        &self,
        listed: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError>;

    /// All identities of the given users, ordered by user then creation.
    async fn identities_of(&self, user_ids: &[Uuid]) -> Result<Vec<Identity>, StoreError>;
}

const INSERT_USER: &str = "INSERT INTO users (id, email, name, is_admin, created_at, updated_at) \
     VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING *";
const INSERT_IDENTITY: &str = "INSERT INTO identities \
     (id, user_id, provider, subject, email, email_verified, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *";
const SET_ADMIN: &str = "UPDATE users SET is_admin = $2, updated_at = $3 WHERE id = $1 RETURNING *";
const LISTED_USERS: &str = "SELECT DISTINCT user_id FROM identities WHERE ";
const REVOKE_ADMINS_SET: &str = "UPDATE users SET is_admin = FALSE, updated_at = ";
const REVOKE_ADMINS_WHERE: &str = " WHERE is_admin = TRUE";
const GRANT_ADMINS_SET: &str = "UPDATE users SET is_admin = TRUE, updated_at = ";
const GRANT_ADMINS_WHERE: &str = " WHERE is_admin = FALSE AND id IN ";
const USER_BY_ID: &str = "SELECT * FROM users WHERE id = $1";
const USERS_BY_IDS: &str = "SELECT * FROM users WHERE id IN ";
const USER_BY_IDENTITY: &str = "SELECT users.* FROM users \
     JOIN identities ON identities.user_id = users.id \
     WHERE identities.provider = $1 AND identities.subject = $2";
const IDENTITIES_OF: &str = "SELECT * FROM identities WHERE user_id IN ";
const IDENTITIES_ORDER: &str = " ORDER BY user_id, created_at, id";

#[async_trait]
impl<DB> UserRepo for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> User: FromRow<'r, DB::Row>,
    for<'r> Identity: FromRow<'r, DB::Row>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
{
    async fn create_user(
        &self,
        user: NewUser,
        identity: NewIdentity,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let created: User = sqlx::query_as(INSERT_USER)
            .bind(Uuid::now_v7())
            .bind(user.email)
            .bind(user.name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        insert_identity(&mut *tx, created.id, identity, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as(USER_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_reads.record(BatchRead::Users);
        let mut query = QueryBuilder::<DB>::new(USERS_BY_IDS);
        push_ids(&mut query, ids);
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as(USER_BY_IDENTITY)
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn add_identity(
        &self,
        user_id: Uuid,
        identity: NewIdentity,
        now: DateTime<Utc>,
    ) -> Result<Identity, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_identity(&mut *conn, user_id, identity, now).await
    }

    async fn set_admin(
        &self,
        user_id: Uuid,
        is_admin: bool,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        Ok(sqlx::query_as(SET_ADMIN)
            .bind(user_id)
            .bind(is_admin)
            .bind(now)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn reconcile_admins(
        &self,
        listed: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut admins: Vec<Uuid> = Vec::new();
        if !listed.is_empty() {
            let mut query = QueryBuilder::<DB>::new(LISTED_USERS);
            let mut pairs = query.separated(" OR ");
            for (provider, subject) in listed {
                pairs.push("(provider = ");
                pairs.push_bind_unseparated(provider.as_str());
                pairs.push_unseparated(" AND subject = ");
                pairs.push_bind_unseparated(subject.as_str());
                pairs.push_unseparated(")");
            }
            admins = query.build_query_scalar().fetch_all(&mut *tx).await?;
        }
        let mut revoke = QueryBuilder::<DB>::new(REVOKE_ADMINS_SET);
        revoke.push_bind(now);
        revoke.push(REVOKE_ADMINS_WHERE);
        if !admins.is_empty() {
            revoke.push(" AND id NOT IN ");
            push_ids(&mut revoke, &admins);
        }
        revoke.push(" RETURNING id");
        let mut changed: Vec<Uuid> = revoke.build_query_scalar().fetch_all(&mut *tx).await?;
        if !admins.is_empty() {
            let mut grant = QueryBuilder::<DB>::new(GRANT_ADMINS_SET);
            grant.push_bind(now);
            grant.push(GRANT_ADMINS_WHERE);
            push_ids(&mut grant, &admins);
            grant.push(" RETURNING id");
            let granted: Vec<Uuid> = grant.build_query_scalar().fetch_all(&mut *tx).await?;
            changed.extend(granted);
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn identities_of(&self, user_ids: &[Uuid]) -> Result<Vec<Identity>, StoreError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_reads.record(BatchRead::Identities);
        let mut query = QueryBuilder::<DB>::new(IDENTITIES_OF);
        push_ids(&mut query, user_ids);
        query.push(IDENTITIES_ORDER);
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}

/// Links `identity` to `user_id` on `conn`.
async fn insert_identity<DB>(
    conn: &mut DB::Connection,
    user_id: Uuid,
    identity: NewIdentity,
    now: DateTime<Utc>,
) -> Result<Identity, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> Identity: FromRow<'r, DB::Row>,
{
    Ok(sqlx::query_as(INSERT_IDENTITY)
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(identity.provider)
        .bind(identity.subject)
        .bind(identity.email)
        .bind(identity.email_verified)
        .bind(now)
        .fetch_one(conn)
        .await?)
}
