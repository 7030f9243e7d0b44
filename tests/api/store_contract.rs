//! The store contract: the same tests against SQLite and PostgreSQL.

use switchboard::store::{NewIdentity, NewUser, Store, StoreError};

use crate::helpers::{Backend, TestDatabase};

/// Expands one contract test into a `sqlite` and a `postgres` test.
macro_rules! contract {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(Backend::Postgres, super::$name).await;
            }
        }
    };
}

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let store = database.store().await;
    assert_eq!(
        store.backend(),
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
    test(store.clone()).await;
    store.close().await;
}

/// Expands one contract test that also reads and writes the tables directly, beside the store.
macro_rules! raw_contract {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                run_raw(Backend::Sqlite, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                run_raw(Backend::Postgres, super::$name).await;
            }
        }
    };
}

async fn run_raw<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store, Raw) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let store = database.store().await;
    let raw = Raw {
        backend,
        url: database.url().to_owned(),
    };
    test(store.clone(), raw).await;
    store.close().await;
}

/// Direct SQL on a test database, for what the store's API cannot show: the stored text.
struct Raw {
    backend: Backend,
    url: String,
}

impl Raw {
    /// Runs a statement.
    async fn execute(&self, sql: &'static str) {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// The text values a one-column query returns.
    async fn texts(&self, sql: &'static str) -> Vec<String> {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                let texts = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
                pool.close().await;
                texts
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                let texts = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
                pool.close().await;
                texts
            }
        }
    }
}

