//! The event log under concurrent writers: a reader never passes an event that a slower writer
//! may still commit below its cursor, live feeds and delta sync hand over every event once and
//! in order, whatever the interleaving.

use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchboard::events::{EventBus, Start, feed};
use switchboard::payments::PaymentStatus;
use switchboard::store::{EventScope, NewPaymentEvent, PaymentRow, Store};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::feed::user;
use crate::helpers::{Backend, TestApp, TestDatabase, node_peers};
use crate::subscriptions::sign_in;
use crate::webhooks::{SECRET, post_to};
use crate::websocket::{receive, send, signed_in_socket};

/// An advisory lock key the test holds to stop a writer that has drawn its cursor.
const HOLD_KEY: i64 = 4_242;

fn new_event(payment_id: Uuid, user_id: Uuid, kind: &str) -> NewPaymentEvent {
    NewPaymentEvent {
        payment_id,
        user_id,
        kind: kind.into(),
        status: switchboard::domain::PaymentStatus::Processing,
        amount_refunded: 0,
        source_event_id: None,
    }
}

/// Polls `check` until it holds, failing after `seconds`.
async fn eventually<F: AsyncFnMut() -> bool>(seconds: u64, what: &str, mut check: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Appends an event of `kind` through the store in a task of its own (a concurrent writer).
fn spawn_append(
    store: &Store,
    payment_id: Uuid,
    owner: Uuid,
    kind: &'static str,
) -> tokio::task::JoinHandle<Result<switchboard::store::LoggedEvent, switchboard::store::StoreError>>
{
    let store = store.clone();
    tokio::spawn(async move {
        store
            .append_payment_event(&new_event(payment_id, owner, kind), chrono::Utc::now())
            .await
    })
}

/// Makes every append of kind `held` wait, after drawing its cursor, until the test releases
/// [`HOLD_KEY`]: a writer that is slow to commit, inside the store's own code.
async fn hold_marked_appends(admin: &sqlx::PgPool) {
    for statement in [
        "CREATE FUNCTION hold_marked_appends() RETURNS trigger AS $$ BEGIN \
         IF NEW.kind = 'held' THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF; \
         RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER hold_marked_appends AFTER INSERT ON payment_events \
         FOR EACH ROW EXECUTE FUNCTION hold_marked_appends()",
    ] {
        sqlx::query(statement).execute(admin).await.unwrap();
    }
}

/// Sessions of this database waiting for a lock.
async fn lock_waiters(admin: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock'",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// A live feed of `owner`'s events after `before`, and a delta-sync client's first read (with
/// the cursor it reached), both while a writer may be holding an event back.
async fn readers_after(
    store: &Store,
    bus: &EventBus,
    owner: Uuid,
    before: i64,
) -> (
    switchboard::events::EventStream,
    Vec<switchboard::store::PaymentEventRow>,
    i64,
) {
    let live = feed(
        store.clone(),
        bus,
        EventScope::User(owner),
        Start::After(before),
    )
    .await
    .unwrap();
    let first_sync = store
        .payment_events_after(EventScope::User(owner), before, 100)
        .await
        .unwrap();
    let synced_to = first_sync.last().map_or(before, |e| e.cursor);
    (live, first_sync, synced_to)
}

/// The live feed and a delta-sync client (whose first read was `first_sync`, up to
/// `synced_to`) each hand over the held writer's event, then the quick one's, once.
async fn both_readers_got_the_held_event_first(
    live: &mut switchboard::events::EventStream,
    store: &Store,
    owner: Uuid,
    first_sync: &[switchboard::store::PaymentEventRow],
    synced_to: i64,
) {
    let mut delivered = Vec::new();
    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("an event before the deadline")
            .unwrap()
            .unwrap();
        delivered.push(event.kind.as_text().into_owned());
    }
    assert_eq!(delivered, ["held", "quick"], "the live feed, in order");
    let second_sync = store
        .payment_events_after(EventScope::User(owner), synced_to, 100)
        .await
        .unwrap();
    let synced: Vec<String> = first_sync
        .iter()
        .chain(&second_sync)
        .map(|e| e.kind.as_text().into_owned())
        .collect();
    assert_eq!(synced, ["held", "quick"], "delta sync, in order, once");
}

/// T1 draws its cursor and stays open; T2 appends; a live feed and a delta-sync client read;
/// then T1 commits. Both readers must hand over T1's event, once, before T2's.
#[tokio::test]
async fn a_writer_slow_to_commit_is_never_skipped_on_postgres() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let store = database.store().await;
    let admin = sqlx::PgPool::connect(database.url()).await.unwrap();
    hold_marked_appends(&admin).await;
    let stop = CancellationToken::new();
    let bus = EventBus::postgres(database.url(), stop.clone())
        .await
        .unwrap();
    let owner = user(&store, "slow").await;
    let (p1, p2) = (Uuid::now_v7(), Uuid::now_v7());
    let before = store
        .append_payment_event(&new_event(p1, owner, "created"), chrono::Utc::now())
        .await
        .unwrap()
        .event
        .cursor;

    // The test holds the key the trigger waits for.
    let mut holder = admin.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(HOLD_KEY)
        .execute(&mut *holder)
        .await
        .unwrap();
    let t1 = spawn_append(&store, p1, owner, "held");
    eventually(10, "T1 drew its cursor and waits", async || {
        lock_waiters(&admin).await == 1
    })
    .await;
    let t2 = spawn_append(&store, p2, owner, "quick");
    // T2 either committed (nothing orders it behind T1) or waits behind T1.
    eventually(10, "T2 committed or waits", async || {
        t2.is_finished() || lock_waiters(&admin).await == 2
    })
    .await;

    let (mut live, first_sync, synced_to) = readers_after(&store, &bus, owner, before).await;

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(HOLD_KEY)
        .execute(&mut *holder)
        .await
        .unwrap();
    let t1 = t1.await.unwrap().unwrap().event;
    let t2 = t2.await.unwrap().unwrap().event;

    both_readers_got_the_held_event_first(&mut live, &store, owner, &first_sync, synced_to).await;
    assert!(t1.cursor < t2.cursor);
    stop.cancel();
}

