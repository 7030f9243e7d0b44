//! switchboard's load harness. It starts the release server itself (SQLite or PostgreSQL),
//! drives it over loopback sockets next to a bare axum ceiling, prints a table, writes JSON and
//! draws SVG plots. `scripts/bench` builds everything and runs it; see docs/benchmarks.md.

mod api;
mod callgrind;
mod ceiling;
mod cpu;
mod lean_ws;
mod load;
mod report;
mod results;
mod scenarios;
mod server;
mod ws;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use results::Results;
use scenarios::ingest::IngestPlan;
use server::{Backend, Launcher};

#[derive(Parser)]
#[command(about = "Measures a release switchboard over loopback against a bare axum ceiling")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The server binary (default: `switchboard` beside this harness, as `cargo build --release`
    /// leaves it).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Names this run in the report and the output files (e.g. before, after).
    #[arg(long, default_value = "current")]
    label: String,
    /// Scenarios to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "startup,read,fanout,ingest,resilience"
    )]
    scenarios: Vec<Scenario>,
    /// Database of the read scenario (fan-out always uses SQLite).
    #[arg(long, value_enum, default_value = "sqlite")]
    read_backend: Backend,
    /// Backends of the ingest scenario.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    ingest_backends: Vec<Backend>,
    /// Connection counts of the read scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,32,64")]
    connections: Vec<usize>,
    /// How many times the read scenario runs (each run reports its own ratios; the report
    /// gives their spread).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Seconds measured per read point and per ingest run.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Subscriber counts of the fan-out scenario, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    subscribers: Vec<usize>,
    /// How the fan-out scenario's subscribers receive: `lean` (one thread on one epoll, the
    /// least CPU taken from the server) or `tungstenite` (a task per socket, as before).
    #[arg(long, value_enum, default_value = "lean")]
    fanout_client: scenarios::fanout::Client,
    /// Shell command run just before each fan-out event (`{pid}`: the server's process id),
    /// e.g. `callgrind_control -z {pid}`.
    #[arg(long)]
    before_event: Option<String>,
    /// Shell command run once every subscriber has the event, e.g. `callgrind_control -d {pid}`.
    #[arg(long)]
    after_event: Option<String>,
    /// Seconds a started server may take to become ready (raise it under valgrind).
    #[arg(long, default_value_t = 30)]
    ready_timeout: u64,
    /// Fixed webhook rate, events per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Closed-loop webhook senders in the flat-out run.
    #[arg(long, default_value_t = 32)]
    ingest_connections: usize,
    /// PostgreSQL server where the harness may create `switchboard_bench`.
    #[arg(
        long,
        env = "BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
    /// Directory for JSON, plots and server logs.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// An earlier run's JSON, drawn dashed in the plots for comparison.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Measure nothing: print and plot the run already written as `<out>/<label>.json`.
    #[arg(long)]
    replot: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the bare axum ceiling (started by the harness itself).
    Ceiling,
    /// Serves plain async-graphql answering `{ me { id } }` (started by the harness itself).
    PlainGraphql,
    /// Counts instructions per request of each target under `valgrind --tool=callgrind`.
    Callgrind {
        /// Targets: ceiling, plain, me, payments.
        #[arg(long, value_delimiter = ',', default_value = "plain,me,payments")]
        targets: Vec<String>,
        /// Requests counted per target.
        #[arg(long, default_value_t = 2000)]
        requests: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Also simulate the caches: misses per function, for `callgrind_annotate`.
        #[arg(long)]
        cache_sim: bool,
    },
    /// Server CPU time per request of each target (all its threads, kernel time included),
    /// the targets taking turns round by round.
    Cpu {
        /// Targets: ceiling, plain, me, payments.
        #[arg(long, value_delimiter = ',', default_value = "plain,me,payments")]
        targets: Vec<String>,
        /// Requests counted per target and round.
        #[arg(long, default_value_t = 20000)]
        requests: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Rounds; the report gives each target's median.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Startup,
    Read,
    Fanout,
    Ingest,
    Resilience,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Ceiling) => return ceiling::serve().await,
        Some(Command::PlainGraphql) => return ceiling::serve_plain_graphql().await,
        _ => {}
    }
    if cli.replot {
        let results = read_results(&cli.out.join(format!("{}.json", cli.label)))?;
        report::print(&results);
        return write_outputs(&cli, &results);
    }
    // The harness is built into <target>/release, beside the server and criterion's output.
    let release_dir = std::env::current_exe()?
        .parent()
        .context("the harness has no directory")?
        .to_path_buf();
    let target_dir = release_dir.parent().unwrap_or(&release_dir).to_path_buf();
    let binary = cli
        .server
        .clone()
        .unwrap_or_else(|| release_dir.join("switchboard"));
    anyhow::ensure!(
        binary.exists(),
        "no server binary at {}; build it with `cargo build --release` or pass --server",
        binary.display()
    );
    std::fs::create_dir_all(&cli.out)?;
    let launcher = Launcher {
        binary: binary.canonicalize()?,
        work_dir: std::env::temp_dir().join("switchboard-bench"),
        postgres: cli.postgres.clone(),
        ready_timeout: std::time::Duration::from_secs(cli.ready_timeout),
        wrapper: Vec::new(),
    };
    if let Some(Command::Callgrind {
        targets,
        requests,
        connections,
        cache_sim,
    }) = &cli.command
    {
        let out = cli.out.join("callgrind");
        std::fs::create_dir_all(&out)?;
        let plan = callgrind::Plan {
            requests: *requests,
            connections: *connections,
            // Absolute: the server under valgrind runs in its own working directory.
            out: std::fs::canonicalize(out)?,
            cache_sim: *cache_sim,
        };
        let points = callgrind::run(&launcher, targets, &plan).await?;
        report::print_callgrind(&points);
        let path = cli.out.join(format!("{}-callgrind.json", cli.label));
        std::fs::write(&path, serde_json::to_string_pretty(&points)?)?;
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    if let Some(Command::Cpu {
        targets,
        requests,
        connections,
        rounds,
    }) = &cli.command
    {
        let plan = cpu::Plan {
            requests: *requests,
            connections: *connections,
        };
        let points = cpu::run(&launcher, targets, &plan, *rounds).await?;
        cpu::print(&points);
        let path = cli.out.join(format!("{}-cpu.json", cli.label));
        std::fs::write(&path, serde_json::to_string_pretty(&points)?)?;
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    let mut results = Results {
        label: cli.label.clone(),
        machine: machine(),
        ..Results::default()
    };
    let wants = |s: Scenario| cli.scenarios.contains(&s);
    if wants(Scenario::Startup) {
        results.startup = Some(scenarios::startup::run(&launcher, 5).await?);
    }
    if wants(Scenario::Read) {
        let runs = scenarios::read::run(
            &launcher,
            cli.read_backend,
            &cli.connections,
            cli.seconds,
            cli.repeat.max(1),
        )
        .await?;
        for run in runs {
            results.read.extend(run.points);
            results.half_load.extend(run.half_load);
        }
    }
    if wants(Scenario::Fanout) {
        let plan = scenarios::fanout::Plan {
            levels: &cli.subscribers,
            client: cli.fanout_client,
            before_event: cli.before_event.as_deref(),
            after_event: cli.after_event.as_deref(),
        };
        results.fanout = scenarios::fanout::run(&launcher, &plan).await?;
    }
    if wants(Scenario::Ingest) {
        let plan = IngestPlan {
            rate: cli.rate,
            seconds: cli.seconds,
            connections: cli.ingest_connections,
        };
        for &backend in &cli.ingest_backends {
            results
                .ingest
                .push(scenarios::ingest::run(&launcher, backend, &plan).await?);
        }
    }
    if wants(Scenario::Resilience) {
        results.resilience = scenarios::resilience::read(&target_dir);
    }
    report::print(&results);
    write_outputs(&cli, &results)
}

fn write_outputs(cli: &Cli, results: &Results) -> anyhow::Result<()> {
    let json_path = cli.out.join(format!("{}.json", cli.label));
    std::fs::write(&json_path, serde_json::to_string_pretty(results)?)?;
    let baseline = cli.baseline.as_deref().map(read_results).transpose()?;
    if !results.read.is_empty() {
        report::plot_read(
            &cli.out.join(format!("{}-read.svg", cli.label)),
            results,
            baseline.as_ref(),
        )?;
    }
    if !results.fanout.is_empty() {
        report::plot_fanout(
            &cli.out.join(format!("{}-fanout.svg", cli.label)),
            results,
            baseline.as_ref(),
        )?;
    }
    eprintln!(
        "wrote {} and plots to {}",
        json_path.display(),
        cli.out.display()
    );
    Ok(())
}

fn read_results(path: &std::path::Path) -> anyhow::Result<Results> {
    serde_json::from_slice(&std::fs::read(path)?)
        .with_context(|| format!("{} is not a harness result", path.display()))
}

/// CPU model and count, from /proc/cpuinfo.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
        })
        .unwrap_or("unknown CPU")
        .trim()
        .to_owned();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpus} × {model}")
}
