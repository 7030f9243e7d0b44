//! Assembling and running the server: [`App::build`] wires every part and binds the listener,
//! [`App::run_until_stopped`] serves until shutdown is requested and then drains.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::AuthService;
use crate::config::{Config, DatabaseUrl};
use crate::events::EventBus;
use crate::graphql::{SchemaDeps, build_schema};
use crate::http::{AppState, graphql::graphiql_page, router};
use crate::providers::{self, resilience::ProviderRegistry};
use crate::store::{self, Store};
use crate::telemetry;
use crate::webhooks::{IgnoreAll, Processor, ProcessorSettings, WebhookService};
use tokio::sync::Notify;

/// A built server, bound to its port and ready to run.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    processor: Processor,
}

/// Requests a graceful shutdown of a running [`App`] from elsewhere (signals, tests).
#[derive(Clone)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    /// Starts shutting down: stop accepting, drain requests, close WebSockets.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl App {
    /// Connects to and migrates the database, builds the schema and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let bus = Arc::new(match &config.database_url {
            DatabaseUrl::Postgres(_) => {
                EventBus::postgres(config.database_url.expose(), shutdown.clone())
                    .await
                    .context("DATABASE_URL: cannot listen for events")?
            }
            DatabaseUrl::Sqlite(_) => EventBus::in_process(),
        });
        let metrics = telemetry::metrics();
        let mut registry = ProviderRegistry::new();
        let auth = Arc::new(AuthService::new(
            &config,
            store.clone(),
            providers::http_client(),
            &mut registry,
        )?);
        let providers = Arc::new(registry);
        let wake = Arc::new(Notify::new());
        let webhooks = Arc::new(WebhookService::new(
            store.clone(),
            config.webhooks.secrets.clone(),
            config.webhooks.tolerance_seconds,
            wake.clone(),
        ));
        let processor = Processor::new(
            store.clone(),
            Arc::new(IgnoreAll),
            wake,
            ProcessorSettings {
                sweep_interval: config.webhooks.sweep_interval,
                max_attempts: config.webhooks.max_attempts,
                ..ProcessorSettings::default()
            },
        );
        let schema = build_schema(
            &config.graphql,
            SchemaDeps {
                store: store.clone(),
                app_env: config.app_env,
                auth: auth.clone(),
                providers: providers.clone(),
                bus: bus.clone(),
                webhooks: webhooks.clone(),
            },
        );
        let graphiql_html = config
            .graphql
            .graphiql
            .then(|| Arc::from(graphiql_page(&config.public_url)));
        let state = AppState {
            config: Arc::new(config),
            store,
            schema,
            auth,
            providers,
            webhooks,
            metrics,
            graphiql_html,
            shutdown,
            ws_tasks: TaskTracker::new(),
        };
        Ok(App {
            listener,
            address,
            state,
            processor,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle that stops this app when asked.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.state.shutdown.clone())
    }

    /// Serves until shutdown is requested, then lets in-flight requests finish and WebSockets
    /// close (within the configured grace period) and closes the database.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let App {
            listener,
            state,
            address,
            processor,
        } = self;
        // Events left unapplied by a previous run are picked up by its first drain.
        let processor = tokio::spawn(processor.run(state.shutdown.clone()));
        let shutdown = state.shutdown.clone();
        let ws_tasks = state.ws_tasks.clone();
        let store = state.store.clone();
        let grace = state.config.shutdown_grace;
        let public_url = state.config.public_url.clone();
        tracing::info!(
            %address,
            graphql = %public_url.join("/graphql")?,
            health = %public_url.join("/health/ready")?,
            database = store.backend(),
            "switchboard is serving"
        );
        let server = axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let drain = async {
            server.await?;
            ws_tasks.close();
            ws_tasks.wait().await;
            anyhow::Ok(())
        };
        tokio::pin!(drain);
        tokio::select! {
            result = &mut drain => result?,
            () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "shutdown grace period over; closing what is left");
            }
        }
        let _ = processor.await;
        store.close().await;
        tracing::info!("switchboard stopped");
        Ok(())
    }
}

/// Connects to the configured database and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = &config.database_url;
    let store = store::connect(url, config.database_max_connections)
        .await
        .with_context(|| format!("DATABASE_URL: cannot open the {} database", url.backend()))?;
    store
        .migrate()
        .await
        .context("database migrations failed")?;
    Ok(store)
}
