//! Instructions per request: each target runs under `valgrind --tool=callgrind`, the harness
//! warms it up, zeroes the counters, sends a fixed number of requests and dumps the counters.
//! Unlike requests per second, the count hardly moves with what else the host runs, so it
//! measures a change on a busy machine. The dump is kept for `callgrind_annotate`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::ceiling::Reference;
use crate::load::fixed_count;
use crate::scenarios::read::{ME, reader_server};
use crate::server::Launcher;

/// Instructions per request of one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallgrindPoint {
    /// `ceiling`, `plain`, `me` or `payments`.
    pub target: String,
    /// Requests counted.
    pub requests: u64,
    /// Instructions executed by the whole process (every thread) per request.
    pub instructions_per_request: f64,
    /// The dump, for `callgrind_annotate`.
    pub dump: PathBuf,
}

/// How a callgrind run is set up.
pub struct Plan {
    /// Requests counted per target (after as many again for warm-up, a tenth of them).
    pub requests: u64,
    /// Concurrent connections.
    pub connections: usize,
    /// Where the dumps go.
    pub out: PathBuf,
    /// Also simulate the caches (first-level and last-level misses per function).
    pub cache_sim: bool,
}

/// Counts instructions per request of each of `targets`.
pub async fn run(
    launcher: &Launcher,
    targets: &[String],
    plan: &Plan,
) -> anyhow::Result<Vec<CallgrindPoint>> {
    let mut points = Vec::new();
    for target in targets {
        let point = match target.as_str() {
            "ceiling" => reference(Reference::Ceiling, "ceiling", plan).await?,
            "plain" => reference(Reference::PlainGraphql, "plain", plan).await?,
            "me" | "payments" => server(launcher, target, plan).await?,
            other => bail!("unknown callgrind target {other} (ceiling, plain, me, payments)"),
        };
        eprintln!(
            "callgrind {:>8}: {:>10.0} instructions/request ({} requests; {})",
            point.target,
            point.instructions_per_request,
            point.requests,
            point.dump.display()
        );
        points.push(point);
    }
    Ok(points)
}

fn valgrind(dump_prefix: &Path, cache_sim: bool) -> Vec<String> {
    let mut args = vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        // Setting up runs uninstrumented; the harness switches instrumentation on.
        "--instr-atstart=no".into(),
        format!("--callgrind-out-file={}", dump_prefix.display()),
    ];
    if cache_sim {
        args.push("--cache-sim=yes".into());
    }
    args
}

async fn server(launcher: &Launcher, target: &str, plan: &Plan) -> anyhow::Result<CallgrindPoint> {
    let prefix = fresh_prefix(&plan.out, target)?;
    let launcher = Launcher {
        wrapper: valgrind(&prefix, plan.cache_sim),
        ..launcher.clone()
    };
    let (server, query, headers) =
        reader_server(&launcher, &format!("callgrind-{target}"), target).await?;
    let point = measure(
        server.addr,
        server.pid()?,
        query,
        headers,
        target,
        &prefix,
        plan,
    )
    .await;
    server.stop().await;
    point
}

async fn reference(
    reference: Reference,
    target: &str,
    plan: &Plan,
) -> anyhow::Result<CallgrindPoint> {
    let prefix = fresh_prefix(&plan.out, target)?;
    let args = valgrind(&prefix, plan.cache_sim);
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .arg(std::env::current_exe()?)
        .arg(reference.subcommand())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start valgrind")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .context("reference exited before listening")?;
    let addr = line
        .strip_prefix("listening ")
        .context("unexpected reference output")?
        .parse()?;
    let pid = child.id().context("reference exited")?;
    let point = measure(addr, pid, ME, Vec::new(), target, &prefix, plan).await;
    let _ = child.kill().await;
    point
}

async fn measure(
    addr: std::net::SocketAddr,
    pid: u32,
    query: &str,
    headers: Vec<(&'static str, String)>,
    target: &str,
    prefix: &Path,
    plan: &Plan,
) -> anyhow::Result<CallgrindPoint> {
    let body = bytes::Bytes::from(json!({ "query": query }).to_string());
    let factory: crate::load::RequestFactory = std::sync::Arc::new(move |_| {
        crate::load::json_post(addr, "/graphql", &headers, body.clone())
    });
    let per_connection = (plan.requests / plan.connections as u64).max(1);
    control(pid, &["-i", "on"]).await?;
    let warm = (per_connection / 10).max(1);
    fixed_count(addr, plan.connections, warm, factory.clone()).await?;
    control(pid, &["-z"]).await?;
    let (ok, failed) = fixed_count(addr, plan.connections, per_connection, factory).await?;
    control(pid, &["-d"]).await?;
    anyhow::ensure!(
        failed == 0,
        "{target}: {failed} requests failed under callgrind"
    );
    let dump = latest_dump(prefix)?;
    let instructions = totals(&dump)?;
    Ok(CallgrindPoint {
        target: target.to_owned(),
        requests: ok,
        instructions_per_request: instructions as f64 / ok as f64,
        dump,
    })
}

async fn control(pid: u32, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .status()
        .await
        .context("callgrind_control (valgrind) is needed")?;
    anyhow::ensure!(status.success(), "callgrind_control {args:?} failed");
    Ok(())
}

/// `<out>/callgrind-<target>.out`, with any earlier dumps of that name removed.
fn fresh_prefix(out: &Path, target: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let name = format!("callgrind-{target}.out");
    for entry in std::fs::read_dir(out)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&name) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(out
        .join(&name)
        .canonicalize()
        .unwrap_or_else(|_| out.join(&name)))
}

/// The newest dump written beside `prefix` (callgrind names them `<prefix>.<n>`).
fn latest_dump(prefix: &Path) -> anyhow::Result<PathBuf> {
    let dir = prefix.parent().context("dump prefix has no directory")?;
    let name = prefix
        .file_name()
        .context("dump prefix has no name")?
        .to_string_lossy()
        .into_owned();
    let mut dumps: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dumps.sort();
    dumps
        .pop()
        .map(|(_, path)| path)
        .context("callgrind wrote no dump")
}

/// The `totals:` (or `summary:`) line of a dump: instructions executed.
fn totals(dump: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(dump)?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no totals in {}", dump.display()))
}
