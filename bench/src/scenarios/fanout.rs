//! Subscription fan-out: K sockets watch one payment; one webhook event changes it; how long
//! until every subscriber has it, and what each open subscription costs the server in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::api::{Api, intent_event, post_webhook, refund_event};
use crate::lean_ws::{self, Receiver};
use crate::results::FanoutPoint;
use crate::server::{Backend, Launcher};
use crate::ws::{self, OnNext};

const SUBSCRIPTION: &str = "subscription($id: ID!) { paymentUpdated(paymentId: $id) { cursor kind status amountRefunded } }";

/// Sockets opened at the same time while connecting.
const CONNECT_PARALLEL: usize = 128;

/// How the harness's subscribers receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// All sockets read by one thread waiting on one epoll, frames parsed by hand
    /// ([`crate::lean_ws`]): the least CPU taken from the server on the same cores.
    Lean,
    /// A tokio task per socket reading through tokio-tungstenite (as before).
    Tungstenite,
}

/// How a fan-out run is driven.
pub struct Plan<'a> {
    /// Subscriber counts, ascending; one round each.
    pub levels: &'a [usize],
    /// How the subscribers receive.
    pub client: Client,
    /// Shell commands run just before each round's event is posted and just after every
    /// subscriber has it (`{pid}` is replaced by the server's process id), e.g.
    /// `callgrind_control -z {pid}` and `callgrind_control -d {pid}` to count only the delivery.
    pub before_event: Option<&'a str>,
    /// See `before_event`.
    pub after_event: Option<&'a str>,
}

/// Arrival times of the current round, one slot per subscriber.
struct Board {
    epoch: Instant,
    /// Nanoseconds after `epoch`, 0 while not arrived.
    arrivals: Vec<AtomicU64>,
    received: AtomicUsize,
    ready: AtomicUsize,
}

impl Board {
    /// Notes subscriber `index`'s `next` message, arrived at `arrived`.
    fn record(&self, index: usize, arrived: Instant, first: bool) {
        if first {
            // The current state, sent on subscribing: this subscriber is live.
            self.ready.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let nanos = (arrived - self.epoch).as_nanos() as u64;
        if self.arrivals[index]
            .compare_exchange(0, nanos, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.received.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_next(self: &Arc<Self>, index: usize) -> OnNext {
        let board = self.clone();
        Arc::new(move |_, arrived, first| board.record(index, arrived, first))
    }

    fn reset(&self) {
        for slot in &self.arrivals {
            slot.store(0, Ordering::Relaxed);
        }
        self.received.store(0, Ordering::Relaxed);
    }
}

/// Runs one round per entry of `plan.levels` (ascending), adding subscribers between rounds.
pub async fn run(launcher: &Launcher, plan: &Plan<'_>) -> anyhow::Result<Vec<FanoutPoint>> {
    let levels = plan.levels;
    let largest = levels.iter().copied().max().unwrap_or(0);
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let server = launcher.start(Backend::Sqlite, "fanout").await?;
    let api = Api::new(server.base());
    let token = api.sign_in("watcher").await?;
    let (payment_id, intent) = api
        .create_payments(&token, 1, 1)
        .await?
        .pop()
        .expect("one payment");
    let board = Arc::new(Board {
        epoch: Instant::now(),
        arrivals: (0..largest).map(|_| AtomicU64::new(0)).collect(),
        received: AtomicUsize::new(0),
        ready: AtomicUsize::new(0),
    });
    let ws_url = format!("ws://{}/graphql/ws", server.addr);
    let receiver = match plan.client {
        Client::Lean => {
            let board = board.clone();
            let on_next =
                Arc::new(move |index, arrived, first| board.record(index, arrived, first));
            Some(Receiver::start(on_next)?)
        }
        Client::Tungstenite => None,
    };
    let baseline_kib = server.rss_kib()?;
    let webhooks = reqwest::Client::new();
    let mut open = 0;
    let mut points = Vec::new();
    for (round, &level) in levels.iter().enumerate() {
        let started = Instant::now();
        futures_util::stream::iter(open..level)
            .map(|index| {
                let (ws_url, token, board) = (&ws_url, &token, &board);
                let (addr, receiver) = (server.addr, receiver.as_ref());
                let variables = json!({ "id": payment_id });
                async move {
                    match receiver {
                        Some(receiver) => receiver.add(
                            index,
                            lean_ws::subscribe(addr, token, SUBSCRIPTION, variables).await?,
                        ),
                        None => {
                            let on_next = board.on_next(index);
                            ws::subscribe(ws_url, token, SUBSCRIPTION, variables, on_next).await
                        }
                    }
                }
            })
            .buffer_unordered(CONNECT_PARALLEL)
            .try_collect::<()>()
            .await?;
        open = level;
        wait_until("subscribers live", Duration::from_secs(120), || {
            board.ready.load(Ordering::Relaxed) >= level
        })
        .await?;
        eprintln!(
            "fan-out: {level} subscribers live after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let rss_kib = server.rss_kib()?;

        board.reset();
        let event_id = format!("evt_fanout_{round}_{}", uuid::Uuid::new_v4().simple());
        let body = if round == 0 {
            intent_event(&event_id, &intent, "succeeded")
        } else {
            refund_event(&event_id, &intent, round as i64)
        };
        if let Some(command) = plan.before_event {
            server.run_hook(command).await?;
        }
        let cpu_before = server.cpu_ms()?;
        let sent = Instant::now();
        post_webhook(
            &webhooks,
            &format!("{}/webhooks/stripe", server.base()),
            body,
        )
        .await?;
        let _ = wait_until("every subscriber notified", Duration::from_secs(60), || {
            board.received.load(Ordering::Relaxed) >= level
        })
        .await;
        let server_cpu_ms = server.cpu_ms()? - cpu_before;
        if let Some(command) = plan.after_event {
            server.run_hook(command).await?;
        }
        let sent_nanos = (sent - board.epoch).as_nanos() as u64;
        let mut latencies: Vec<f64> = board.arrivals[..level]
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|&nanos| nanos != 0)
            .map(|nanos| nanos.saturating_sub(sent_nanos) as f64 / 1e6)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(f64::NAN)
        };
        let point = FanoutPoint {
            subscribers: level,
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
            max_ms: latencies.last().copied().unwrap_or(f64::NAN),
            missing: level - latencies.len(),
            server_rss_mib: rss_kib as f64 / 1024.0,
            rss_kib_per_subscriber: rss_kib.saturating_sub(baseline_kib) as f64 / level as f64,
            server_cpu_ms,
        };
        eprintln!(
            "fan-out: {level} subscribers  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  missing {}  rss {:.0} MiB  server cpu {:.0} ms",
            point.p50_ms,
            point.p99_ms,
            point.max_ms,
            point.missing,
            point.server_rss_mib,
            point.server_cpu_ms
        );
        points.push(point);
    }
    server.stop().await;
    drop(receiver);
    Ok(points)
}

/// Polls `done` every millisecond until it holds or `limit` passes.
pub async fn wait_until(
    what: &str,
    limit: Duration,
    done: impl Fn() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}
