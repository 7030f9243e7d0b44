//! Webhook ingest: signed events at a fixed rate with a subscriber measuring end-to-end delay,
//! then flat out with closed-loop senders.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use std::net::SocketAddr;

use crate::api::{Api, intent_event, post_webhook, refund_event, stripe_signature};
use crate::load::{LoadResult, RequestFactory, closed_loop, histogram, json_post, micros};
use crate::results::{IngestResult, ms};
use crate::server::{Backend, Launcher};
use crate::ws::subscribe;

const SUBSCRIPTION: &str = "subscription { myPaymentEvents { paymentId kind } }";

/// Settings of one ingest run.
pub struct IngestPlan {
    /// Events per second in the fixed-rate run.
    pub rate: u64,
    /// Length of each run.
    pub seconds: f64,
    /// Closed-loop senders in the flat-out run.
    pub connections: usize,
}

/// Measures ingest on `backend`.
pub async fn run(
    launcher: &Launcher,
    backend: Backend,
    plan: &IngestPlan,
) -> anyhow::Result<IngestResult> {
    let server = launcher
        .start(backend, &format!("ingest-{}", backend.name()))
        .await?;
    let api = Api::new(server.base());
    let token = api.sign_in("merchant").await?;
    let count = (plan.rate as f64 * plan.seconds) as usize;
    let payments = api.create_payments(&token, count + 1, 8).await?;
    eprintln!(
        "ingest {}: {} payments created",
        backend.name(),
        payments.len()
    );

    // The subscriber reports which payment changed and when.
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(String, Instant)>();
    let ws_url = format!("ws://{}/graphql/ws", server.addr);
    subscribe(
        &ws_url,
        &token,
        SUBSCRIPTION,
        Value::Null,
        Arc::new(move |text, at, _| {
            let message: Value = serde_json::from_str(text).unwrap_or_default();
            if let Some(id) = message["payload"]["data"]["myPaymentEvents"]["paymentId"].as_str() {
                let _ = arrivals.send((id.to_owned(), at));
            }
        }),
    )
    .await?;
    let webhook_url = format!("{}/webhooks/stripe", server.base());
    let client = reqwest::Client::new();
    // A first event proves the subscription is live before anything is timed.
    let (probe_id, probe_intent) = &payments[0];
    post_webhook(
        &client,
        &webhook_url,
        intent_event("evt_probe", probe_intent, "processing"),
    )
    .await?;
    loop {
        let (id, _) = tokio::time::timeout(Duration::from_secs(10), arrived.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("subscription ended"))?;
        if &id == probe_id {
            break;
        }
    }

    // Fixed rate, open loop: each event is due at its own time, late or not.
    let http_latency = Arc::new(Mutex::new(histogram()));
    let mut due_at = HashMap::new();
    let start = Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(1.0 / plan.rate as f64);
    for (i, (payment_id, intent)) in payments[1..].iter().enumerate() {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        due_at.insert(payment_id.clone(), due);
        let (client, url, latency) = (client.clone(), webhook_url.clone(), http_latency.clone());
        let body = intent_event(&format!("evt_rate_{i}"), intent, "succeeded");
        tokio::spawn(async move {
            if post_webhook(&client, &url, body).await.is_ok() {
                latency
                    .lock()
                    .expect("not poisoned")
                    .saturating_record(micros(due.elapsed()));
            }
        });
    }
    let mut e2e = histogram();
    let deadline = Instant::now() + Duration::from_secs(30);
    while e2e.len() < count as u64 {
        let Ok(Some((id, at))) = tokio::time::timeout_at(deadline.into(), arrived.recv()).await
        else {
            break;
        };
        if let Some(due) = due_at.remove(&id) {
            e2e.saturating_record(micros(at - due));
        }
    }
    let http_p99_ms = ms(&http_latency.lock().expect("not poisoned"), 0.99);
    eprintln!(
        "ingest {} at {}/s: {} of {count} delivered, p50 {:.1} ms, p99 {:.1} ms",
        backend.name(),
        plan.rate,
        e2e.len(),
        ms(&e2e, 0.5),
        ms(&e2e, 0.99)
    );

    // Flat out: every sender posts its next signed event as soon as the last was accepted.
    // Each event refunds one more cent of its payment, so every one is a change that reaches
    // the subscriber: arrivals there count what was applied, not only what was accepted.
    let next_event = Arc::new(AtomicU64::new(0));
    let intents: Arc<Vec<String>> = Arc::new(payments.iter().map(|(_, i)| i.clone()).collect());
    let factory = refund_factory(server.addr, next_event.clone(), intents.clone());
    let flat = flat_out(
        &[server.addr],
        plan,
        factory.clone(),
        &next_event,
        &mut arrived,
    )
    .await?;
    eprintln!(
        "ingest {} flat out: {:.0} events/s accepted, {:.0}/s applied, p99 {:.1} ms, {} errors",
        backend.name(),
        flat.load.throughput(),
        flat.applied_per_s,
        ms(&flat.load.latency, 0.99),
        flat.load.errors
    );
    // A second instance on the same database shares the work (PostgreSQL only: SQLite is
    // one process's embedded database).
    let two_instances = if backend == Backend::Postgres {
        let sibling = launcher.start_sibling(&server, "ingest-postgres-2").await?;
        let both = flat_out(
            &[server.addr, sibling.addr],
            plan,
            factory,
            &next_event,
            &mut arrived,
        )
        .await?;
        eprintln!(
            "ingest postgres, two instances: {:.0} events/s accepted, {:.0}/s applied",
            both.load.throughput(),
            both.applied_per_s
        );
        sibling.stop().await;
        Some((both.load.throughput(), both.applied_per_s))
    } else {
        None
    };
    server.stop().await;
    Ok(IngestResult {
        backend: backend.name().to_owned(),
        flat_out_per_s: flat.load.throughput(),
        flat_out_connections: plan.connections,
        flat_out_p99_ms: ms(&flat.load.latency, 0.99),
        flat_out_applied_per_s: flat.applied_per_s,
        two_instances,
        rate: plan.rate,
        sent: count,
        delivered: e2e.len() as usize,
        http_p99_ms,
        e2e_p50_ms: ms(&e2e, 0.5),
        e2e_p99_ms: ms(&e2e, 0.99),
        e2e_max_ms: e2e.max() as f64 / 1000.0,
    })
}

