//! Assembling and running the server: [`App::build`] wires every part and binds the listener,
//! [`App::run_until_stopped`] serves until shutdown is requested and then drains.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::AuthService;
use crate::config::{AppEnv, Config, DatabaseUrl};
use crate::events::EventBus;
use crate::graphql::{DocumentCache, SchemaDeps, build_schema};
use crate::http::graphql::{self as graphql_http, graphiql};
use crate::http::{AppState, Services, metrics_router, router};
use crate::limits::InboundLimits;
use crate::limits::sockets::SocketCounters;
use crate::payments::{PaymentReads, PaymentService};
use crate::providers::identity::{
    DevProvider, GithubEndpoints, GithubProvider, IdentityProvider, OidcProvider, ProviderKind,
};
use crate::providers::payments::{
    PaymentProvider, SandboxEvent, SandboxProvider, StripeProvider, built_in_decoders,
};
use crate::providers::resilience::ResilientProvider;
use crate::providers::{self, resilience::ProviderRegistry};
use crate::store::{self, Store};
use crate::telemetry;
use crate::webhooks::signature::sign;
use crate::webhooks::{Processor, ProcessorSettings, Reconciler, WebhookService};
use secrecy::SecretString;
use tokio::sync::{Notify, mpsc};
use url::Url;

/// A built server, bound to its port and ready to run.
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    metrics_listener: TcpListener,
    state: AppState,
    processor: Processor,
    sandbox: SandboxFeed,
    reconciler: Arc<Reconciler>,
}

/// Events the sandbox provider emits, to be signed and delivered to the webhook inbox.
struct SandboxFeed {
    events: mpsc::UnboundedReceiver<SandboxEvent>,
    secret: SecretString,
}

