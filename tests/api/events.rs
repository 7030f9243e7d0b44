//! The event bus across instances over PostgreSQL LISTEN/NOTIFY.

use std::time::Duration;

use switchboard::events::{BusMessage, EventBus, Notice};
use switchboard::store::NewPaymentEvent;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{Backend, TestDatabase};

async fn next(receiver: &mut tokio::sync::broadcast::Receiver<BusMessage>) -> BusMessage {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a message before the deadline")
        .expect("channel open")
}

/// A change appended on one instance's database is announced inside its transaction: every
/// instance hears the event itself, and a reconnecting listener tells its subscribers to resync.
#[tokio::test]
async fn an_appended_event_reaches_every_instance_and_reconnects_resync() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let store = database.store().await;
    let stop = CancellationToken::new();
    let a = EventBus::postgres(database.url(), stop.clone())
        .await
        .unwrap();
    let b = EventBus::postgres(database.url(), stop.clone())
        .await
        .unwrap();
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
    let owner = feed::user(&store, "notice").await;
    let event = |status: &str| NewPaymentEvent {
        payment_id: Uuid::now_v7(),
        user_id: owner,
        kind: "test".into(),
        status: status.parse().unwrap(),
        amount_refunded: 0,
        source_event_id: None,
    };
    let logged = store
        .append_payment_event(&event("PROCESSING"), chrono::Utc::now())
        .await
        .unwrap();
    let notice = Notice::from(&logged);
    assert!(notice.event.is_some(), "the event travels with its notice");
    assert_eq!(
        next(&mut on_b).await,
        BusMessage::Changed(notice.clone()),
        "the other instance hears it"
    );
    assert_eq!(
        next(&mut on_a).await,
        BusMessage::Changed(notice),
        "and so does the writer's own"
    );

    // Cut B's listening connection: B reconnects and tells its subscribers to catch up.
    let admin = sqlx::PgPool::connect(database.url()).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "both listeners found");
    assert_eq!(next(&mut on_b).await, BusMessage::Resync);
    // After reconnecting, notices flow again, chained to the one before.
    let later = store
        .append_payment_event(&event("SUCCEEDED"), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(later.previous, logged.event.cursor);
    let mut seen = next(&mut on_b).await;
    while seen == BusMessage::Resync {
        seen = next(&mut on_b).await;
    }
    assert_eq!(seen, BusMessage::Changed(Notice::from(&later)));
    stop.cancel();
    admin.close().await;
}

pub(crate) mod feed {
    use futures_util::StreamExt;
    use std::sync::Arc;

    use switchboard::events::{EventBus, Start, feed};
    use switchboard::store::{
        EventScope, LoggedEvent, NewIdentity, NewPaymentEvent, NewUser, PaymentEventRow, Store,
    };
    use uuid::Uuid;

    use crate::helpers::{Backend, TestDatabase};

    pub(crate) async fn user(store: &Store, name: &str) -> Uuid {
        let identity = NewIdentity {
            provider: "dev".into(),
            subject: name.into(),
            email: None,
            email_verified: false,
        };
        store
            .create_user(NewUser::default(), identity, chrono::Utc::now())
            .await
            .unwrap()
            .id
    }

