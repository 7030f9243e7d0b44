//! Starting the server under test: a release binary in its own process, with a fresh database,
//! reached over loopback like any client would.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// The webhook signing secret the server is started with; the harness signs with it too.
pub const WEBHOOK_SECRET: &str = "whsec_switchboard_bench_0123456789abcdef";

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An embedded SQLite file in a fresh temporary directory.
    Sqlite,
    /// A freshly created PostgreSQL database.
    Postgres,
}

impl Backend {
    /// Lower-case name, as in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to start servers.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The release binary.
    pub binary: PathBuf,
    /// Where logs and SQLite files go.
    pub work_dir: PathBuf,
    /// `postgres://user@host:port` of a server where the harness may create databases.
    pub postgres: String,
    /// How long a server may take to answer `/health/ready` (longer under valgrind).
    pub ready_timeout: Duration,
    /// A program and its arguments that run the server (e.g. valgrind); empty to run it as is.
    pub wrapper: Vec<String>,
}

/// A running server.
pub struct Server {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
    /// From spawn to the first successful `GET /health/ready`.
    pub startup: Duration,
    /// Its database.
    database_url: String,
}

impl Launcher {
    /// Starts a server on `backend` with a fresh database and waits until it is ready.
    pub async fn start(&self, backend: Backend, name: &str) -> anyhow::Result<Server> {
        let dir = self.work_dir.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.join("switchboard.db").display()),
            Backend::Postgres => fresh_postgres_database(&self.postgres, "switchboard_bench")?,
        };
        self.start_on(&dir, &database_url).await
    }

    /// Starts another instance on `server`'s database (several instances behind a balancer).
    pub async fn start_sibling(&self, server: &Server, name: &str) -> anyhow::Result<Server> {
        let dir = self.work_dir.join(name);
        std::fs::create_dir_all(&dir)?;
        self.start_on(&dir, &server.database_url).await
    }

    async fn start_on(&self, dir: &Path, database_url: &str) -> anyhow::Result<Server> {
        let addr = free_loopback_port()?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let started = Instant::now();
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        let child = command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("APP_ENV", "development")
            .env("LISTEN_ADDR", addr.to_string())
            .env("METRICS_ADDR", "127.0.0.1:0")
            // The load comes from one address and a few users: measure the server, not its limits.
            .env("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "0")
            .env("RATE_LIMIT_USER_PER_MINUTE", "0")
            .env("RATE_LIMIT_LOGIN_PER_MINUTE", "0")
            .env("RATE_LIMIT_PAYMENTS_PER_MINUTE", "0")
            .env("WS_MAX_SOCKETS_PER_IP", "1000000")
            .env("WS_MAX_SOCKETS_PER_USER", "1000000")
            .env("WS_MAX_CONNECTIONS", "1000000")
            .env("PUBLIC_URL", format!("http://{addr}"))
            .env("DATABASE_URL", database_url)
            .env("AUTH_DEV_LOGIN", "true")
            .env("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET)
            // The sandbox must not move payments on its own while the harness drives them (its
            // longest step is ten minutes, longer than any scenario).
            .env("SANDBOX_STEP_MS", "600000")
            .env("RECONCILE_INTERVAL_SECONDS", "0")
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let mut server = Server {
            child,
            addr,
            startup: Duration::ZERO,
            database_url: database_url.to_owned(),
        };
        // Under valgrind the server starts tens of times slower.
        let limit = if self.wrapper.is_empty() {
            self.ready_timeout
        } else {
            self.ready_timeout.max(Duration::from_secs(300))
        };
        server.wait_ready(started, dir, limit).await?;
        Ok(server)
    }
}

impl Server {
    /// `http://addr`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resident set size of the server process, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("server has exited")?;
        rss_kib(pid)
    }

    /// CPU time the server process has used so far (user and system), in milliseconds.
    pub fn cpu_ms(&self) -> anyhow::Result<f64> {
        let pid = self.child.id().context("server has exited")?;
        cpu_ms(pid)
    }

    /// Runs `command` with `sh -c`, `{pid}` replaced by the server's process id.
    pub async fn run_hook(&self, command: &str) -> anyhow::Result<()> {
        let pid = self.child.id().context("server has exited")?;
        let command = command.replace("{pid}", &pid.to_string());
        let status = Command::new("sh").args(["-c", &command]).status().await?;
        anyhow::ensure!(status.success(), "`{command}` failed: {status}");
        Ok(())
    }

    /// The server's process id.
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("server has exited")
    }

    async fn wait_ready(
        &mut self,
        started: Instant,
        dir: &Path,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let url = format!("{}/health/ready", self.base());
        let deadline = started + limit;
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                self.startup = started.elapsed();
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "server exited with {status}; see {}",
                    dir.join("server.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "server not ready after {} s; see {}",
                    limit.as_secs(),
                    dir.join("server.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops the server like an orchestrator would: SIGTERM, then SIGKILL if it has not
    /// drained within ten seconds.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc status")
}

/// User and system CPU time of a process, in milliseconds (from `/proc/<pid>/stat`).
pub fn cpu_ms(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("malformed /proc stat")?
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum::<Option<u64>>()
        .context("no CPU times in /proc stat")?;
    // /proc counts in USER_HZ, which Linux fixes at 100 per second for user space on x86 and arm.
    const TICKS_PER_SECOND: f64 = 100.0;
    Ok(ticks as f64 * 1000.0 / TICKS_PER_SECOND)
}

/// A port nobody listens on right now.
fn free_loopback_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Drops and recreates `name` on the PostgreSQL server at `admin_url` (needs `psql`).
fn fresh_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        let output = std::process::Command::new("psql")
            .arg(format!("{admin_url}/postgres"))
            .args(["-v", "ON_ERROR_STOP=1", "-qc", &sql])
            .output()
            .context("psql is needed to create the PostgreSQL database")?;
        if !output.status.success() {
            bail!("{sql}: {}", String::from_utf8_lossy(&output.stderr));
        }
    }
    Ok(format!("{admin_url}/{name}"))
}