fn identity(provider: &str, subject: &str) -> NewIdentity {
    NewIdentity {
        provider: provider.into(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.com")),
        email_verified: true,
    }
}

fn alice() -> NewUser {
    NewUser {
        email: Some("alice@example.com".into()),
        name: Some("Alice".into()),
    }
}

contract!(migrations_are_idempotent);
async fn migrations_are_idempotent(store: Store) {
    store.migrate().await.expect("second run is a no-op");
    store.ping().await.expect("ping");
}

contract!(created_user_is_found_by_id_and_identity);
async fn created_user_is_found_by_id_and_identity(store: Store) {
    let user = store
        .create_user(alice(), identity("google", "g-1"), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    assert!(!user.is_admin);
    assert_eq!(store.user_by_id(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(
        store.user_by_identity("google", "g-1").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(store.user_by_identity("google", "g-2").await.unwrap(), None);
    assert_eq!(store.user_by_identity("github", "g-1").await.unwrap(), None);
}

contract!(identity_belongs_to_one_user_only);
async fn identity_belongs_to_one_user_only(store: Store) {
    let first = store
        .create_user(alice(), identity("google", "same"), chrono::Utc::now())
        .await
        .unwrap();
    let err = store
        .create_user(
            NewUser::default(),
            identity("google", "same"),
            chrono::Utc::now(),
        )
        .await
        .expect_err("second owner refused");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Nothing half-written: the refused user does not exist.
    let everyone = store.users_by_ids(&[first.id]).await.unwrap();
    assert_eq!(everyone.len(), 1);
    let err = store
        .add_identity(first.id, identity("google", "same"), chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

contract!(identities_load_in_batches);
async fn identities_load_in_batches(store: Store) {
    let a = store
        .create_user(alice(), identity("google", "a"), chrono::Utc::now())
        .await
        .unwrap();
    let b = store
        .create_user(
            NewUser::default(),
            identity("github", "b"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let linked = store
        .add_identity(a.id, identity("github", "a2"), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(linked.user_id, a.id);

    let rows = store
        .identities_of(&[a.id, b.id, uuid::Uuid::now_v7()])
        .await
        .unwrap();
    let of = |id| {
        rows.iter()
            .filter(|r| r.user_id == id)
            .map(|r| r.subject.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(a.id), vec!["a", "a2"]);
    assert_eq!(of(b.id), vec!["b"]);
    assert!(store.identities_of(&[]).await.unwrap().is_empty());

    let mut users = store.users_by_ids(&[b.id, a.id]).await.unwrap();
    users.sort_by_key(|u| u.id);
    assert_eq!(
        users.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
}

contract!(adding_identity_to_missing_user_fails);
async fn adding_identity_to_missing_user_fails(store: Store) {
    let err = store
        .add_identity(
            uuid::Uuid::now_v7(),
            identity("google", "orphan"),
            chrono::Utc::now(),
        )
        .await
        .expect_err("foreign key holds");
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

fn inbox_event(id: &str) -> switchboard::store::NewInboxEvent {
    switchboard::store::NewInboxEvent {
        event_id: id.into(),
        event_type: "payment_intent.succeeded".into(),
        payload: "{}".into(),
        source: "stripe".into(),
    }
}

contract!(inbox_deduplicates_and_leases_events);
async fn inbox_deduplicates_and_leases_events(store: Store) {
    use std::time::Duration;
    use switchboard::store::InboxStatus;
    let now = chrono::Utc::now();
    assert!(
        store
            .insert_inbox_event(&inbox_event("evt_a"), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_inbox_event(&inbox_event("evt_a"), now)
            .await
            .unwrap(),
        "duplicate"
    );
    assert!(
        store
            .insert_inbox_event(&inbox_event("evt_b"), now)
            .await
            .unwrap()
    );

    let lease = Duration::from_secs(60);
    let claimed = store.claim_due_events(now, lease, 10).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, vec!["evt_a", "evt_b"], "arrival order");
    assert!(
        store
            .claim_due_events(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    // A crashed processor's lease runs out: the events come back.
    let later = now + chrono::Duration::seconds(61);
    let reclaimed = store.claim_due_events(later, lease, 1).await.unwrap();
    assert_eq!(reclaimed.len(), 1, "limit holds");
    let first = &reclaimed[0];
    store
        .finish_inbox_event(first.seq, InboxStatus::Applied, None, later)
        .await
        .unwrap();
    let rest = store
        .claim_due_events(later + chrono::Duration::seconds(61), lease, 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    let second = &rest[0];
    assert_ne!(second.event_id, first.event_id);

    store
        .retry_inbox_event(
            second.seq,
            "payment not recorded yet",
            later + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due_events(later + chrono::Duration::seconds(200), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due"
    );
    let stored = store.inbox_event(&second.event_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.attempts, stored.last_error.as_deref()),
        (1, Some("payment not recorded yet"))
    );

    store
        .finish_inbox_event(second.seq, InboxStatus::Dead, Some("gave up"), later)
        .await
        .unwrap();
    assert!(
        store
            .requeue_inbox_event(&second.event_id, later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .requeue_inbox_event("evt_unknown", later)
            .await
            .unwrap()
    );
    let replayed = store
        .claim_due_events(later + chrono::Duration::seconds(1), lease, 10)
        .await
        .unwrap();
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].attempts, 0, "a replay starts over");
}

contract!(inbox_stats_count_pending_and_dead_and_date_the_oldest);
async fn inbox_stats_count_pending_and_dead_and_date_the_oldest(store: Store) {
    use chrono::{SubsecRound, Utc};
    use switchboard::store::{InboxStats, InboxStatus};
    let empty = store.inbox_stats().await.unwrap();
    assert_eq!(
        empty,
        InboxStats {
            pending: 0,
            dead: 0,
            oldest_pending_received_at: None
        }
    );
    let first = Utc::now().trunc_subsecs(3) - chrono::Duration::minutes(5);
    for (i, id) in ["evt_old", "evt_dead", "evt_new"].into_iter().enumerate() {
        let at = first + chrono::Duration::minutes(i as i64);
        assert!(
            store
                .insert_inbox_event(&inbox_event(id), at)
                .await
                .unwrap()
        );
    }
    let dead = store.inbox_event("evt_dead").await.unwrap().unwrap();
    store
        .finish_inbox_event(dead.seq, InboxStatus::Dead, Some("gave up"), Utc::now())
        .await
        .unwrap();
    let old = store.inbox_event("evt_old").await.unwrap().unwrap();
    store
        .finish_inbox_event(old.seq, InboxStatus::Applied, None, Utc::now())
        .await
        .unwrap();
    let stats = store.inbox_stats().await.unwrap();
    assert_eq!(
        stats,
        InboxStats {
            pending: 1,
            dead: 1,
            oldest_pending_received_at: Some(first + chrono::Duration::minutes(2)),
        },
        "applied events are not pending; the oldest pending is the newest arrival"
    );
}

contract!(concurrent_claims_never_share_an_event);
async fn concurrent_claims_never_share_an_event(store: Store) {
    let now = chrono::Utc::now();
    for i in 0..40 {
        store
            .insert_inbox_event(&inbox_event(&format!("evt_{i:02}")), now)
            .await
            .unwrap();
    }
    let claim = |store: Store| async move {
        let mut mine = Vec::new();
        loop {
            let batch = store
                .claim_due_events(now, std::time::Duration::from_secs(60), 3)
                .await
                .unwrap();
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch.into_iter().map(|e| e.event_id));
        }
    };
    let (a, b) = tokio::join!(claim(store.clone()), claim(store.clone()));
    let mut all: Vec<_> = a.iter().chain(b.iter()).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "every event claimed");
    assert_eq!(a.len() + b.len(), 40, "no event claimed twice");
}

contract!(payment_events_number_per_payment_and_read_by_scope);
async fn payment_events_number_per_payment_and_read_by_scope(store: Store) {
    use switchboard::store::{EventScope, NewPaymentEvent};
    let owner = store
        .create_user(alice(), identity("dev", "owner"), chrono::Utc::now())
        .await
        .unwrap()
        .id;
    let other = store
        .create_user(
            NewUser::default(),
            identity("dev", "other"),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .id;
    let (p1, p2) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let event = |payment_id, user_id, status: &str| NewPaymentEvent {
        payment_id,
        user_id,
        kind: "test".into(),
        status: status.parse().unwrap(),
        amount_refunded: 0,
        source_event_id: None,
    };
    let a = store
        .append_payment_event(&event(p1, owner, "PROCESSING"), chrono::Utc::now())
        .await
        .unwrap();
    let b = store
        .append_payment_event(&event(p2, other, "PROCESSING"), chrono::Utc::now())
        .await
        .unwrap();
    let c = store
        .append_payment_event(&event(p1, owner, "SUCCEEDED"), chrono::Utc::now())
        .await
        .unwrap();
    // Each event links to the one logged before it, in any scope.
    assert_eq!(
        (a.previous, b.previous, c.previous),
        (0, a.event.cursor, b.event.cursor)
    );
    let (a, b, c) = (a.event, b.event, c.event);
    assert_eq!((a.sequence, b.sequence, c.sequence), (1, 1, 2));
    assert!(a.cursor < b.cursor && b.cursor < c.cursor);
    let mine = store
        .payment_events_after(EventScope::User(owner), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|e| e.cursor).collect::<Vec<_>>(),
        vec![a.cursor, c.cursor]
    );
    let after = store
        .payment_events_after(EventScope::Payment(p1), a.cursor, 10)
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|e| e.cursor).collect::<Vec<_>>(),
        vec![c.cursor]
    );
    assert_eq!(
        store
            .latest_payment_event(p1)
            .await
            .unwrap()
            .unwrap()
            .cursor,
        c.cursor
    );
    assert_eq!(store.latest_user_cursor(other).await.unwrap(), b.cursor);
    assert_eq!(
        store
            .latest_user_cursor(uuid::Uuid::now_v7())
            .await
            .unwrap(),
        0
    );
}

contract!(retention_deletes_what_is_no_longer_useful);
async fn retention_deletes_what_is_no_longer_useful(store: Store) {
    use chrono::{Duration, Utc};
    use switchboard::store::{LoginAttempt, Purged, Rotation, Session};

    let t0 = Utc::now();
    let attempt = |state: &str, expires_at| LoginAttempt {
        state_hash: state.into(),
        provider: "dev".into(),
        pkce_verifier: Some("verifier".into()),
        code_challenge: None,
        browser_hash: None,
        nonce: "nonce".into(),
        redirect_to: None,
        client_completes: false,
        link_user_id: None,
        created_at: t0,
        expires_at,
        consumed_at: None,
    };
    store
        .insert_login_attempt(&attempt("expired", t0 + Duration::minutes(10)))
        .await
        .unwrap();
    store
        .insert_login_attempt(&attempt("live", t0 + Duration::days(3)))
        .await
        .unwrap();
    let user = store
        .create_user(
            alice(),
            identity("google", "g-retention"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let session = Session {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        provider: "google".into(),
        created_at: t0,
        expires_at: t0 + Duration::days(30),
        revoked_at: None,
    };
    let month = t0 + Duration::days(30);
    store.create_session(&session, "r1", month).await.unwrap();
    let rotated = store
        .rotate_refresh_token("r1", "r2", month, t0, Duration::seconds(5))
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)));
    store
        .begin_idempotent(user.id, "op", "key", "fingerprint", t0)
        .await
        .unwrap();

    // Two days on, with a one-day window.
    let now = t0 + Duration::days(2);
    let purged = store
        .purge_expired(now, now - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        purged,
        Purged {
            login_attempts: 1,
            refresh_tokens: 1,
            idempotency_keys: 1,
        }
    );
    assert_eq!(
        store
            .purge_expired(now, now - Duration::days(1))
            .await
            .unwrap(),
        Purged::default()
    );
    // What is still useful stays: the live attempt and the current refresh token.
    assert!(store.peek_login_attempt("live").await.unwrap().is_some());
    let rotated = store
        .rotate_refresh_token("r2", "r3", month, now, Duration::seconds(5))
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");
}

contract!(payments_are_counted_paged_backwards_and_refunds_found_by_id);
async fn payments_are_counted_paged_backwards_and_refunds_found_by_id(store: Store) {
    use switchboard::store::{PaymentRow, RefundRow};
    let owner = store
        .create_user(alice(), identity("dev", "counted"), chrono::Utc::now())
        .await
        .unwrap()
        .id;
    let now = chrono::Utc::now();
    let payment = |status: &str| PaymentRow {
        id: uuid::Uuid::now_v7(),
        user_id: owner,
        provider: "sandbox".into(),
        provider_payment_id: format!("pi_{}", uuid::Uuid::now_v7().simple()),
        status: status.parse().unwrap(),
        amount: 1000,
        currency: "usd".into(),
        amount_refunded: 0,
        description: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
        last_error: Default::default(),
    };
    let paid = payment("SUCCEEDED");
    let rows = [paid.clone(), payment("PROCESSING"), payment("SUCCEEDED")];
    for row in &rows {
        store.insert_payment(row).await.unwrap();
    }
    // Oldest first above a cursor, for paging backwards.
    let ascending = store
        .payments_of_user_ascending(owner, None, Some(rows[0].id), 10)
        .await
        .unwrap();
    assert_eq!(
        ascending.iter().map(|p| p.id).collect::<Vec<_>>(),
        [rows[1].id, rows[2].id]
    );
    let succeeded = store
        .payments_of_user_ascending(
            owner,
            Some(switchboard::domain::PaymentStatus::Succeeded),
            None,
            1,
        )
        .await
        .unwrap();
    assert_eq!(
        succeeded.iter().map(|p| p.id).collect::<Vec<_>>(),
        [rows[0].id]
    );
    assert_eq!(store.count_payments_of_user(owner, None).await.unwrap(), 3);
    assert_eq!(
        store
            .count_payments_of_user(owner, Some(switchboard::domain::PaymentStatus::Succeeded))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count_payments_of_user(uuid::Uuid::now_v7(), None)
            .await
            .unwrap(),
        0
    );

    let refund = RefundRow {
        id: uuid::Uuid::now_v7(),
        payment_id: paid.id,
        provider_refund_id: "re_1".into(),
        amount: 100,
        status: "succeeded".into(),
        created_at: now,
    };
    store.insert_refund(&refund).await.unwrap();
    let found = store.refund_by_id(refund.id).await.unwrap().unwrap();
    assert_eq!((found.payment_id, found.amount), (paid.id, 100));
    assert!(store.refund_by_id(paid.id).await.unwrap().is_none());
}

raw_contract!(domain_values_are_stored_as_the_same_text_and_unreadable_ones_are_errors);
async fn domain_values_are_stored_as_the_same_text_and_unreadable_ones_are_errors(
    store: Store,
    raw: Raw,
) {
    use std::collections::BTreeMap;
    use switchboard::domain::{PaymentEventKind, PaymentStatus, RefundStatus};
    use switchboard::store::{PaymentChange, PaymentRow, RefundRow};
    let owner = store
        .create_user(alice(), identity("dev", "texts"), chrono::Utc::now())
        .await
        .unwrap()
        .id;
    let now = chrono::Utc::now();
    let payment = PaymentRow {
        id: uuid::Uuid::now_v7(),
        user_id: owner,
        provider: "sandbox".into(),
        provider_payment_id: "pi_texts".into(),
        status: PaymentStatus::RequiresPaymentMethod,
        amount: 1000,
        currency: "usd".into(),
        amount_refunded: 0,
        description: None,
        metadata: BTreeMap::from([("order".to_owned(), "42".to_owned())]).into(),
        created_at: now,
        updated_at: now,
        last_error: Default::default(),
    };
    store.insert_payment(&payment).await.unwrap();
    let change = PaymentChange {
        payment_id: payment.id,
        user_id: owner,
        from_status: PaymentStatus::RequiresPaymentMethod,
        from_refunded: 0,
        status: PaymentStatus::PartiallyRefunded,
        amount_refunded: 100,
        kind: PaymentEventKind::Provider("charge.refunded".into()),
        source_event_id: Some("evt_texts".into()),
    };
    store
        .apply_payment_change(&change, now)
        .await
        .unwrap()
        .unwrap();
    for status in [
        RefundStatus::Succeeded,
        RefundStatus::Other("reversed".into()),
    ] {
        let refund = RefundRow {
            id: uuid::Uuid::now_v7(),
            payment_id: payment.id,
            provider_refund_id: format!("re_{}", uuid::Uuid::now_v7().simple()),
            amount: 50,
            status,
            created_at: now,
        };
        store.insert_refund(&refund).await.unwrap();
    }

    // The text is what it always was, so rows written before and after read alike.
    assert_eq!(
        raw.texts("SELECT status || ' ' || metadata FROM payments")
            .await,
        [r#"PARTIALLY_REFUNDED {"order":"42"}"#]
    );
    assert_eq!(
        raw.texts("SELECT kind || ' ' || status FROM payment_events ORDER BY cursor")
            .await,
        [
            "created REQUIRES_PAYMENT_METHOD",
            "charge.refunded PARTIALLY_REFUNDED"
        ]
    );
    assert_eq!(
        raw.texts("SELECT status FROM refunds ORDER BY status DESC")
            .await,
        ["succeeded", "reversed"]
    );
    let refunds = store.refunds_of(&[payment.id]).await.unwrap();
    let statuses: Vec<RefundStatus> = refunds.into_iter().map(|r| r.status).collect();
    assert!(statuses.contains(&RefundStatus::Succeeded), "{statuses:?}");
    assert!(
        statuses.contains(&RefundStatus::Other("reversed".into())),
        "{statuses:?}"
    );
    let read = store.payment_by_id(payment.id).await.unwrap().unwrap();
    assert_eq!(read.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(read.metadata.0["order"], "42");

    // A value this version cannot read fails the read; it never reads as a default.
    raw.execute("UPDATE payments SET metadata = '{not json'")
        .await;
    assert!(matches!(
        store.payment_by_id(payment.id).await,
        Err(StoreError::Other(_))
    ));
    raw.execute(r#"UPDATE payments SET metadata = '{}', status = 'from_the_future'"#)
        .await;
    assert!(matches!(
        store.payment_by_id(payment.id).await,
        Err(StoreError::Other(_))
    ));
}

contract!(payment_traces_are_kept_once_and_found_by_provider_id);
async fn payment_traces_are_kept_once_and_found_by_provider_id(store: Store) {
    use switchboard::store::PaymentRow;
    let owner = store
        .create_user(alice(), identity("dev", "traced"), chrono::Utc::now())
        .await
        .unwrap()
        .id;
    let now = chrono::Utc::now();
    let payment = |provider_payment_id: &str| PaymentRow {
        id: uuid::Uuid::now_v7(),
        user_id: owner,
        provider: "stripe".into(),
        provider_payment_id: provider_payment_id.into(),
        status: "REQUIRES_PAYMENT_METHOD".parse().unwrap(),
        amount: 1000,
        currency: "usd".into(),
        amount_refunded: 0,
        description: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
        last_error: Default::default(),
    };
    let (traced, untraced) = (payment("pi_traced"), payment("pi_untraced"));
    for row in [&traced, &untraced] {
        store.insert_payment(row).await.unwrap();
    }
    let first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    store.save_payment_trace(traced.id, first).await.unwrap();
    store
        .save_payment_trace(
            traced.id,
            "00-11111111111111111111111111111111-2222222222222222-01",
        )
        .await
        .unwrap();
    let ids = ["pi_traced", "pi_untraced", "pi_unknown"].map(String::from);
    assert_eq!(
        store.payment_traces_by_provider_ids(&ids).await.unwrap(),
        [("pi_traced".to_owned(), first.to_owned())],
        "the first trace is kept; payments without one are left out"
    );
    assert!(
        store
            .payment_traces_by_provider_ids(&[])
            .await
            .unwrap()
            .is_empty()
    );
}

contract!(a_last_error_is_written_with_its_change_and_only_then);
async fn a_last_error_is_written_with_its_change_and_only_then(store: Store) {
    use switchboard::domain::{PaymentError, PaymentEventKind, PaymentStatus};
    use switchboard::store::{BatchStep, PaymentChange, PaymentRow, StepAction, StepResult};
    let owner = store
        .create_user(alice(), identity("dev", "failing"), chrono::Utc::now())
        .await
        .unwrap()
        .id;
    let now = chrono::Utc::now();
    let payment = PaymentRow {
        id: uuid::Uuid::now_v7(),
        user_id: owner,
        provider: "sandbox".into(),
        provider_payment_id: "pi_failing".into(),
        status: PaymentStatus::RequiresPaymentMethod,
        amount: 1000,
        currency: "usd".into(),
        amount_refunded: 0,
        description: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
        last_error: Default::default(),
    };
    store.insert_payment(&payment).await.unwrap();
    let declined = PaymentError {
        code: Some("card_declined".into()),
        decline_code: Some("insufficient_funds".into()),
        message: Some("The card has insufficient funds. Try another card.".into()),
    };
    let step = |from: PaymentStatus, to: PaymentStatus, error: Option<PaymentError>| BatchStep {
        inbox_seq: None,
        payment_id: Some(payment.id),
        action: StepAction::Change(PaymentChange {
            payment_id: payment.id,
            user_id: owner,
            from_status: from,
            from_refunded: 0,
            status: to,
            amount_refunded: 0,
            kind: PaymentEventKind::Provider("payment_intent.payment_failed".into()),
            source_event_id: None,
        }),
        last_error: error,
    };
    use PaymentStatus::{RequiresPaymentMethod as Open, Succeeded};

    // The same status, a new error: written, and logged.
    let results = store
        .apply_steps(&[step(Open, Open, Some(declined.clone()))], now)
        .await
        .unwrap();
    assert!(
        matches!(results[..], [StepResult::Changed(_)]),
        "{results:?}"
    );
    assert_eq!(last_error_of(&store, payment.id).await, declined);

    // A change refused by its guard writes no error either.
    let refused = store
        .apply_steps(&[step(Succeeded, Open, Some(PaymentError::default()))], now)
        .await
        .unwrap();
    assert_eq!(refused, [StepResult::Contended]);
    assert_eq!(last_error_of(&store, payment.id).await, declined);

    // `None` keeps it; an empty error clears it.
    store
        .apply_steps(&[step(Open, PaymentStatus::Processing, None)], now)
        .await
        .unwrap();
    assert_eq!(last_error_of(&store, payment.id).await, declined);
    store
        .apply_steps(
            &[step(
                PaymentStatus::Processing,
                Succeeded,
                Some(PaymentError::default()),
            )],
            now,
        )
        .await
        .unwrap();
    assert!(last_error_of(&store, payment.id).await.is_empty());
}

async fn last_error_of(store: &Store, id: uuid::Uuid) -> switchboard::domain::PaymentError {
    store.payment_by_id(id).await.unwrap().unwrap().last_error
}
