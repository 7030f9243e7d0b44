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
    pub const SET_ADMIN: &str =
        "UPDATE users SET is_admin = $2, updated_at = $3 WHERE id = $1 RETURNING *";
    pub const LISTED_USERS: &str = "SELECT DISTINCT user_id FROM identities WHERE ";
    pub const REVOKE_ADMINS_SET: &str = "UPDATE users SET is_admin = FALSE, updated_at = ";
    pub const REVOKE_ADMINS_WHERE: &str = " WHERE is_admin = TRUE";
    pub const GRANT_ADMINS_SET: &str = "UPDATE users SET is_admin = TRUE, updated_at = ";
    pub const GRANT_ADMINS_WHERE: &str = " WHERE is_admin = FALSE AND id IN ";
    pub const USER_BY_ID: &str = "SELECT * FROM users WHERE id = $1";
    pub const USERS_BY_IDS: &str = "SELECT * FROM users WHERE id IN ";
    pub const USER_BY_IDENTITY: &str = "SELECT users.* FROM users \
         JOIN identities ON identities.user_id = users.id \
         WHERE identities.provider = $1 AND identities.subject = $2";
    pub const IDENTITIES_OF: &str = "SELECT * FROM identities WHERE user_id IN ";
    pub const IDENTITIES_ORDER: &str = " ORDER BY user_id, created_at, id";

    pub const INSERT_LOGIN_ATTEMPT: &str = "INSERT INTO login_attempts \
         (state_hash, provider, pkce_verifier, code_challenge, browser_hash, nonce, redirect_to, client_completes, \
         link_user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    pub const PEEK_LOGIN_ATTEMPT: &str =
        "SELECT * FROM login_attempts WHERE state_hash = $1 AND consumed_at IS NULL";
    pub const CONSUME_LOGIN_ATTEMPT: &str = "UPDATE login_attempts SET consumed_at = $2 \
         WHERE state_hash = $1 AND consumed_at IS NULL RETURNING *";
    pub const USER_BY_VERIFIED_EMAIL: &str = "SELECT users.* FROM users \
         JOIN identities ON identities.user_id = users.id \
         WHERE lower(identities.email) = lower($1) AND identities.email_verified = TRUE \
         ORDER BY users.id LIMIT 1";
    pub const INSERT_SESSION: &str = "INSERT INTO sessions (id, user_id, provider, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)";
    pub const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)";
    pub const SESSION_BY_ID: &str = "SELECT * FROM sessions WHERE id = $1";
    pub const SPEND_REFRESH_TOKEN: &str = "UPDATE refresh_tokens SET used_at = $2, successor_hash = $3 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING session_id";
    pub const SPENT_REFRESH_TOKEN: &str = "SELECT session_id, used_at, successor_hash FROM refresh_tokens \
         WHERE token_hash = $1 AND used_at IS NOT NULL";
    pub const UNSPENT_REFRESH_TOKENS: &str = "SELECT count(*) FROM refresh_tokens \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
    pub const REVOKE_SESSION: &str =
        "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
    pub const INSERT_INBOX_EVENT: &str = "INSERT INTO webhook_inbox \
         (event_id, event_type, payload, source, received_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (event_id) DO NOTHING";
    pub const FINISH_INBOX_EVENT: &str = "UPDATE webhook_inbox \
         SET status = $2, last_error = COALESCE($3, last_error), processed_at = $4, locked_until = NULL \
         WHERE seq = $1";
    pub const RETRY_INBOX_EVENT: &str = "UPDATE webhook_inbox \
         SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, locked_until = NULL \
         WHERE seq = $1";
    pub const REQUEUE_INBOX_EVENT: &str = "UPDATE webhook_inbox \
         SET status = 'pending', attempts = 0, next_attempt_at = $2, locked_until = NULL, processed_at = NULL \
         WHERE event_id = $1";
    pub const LAST_SEQUENCES: &str =
        "SELECT payment_id, MAX(sequence) FROM payment_events WHERE payment_id IN ";
    pub const INSERT_PAYMENT_EVENTS: &str = "INSERT INTO payment_events \
         (payment_id, user_id, sequence, kind, status, amount_refunded, source_event_id, occurred_at) ";
    pub const CHANGE_PAYMENTS_WITH: &str =
        "WITH c (cid, from_status, from_refunded, to_status, to_refunded) AS (";
    pub const CHANGE_PAYMENTS_SET: &str = ") UPDATE payments \
         SET status = c.to_status, amount_refunded = c.to_refunded, updated_at = ";
    pub const CHANGE_PAYMENTS_WHERE: &str = " FROM c WHERE payments.id = c.cid \
         AND payments.status = c.from_status AND payments.amount_refunded = c.from_refunded \
         RETURNING id";
    pub const PREVIOUS_CURSOR: &str =
        "SELECT COALESCE(MAX(cursor), 0) FROM payment_events WHERE cursor < $1";
    pub const LOG_HORIZON: &str = "SELECT COALESCE(MAX(cursor), 0) FROM payment_events";
    pub const FINISH_INBOX_EVENTS: &str = "UPDATE webhook_inbox SET locked_until = NULL, status = ";
    pub const RENEW_INBOX_CLAIMS: &str = "UPDATE webhook_inbox SET locked_until = ";
    pub const NEXT_INBOX_WAKEUP: &str = "SELECT MIN(CASE WHEN locked_until IS NOT NULL \
         AND locked_until > next_attempt_at THEN locked_until ELSE next_attempt_at END) \
         FROM webhook_inbox WHERE status = 'pending'";
    pub const PAYMENTS_BY_PROVIDER_IDS: &str =
        "SELECT * FROM payments WHERE provider_payment_id IN ";
    pub const PAYMENT_EVENTS_OF_PAYMENT: &str = "SELECT * FROM payment_events WHERE payment_id = $1 AND cursor > $2 ORDER BY cursor LIMIT $3";
    pub const PAYMENT_EVENTS_OF_USER: &str =
        "SELECT * FROM payment_events WHERE user_id = $1 AND cursor > $2 ORDER BY cursor LIMIT $3";
    pub const LATEST_EVENT_OF_PAYMENT: &str =
        "SELECT * FROM payment_events WHERE payment_id = $1 ORDER BY cursor DESC LIMIT 1";
    pub const LATEST_CURSOR_OF_USER: &str =
        "SELECT COALESCE(MAX(cursor), 0) FROM payment_events WHERE user_id = $1";
    pub const CLAIM_IDEMPOTENCY_KEY: &str = "INSERT INTO idempotency_keys \
         (user_id, operation, key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, operation, key) DO NOTHING";
    pub const IDEMPOTENCY_KEY: &str = "SELECT fingerprint, response FROM idempotency_keys \
         WHERE user_id = $1 AND operation = $2 AND key = $3";
    pub const COMPLETE_IDEMPOTENCY_KEY: &str = "UPDATE idempotency_keys SET response = $4, completed_at = $5 \
         WHERE user_id = $1 AND operation = $2 AND key = $3";
    pub const RELEASE_IDEMPOTENCY_KEY: &str = "DELETE FROM idempotency_keys WHERE user_id = $1 AND operation = $2 AND key = $3 AND response IS NULL";
    pub const INSERT_PAYMENT: &str = "INSERT INTO payments (id, user_id, provider, provider_payment_id, status, amount, \
         currency, amount_refunded, description, metadata, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    pub const PAYMENT_BY_ID: &str = "SELECT * FROM payments WHERE id = $1";
    pub const PAYMENTS_BY_IDS: &str = "SELECT * FROM payments WHERE id IN ";
    pub const PAYMENT_BY_PROVIDER_ID: &str =
        "SELECT * FROM payments WHERE provider_payment_id = $1";
    pub const PAYMENTS_OF_USER: &str = "SELECT * FROM payments WHERE user_id = $1 \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4";
    pub const PAYMENTS_OF_USER_ASCENDING: &str = "SELECT * FROM payments WHERE user_id = $1 \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id > $3) ORDER BY id ASC LIMIT $4";
    pub const COUNT_PAYMENTS_OF_USER: &str = "SELECT COUNT(*) FROM payments WHERE user_id = $1 \
         AND ($2 IS NULL OR status = $2)";
    pub const REFUND_BY_ID: &str = "SELECT * FROM refunds WHERE id = $1";
    pub const PAYMENT_CUSTOMER: &str =
        "SELECT customer_id FROM payment_customers WHERE user_id = $1 AND provider = $2";
    pub const SAVE_PAYMENT_CUSTOMER: &str = "INSERT INTO payment_customers (user_id, provider, customer_id, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, provider) DO NOTHING";
    pub const INSERT_REFUND: &str = "INSERT INTO refunds (id, payment_id, provider_refund_id, amount, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)";
    pub const REFUNDS_OF: &str = "SELECT * FROM refunds WHERE payment_id IN ";
    pub const REFUNDS_ORDER: &str = " ORDER BY payment_id, created_at, id";
    pub const INBOX_EVENT: &str = "SELECT * FROM webhook_inbox WHERE event_id = $1";
    // Each part reads only the rows of one status through the (status, ...) index.
    pub const INBOX_STATS: &str = "SELECT \
         (SELECT COUNT(*) FROM webhook_inbox WHERE status = 'pending') AS pending, \
         (SELECT COUNT(*) FROM webhook_inbox WHERE status = 'dead') AS dead, \
         (SELECT MIN(received_at) FROM webhook_inbox WHERE status = 'pending') \
         AS oldest_pending_received_at";
    pub const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id";
}