/// Parts of an [`App`] a caller supplies instead of having them built from the configuration:
/// a seam for tests and for embedding the server, deliberately not a setting.
#[derive(Default)]
pub struct Parts {
    /// Charges through this provider instead of the configured one. Its events are accepted at
    /// `/webhooks/{its name}` and read by its own decoder.
    pub payment_provider: Option<Arc<dyn PaymentProvider>>,
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
        Self::build_with(config, Parts::default()).await
    }

    /// [`build`](Self::build), with some parts supplied by the caller.
    pub async fn build_with(config: Config, parts: Parts) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let bus = Arc::new(event_bus(&config, shutdown.clone()).await?);
        let metrics = telemetry::metrics();
        providers::resilience::metrics::describe();
        let mut registry = ProviderRegistry::new();
        let identity = identity_providers(&config, providers::http_client(), &mut registry)?;
        let auth = Arc::new(AuthService::new(
            config.auth_settings(),
            identity,
            store.clone(),
            bus.clone(),
        )?);
        auth.reconcile_admins()
            .await
            .context("ADMIN_IDENTITIES: reconciling admin rights with the database failed")?;
        auth.follow_ended_sessions(shutdown.clone());
        let (sandbox_events, sandbox_feed) = mpsc::unbounded_channel();
        let payment_provider = match parts.payment_provider {
            Some(provider) => {
                registry.register(provider.resilience().clone());
                provider
            }
            None => payment_provider(&config, &mut registry, sandbox_events)?,
        };
        let decoders = built_in_decoders().with(payment_provider.events());
        let payments = Arc::new(
            PaymentService::new(
                store.clone(),
                payment_provider.clone(),
                bus.clone(),
                decoders.clone(),
                config.allowed_origins.clone(),
                config.payments.catalog_ttl,
            )
            .with_rules(config.payments.rules),
        );
        let providers = Arc::new(registry);
        let wake = Arc::new(Notify::new());
        let sandbox_secret: SecretString =
            format!("whsec_sandbox_{}", uuid::Uuid::new_v4().simple()).into();
        let mut secrets = config.webhooks.secrets.clone();
        secrets.push(sandbox_secret.clone());
        let webhooks = Arc::new(WebhookService::new(
            store.clone(),
            secrets,
            config.webhooks.tolerance_seconds,
            wake.clone(),
            decoders.clone(),
        ));
        let reconciler = Arc::new(Reconciler::new(
            store.clone(),
            payment_provider,
            config.webhooks.reconcile_lookback,
            wake.clone(),
        ));
        let processor = Processor::new(
            store.clone(),
            payments.clone(),
            wake,
            ProcessorSettings {
                sweep_interval: config.webhooks.sweep_interval,
                max_attempts: config.webhooks.max_attempts,
                ..ProcessorSettings::default()
            },
        )
        .with_decoders(decoders);
        let documents = DocumentCache::new(crate::graphql::DOCUMENT_CACHE_CAPACITY);
        let limits = InboundLimits::new(&config.rate_limits);
        let sockets = SocketCounters::new(config.sockets.clone());
        let metrics_listener = TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("METRICS_ADDR: cannot listen on {}", config.metrics_addr))?;
        let schema = build_schema(
            &config.graphql,
            SchemaDeps {
                reads: Arc::new(PaymentReads::new(store.clone(), bus.clone())),
                production: config.app_env == AppEnv::Production,
                auth: auth.clone(),
                payments,
                providers: providers.clone(),
                webhooks: webhooks.clone(),
                reconciler: reconciler.clone(),
                limits: limits.clone(),
            },
            documents.clone(),
        );
        let graphiql_html = config.graphql.graphiql.then(|| Arc::from(graphiql::page()));
        let document_policy = Arc::new(graphql_http::trusted::policy(&config)?);
        let state = AppState::new(Services {
            config: Arc::new(config),
            store,
            schema,
            auth,
            providers,
            webhooks,
            metrics,
            graphiql_html,
            document_policy,
            documents,
            shutdown,
            ws_tasks: TaskTracker::new(),
            limits,
            sockets,
        });
        Ok(App {
            listener,
            address,
            metrics_listener,
            state,
            processor,
            reconciler,
            sandbox: SandboxFeed {
                events: sandbox_feed,
                secret: sandbox_secret,
            },
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

    /// The address `/metrics` is served on.
    pub fn metrics_address(&self) -> SocketAddr {
        self.metrics_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The app's database (tests read its batch counters and data directly).
    pub fn store(&self) -> Store {
        self.state.store.clone()
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
            metrics_listener,
            state,
            address,
            processor,
            sandbox,
            reconciler,
        } = self;
        tokio::spawn(deliver_sandbox_events(sandbox, state.webhooks.clone()));
        if let Some(interval) = state.config.webhooks.reconcile_interval {
            tokio::spawn(reconciler.run(interval, state.shutdown.clone()));
        }
        // Events left unapplied by a previous run are picked up by its first drain.
        let processor = tokio::spawn(processor.run(state.shutdown.clone()));
        let shutdown = state.shutdown.clone();
        let ws_tasks = state.ws_tasks.clone();
        let store = state.store.clone();
        let grace = state.config.shutdown_grace;
        let public_url = state.config.public_url.clone();
        let metrics_address = metrics_listener.local_addr()?;
        tracing::info!(
            %address,
            metrics = %format!("http://{metrics_address}/metrics"),
            graphql = %public_url.join("/graphql")?,
            health = %public_url.join("/health/ready")?,
            database = store.backend(),
            "switchboard is serving"
        );
        tokio::spawn(state.limits.clone().sweep_until(shutdown.clone()));
        tokio::spawn(store::run_retention(
            store.clone(),
            state.config.retention,
            shutdown.clone(),
        ));
        let metrics = axum::serve(metrics_listener, metrics_router(state.metrics.clone()))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        tokio::spawn(async move {
            if let Err(err) = metrics.await {
                tracing::error!(error = %err, "the metrics endpoint stopped");
            }
        });
        let server = axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(router(state)),
        )
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

/// The event bus: across instances over PostgreSQL, in-process on SQLite.
async fn event_bus(config: &Config, stop: CancellationToken) -> anyhow::Result<EventBus> {
    Ok(match &config.database_url {
        DatabaseUrl::Postgres(_) => EventBus::postgres(config.database_url.expose(), stop)
            .await
            .context("DATABASE_URL: cannot listen for events")?,
        DatabaseUrl::Sqlite(_) => EventBus::in_process(),
    })
}

/// The payment provider: the sandbox unless Stripe is configured.
fn payment_provider(
    config: &Config,
    registry: &mut ProviderRegistry,
    sandbox_events: mpsc::UnboundedSender<SandboxEvent>,
) -> anyhow::Result<Arc<dyn PaymentProvider>> {
    let name = if config.payments.stripe_secret_key.is_some() {
        "stripe"
    } else {
        if config.app_env == AppEnv::Production {
            // Only reachable with PAYMENTS_SANDBOX=true: a demo, said loudly at every start.
            tracing::warn!(
                "PAYMENTS_SANDBOX=true: payments are simulated and marked succeeded without charging anyone"
            );
        }
        "sandbox"
    };
    let resilience = ResilientProvider::new(name, config.policy(name))?;
    registry.register(resilience.clone());
    Ok(match &config.payments.stripe_secret_key {
        Some(key) => {
            let base = config.payments.stripe_api_base.as_ref().map(Url::as_str);
            Arc::new(
                StripeProvider::new(key, base, resilience)?
                    .with_publishable_key(config.payments.stripe_publishable_key.clone()),
            )
        }
        None => Arc::new(SandboxProvider::new(
            resilience,
            sandbox_events,
            config.payments.sandbox_step,
        )),
    })
}

/// The login providers: each configured one with its own resilience policy (registered for
/// health and metrics), and the dev login where it is on.
fn identity_providers(
    config: &Config,
    http: reqwest::Client,
    registry: &mut ProviderRegistry,
) -> anyhow::Result<Vec<Arc<dyn IdentityProvider>>> {
    let mut built: Vec<Arc<dyn IdentityProvider>> = Vec::new();
    for provider in &config.auth.providers {
        let resilience =
            ResilientProvider::new(provider.name.clone(), config.policy(&provider.name))?;
        registry.register(resilience.clone());
        let redirect_uri = config
            .public_url
            .join(&format!("/auth/callback/{}", provider.name))?;
        built.push(match &provider.kind {
            ProviderKind::Oidc { issuer } => Arc::new(OidcProvider::new(
                provider.clone(),
                issuer.clone(),
                redirect_uri,
                http.clone(),
                resilience,
            )),
            ProviderKind::Github {
                auth_url,
                token_url,
                api_url,
            } => Arc::new(GithubProvider::new(
                provider.clone(),
                GithubEndpoints {
                    auth_url: auth_url.clone(),
                    token_url: token_url.clone(),
                    api_url: api_url.clone(),
                },
                redirect_uri,
                http.clone(),
                resilience,
            )),
        });
    }
    if config.auth.dev_login {
        built.push(Arc::new(DevProvider::new(&config.public_url)));
    }
    Ok(built)
}

/// Signs each sandbox event like Stripe would and puts it through the webhook inbox.
async fn deliver_sandbox_events(mut feed: SandboxFeed, webhooks: Arc<WebhookService>) {
    while let Some(event) = feed.events.recv().await {
        let signature = sign(
            event.body.as_bytes(),
            &feed.secret,
            chrono::Utc::now().timestamp(),
        );
        if let Err(err) = webhooks
            .receive("sandbox", Some(&signature), event.body.as_bytes())
            .await
        {
            tracing::error!(error = %err, "a sandbox event could not be stored");
        }
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
