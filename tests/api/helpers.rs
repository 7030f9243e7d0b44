//! The test harness: [`TestApp`] starts a real server with a fresh database; [`TestDatabase`]
//! creates (and drops) that database on SQLite or PostgreSQL.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::app::Parts;
use switchboard::config::Settings;
use switchboard::store::Store;
use switchboard::{App, Config, ShutdownHandle};
use tokio::task::JoinHandle;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// True when CI or the test command demands every peer be present, so a missing one fails
/// loudly instead of skipping.
pub fn peers_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SWITCHBOARD_REQUIRE_PEERS").is_ok()
}

/// A database that exists for one test and is removed afterwards.
pub enum TestDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        name: String,
        url: String,
    },
    /// Another server's database, shared (that server's handle drops it).
    Shared {
        url: String,
    },
}

impl TestDatabase {
    /// Creates an empty database, or `None` when PostgreSQL is unreachable and not required.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(TestDatabase::Sqlite { _dir: dir, url })
            }
            Backend::Postgres => create_postgres_database().await,
        }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. }
            | TestDatabase::Postgres { url, .. }
            | TestDatabase::Shared { url } => url,
        }
    }

    /// Opens and migrates the database directly, without a server.
    pub async fn store(&self) -> Store {
        let config = config_with(|s| s.database_url = self.url().to_owned());
        switchboard::app::open_store(&config)
            .await
            .expect("open store")
    }
}

async fn create_postgres_database() -> Option<TestDatabase> {
    let admin = postgres_admin_url();
    let connection = sqlx::PgPool::connect(&admin).await;
    let pool = match connection {
        Ok(pool) => pool,
        Err(err) if !peers_required() => {
            eprintln!("skipping: PostgreSQL at {admin} is unreachable ({err}); CI requires it");
            return None;
        }
        Err(err) => panic!("PostgreSQL at {admin} is unreachable: {err}"),
    };
    let name = format!("switchboard_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("admin url");
    url.set_path(&name);
    Some(TestDatabase::Postgres {
        name,
        url: url.to_string(),
    })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { name, .. } = self {
            drop_postgres_database(name.clone());
        }
    }
}

/// Drops a test database from a separate thread: `Drop` cannot await, and the test's runtime
/// may already be shutting down.
pub fn drop_postgres_database(name: String) {
    let admin = postgres_admin_url();
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await?;
            pool.close().await;
            Ok::<_, sqlx::Error>(())
        })?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .join();
}

/// A validated config built from the defaults, changed by `change`, listening on a free port.
pub fn config_with(change: impl FnOnce(&mut Settings)) -> Config {
    let mut settings = Settings::defaults();
    settings.listen_addr = "127.0.0.1:0".into();
    settings.metrics_addr = "127.0.0.1:0".into();
    // Every test client comes from 127.0.0.1: only the tests of the limits themselves set
    // them tight.
    for per_minute in [
        &mut settings.rate_limit_anonymous_per_minute,
        &mut settings.rate_limit_user_per_minute,
        &mut settings.rate_limit_login_per_minute,
        &mut settings.rate_limit_payments_per_minute,
    ] {
        *per_minute = "1000000".into();
    }
    for burst in [
        &mut settings.rate_limit_anonymous_burst,
        &mut settings.rate_limit_user_burst,
        &mut settings.rate_limit_login_burst,
        &mut settings.rate_limit_payments_burst,
    ] {
        *burst = "100000".into();
    }
    settings.ws_max_sockets_per_ip = "100000".into();
    settings.ws_max_sockets_per_user = "100000".into();
    settings.log_level = std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into());
    change(&mut settings);
    Config::from_settings(settings).expect("test config is valid")
}

/// A running server with its own database.
pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served (`METRICS_ADDR`).
    pub metrics_address: String,
    /// The server's own store handle (for its batch-read counters).
    pub store: switchboard::store::Store,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    shutdown: ShutdownHandle,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// A server on a fresh SQLite database with default settings.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Backend::Sqlite, |_| {})
            .await
            .expect("SQLite is always there")
    }

    /// A server on a fresh database of `backend`, with settings changed by `change`.
    /// `None` when that backend is unavailable and not required (see [`peers_required`]).
    pub async fn spawn_with(
        backend: Backend,
        change: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let database = TestDatabase::create(backend).await?;
        let url = database.url().to_owned();
        Some(
            Self::spawn_on(database, |s| {
                s.database_url = url;
                change(s);
            })
            .await,
        )
    }

    /// A second instance on this one's database, configured by `change` as the first was, so
    /// the two share sessions and events the way instances behind a load balancer do.
    pub async fn sibling(&self, change: impl FnOnce(&mut Settings)) -> TestApp {
        let url = self.database.url().to_owned();
        TestApp::spawn_on(TestDatabase::Shared { url: url.clone() }, |s| {
            change(s);
            s.database_url = url;
        })
        .await
    }

    /// A server on an existing database (e.g. one a test prepared), with settings changed by
    /// `change` (which must set `database_url`).
    pub async fn spawn_on(database: TestDatabase, change: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_with_parts(database, change, Parts::default()).await
    }

    /// [`spawn_on`](Self::spawn_on), with some parts of the server supplied by the test.
    pub async fn spawn_with_parts(
        database: TestDatabase,
        change: impl FnOnce(&mut Settings),
        parts: Parts,
    ) -> TestApp {
        let config = config_with(change);
        if std::env::var("TEST_LOG").is_ok() {
            switchboard::telemetry::init(&config.log_level, config.log_format);
        }
        let app = App::build_with(config, parts).await.expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = format!("http://{}", app.metrics_address());
        let shutdown = app.shutdown_handle();
        let store = app.store();
        let task = tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        TestApp {
            address,
            metrics_address,
            store,
            client,
            database,
            shutdown,
            task: Some(task),
        }
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The Prometheus text of `METRICS_ADDR/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("metrics answer");
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// The WebSocket URL of `/graphql/ws`.
    pub fn ws_url(&self) -> String {
        self.url("/graphql/ws").replacen("http://", "ws://", 1)
    }

    /// POSTs an operation and returns the JSON body, asserting a 200 answer.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200, "POST /graphql status");
        response.json().await.expect("JSON body")
    }

    /// Starts a graceful shutdown and waits for the server to finish it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.shutdown();
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("shutdown finishes")
            .expect("server task did not panic")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder holding the Node peers, or `None` (skip) when they are not installed and not
/// required.
pub fn node_peers() -> Option<PathBuf> {
    let dir = repo_root().join("tests/peers");
    if dir.join("node_modules").is_dir() {
        return Some(dir);
    }
    assert!(
        !peers_required(),
        "Node peers are missing in {}; run scripts/test to install them",
        dir.display()
    );
    eprintln!("skipping: Node peers are not installed; scripts/test installs them");
    None
}

/// Runs a Node script from the peers folder and returns its stdout, asserting success.
pub async fn run_node(peers: &std::path::Path, script: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new("node")
        .arg(peers.join(script))
        .args(args)
        .current_dir(peers)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Asserts `body` has exactly one error, with `code`, and returns it.
pub fn single_error<'a>(body: &'a Value, code: &str) -> &'a Value {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {body}"));
    assert_eq!(errors.len(), 1, "one error in {body}");
    assert_eq!(errors[0]["extensions"]["code"], code, "code in {body}");
    &errors[0]
}