/// The same interleaving on SQLite, where a writer holds the database's write lock from its
/// first write until it commits.
#[tokio::test]
async fn a_writer_slow_to_commit_is_never_skipped_on_sqlite() {
    let database = TestDatabase::create(Backend::Sqlite).await.unwrap();
    let store = database.store().await;
    let bus = EventBus::in_process();
    let owner = user(&store, "slow").await;
    let (p1, p2) = (Uuid::now_v7(), Uuid::now_v7());
    let before = store
        .append_payment_event(&new_event(p1, owner, "created"), chrono::Utc::now())
        .await
        .unwrap()
        .event
        .cursor;
    // T1: a writer that drew its cursor and has not committed.
    let raw = sqlx::SqlitePool::connect(database.url()).await.unwrap();
    let mut t1 = raw.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO payment_events (payment_id, user_id, sequence, kind, status, occurred_at) \
         VALUES ($1, $2, 2, 'held', 'PROCESSING', $3)",
    )
    .bind(p1)
    .bind(owner)
    .bind(chrono::Utc::now())
    .execute(&mut *t1)
    .await
    .unwrap();
    let t2 = spawn_append(&store, p2, owner, "quick");
    let (mut live, first_sync, synced_to) = readers_after(&store, &bus, owner, before).await;
    t1.commit().await.unwrap();
    let t2 = t2.await.unwrap().unwrap();
    bus.publish(std::slice::from_ref(&t2)).await;

    both_readers_got_the_held_event_first(&mut live, &store, owner, &first_sync, synced_to).await;
}

/// `count` payments of `owner` with provider ids `pi_{prefix}_{i}`.
async fn payments(store: &Store, owner: Uuid, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let provider_id = format!("pi_{prefix}_{i}");
        let now = chrono::Utc::now();
        store
            .insert_payment(&PaymentRow {
                id: Uuid::now_v7(),
                user_id: owner,
                provider: "stripe".into(),
                provider_payment_id: provider_id.clone(),
                status: PaymentStatus::RequiresPaymentMethod,
                amount: 2000,
                currency: "usd".into(),
                amount_refunded: 0,
                description: None,
                metadata: Default::default(),
                created_at: now,
                updated_at: now,
                last_error: Default::default(),
            })
            .await
            .unwrap();
        ids.push(provider_id);
    }
    ids
}

fn intent_event(id: &str, intent: &str, status: &str) -> String {
    json!({
        "id": id, "object": "event", "type": format!("payment_intent.{status}"), "created": 1_700_000_000,
        "data": { "object": { "id": intent, "object": "payment_intent", "status": status } }
    })
    .to_string()
}

