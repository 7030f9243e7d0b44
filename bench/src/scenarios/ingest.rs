//! Webhook ingest: signed events at a fixed rate with a subscriber measuring end-to-end delay,
//! then flat out with closed-loop senders.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::api::{Api, intent_event, post_webhook, stripe_signature};
use crate::load::{RequestFactory, closed_loop, histogram, json_post, micros};
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
    let next_event = Arc::new(AtomicU64::new(0));
    let intents: Arc<Vec<String>> = Arc::new(payments.iter().map(|(_, i)| i.clone()).collect());
    let addr = server.addr;
    let factory: RequestFactory = Arc::new(move |_| {
        let n = next_event.fetch_add(1, Ordering::Relaxed);
        let intent = &intents[n as usize % intents.len()];
        let body = intent_event(&format!("evt_flat_{n}"), intent, "processing");
        let signature = stripe_signature(&body);
        json_post(
            addr,
            "/webhooks/stripe",
            &[("stripe-signature", signature)],
            Bytes::from(body),
        )
    });
    let flat = closed_loop(
        server.addr,
        plan.connections,
        Duration::from_millis(500),
        Duration::from_secs_f64(plan.seconds),
        factory,
    )
    .await?;
    eprintln!(
        "ingest {} flat out: {:.0} events/s accepted, p99 {:.1} ms, {} errors",
        backend.name(),
        flat.throughput(),
        ms(&flat.latency, 0.99),
        flat.errors
    );
    server.stop().await;
    Ok(IngestResult {
        backend: backend.name().to_owned(),
        flat_out_per_s: flat.throughput(),
        flat_out_connections: plan.connections,
        flat_out_p99_ms: ms(&flat.latency, 0.99),
        rate: plan.rate,
        sent: count,
        delivered: e2e.len() as usize,
        http_p99_ms,
        e2e_p50_ms: ms(&e2e, 0.5),
        e2e_p99_ms: ms(&e2e, 0.99),
        e2e_max_ms: e2e.max() as f64 / 1000.0,
    })
}
