//! Queries whose SQL and bound types are identical on SQLite and PostgreSQL.
//!
//! sqlx has no backend-generic pool that keeps native types (see the store decision record), so
//! these bodies are written once here and expanded for each concrete pool by
//! [`impl_portable_repos!`]. Each backend module invokes it for its store type.

/// SQL shared by both backends.
pub(super) mod sql {
    pub const INSERT_USER: &str = "INSERT INTO users (id, email, name, is_admin, created_at, updated_at) \
         VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING *";
    pub const INSERT_IDENTITY: &str = "INSERT INTO identities \
         (id, user_id, provider, subject, email, email_verified, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *";
    pub const USER_BY_ID: &str = "SELECT * FROM users WHERE id = $1";
    pub const USERS_BY_IDS: &str = "SELECT * FROM users WHERE id IN ";
    pub const USER_BY_IDENTITY: &str = "SELECT users.* FROM users \
         JOIN identities ON identities.user_id = users.id \
         WHERE identities.provider = $1 AND identities.subject = $2";
    pub const IDENTITIES_OF: &str = "SELECT * FROM identities WHERE user_id IN ";
    pub const IDENTITIES_ORDER: &str = " ORDER BY user_id, created_at, id";
}

/// Implements the portable repository traits for `$store`, whose `pool` field is a `Pool<$db>`.
macro_rules! impl_portable_repos {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserRepo for $store {
            async fn create_user(
                &self,
                user: $crate::store::NewUser,
                identity: $crate::store::NewIdentity,
            ) -> Result<$crate::store::User, $crate::store::StoreError> {
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin().await?;
                let created: $crate::store::User =
                    sqlx::query_as($crate::store::portable::sql::INSERT_USER)
                        .bind(uuid::Uuid::now_v7())
                        .bind(user.email)
                        .bind(user.name)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                insert_identity(&mut *tx, created.id, identity).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn user_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::store::User>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::USER_BY_ID)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn users_by_ids(
                &self,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::store::User>, $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query =
                    sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::USERS_BY_IDS);
                push_id_list(&mut query, ids);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn user_by_identity(
                &self,
                provider: &str,
                subject: &str,
            ) -> Result<Option<$crate::store::User>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::USER_BY_IDENTITY)
                        .bind(provider)
                        .bind(subject)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn add_identity(
                &self,
                user_id: uuid::Uuid,
                identity: $crate::store::NewIdentity,
            ) -> Result<$crate::store::Identity, $crate::store::StoreError> {
                let mut conn = self.pool.acquire().await?;
                insert_identity(&mut *conn, user_id, identity).await
            }

            async fn identities_of(
                &self,
                user_ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::store::Identity>, $crate::store::StoreError> {
                if user_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query =
                    sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::IDENTITIES_OF);
                push_id_list(&mut query, user_ids);
                query.push($crate::store::portable::sql::IDENTITIES_ORDER);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }
        }

        async fn insert_identity(
            conn: &mut <$db as sqlx::Database>::Connection,
            user_id: uuid::Uuid,
            identity: $crate::store::NewIdentity,
        ) -> Result<$crate::store::Identity, $crate::store::StoreError> {
            Ok(
                sqlx::query_as($crate::store::portable::sql::INSERT_IDENTITY)
                    .bind(uuid::Uuid::now_v7())
                    .bind(user_id)
                    .bind(identity.provider)
                    .bind(identity.subject)
                    .bind(identity.email)
                    .bind(identity.email_verified)
                    .bind(chrono::Utc::now())
                    .fetch_one(conn)
                    .await?,
            )
        }

        /// Appends `(id1, id2, ...)` as bound parameters.
        fn push_id_list(query: &mut sqlx::QueryBuilder<$db>, ids: &[uuid::Uuid]) {
            query.push("(");
            let mut separated = query.separated(", ");
            for id in ids {
                separated.push_bind(*id);
            }
            separated.push_unseparated(")");
        }
    };
}

pub(super) use impl_portable_repos;
