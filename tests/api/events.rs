//! The event bus across instances over PostgreSQL LISTEN/NOTIFY.

use std::time::Duration;

use switchboard::events::{BusMessage, EventBus, Notice};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{Backend, TestDatabase};

async fn next(receiver: &mut tokio::sync::broadcast::Receiver<BusMessage>) -> BusMessage {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a message before the deadline")
        .expect("channel open")
}

#[tokio::test]
async fn a_notice_published_on_one_instance_reaches_the_other_and_reconnects_resync() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let stop = CancellationToken::new();
    let a = EventBus::postgres(database.url(), stop.clone())
        .await
        .unwrap();
    let b = EventBus::postgres(database.url(), stop.clone())
        .await
        .unwrap();
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
    let notice = Notice {
        cursor: 7,
        payment_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
    };
    a.publish(notice).await;
    assert_eq!(
        next(&mut on_b).await,
        BusMessage::Changed(notice),
        "the other instance hears it"
    );
    assert_eq!(
        next(&mut on_a).await,
        BusMessage::Changed(notice),
        "and so does the publisher"
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
    // After reconnecting, notices flow again.
    let later = Notice {
        cursor: 8,
        ..notice
    };
    a.publish(later).await;
    let mut seen = next(&mut on_b).await;
    while seen == BusMessage::Resync {
        seen = next(&mut on_b).await;
    }
    assert_eq!(seen, BusMessage::Changed(later));
    stop.cancel();
    admin.close().await;
}