    async fn append(
        store: &Store,
        bus: &EventBus,
        payment_id: Uuid,
        user_id: Uuid,
        status: &str,
    ) -> LoggedEvent {
        let logged = store
            .append_payment_event(
                &NewPaymentEvent {
                    payment_id,
                    user_id,
                    kind: "test".into(),
                    status: status.parse().unwrap(),
                    amount_refunded: 0,
                    source_event_id: None,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        bus.publish(std::slice::from_ref(&logged)).await;
        logged
    }

    async fn take<
        S: futures_util::Stream<
                Item = Result<Arc<PaymentEventRow>, switchboard::store::StoreError>,
            > + Unpin,
    >(
        stream: &mut S,
    ) -> Arc<PaymentEventRow> {
        tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
            .await
            .expect("an event before the deadline")
            .expect("stream open")
            .expect("no store error")
    }

    #[tokio::test]
    async fn backlog_then_live_without_gaps_or_duplicates() {
        let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
        let store = database.store().await;
        let bus = EventBus::in_process();
        let (owner, payment) = (user(&store, "a").await, Uuid::now_v7());
        let first = append(&store, &bus, payment, owner, "PROCESSING")
            .await
            .event;
        let second = append(&store, &bus, payment, owner, "SUCCEEDED")
            .await
            .event;
        assert_eq!((first.sequence, second.sequence), (1, 2));

        let mut from_start = Box::pin(
            feed(
                store.clone(),
                &bus,
                EventScope::Payment(payment),
                Start::After(0),
            )
            .await
            .unwrap(),
        );
        let mut current = Box::pin(
            feed(
                store.clone(),
                &bus,
                EventScope::Payment(payment),
                Start::Now,
            )
            .await
            .unwrap(),
        );
        let mut mine = Box::pin(
            feed(store.clone(), &bus, EventScope::User(owner), Start::Now)
                .await
                .unwrap(),
        );
        assert_eq!(take(&mut from_start).await.cursor, first.cursor);
        assert_eq!(take(&mut from_start).await.cursor, second.cursor);
        assert_eq!(
            take(&mut current).await.cursor,
            second.cursor,
            "current state first"
        );

        // Another payment's change is not ours; a repeated notice is not a new event.
        append(
            &store,
            &bus,
            Uuid::now_v7(),
            user(&store, "b").await,
            "SUCCEEDED",
        )
        .await;
        let third = append(&store, &bus, payment, owner, "REFUNDED").await;
        bus.publish(std::slice::from_ref(&third)).await;
        let third = third.event;
        let fourth = append(&store, &bus, payment, owner, "REFUNDED").await.event;
        for stream in [&mut from_start, &mut current, &mut mine] {
            assert_eq!(take(stream).await.cursor, third.cursor);
            assert_eq!(
                take(stream).await.cursor,
                fourth.cursor,
                "no duplicate of the third"
            );
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_resynchronises_from_the_store() {
        let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
        let store = database.store().await;
        let bus = EventBus::in_process_with_capacity(4);
        let (owner, payment) = (user(&store, "c").await, Uuid::now_v7());
        let mut stream = Box::pin(
            feed(
                store.clone(),
                &bus,
                EventScope::User(owner),
                Start::After(0),
            )
            .await
            .unwrap(),
        );
        // Far more notices than the channel holds arrive before the subscriber reads any.
        let mut appended = Vec::new();
        for i in 0..20 {
            appended.push(
                append(
                    &store,
                    &bus,
                    payment,
                    owner,
                    if i % 2 == 0 {
                        "PROCESSING"
                    } else {
                        "SUCCEEDED"
                    },
                )
                .await
                .event
                .cursor,
            );
        }
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(take(&mut stream).await.cursor);
        }
        assert_eq!(seen, appended, "every event once, in order");
    }
}

/// Notices that arrive out of order, or not at all, still give every event once and in order.
mod chain {
    use futures_util::StreamExt;
    use switchboard::events::{EventBus, Start, feed};
    use switchboard::store::{EventScope, NewPaymentEvent};
    use uuid::Uuid;

    use super::feed::user;
    use crate::helpers::{Backend, TestDatabase};

    #[tokio::test]
    async fn reordered_and_missing_notices_cost_a_read_never_an_event() {
        let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
        let store = database.store().await;
        let bus = EventBus::in_process();
        let owner = user(&store, "chain").await;
        let mut stream = Box::pin(
            feed(store.clone(), &bus, EventScope::User(owner), Start::Now)
                .await
                .unwrap(),
        );
        let append = async |kind: &str| {
            let event = NewPaymentEvent {
                payment_id: Uuid::now_v7(),
                user_id: owner,
                kind: kind.into(),
                status: switchboard::domain::PaymentStatus::Processing,
                amount_refunded: 0,
                source_event_id: None,
            };
            store
                .append_payment_event(&event, chrono::Utc::now())
                .await
                .unwrap()
        };
        let mut next_kind = async || {
            let event = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
                .await
                .expect("an event before the deadline")
                .unwrap()
                .unwrap();
            event.kind.as_text().into_owned()
        };
        // The feed is live once it has delivered a first event.
        let zero = append("zero").await;
        bus.publish(std::slice::from_ref(&zero)).await;
        assert_eq!(next_kind().await, "zero");

        let mut logged = Vec::new();
        for kind in ["first", "second", "third", "fourth"] {
            logged.push(append(kind).await);
        }
        // The second's notice overtakes the first's; the third's never comes.
        for i in [1, 0, 3] {
            bus.publish(std::slice::from_ref(&logged[i])).await;
        }
        let fifth = append("fifth").await;
        bus.publish(std::slice::from_ref(&fifth)).await;
        let mut kinds = Vec::new();
        for _ in 0..5 {
            kinds.push(next_kind().await);
        }
        assert_eq!(kinds, ["first", "second", "third", "fourth", "fifth"]);
    }
}
