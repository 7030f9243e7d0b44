//! GraphQL reads, closed loop, against the bare axum ceiling in the same run.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use crate::api::Api;
use crate::load::{LoadResult, RequestFactory, closed_loop, json_post};
use crate::results::{ReadPoint, ms};
use crate::server::{Backend, Launcher};

const ME: &str = "{ me { id } }";
const PAGE: &str = "{ payments(first: 20) { edges { node { id status amount currency } } } }";

/// Short rounds per target and connection count: the targets alternate round by round, so
/// a shared machine's drift falls on all of them alike.
const ROUNDS: u32 = 3;

/// Measures the ceiling, `me` and a payments page at each connection count.
pub async fn run(
    launcher: &Launcher,
    backend: Backend,
    connections: &[usize],
    seconds: f64,
) -> anyhow::Result<Vec<ReadPoint>> {
    let ceiling = crate::ceiling::start().await?;
    let server = launcher.start(backend, "read").await?;
    let api = Api::new(server.base());
    let token = api.sign_in("reader").await?;
    api.create_payments(&token, 25, 4).await?;
    // Both operations must succeed before their speed means anything.
    let me = api.graphql(Some(&token), ME, json!({})).await?;
    anyhow::ensure!(me["me"]["id"].is_string(), "me returned {me}");
    let page = api.graphql(Some(&token), PAGE, json!({})).await?;
    anyhow::ensure!(
        page["payments"]["edges"].as_array().map(Vec::len) == Some(20),
        "payments returned {page}"
    );

    let auth = vec![("authorization", format!("Bearer {token}"))];
    let targets = [
        ("ceiling", ceiling.addr, ME, Vec::new()),
        ("me", server.addr, ME, auth.clone()),
        ("payments", server.addr, PAGE, auth),
    ];
    let mut points = Vec::new();
    for &n in connections {
        let mut merged: Vec<LoadResult> = targets.iter().map(|_| LoadResult::empty()).collect();
        for _ in 0..ROUNDS {
            for ((_, addr, query, headers), total) in targets.iter().zip(&mut merged) {
                let body = Bytes::from(json!({ "query": query }).to_string());
                let (addr, headers) = (*addr, headers.clone());
                let factory: RequestFactory =
                    Arc::new(move |_| json_post(addr, "/graphql", &headers, body.clone()));
                let round = closed_loop(
                    addr,
                    n,
                    Duration::from_millis(200),
                    Duration::from_secs_f64(seconds) / ROUNDS,
                    factory,
                )
                .await?;
                total.absorb(&round)?;
            }
        }
        for ((name, ..), result) in targets.iter().zip(merged) {
            let point = ReadPoint {
                target: (*name).to_owned(),
                connections: n,
                throughput: result.throughput(),
                p50_ms: ms(&result.latency, 0.5),
                p99_ms: ms(&result.latency, 0.99),
                p999_ms: ms(&result.latency, 0.999),
                errors: result.errors,
            };
            eprintln!(
                "read {name:>8} c={n:<3} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
                point.throughput, point.p50_ms, point.p99_ms
            );
            points.push(point);
        }
    }
    server.stop().await;
    Ok(points)
}