/// Signed `charge.refunded` events, each refunding one more cent of the next payment in turn.
/// (The request's `Host` is `addr`'s; any instance serves it.)
fn refund_factory(
    addr: SocketAddr,
    next_event: Arc<AtomicU64>,
    intents: Arc<Vec<String>>,
) -> RequestFactory {
    Arc::new(move |_| {
        let n = next_event.fetch_add(1, Ordering::Relaxed);
        let count = intents.len() as u64;
        let intent = &intents[(n % count) as usize];
        let refunded = (n / count + 1) as i64;
        let body = refund_event(&format!("evt_flat_{n}"), intent, refunded);
        let signature = stripe_signature(&body);
        json_post(
            addr,
            "/webhooks/stripe",
            &[("stripe-signature", signature)],
            Bytes::from(body),
        )
    })
}

/// What a flat-out run measured.
struct FlatOut {
    load: LoadResult,
    applied_per_s: f64,
}

/// Closed-loop senders split across `servers`; then waits until the subscriber has every
/// event sent (or none arrives for five seconds) and reports the applied rate.
async fn flat_out(
    servers: &[SocketAddr],
    plan: &IngestPlan,
    factory: RequestFactory,
    next_event: &AtomicU64,
    arrived: &mut mpsc::UnboundedReceiver<(String, Instant)>,
) -> anyhow::Result<FlatOut> {
    while arrived.try_recv().is_ok() {}
    let first = next_event.load(Ordering::Relaxed);
    let started = Instant::now();
    let per_server = plan.connections.div_ceil(servers.len());
    let runs = servers.iter().map(|&addr| {
        closed_loop(
            addr,
            per_server,
            Duration::from_millis(500),
            Duration::from_secs_f64(plan.seconds),
            factory.clone(),
        )
    });
    let mut load = LoadResult::empty();
    for result in futures_util::future::join_all(runs).await {
        load.absorb(&result?)?;
    }
    load.elapsed = Duration::from_secs_f64(plan.seconds);
    let sent = next_event.load(Ordering::Relaxed) - first;
    let mut applied = 0;
    let mut last = started;
    while applied < sent {
        match tokio::time::timeout(Duration::from_secs(5), arrived.recv()).await {
            Ok(Some((_, at))) => {
                applied += 1;
                last = at;
            }
            _ => break,
        }
    }
    if applied < sent {
        eprintln!("  {applied} of {sent} events reached the subscriber");
    }
    Ok(FlatOut {
        load,
        applied_per_s: applied as f64 / (last - started).as_secs_f64().max(1e-9),
    })
}