/// Implements the portable repository traits for `$store`, whose `pool` field is a `Pool<$db>`.
/// `$claim_sql` is the backend's query for claiming due inbox events; `$append_lock` the statement
/// that serialises appends to the event log until the transaction ends; `$notify` whether appends
/// announce themselves with `NOTIFY` in the same transaction.
macro_rules! impl_portable_repos {
    ($store:ty, $db:ty, $claim_sql:expr, $append_lock:expr, $notify:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::PaymentRepo for $store {
            async fn begin_idempotent(
                &self,
                user_id: uuid::Uuid,
                operation: &str,
                key: &str,
                fingerprint: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::IdempotencyStart, $crate::store::StoreError> {
                use $crate::store::IdempotencyStart;
                let claimed = sqlx::query($crate::store::portable::sql::CLAIM_IDEMPOTENCY_KEY)
                    .bind(user_id)
                    .bind(operation)
                    .bind(key)
                    .bind(fingerprint)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                if claimed.rows_affected() == 1 {
                    return Ok(IdempotencyStart::Fresh);
                }
                let (stored, response): (String, Option<String>) =
                    sqlx::query_as($crate::store::portable::sql::IDEMPOTENCY_KEY)
                        .bind(user_id)
                        .bind(operation)
                        .bind(key)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(match response {
                    _ if stored != fingerprint => IdempotencyStart::Mismatch,
                    Some(response) => IdempotencyStart::Replay(response),
                    None => IdempotencyStart::InFlight,
                })
            }

            async fn complete_idempotent(
                &self,
                user_id: uuid::Uuid,
                operation: &str,
                key: &str,
                response: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::COMPLETE_IDEMPOTENCY_KEY)
                    .bind(user_id)
                    .bind(operation)
                    .bind(key)
                    .bind(response)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn release_idempotent(
                &self,
                user_id: uuid::Uuid,
                operation: &str,
                key: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::RELEASE_IDEMPOTENCY_KEY)
                    .bind(user_id)
                    .bind(operation)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn insert_payment(
                &self,
                p: &$crate::store::PaymentRow,
            ) -> Result<$crate::store::LoggedEvent, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::portable::sql::INSERT_PAYMENT)
                    .bind(p.id)
                    .bind(p.user_id)
                    .bind(&p.provider)
                    .bind(&p.provider_payment_id)
                    .bind(&p.status)
                    .bind(p.amount)
                    .bind(&p.currency)
                    .bind(p.amount_refunded)
                    .bind(&p.description)
                    .bind(&p.metadata)
                    .bind(p.created_at)
                    .bind(p.updated_at)
                    .execute(&mut *tx)
                    .await?;
                let event = $crate::store::NewPaymentEvent {
                    payment_id: p.id,
                    user_id: p.user_id,
                    kind: "created".into(),
                    status: p.status.clone(),
                    amount_refunded: p.amount_refunded,
                    source_event_id: None,
                };
                let mut logged = append_events(&mut *tx, std::slice::from_ref(&event)).await?;
                tx.commit().await?;
                Ok(logged.remove(0))
            }

            async fn payment_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::store::PaymentRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::PAYMENT_BY_ID)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn payments_by_ids(
                &self,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::store::PaymentRow>, $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                self.batch_reads.record($crate::store::BatchRead::Payments);
                let mut query =
                    sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::PAYMENTS_BY_IDS);
                push_id_list(&mut query, ids);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn payment_by_provider_id(
                &self,
                provider_payment_id: &str,
            ) -> Result<Option<$crate::store::PaymentRow>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::PAYMENT_BY_PROVIDER_ID)
                        .bind(provider_payment_id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn payments_by_provider_ids(
                &self,
                ids: &[String],
            ) -> Result<Vec<$crate::store::PaymentRow>, $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    $crate::store::portable::sql::PAYMENTS_BY_PROVIDER_IDS,
                );
                push_list(&mut query, ids.iter().map(String::as_str));
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn payments_of_user(
                &self,
                user_id: uuid::Uuid,
                status: Option<&str>,
                before: Option<uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<$crate::store::PaymentRow>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::PAYMENTS_OF_USER)
                        .bind(user_id)
                        .bind(status)
                        .bind(before)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn payments_of_user_ascending(
                &self,
                user_id: uuid::Uuid,
                status: Option<&str>,
                after: Option<uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<$crate::store::PaymentRow>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::PAYMENTS_OF_USER_ASCENDING)
                        .bind(user_id)
                        .bind(status)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn count_payments_of_user(
                &self,
                user_id: uuid::Uuid,
                status: Option<&str>,
            ) -> Result<i64, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar($crate::store::portable::sql::COUNT_PAYMENTS_OF_USER)
                        .bind(user_id)
                        .bind(status)
                        .fetch_one(&self.pool)
                        .await?,
                )
            }

            async fn refund_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::store::RefundRow>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::REFUND_BY_ID)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn apply_payment_change(
                &self,
                change: &$crate::store::PaymentChange,
            ) -> Result<Option<$crate::store::LoggedEvent>, $crate::store::StoreError> {
                let step = $crate::store::BatchStep {
                    inbox_seq: None,
                    payment_id: Some(change.payment_id),
                    action: $crate::store::StepAction::Change(change.clone()),
                };
                Ok(
                    match self.apply_steps(std::slice::from_ref(&step)).await?.pop() {
                        Some($crate::store::StepResult::Changed(logged)) => Some(logged),
                        _ => None,
                    },
                )
            }

            async fn apply_steps(
                &self,
                steps: &[$crate::store::BatchStep],
            ) -> Result<Vec<$crate::store::StepResult>, $crate::store::StoreError> {
                use $crate::store::{InboxStatus, StepAction, StepResult};
                if steps.is_empty() {
                    return Ok(Vec::new());
                }
                let now = chrono::Utc::now();
                let changes: Vec<&$crate::store::PaymentChange> = steps
                    .iter()
                    .filter_map(|step| match &step.action {
                        StepAction::Change(change) => Some(change),
                        StepAction::Finish(_) => None,
                    })
                    .collect();
                let mut tx = self.pool.begin().await?;
                let changed = change_payments(&mut *tx, &changes, now).await?;
                // A payment not as its first change expected refuses all of its steps: they
                // were decided from the state that change assumed.
                let refused: std::collections::HashSet<uuid::Uuid> = changes
                    .iter()
                    .map(|change| change.payment_id)
                    .filter(|id| !changed.contains(id))
                    .collect();
                let mut results = Vec::with_capacity(steps.len());
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
                            InboxStatus::Applied
                        }
                        StepAction::Finish(status) => *status,
                    };
                    if let Some(seq) = step.inbox_seq {
                        finished.push((seq, status));
                    }
                    results.push(StepResult::Finished);
                }
                finish_inbox_events(&mut *tx, &finished, now).await?;
                let new: Vec<_> = events.iter().map(|(_, event)| event.clone()).collect();
                let logged = append_events(&mut *tx, &new).await?;
                tx.commit().await?;
                for ((index, _), logged) in events.into_iter().zip(logged) {
                    results[index] = StepResult::Changed(logged);
                }
                Ok(results)
            }

            async fn payment_customer(
                &self,
                user_id: uuid::Uuid,
                provider: &str,
            ) -> Result<Option<String>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar($crate::store::portable::sql::PAYMENT_CUSTOMER)
                        .bind(user_id)
                        .bind(provider)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn save_payment_customer(
                &self,
                user_id: uuid::Uuid,
                provider: &str,
                customer_id: &str,
            ) -> Result<String, $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::SAVE_PAYMENT_CUSTOMER)
                    .bind(user_id)
                    .bind(provider)
                    .bind(customer_id)
                    .bind(chrono::Utc::now())
                    .execute(&self.pool)
                    .await?;
                Ok(
                    sqlx::query_scalar($crate::store::portable::sql::PAYMENT_CUSTOMER)
                        .bind(user_id)
                        .bind(provider)
                        .fetch_one(&self.pool)
                        .await?,
                )
            }

            async fn insert_refund(
                &self,
                r: &$crate::store::RefundRow,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::INSERT_REFUND)
                    .bind(r.id)
                    .bind(r.payment_id)
                    .bind(&r.provider_refund_id)
                    .bind(r.amount)
                    .bind(&r.status)
                    .bind(r.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn refunds_of(
                &self,
                payment_ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::store::RefundRow>, $crate::store::StoreError> {
                if payment_ids.is_empty() {
                    return Ok(Vec::new());
                }
                self.batch_reads.record($crate::store::BatchRead::Refunds);
                let mut query =
                    sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::REFUNDS_OF);
                push_id_list(&mut query, payment_ids);
                query.push($crate::store::portable::sql::REFUNDS_ORDER);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::PaymentEventRepo for $store {
            async fn append_payment_event(
                &self,
                event: &$crate::store::NewPaymentEvent,
            ) -> Result<$crate::store::LoggedEvent, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut logged = append_events(&mut *tx, std::slice::from_ref(event)).await?;
                tx.commit().await?;
                Ok(logged.remove(0))
            }

            async fn payment_events_page(
                &self,
                scope: $crate::store::EventScope,
                after: i64,
                limit: i64,
            ) -> Result<$crate::store::EventPage, $crate::store::StoreError> {
                // The horizon first: everything at or below it has committed, so the read that
                // follows sees all of it.
                let horizon = sqlx::query_scalar($crate::store::portable::sql::LOG_HORIZON)
                    .fetch_one(&self.pool)
                    .await?;
                let events = self.payment_events_after(scope, after, limit).await?;
                Ok($crate::store::EventPage { horizon, events })
            }

            async fn payment_events_after(
                &self,
                scope: $crate::store::EventScope,
                after: i64,
                limit: i64,
            ) -> Result<Vec<$crate::store::PaymentEventRow>, $crate::store::StoreError> {
                let (sql, id) = match scope {
                    $crate::store::EventScope::Payment(id) => {
                        ($crate::store::portable::sql::PAYMENT_EVENTS_OF_PAYMENT, id)
                    }
                    $crate::store::EventScope::User(id) => {
                        ($crate::store::portable::sql::PAYMENT_EVENTS_OF_USER, id)
                    }
                };
                Ok(sqlx::query_as(sql)
                    .bind(id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn latest_payment_event(
                &self,
                payment_id: uuid::Uuid,
            ) -> Result<Option<$crate::store::PaymentEventRow>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::LATEST_EVENT_OF_PAYMENT)
                        .bind(payment_id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn latest_user_cursor(
                &self,
                user_id: uuid::Uuid,
            ) -> Result<i64, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar($crate::store::portable::sql::LATEST_CURSOR_OF_USER)
                        .bind(user_id)
                        .fetch_one(&self.pool)
                        .await?,
                )
            }
        }

        /// Appends `events` in order inside the caller's transaction, after taking the log's append
        /// lock: it is held until that transaction ends, so events commit in cursor order and
        /// no reader can see a later cursor while an earlier one may still appear.
        async fn append_events(
            conn: &mut <$db as sqlx::Database>::Connection,
            events: &[$crate::store::NewPaymentEvent],
        ) -> Result<Vec<$crate::store::LoggedEvent>, $crate::store::StoreError> {
            if events.is_empty() {
                return Ok(Vec::new());
            }
            sqlx::query($append_lock).execute(&mut *conn).await?;
            // Each payment's next sequence numbers, read under the lock.
            let mut payments: Vec<uuid::Uuid> = events.iter().map(|e| e.payment_id).collect();
            payments.sort_unstable();
            payments.dedup();
            let mut last_sequences =
                sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::LAST_SEQUENCES);
            push_list(&mut last_sequences, payments);
            last_sequences.push(" GROUP BY payment_id");
            let mut sequence: std::collections::HashMap<uuid::Uuid, i32> = last_sequences
                .build_query_as::<(uuid::Uuid, i32)>()
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect();
            let now = chrono::Utc::now();
            let mut insert =
                sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::INSERT_PAYMENT_EVENTS);
            insert.push_values(events, |mut row, event| {
                let next = sequence.entry(event.payment_id).or_insert(0);
                *next += 1;
                row.push_bind(event.payment_id)
                    .push_bind(event.user_id)
                    .push_bind(*next)
                    .push_bind(&event.kind)
                    .push_bind(&event.status)
                    .push_bind(event.amount_refunded)
                    .push_bind(&event.source_event_id)
                    .push_bind(now);
            });
            insert.push(" RETURNING *");
            let mut rows: Vec<$crate::store::PaymentEventRow> =
                insert.build_query_as().fetch_all(&mut *conn).await?;
            // Cursors were drawn in the order of the rows given.
            rows.sort_by_key(|row| row.cursor);
            let mut previous: i64 =
                sqlx::query_scalar($crate::store::portable::sql::PREVIOUS_CURSOR)
                    .bind(rows[0].cursor)
                    .fetch_one(&mut *conn)
                    .await?;
            let logged: Vec<$crate::store::LoggedEvent> = rows
                .into_iter()
                .map(|event| {
                    let logged = $crate::store::LoggedEvent { previous, event };
                    previous = logged.event.cursor;
                    logged
                })
                .collect();
            if $notify {
                // Sent at commit, in commit order: listeners hear the log in cursor order.
                let notices: Vec<_> = logged.iter().map($crate::store::Notice::from).collect();
                for payload in $crate::store::encode_notices(&notices) {
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind($crate::store::NOTICE_CHANNEL)
                        .bind(payload)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            Ok(logged)
        }

        /// Applies the net effect of `changes` on each payment (from the state its first change
        /// expects to the state its last change leaves), in one statement, where the payment is
        /// still as expected. Returns the payments changed.
        async fn change_payments(
            conn: &mut <$db as sqlx::Database>::Connection,
            changes: &[&$crate::store::PaymentChange],
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<std::collections::HashSet<uuid::Uuid>, $crate::store::StoreError> {
            if changes.is_empty() {
                return Ok(std::collections::HashSet::new());
            }
            let mut net: Vec<(uuid::Uuid, &str, i64, &str, i64)> = Vec::new();
            let mut position = std::collections::HashMap::new();
            for change in changes {
                match position.get(&change.payment_id) {
                    Some(&i) => {
                        let entry: &mut (uuid::Uuid, &str, i64, &str, i64) = &mut net[i];
                        entry.3 = &change.status;
                        entry.4 = change.amount_refunded;
                    }
                    None => {
                        position.insert(change.payment_id, net.len());
                        net.push((
                            change.payment_id,
                            &change.from_status,
                            change.from_refunded,
                            &change.status,
                            change.amount_refunded,
                        ));
                    }
                }
            }
            let mut query =
                sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::CHANGE_PAYMENTS_WITH);
            query.push_values(
                &net,
                |mut row, (id, from_status, from_refunded, status, refunded)| {
                    row.push_bind(*id)
                        .push_bind(*from_status)
                        .push_bind(*from_refunded)
                        .push_bind(*status)
                        .push_bind(*refunded);
                },
            );
            query.push($crate::store::portable::sql::CHANGE_PAYMENTS_SET);
            query.push_bind(now);
            query.push($crate::store::portable::sql::CHANGE_PAYMENTS_WHERE);
            let changed: Vec<uuid::Uuid> = query.build_query_scalar().fetch_all(conn).await?;
            Ok(changed.into_iter().collect())
        }

        /// The event logging `change`.
        fn new_event(change: &$crate::store::PaymentChange) -> $crate::store::NewPaymentEvent {
            $crate::store::NewPaymentEvent {
                payment_id: change.payment_id,
                user_id: change.user_id,
                kind: change.kind.clone(),
                status: change.status.clone(),
                amount_refunded: change.amount_refunded,
                source_event_id: change.source_event_id.clone(),
            }
        }

        /// Marks inbox events finished, one statement per status.
        async fn finish_inbox_events(
            conn: &mut <$db as sqlx::Database>::Connection,
            finished: &[(i64, $crate::store::InboxStatus)],
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), $crate::store::StoreError> {
            let mut statuses: Vec<$crate::store::InboxStatus> = Vec::new();
            for (_, status) in finished {
                if !statuses.contains(status) {
                    statuses.push(*status);
                }
            }
            for status in statuses {
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    $crate::store::portable::sql::FINISH_INBOX_EVENTS,
                );
                query.push_bind(status.as_str());
                query.push(", processed_at = ");
                query.push_bind(now);
                query.push(" WHERE seq IN ");
                push_list(
                    &mut query,
                    finished
                        .iter()
                        .filter(|(_, s)| *s == status)
                        .map(|(seq, _)| *seq),
                );
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::store::WebhookRepo for $store {
            async fn insert_inbox_event(
                &self,
                event: &$crate::store::NewInboxEvent,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::portable::sql::INSERT_INBOX_EVENT)
                    .bind(&event.event_id)
                    .bind(&event.event_type)
                    .bind(&event.payload)
                    .bind(&event.source)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_due_events(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease: std::time::Duration,
                limit: i64,
            ) -> Result<Vec<$crate::store::InboxEvent>, $crate::store::StoreError> {
                let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
                let mut events: Vec<$crate::store::InboxEvent> = sqlx::query_as($claim_sql)
                    .bind(now + lease)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                events.sort_by_key(|e| e.seq);
                Ok(events)
            }

            async fn renew_inbox_claims(
                &self,
                seqs: &[i64],
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                if seqs.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    $crate::store::portable::sql::RENEW_INBOX_CLAIMS,
                );
                query.push_bind(until);
                query.push(" WHERE status = 'pending' AND seq IN ");
                push_list(&mut query, seqs.iter().copied());
                query.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn next_inbox_wakeup(
                &self,
            ) -> Result<Option<chrono::DateTime<chrono::Utc>>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar($crate::store::portable::sql::NEXT_INBOX_WAKEUP)
                        .fetch_one(&self.pool)
                        .await?,
                )
            }

            async fn finish_inbox_event(
                &self,
                seq: i64,
                status: $crate::store::InboxStatus,
                error: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::FINISH_INBOX_EVENT)
                    .bind(seq)
                    .bind(status.as_str())
                    .bind(error)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn retry_inbox_event(
                &self,
                seq: i64,
                error: &str,
                next_attempt_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::RETRY_INBOX_EVENT)
                    .bind(seq)
                    .bind(error)
                    .bind(next_attempt_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn requeue_inbox_event(
                &self,
                event_id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::portable::sql::REQUEUE_INBOX_EVENT)
                    .bind(event_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn inbox_event(
                &self,
                event_id: &str,
            ) -> Result<Option<$crate::store::InboxEvent>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::INBOX_EVENT)
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn inbox_stats(
                &self,
            ) -> Result<$crate::store::InboxStats, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::INBOX_STATS)
                    .fetch_one(&self.pool)
                    .await?)
            }
        }

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

            async fn set_admin(
                &self,
                user_id: uuid::Uuid,
                is_admin: bool,
            ) -> Result<$crate::store::User, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::SET_ADMIN)
                    .bind(user_id)
                    .bind(is_admin)
                    .bind(chrono::Utc::now())
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn reconcile_admins(
                &self,
                listed: &[(String, String)],
            ) -> Result<Vec<uuid::Uuid>, $crate::store::StoreError> {
                use $crate::store::portable::sql;
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin().await?;
                let mut admins: Vec<uuid::Uuid> = Vec::new();
                if !listed.is_empty() {
                    let mut query = sqlx::QueryBuilder::<$db>::new(sql::LISTED_USERS);
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
                let mut revoke = sqlx::QueryBuilder::<$db>::new(sql::REVOKE_ADMINS_SET);
                revoke.push_bind(now);
                revoke.push(sql::REVOKE_ADMINS_WHERE);
                if !admins.is_empty() {
                    revoke.push(" AND id NOT IN ");
                    push_id_list(&mut revoke, &admins);
                }
                revoke.push(" RETURNING id");
                let mut changed: Vec<uuid::Uuid> =
                    revoke.build_query_scalar().fetch_all(&mut *tx).await?;
                if !admins.is_empty() {
                    let mut grant = sqlx::QueryBuilder::<$db>::new(sql::GRANT_ADMINS_SET);
                    grant.push_bind(now);
                    grant.push(sql::GRANT_ADMINS_WHERE);
                    push_id_list(&mut grant, &admins);
                    grant.push(" RETURNING id");
                    let granted: Vec<uuid::Uuid> =
                        grant.build_query_scalar().fetch_all(&mut *tx).await?;
                    changed.extend(granted);
                }
                tx.commit().await?;
                Ok(changed)
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
                self.batch_reads.record($crate::store::BatchRead::Users);
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
                self.batch_reads
                    .record($crate::store::BatchRead::Identities);
                let mut query =
                    sqlx::QueryBuilder::<$db>::new($crate::store::portable::sql::IDENTITIES_OF);
                push_id_list(&mut query, user_ids);
                query.push($crate::store::portable::sql::IDENTITIES_ORDER);
                Ok(query.build_query_as().fetch_all(&self.pool).await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AuthRepo for $store {
            async fn insert_login_attempt(
                &self,
                attempt: &$crate::store::LoginAttempt,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::portable::sql::INSERT_LOGIN_ATTEMPT)
                    .bind(&attempt.state_hash)
                    .bind(&attempt.provider)
                    .bind(&attempt.pkce_verifier)
                    .bind(&attempt.code_challenge)
                    .bind(&attempt.browser_hash)
                    .bind(&attempt.nonce)
                    .bind(&attempt.redirect_to)
                    .bind(attempt.client_completes)
                    .bind(attempt.link_user_id)
                    .bind(attempt.created_at)
                    .bind(attempt.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn consume_login_attempt(
                &self,
                state_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::LoginAttempt>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::CONSUME_LOGIN_ATTEMPT)
                        .bind(state_hash)
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn peek_login_attempt(
                &self,
                state_hash: &str,
            ) -> Result<Option<$crate::store::LoginAttempt>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::PEEK_LOGIN_ATTEMPT)
                        .bind(state_hash)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn user_by_verified_email(
                &self,
                email: &str,
            ) -> Result<Option<$crate::store::User>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_as($crate::store::portable::sql::USER_BY_VERIFIED_EMAIL)
                        .bind(email)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn create_session(
                &self,
                session: &$crate::store::Session,
                refresh_hash: &str,
                refresh_expires_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::portable::sql::INSERT_SESSION)
                    .bind(session.id)
                    .bind(session.user_id)
                    .bind(&session.provider)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .execute(&mut *tx)
                    .await?;
                insert_refresh_token(
                    &mut *tx,
                    refresh_hash,
                    session.id,
                    session.created_at,
                    refresh_expires_at,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_by_id(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::store::Session>, $crate::store::StoreError> {
                Ok(sqlx::query_as($crate::store::portable::sql::SESSION_BY_ID)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn rotate_refresh_token(
                &self,
                old_hash: &str,
                new_hash: &str,
                new_expires_at: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
                grace: chrono::Duration,
            ) -> Result<$crate::store::Rotation, $crate::store::StoreError> {
                use $crate::store::Rotation;
                use $crate::store::portable::sql;
                let mut tx = self.pool.begin().await?;
                // Concurrent spends of one token serialise on this row: one wins, the others
                // see it spent (with its successor) once the winner commits.
                let spent: Option<uuid::Uuid> = sqlx::query_scalar(sql::SPEND_REFRESH_TOKEN)
                    .bind(old_hash)
                    .bind(now)
                    .bind(new_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let outcome = match spent {
                    Some(session_id) => match active_session(&mut *tx, session_id, now).await? {
                        Some(session) => {
                            insert_refresh_token(
                                &mut *tx,
                                new_hash,
                                session.id,
                                now,
                                new_expires_at,
                            )
                            .await?;
                            Rotation::Rotated(session)
                        }
                        None => Rotation::Invalid,
                    },
                    None => {
                        let reused: Option<(
                            uuid::Uuid,
                            chrono::DateTime<chrono::Utc>,
                            Option<String>,
                        )> = sqlx::query_as(sql::SPENT_REFRESH_TOKEN)
                            .bind(old_hash)
                            .fetch_optional(&mut *tx)
                            .await?;
                        match reused {
                            Some((session_id, rotated_at, Some(successor_hash)))
                                if rotated_at + grace > now =>
                            {
                                let successor_unused: i64 =
                                    sqlx::query_scalar(sql::UNSPENT_REFRESH_TOKENS)
                                        .bind(&successor_hash)
                                        .bind(now)
                                        .fetch_one(&mut *tx)
                                        .await?;
                                match active_session(&mut *tx, session_id, now).await? {
                                    Some(session) if successor_unused > 0 => Rotation::Replayed {
                                        session,
                                        successor_hash,
                                        rotated_at,
                                    },
                                    Some(_) => revoke(&mut *tx, session_id, now).await?,
                                    None => Rotation::Invalid,
                                }
                            }
                            Some((session_id, _, _)) => revoke(&mut *tx, session_id, now).await?,
                            None => Rotation::Invalid,
                        }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn revoke_session(
                &self,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::portable::sql::REVOKE_SESSION)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_user_sessions(
                &self,
                user_id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<uuid::Uuid>, $crate::store::StoreError> {
                Ok(
                    sqlx::query_scalar($crate::store::portable::sql::REVOKE_USER_SESSIONS)
                        .bind(user_id)
                        .bind(now)
                        .fetch_all(&self.pool)
                        .await?,
                )
            }
        }

        /// The session if it is still active at `now`.
        async fn active_session(
            conn: &mut <$db as sqlx::Database>::Connection,
            session_id: uuid::Uuid,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<$crate::store::Session>, $crate::store::StoreError> {
            let session: Option<$crate::store::Session> =
                sqlx::query_as($crate::store::portable::sql::SESSION_BY_ID)
                    .bind(session_id)
                    .fetch_optional(conn)
                    .await?;
            Ok(session.filter(|s| s.is_active(now)))
        }

        /// Revokes a session whose spent refresh token came back: it may have been stolen.
        async fn revoke(
            conn: &mut <$db as sqlx::Database>::Connection,
            session_id: uuid::Uuid,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<$crate::store::Rotation, $crate::store::StoreError> {
            sqlx::query($crate::store::portable::sql::REVOKE_SESSION)
                .bind(session_id)
                .bind(now)
                .execute(conn)
                .await?;
            Ok($crate::store::Rotation::Reused(session_id))
        }

        async fn insert_refresh_token(
            conn: &mut <$db as sqlx::Database>::Connection,
            token_hash: &str,
            session_id: uuid::Uuid,
            now: chrono::DateTime<chrono::Utc>,
            expires_at: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), $crate::store::StoreError> {
            sqlx::query($crate::store::portable::sql::INSERT_REFRESH_TOKEN)
                .bind(token_hash)
                .bind(session_id)
                .bind(now)
                .bind(expires_at)
                .execute(conn)
                .await?;
            Ok(())
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

        /// Appends `(a, b, ...)` as bound parameters.
        fn push_list<T>(query: &mut sqlx::QueryBuilder<$db>, items: impl IntoIterator<Item = T>)
        where
            T: for<'t> sqlx::Encode<'t, $db> + sqlx::Type<$db>,
        {
            query.push("(");
            let mut separated = query.separated(", ");
            for item in items {
                separated.push_bind(item);
            }
            separated.push_unseparated(")");
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
