//! GraphQL reads against two references in the same run: the bare axum ceiling and a plain
//! async-graphql server. First closed loops at each connection count, then an open loop at
//! half of each target's highest throughput, for latency under a load it can carry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use crate::api::Api;
use crate::ceiling::Reference;
use crate::load::{LoadResult, RequestFactory, closed_loop, json_post, open_loop};
use crate::results::{HalfLoadPoint, ReadPoint, ms};
use crate::server::{Backend, Launcher, Server};

/// The authenticated query compared with both references.
pub const ME: &str = "{ me { id } }";
/// A page of the signed-in user's payments, read from the database.
pub const PAGE: &str = "{ payments(first: 20) { edges { node { id status amount currency } } } }";

/// A server of `launcher` on SQLite (its files under `name`) with a signed-in reader who has 25
/// payments, having answered `target`'s query (`me`, or a page of payments) once; with that
/// query and the reader's request headers.
pub async fn reader_server(
    launcher: &Launcher,
    name: &str,
    target: &str,
) -> anyhow::Result<(Server, &'static str, Vec<(&'static str, String)>)> {
    let server = launcher.start(Backend::Sqlite, name).await?;
    let api = Api::new(server.base());
    let token = api.sign_in("reader").await?;
    api.create_payments(&token, 25, 4).await?;
    let query = if target == "me" { ME } else { PAGE };
    api.graphql(Some(&token), query, json!({})).await?;
    let headers = vec![("authorization", format!("Bearer {token}"))];
    Ok((server, query, headers))
}

/// Short rounds per target and connection count: the targets alternate round by round, so
/// a shared machine's drift falls on all of them alike.
const ROUNDS: u32 = 3;

/// Connections of the open-loop run at half load: enough that none waits for its previous
/// answer at the rates measured here.
const HALF_LOAD_CONNECTIONS: usize = 64;

/// What one repetition measured.
pub struct ReadRun {
    /// Closed loops.
    pub points: Vec<ReadPoint>,
    /// Open loops at half of the highest throughput.
    pub half_load: Vec<HalfLoadPoint>,
}

struct Target {
    name: &'static str,
    addr: SocketAddr,
    query: &'static str,
    headers: Vec<(&'static str, String)>,
}

impl Target {
    fn factory(&self) -> RequestFactory {
        let body = Bytes::from(json!({ "query": self.query }).to_string());
        let (addr, headers) = (self.addr, self.headers.clone());
        Arc::new(move |_| json_post(addr, "/graphql", &headers, body.clone()))
    }
}

/// Measures the ceiling, plain async-graphql, `me` and a payments page, `repeat` times.
pub async fn run(
    launcher: &Launcher,
    backend: Backend,
    connections: &[usize],
    seconds: f64,
    repeat: usize,
) -> anyhow::Result<Vec<ReadRun>> {
    let ceiling = crate::ceiling::start(Reference::Ceiling).await?;
    let plain = crate::ceiling::start(Reference::PlainGraphql).await?;
    let server = launcher.start(backend, "read").await?;
    let api = Api::new(server.base());
    let token = api.sign_in("reader").await?;
    api.create_payments(&token, 25, 4).await?;
    // Every target must answer right before its speed means anything.
    let me = api.graphql(Some(&token), ME, json!({})).await?;
    anyhow::ensure!(me["me"]["id"].is_string(), "me returned {me}");
    let page = api.graphql(Some(&token), PAGE, json!({})).await?;
    anyhow::ensure!(
        page["payments"]["edges"].as_array().map(Vec::len) == Some(20),
        "payments returned {page}"
    );
    let reference = Api::new(format!("http://{}", plain.addr));
    let plain_me = reference.graphql(None, ME, json!({})).await?;
    anyhow::ensure!(
        plain_me["me"]["id"].is_string(),
        "plain returned {plain_me}"
    );

    let auth = vec![("authorization", format!("Bearer {token}"))];
    let targets = [
        Target {
            name: "ceiling",
            addr: ceiling.addr,
            query: ME,
            headers: Vec::new(),
        },
        Target {
            name: "plain",
            addr: plain.addr,
            query: ME,
            headers: Vec::new(),
        },
        Target {
            name: "me",
            addr: server.addr,
            query: ME,
            headers: auth.clone(),
        },
        Target {
            name: "payments",
            addr: server.addr,
            query: PAGE,
            headers: auth,
        },
    ];
    let mut runs = Vec::new();
    for run in 0..repeat {
        let points = sweep(run, &targets, connections, seconds).await?;
        let half_load = at_half_load(run, &targets, &points, seconds).await?;
        runs.push(ReadRun { points, half_load });
    }
    server.stop().await;
    Ok(runs)
}

/// Closed loops at each connection count, the targets taking turns round by round.
async fn sweep(
    run: usize,
    targets: &[Target],
    connections: &[usize],
    seconds: f64,
) -> anyhow::Result<Vec<ReadPoint>> {
    let mut points = Vec::new();
    for &n in connections {
        let mut merged: Vec<LoadResult> = targets.iter().map(|_| LoadResult::empty()).collect();
        for _ in 0..ROUNDS {
            for (target, total) in targets.iter().zip(&mut merged) {
                let round = closed_loop(
                    target.addr,
                    n,
                    Duration::from_millis(200),
                    Duration::from_secs_f64(seconds) / ROUNDS,
                    target.factory(),
                )
                .await?;
                total.absorb(&round)?;
            }
        }
        for (target, result) in targets.iter().zip(merged) {
            let point = ReadPoint {
                run,
                target: target.name.to_owned(),
                connections: n,
                throughput: result.throughput(),
                p50_ms: ms(&result.latency, 0.5),
                p99_ms: ms(&result.latency, 0.99),
                p999_ms: ms(&result.latency, 0.999),
                errors: result.errors,
            };
            eprintln!(
                "run {run} read {:>8} c={n:<3} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
                target.name, point.throughput, point.p50_ms, point.p99_ms
            );
            points.push(point);
        }
    }
    Ok(points)
}

/// Each target at half of its highest closed-loop throughput of this run, open loop.
async fn at_half_load(
    run: usize,
    targets: &[Target],
    points: &[ReadPoint],
    seconds: f64,
) -> anyhow::Result<Vec<HalfLoadPoint>> {
    let mut half = Vec::new();
    for target in targets {
        let best = points
            .iter()
            .filter(|p| p.target == target.name)
            .map(|p| p.throughput)
            .fold(0.0, f64::max);
        let rate = best / 2.0;
        let result = open_loop(
            target.addr,
            HALF_LOAD_CONNECTIONS,
            rate,
            Duration::from_millis(300),
            Duration::from_secs_f64(seconds),
            target.factory(),
        )
        .await?;
        let point = HalfLoadPoint {
            run,
            target: target.name.to_owned(),
            rate,
            throughput: result.throughput(),
            p50_ms: ms(&result.latency, 0.5),
            p99_ms: ms(&result.latency, 0.99),
            p999_ms: ms(&result.latency, 0.999),
            errors: result.errors,
        };
        eprintln!(
            "run {run} half load {:>8} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
            target.name, point.throughput, point.p50_ms, point.p99_ms
        );
        half.push(point);
    }
    Ok(half)
}
