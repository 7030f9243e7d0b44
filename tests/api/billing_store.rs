//! The store contract of subscriptions, on SQLite and PostgreSQL: records, guarded writes that
//! log into the one event log and finish their inbox event, and reads by user and cursor.

use chrono::{TimeZone, Utc};
use switchboard::domain::SubscriptionStatus;
use switchboard::store::{
    EventScope, InboxStatus, NewIdentity, NewInboxEvent, NewPaymentEvent, NewSubscriptionEvent,
    NewUser, Store, SubscriptionRow, SubscriptionWrite, SubscriptionWritten,
};
use uuid::Uuid;

use crate::helpers::{Backend, TestDatabase};

/// Runs `test` against a fresh database of each backend.
async fn on_both<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(database) = TestDatabase::create(backend).await else {
            continue;
        };
        let store = database.store().await;
        test(store.clone()).await;
        store.close().await;
    }
}

async fn user(store: &Store, login: &str) -> Uuid {
    let identity = NewIdentity {
        provider: "dev".into(),
        subject: login.into(),
        email: None,
        email_verified: false,
    };
    store
        .create_user(NewUser::default(), identity, Utc::now())
        .await
        .unwrap()
        .id
}

fn subscription(user_id: Uuid, provider_id: &str) -> SubscriptionRow {
    // Whole seconds: both backends keep them exactly.
    let now = Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap();
    SubscriptionRow {
        id: Uuid::now_v7(),
        user_id,
        provider: "stripe".into(),
        provider_subscription_id: provider_id.into(),
        price_id: "price_club".into(),
        quantity: 2,
        status: SubscriptionStatus::Incomplete,
        current_period_end: Some(Utc.timestamp_opt(1_800_000_000, 0).unwrap()),
        cancel_at_period_end: false,
        latest_invoice_id: Some("in_1".into()),
        latest_invoice_amount_due: Some(5_000),
        latest_invoice_currency: Some("usd".into()),
        latest_invoice_status: Some("open".into()),
        latest_invoice_url: Some("https://invoice.example/in_1".into()),
        provider_event_at: 0,
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn subscriptions_are_recorded_once_and_read_back_as_written() {
    on_both(|store| async move {
        let owner = user(&store, "owner").await;
        let row = subscription(owner, "sub_1");
        let created = store.insert_subscription(&row).await.unwrap();
        assert_eq!(
            (created.event.kind.as_str(), created.event.sequence),
            ("created", 1)
        );
        assert_eq!(created.event.subscription_id, row.id);
        assert_eq!(created.event.status, SubscriptionStatus::Incomplete);
        assert_eq!(
            store.subscription_by_id(row.id).await.unwrap(),
            Some(row.clone())
        );
        let by_provider = store
            .subscriptions_by_provider_ids(&["sub_1".into(), "sub_unknown".into()])
            .await
            .unwrap();
        assert_eq!(by_provider, vec![row.clone()]);
        // The provider's id is unique.
        let again = subscription(owner, "sub_1");
        assert!(store.insert_subscription(&again).await.is_err());
        let newer = subscription(owner, "sub_2");
        store.insert_subscription(&newer).await.unwrap();
        let mine: Vec<Uuid> = store
            .subscriptions_of_user(owner)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(mine, vec![newer.id, row.id], "newest first");
        assert!(
            store
                .subscriptions_of_user(Uuid::now_v7())
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn guarded_writes_log_into_the_one_event_log_and_finish_their_inbox_event() {
    on_both(|store| async move {
        let owner = user(&store, "owner").await;
        let row = subscription(owner, "sub_1");
        let created = store.insert_subscription(&row).await.unwrap();
        // A payment event of the same user between the two subscription events.
        let payment = store
            .append_payment_event(
                &NewPaymentEvent {
                    payment_id: Uuid::now_v7(),
                    user_id: owner,
                    kind: "test".into(),
                    status: "PROCESSING".parse().unwrap(),
                    amount_refunded: 0,
                    source_event_id: None,
                },
                Utc::now(),
            )
            .await
            .unwrap();
        let now = Utc::now();
        store
            .insert_inbox_event(
                &NewInboxEvent {
                    event_id: "evt_paid".into(),
                    event_type: "invoice.paid".into(),
                    payload: "{}".into(),
                    source: "stripe".into(),
                },
                now,
            )
            .await
            .unwrap();
        let inbox = store.inbox_event("evt_paid").await.unwrap().unwrap();
        let mut next = row.clone();
        next.status = SubscriptionStatus::Active;
        next.provider_event_at = 1_700_000_000;
        let write = SubscriptionWrite {
            next: next.clone(),
            log: Some(NewSubscriptionEvent {
                kind: "invoice.paid".into(),
                source_event_id: Some("evt_paid".into()),
            }),
        };
        let written = store
            .write_subscription(Some(&write), Some((inbox.seq, InboxStatus::Applied)), now)
            .await
            .unwrap();
        let SubscriptionWritten::Written(Some(logged)) = written else {
            panic!("written and logged: {written:?}");
        };
        assert_eq!(logged.previous, payment.event.cursor, "one log, one chain");
        assert_eq!(
            (logged.event.sequence, logged.event.status),
            (2, SubscriptionStatus::Active)
        );
        let stored = store.subscription_by_id(row.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.provider_event_at, stored.version),
            (SubscriptionStatus::Active, 1_700_000_000, 1)
        );
        let finished = store.inbox_event("evt_paid").await.unwrap().unwrap();
        assert_eq!(finished.status, InboxStatus::Applied);
        // A write from the state before it is refused, and writes nothing.
        let mut stale = next.clone();
        stale.status = SubscriptionStatus::PastDue;
        let refused = store
            .write_subscription(
                Some(&SubscriptionWrite {
                    next: stale,
                    log: None,
                }),
                None,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(refused, SubscriptionWritten::Contended);
        let unchanged = store.subscription_by_id(row.id).await.unwrap().unwrap();
        assert_eq!(unchanged.status, SubscriptionStatus::Active);
        // Subscription events are read by user and cursor; payment reads leave them out.
        let events = store.subscription_events_after(owner, 0, 10).await.unwrap();
        let cursors: Vec<i64> = events.iter().map(|e| e.cursor).collect();
        assert_eq!(cursors, vec![created.event.cursor, logged.event.cursor]);
        assert_eq!(events[1], logged.event);
        let after_first = store
            .subscription_events_after(owner, created.event.cursor, 10)
            .await
            .unwrap();
        assert_eq!(after_first.len(), 1);
        let payments = store
            .payment_events_after(EventScope::User(owner), 0, 10)
            .await
            .unwrap();
        assert_eq!(
            payments.iter().map(|e| e.cursor).collect::<Vec<_>>(),
            vec![payment.event.cursor]
        );
        assert_eq!(
            store.latest_subscription_cursor(owner).await.unwrap(),
            logged.event.cursor
        );
        assert_eq!(
            store
                .latest_subscription_cursor(Uuid::now_v7())
                .await
                .unwrap(),
            0
        );
    })
    .await;
}
