//! Server CPU time per request: each target runs as it is (no valgrind), the harness warms it
//! up and sends a fixed number of requests, and reads how long the server's threads ran
//! meanwhile (`/proc/<pid>/task/*/schedstat`, nanoseconds, user and kernel time together) and
//! how often they were switched out (`/proc/<pid>/task/*/status`).
//!
//! Instruction counts (`callgrind`) miss what a request costs in the kernel (socket reads and
//! writes, wake-ups of parked threads) and in cache misses; req/s on a shared host moves with
//! whatever else runs. CPU time of the server alone sits between the two: it includes both, and
//! the load client's own share of the cores does not enter it.

use std::net::SocketAddr;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ceiling::{self, Reference};
use crate::load::{RequestFactory, fixed_count, json_post};
use crate::scenarios::read::{ME, reader_server};
use crate::server::Launcher;

/// CPU time per request of one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuPoint {
    /// `ceiling`, `plain`, `me` or `payments`.
    pub target: String,
    /// Requests counted.
    pub requests: u64,
    /// Microseconds the server's threads ran, per request.
    pub cpu_us_per_request: f64,
    /// The part of `cpu_us_per_request` spent in the kernel (from `/proc/<pid>/stat`, in
    /// 10 ms ticks, so only meaningful over a second or more of run time).
    #[serde(default)]
    pub kernel_us_per_request: f64,
    /// Times a server thread was switched out, per request.
    pub switches_per_request: f64,
    /// Microseconds this harness (the load client) ran, per request.
    pub client_cpu_us_per_request: f64,
}

/// How a CPU run is set up.
pub struct Plan {
    /// Requests counted per target (after a tenth as many for warm-up).
    pub requests: u64,
    /// Concurrent connections.
    pub connections: usize,
}

/// Measures each of `targets` in turn, `rounds` times, alternating targets round by round.
pub async fn run(
    launcher: &Launcher,
    targets: &[String],
    plan: &Plan,
    rounds: usize,
) -> anyhow::Result<Vec<CpuPoint>> {
    let mut running = Vec::new();
    for target in targets {
        running.push(Running::start(launcher, target).await?);
    }
    let mut points = Vec::new();
    for round in 0..rounds {
        for target in &running {
            let point = target.measure(plan).await?;
            eprintln!(
                "cpu round {round} {:>8}: {:>7.1} µs/request ({:.1} in the kernel), {:.2} switches/request, client {:.1} µs/request",
                point.target,
                point.cpu_us_per_request,
                point.kernel_us_per_request,
                point.switches_per_request,
                point.client_cpu_us_per_request
            );
            points.push(point);
        }
    }
    for target in running {
        target.stop().await;
    }
    Ok(points)
}

/// A target's process, ready for requests.
struct Running {
    name: String,
    addr: SocketAddr,
    pid: u32,
    query: &'static str,
    headers: Vec<(&'static str, String)>,
    process: Process,
}

enum Process {
    Server(crate::server::Server),
    Reference(ceiling::Ceiling),
}

impl Running {
    async fn start(launcher: &Launcher, target: &str) -> anyhow::Result<Self> {
        let reference = match target {
            "ceiling" => Some(Reference::Ceiling),
            "plain" => Some(Reference::PlainGraphql),
            "me" | "payments" => None,
            other => anyhow::bail!("unknown cpu target {other} (ceiling, plain, me, payments)"),
        };
        if let Some(reference) = reference {
            let process = ceiling::start(reference).await?;
            return Ok(Self {
                name: target.to_owned(),
                addr: process.addr,
                pid: process.pid().context("reference exited")?,
                query: ME,
                headers: Vec::new(),
                process: Process::Reference(process),
            });
        }
        let (server, query, headers) =
            reader_server(launcher, &format!("cpu-{target}"), target).await?;
        Ok(Self {
            name: target.to_owned(),
            addr: server.addr,
            pid: server.pid()?,
            query,
            headers,
            process: Process::Server(server),
        })
    }