fn refund_event(id: &str, intent: &str, refunded: i64) -> String {
    json!({
        "id": id, "object": "event", "type": "charge.refunded", "created": 1_700_000_100,
        "data": { "object": { "id": format!("ch_{intent}"), "object": "charge", "payment_intent": intent, "amount": 2000, "amount_refunded": refunded } }
    })
    .to_string()
}

/// Signatures for `payloads`, made by Stripe's Node SDK in one process.
async fn sign_all(payloads: &[String]) -> Vec<String> {
    let peers = node_peers().expect("Node peers are installed");
    let mut child = tokio::process::Command::new("node")
        .arg(peers.join("stripe-sign-many.mjs"))
        .arg(SECRET)
        .arg(chrono::Utc::now().timestamp().to_string())
        .current_dir(&peers)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(payloads).unwrap();
    child.stdin.take().unwrap().write_all(&input).await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn deliver(client: &reqwest::Client, url: &str, payload: &str, signature: &str) {
    let (status, body) = post_to(client, url, payload, signature).await;
    assert_eq!(status, 200, "{body}");
}

async fn pending_events(store: &Store, ids: &[String]) -> usize {
    let mut pending = 0;
    for id in ids {
        let event = store.inbox_event(id).await.unwrap();
        if event.is_none_or(|e| e.status == switchboard::store::InboxStatus::Pending) {
            pending += 1;
        }
    }
    pending
}

/// Webhooks for one user's payments land on every instance at once (16 deliveries in flight
/// each) while a subscriber on the first instance follows `myPaymentEvents`: the feed must
/// equal the log, with nothing missing, nothing twice, in cursor order.
async fn concurrent_writers_lose_nothing(backend: Backend, instances: usize) {
    const PAYMENTS: usize = 40;
    let Some(first) = TestApp::spawn_with(backend, |s| {
        s.stripe_webhook_secrets = SECRET.into();
    })
    .await
    else {
        return;
    };
    let mut apps = vec![first];
    for _ in 1..instances {
        let sibling = apps[0]
            .sibling(|s| s.stripe_webhook_secrets = SECRET.into())
            .await;
        apps.push(sibling);
    }
    let store = apps[0].database.store().await;
    let (token, owner) = sign_in(&apps[0], "busy").await;
    let intents = payments(&store, owner, "busy", PAYMENTS).await;

    let mut socket = signed_in_socket(&apps[0], &token).await;
    let from_now = store.latest_user_cursor(owner).await.unwrap();
    let after = crate::subscriptions::cursor_after(from_now);
    send(
        &mut socket,
        json!({ "id": "all", "type": "subscribe", "payload": {
        "query": "subscription($after: String) { myPaymentEvents(after: $after) { cursor } }",
        "variables": { "after": after } } }),
    )
    .await;

    let mut payloads = Vec::new();
    let mut ids = Vec::new();
    for (i, intent) in intents.iter().enumerate() {
        for (n, payload) in [
            intent_event(&format!("evt_p_{i}"), intent, "processing"),
            intent_event(&format!("evt_s_{i}"), intent, "succeeded"),
            refund_event(&format!("evt_r_{i}"), intent, 500),
        ]
        .into_iter()
        .enumerate()
        {
            ids.push(format!("evt_{}_{i}", ["p", "s", "r"][n]));
            payloads.push(payload);
        }
    }
    let signatures = sign_all(&payloads).await;
    let client = reqwest::Client::new();
    let urls: Vec<String> = apps.iter().map(|a| a.url("/webhooks/stripe")).collect();
    futures_util::stream::iter(payloads.iter().zip(&signatures).enumerate())
        .for_each_concurrent(16 * instances, |(i, (payload, signature))| {
            let (client, url) = (&client, &urls[i % urls.len()]);
            async move { deliver(client, url, payload, signature).await }
        })
        .await;
    eventually(60, "every event applied", async || {
        pending_events(&store, &ids).await == 0
    })
    .await;

    let logged: Vec<i64> = store
        .payment_events_after(EventScope::User(owner), from_now, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.cursor)
        .collect();
    // At least one change per payment, whatever order its events were applied in.
    assert!(logged.len() >= PAYMENTS, "{} events logged", logged.len());
    let mut heard = Vec::new();
    while heard.len() < logged.len() {
        let message: Value = receive(&mut socket).await;
        let cursor = &message["payload"]["data"]["myPaymentEvents"]["cursor"];
        let cursor = crate::subscriptions::cursor_value(cursor.as_str().expect("an event"));
        heard.push(cursor);
    }
    assert_eq!(heard, logged, "the live feed is the log");
}

#[tokio::test]
async fn concurrent_writers_on_two_instances_lose_nothing_on_postgres() {
    concurrent_writers_lose_nothing(Backend::Postgres, 2).await;
}

#[tokio::test]
async fn concurrent_writers_lose_nothing_on_sqlite() {
    concurrent_writers_lose_nothing(Backend::Sqlite, 1).await;
}

/// A server process of its own on `database_url`, ready to serve.
struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Server {
    async fn start(database_url: &str) -> Server {
        let port = crate::auth_support::free_port();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env_clear()
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env("STRIPE_WEBHOOK_SECRETS", SECRET)
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let ready = format!("{base}/health/ready");
        eventually(20, "the server became ready", async || {
            client
                .get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        Server { child, base }
    }

    /// SIGKILL: no drain, no goodbye.
    async fn kill(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let killed = tokio::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success());
        self.child.wait().await.unwrap();
    }
}

/// Events claimed (under a lease) and not yet applied.
async fn claimed(admin: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM webhook_inbox WHERE status = 'pending' AND locked_until > now()",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// Starts a server, delivers one `succeeded` event per payment while the payments are locked,
/// so the server claims them all and cannot finish; returns it with the events' ids and the
/// transaction holding the locks.
async fn server_holding_claims(
    url: &str,
    admin: &sqlx::PgPool,
    intents: &[String],
) -> (
    Server,
    Vec<String>,
    sqlx::Transaction<'static, sqlx::Postgres>,
) {
    let server = Server::start(url).await;
    let mut blocker = admin.begin().await.unwrap();
    sqlx::query("SELECT id FROM payments FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let ids: Vec<String> = intents.iter().map(|i| format!("evt_{i}")).collect();
    let payloads: Vec<String> = intents
        .iter()
        .zip(&ids)
        .map(|(intent, id)| intent_event(id, intent, "succeeded"))
        .collect();
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/stripe", server.base);
    for (payload, signature) in payloads.iter().zip(sign_all(&payloads).await) {
        // 200: durable, so it must never be lost.
        deliver(&client, &url, payload, &signature).await;
    }
    // It claimed what had arrived when it woke, and waits on the locks; the rest is pending.
    eventually(20, "the server claimed events and waits", async || {
        claimed(admin).await >= 1 && lock_waiters(admin).await >= 1
    })
    .await;
    (server, ids, blocker)
}

async fn all_succeeded(store: &Store, intents: &[String]) -> bool {
    let rows = store.payments_by_provider_ids(intents).await.unwrap();
    rows.len() == intents.len() && rows.iter().all(|p| p.status == PaymentStatus::Succeeded)
}

/// kill -9 of a process holding claims: a surviving instance applies them within 10 s, and so
/// does a restarted one when it is alone.
#[tokio::test]
async fn claims_of_a_killed_process_are_applied_within_seconds() {
    if node_peers().is_none() {
        return;
    }
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let store = database.store().await;
    let admin = sqlx::PgPool::connect(database.url()).await.unwrap();
    let owner = user(&store, "crash").await;

    // A survivor takes over.
    let intents = payments(&store, owner, "survived", 20).await;
    let (doomed, ids, blocker) = server_holding_claims(database.url(), &admin, &intents).await;
    let survivor = Server::start(database.url()).await;
    doomed.kill().await;
    blocker.rollback().await.unwrap();
    eventually(
        10,
        "the survivor applied the dead process's events",
        async || pending_events(&store, &ids).await == 0 && all_succeeded(&store, &intents).await,
    )
    .await;
    survivor.kill().await;

    // A restart, alone.
    let intents = payments(&store, owner, "restarted", 20).await;
    let (doomed, ids, blocker) = server_holding_claims(database.url(), &admin, &intents).await;
    doomed.kill().await;
    blocker.rollback().await.unwrap();
    let restarted = tokio::time::Instant::now();
    let again = Server::start(database.url()).await;
    eventually(10, "the restarted process applied the events", async || {
        pending_events(&store, &ids).await == 0 && all_succeeded(&store, &intents).await
    })
    .await;
    eprintln!(
        "applied {:.1} s after the restart began",
        restarted.elapsed().as_secs_f64()
    );
    again.kill().await;
}
