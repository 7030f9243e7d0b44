//! What a run measured, as written to JSON and read back for before/after comparisons.

use serde::{Deserialize, Serialize};

/// Every figure of one harness run.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// Names the run (e.g. `before`, `after`).
    pub label: String,
    /// The machine, as `/proc` describes it.
    pub machine: String,
    /// Time to ready and idle footprint.
    pub startup: Option<Startup>,
    /// Closed-loop reads, one point per run, target and connection count.
    pub read: Vec<ReadPoint>,
    /// Open-loop reads at half of each target's highest closed-loop throughput, one per run
    /// and target.
    #[serde(default)]
    pub half_load: Vec<HalfLoadPoint>,
    /// Subscription fan-out, one point per subscriber count.
    pub fanout: Vec<FanoutPoint>,
    /// Webhook ingest, per backend.
    pub ingest: Vec<IngestResult>,
    /// The provider layer's criterion figures.
    pub resilience: Vec<ResiliencePoint>,
}

/// Start-up and footprint.
#[derive(Debug, Serialize, Deserialize)]
pub struct Startup {
    /// How many starts were timed.
    pub runs: usize,
    /// Median spawn-to-ready time.
    pub ready_ms_median: f64,
    /// Slowest spawn-to-ready time.
    pub ready_ms_max: f64,
    /// Median resident memory once ready and idle.
    pub idle_rss_mib: f64,
    /// Size of the server binary.
    pub binary_mib: f64,
}

/// One closed-loop read measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadPoint {
    /// Which repetition of the read scenario (from 0).
    #[serde(default)]
    pub run: usize,
    /// `ceiling`, `plain` (plain async-graphql), `me` or `payments`.
    pub target: String,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Successful requests per second.
    pub throughput: f64,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Failed requests in the window.
    pub errors: u64,
}

/// Latency at a fixed request rate: half of the target's highest closed-loop throughput in
/// the same run, sent open loop (each request due at its own time).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HalfLoadPoint {
    /// Which repetition of the read scenario (from 0).
    pub run: usize,
    /// As in [`ReadPoint`].
    pub target: String,
    /// The rate asked for, requests per second.
    pub rate: f64,
    /// Successful requests per second measured.
    pub throughput: f64,
    /// Latency from when each request was due, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Failed requests.
    pub errors: u64,
}

/// One fan-out round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutPoint {
    /// Open subscriptions.
    pub subscribers: usize,
    /// Time from posting the webhook until a subscriber had the event, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The last subscriber.
    pub max_ms: f64,
    /// Subscribers that never got the event within the deadline.
    pub missing: usize,
    /// Server resident memory with all subscribers connected.
    pub server_rss_mib: f64,
    /// Growth of server memory per subscriber since before the first one connected.
    pub rss_kib_per_subscriber: f64,
    /// CPU time the server spent from posting the webhook until every subscriber had the event
    /// (user and system, all threads), in milliseconds. Unlike the latencies, it hardly depends
    /// on what else the host runs.
    #[serde(default)]
    pub server_cpu_ms: f64,
}

/// Webhook ingest on one backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestResult {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Accepted events per second with closed-loop senders.
    pub flat_out_per_s: f64,
    /// Senders in the flat-out run.
    pub flat_out_connections: usize,
    /// 99th percentile response time in the flat-out run, in milliseconds.
    pub flat_out_p99_ms: f64,
    /// Events applied per second in the flat-out run (each one a change, counted when a live
    /// subscriber has it), from the first send to the last arrival.
    #[serde(default)]
    pub flat_out_applied_per_s: f64,
    /// The flat-out run again with a second instance on the same database, senders split
    /// between the two (PostgreSQL only): accepted and applied events per second.
    #[serde(default)]
    pub two_instances: Option<(f64, f64)>,
    /// Target rate of the fixed-rate run, events per second.
    pub rate: u64,
    /// Events sent in the fixed-rate run.
    pub sent: usize,
    /// Of those, delivered to the subscriber.
    pub delivered: usize,
    /// Webhook response time at the fixed rate, 99th percentile in milliseconds.
    pub http_p99_ms: f64,
    /// From the scheduled send to the subscriber having the change, in milliseconds.
    pub e2e_p50_ms: f64,
    /// 99th percentile.
    pub e2e_p99_ms: f64,
    /// Slowest.
    pub e2e_max_ms: f64,
}

/// A criterion estimate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResiliencePoint {
    /// The benchmark.
    pub name: String,
    /// Mean time per call in nanoseconds.
    pub ns_per_call: f64,
}

/// A histogram percentile (recorded in microseconds) in milliseconds.
pub fn ms(histogram: &hdrhistogram::Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}