    async fn measure(&self, plan: &Plan) -> anyhow::Result<CpuPoint> {
        let body = bytes::Bytes::from(json!({ "query": self.query }).to_string());
        let (addr, headers) = (self.addr, self.headers.clone());
        let factory: RequestFactory =
            std::sync::Arc::new(move |_| json_post(addr, "/graphql", &headers, body.clone()));
        let per_connection = (plan.requests / plan.connections as u64).max(1);
        fixed_count(
            self.addr,
            plan.connections,
            (per_connection / 10).max(1),
            factory.clone(),
        )
        .await?;
        let before = Usage::of(self.pid)?;
        let client_before = Usage::of(std::process::id())?;
        let (ok, failed) =
            fixed_count(self.addr, plan.connections, per_connection, factory).await?;
        let after = Usage::of(self.pid)?;
        let client_after = Usage::of(std::process::id())?;
        anyhow::ensure!(failed == 0, "{}: {failed} requests failed", self.name);
        Ok(CpuPoint {
            target: self.name.clone(),
            requests: ok,
            cpu_us_per_request: (after.run_ns - before.run_ns) as f64 / 1_000.0 / ok as f64,
            kernel_us_per_request: (after.kernel_ticks - before.kernel_ticks) as f64 * TICK_US
                / ok as f64,
            switches_per_request: (after.switches - before.switches) as f64 / ok as f64,
            client_cpu_us_per_request: (client_after.run_ns - client_before.run_ns) as f64
                / 1_000.0
                / ok as f64,
        })
    }

    async fn stop(self) {
        match self.process {
            Process::Server(server) => server.stop().await,
            // Killed on drop.
            Process::Reference(reference) => drop(reference),
        }
    }
}

/// Microseconds in one tick of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICK_US: f64 = 10_000.0;

/// Run time and context switches of every thread of a process, summed.
struct Usage {
    run_ns: u64,
    /// Kernel time of the whole process, in ticks.
    kernel_ticks: u64,
    switches: u64,
}

impl Usage {
    fn of(pid: u32) -> anyhow::Result<Self> {
        let mut usage = Usage {
            run_ns: 0,
            kernel_ticks: kernel_ticks(pid)?,
            switches: 0,
        };
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let dir = task?.path();
            // A thread that ended between listing and reading simply no longer counts.
            let Ok(schedstat) = std::fs::read_to_string(dir.join("schedstat")) else {
                continue;
            };
            usage.run_ns += schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .context("unreadable schedstat")?;
            let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
            usage.switches += status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
        Ok(usage)
    }
}

/// `stime` of `/proc/<pid>/stat`: the fields after the command name, whose 13th is `stime`.
fn kernel_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').context("unreadable stat")?.1;
    after_name
        .split_whitespace()
        .nth(12)
        .and_then(|ticks| ticks.parse().ok())
        .context("unreadable stime")
}

/// Prints each target's median over the rounds, and `me` against plain async-graphql.
pub fn print(points: &[CpuPoint]) {
    println!(
        "\n| target | rounds | server CPU µs/request (median, min-max) | of which kernel | switches/request | client CPU µs/request |"
    );
    println!("|---|---:|---|---:|---:|---:|");
    let mut names: Vec<&str> = points.iter().map(|p| p.target.as_str()).collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    for name in &names {
        let (median, min, max, switches) = summary(points, name);
        let rounds = points.iter().filter(|p| p.target == *name).count();
        let client = mean(points, name, |p| p.client_cpu_us_per_request);
        let kernel = mean(points, name, |p| p.kernel_us_per_request);
        println!(
            "| {name} | {rounds} | {median:.1} ({min:.1}-{max:.1}) | {kernel:.1} | {switches:.2} | {client:.1} |"
        );
    }
    if names.contains(&"me") && names.contains(&"plain") {
        let (me, ..) = summary(points, "me");
        let (plain, ..) = summary(points, "plain");
        println!(
            "\nme takes {:.2}× the server CPU of plain async-graphql per request",
            me / plain
        );
    }
}

fn mean(points: &[CpuPoint], target: &str, value: impl Fn(&CpuPoint) -> f64) -> f64 {
    let values: Vec<f64> = points
        .iter()
        .filter(|p| p.target == target)
        .map(value)
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

fn summary(points: &[CpuPoint], target: &str) -> (f64, f64, f64, f64) {
    let mut cpu: Vec<f64> = points
        .iter()
        .filter(|p| p.target == target)
        .map(|p| p.cpu_us_per_request)
        .collect();
    cpu.sort_by(f64::total_cmp);
    let median = cpu[cpu.len() / 2];
    let switches = mean(points, target, |p| p.switches_per_request);
    (median, cpu[0], cpu[cpu.len() - 1], switches)
}
