//! The HTTP surface: routes, shared state and the middleware every request passes through.

mod auth;
mod cors;
mod demo;
pub mod graphql;
mod health;
mod limits;
mod request_id;
mod request_metrics;
mod request_span;
mod webhooks;
mod ws;
mod ws_guard;
mod ws_outlet;
mod ws_shared;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;
use tower_http::body::Limited;
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::AuthService;
use crate::config::Config;
use crate::graphql::AppSchema;
use crate::providers::resilience::ProviderRegistry;
use crate::store::Store;

pub use request_id::{CurrentRequestId, REQUEST_ID};

/// What every handler can reach. Handlers receive a clone per request, so it is one shared
/// pointer to [`Services`], plus what the open sockets share.
#[derive(Clone)]
pub struct AppState(Arc<Services>, Arc<SocketRuntime>);

/// What the open WebSockets share.
#[derive(Default)]
struct SocketRuntime {
    /// Subscription executions shared by the sockets that subscribed alike.
    executions: Arc<ws_shared::SharedExecutions>,
    /// The one timer re-checking every socket's viewer.
    rechecks: Arc<crate::auth::SocketRechecks>,
}

impl AppState {
    /// Shares `services` with every handler.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services), Arc::default())
    }

    fn shared_executions(&self) -> &Arc<ws_shared::SharedExecutions> {
        &self.1.executions
    }

    fn socket_rechecks(&self) -> &Arc<crate::auth::SocketRechecks> {
        &self.1.rechecks
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The server's services and settings, as handlers see them.
pub struct Services {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// The executable GraphQL schema.
    pub schema: AppSchema,
    /// Login and sessions.
    pub auth: Arc<AuthService>,
    /// Resilience state of every provider.
    pub providers: Arc<ProviderRegistry>,
    /// Incoming provider webhooks.
    pub webhooks: Arc<crate::webhooks::WebhookService>,
    /// Renders `/metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Parsed documents of repeated operations, shared with the schema.
    pub documents: Arc<crate::graphql::DocumentCache>,
    /// The GraphiQL page, when it is enabled.
    pub graphiql_html: Option<Arc<str>>,
    /// Which documents run: the trusted-documents manifest and whether only it runs.
    pub document_policy: Arc<graphql::trusted::DocumentPolicy>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Open WebSocket sessions, so shutdown can wait for their close frames.
    pub ws_tasks: TaskTracker,
    /// Inbound rate limits.
    pub limits: Arc<crate::limits::InboundLimits>,
    /// Open WebSocket counters and caps.
    pub sockets: Arc<crate::limits::sockets::SocketCounters>,
}

/// Builds the service that answers every request: the routes inside the middleware.
///
/// The middleware stack is the service the server runs, not the fallback of an outer
/// `Router`: a router's fallback is a boxed service the router clones, box and all, for every
/// request.
pub fn router(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    let config = state.config.clone();
    // The login callback shares the tight per-address login quota; opening a WebSocket or the
    // dev login form counts as an anonymous request. GraphQL counts per operation (it knows the user); webhooks are signed
    // and health probes come from the platform, so neither is limited.
    let login_routes = Router::new()
        .route("/auth/callback/{provider}", get(auth::callback))
        .route(
            "/auth/link/confirm",
            axum::routing::post(auth::confirm_link),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::login_quota,
        ));
    let anonymous_routes = Router::new()
        .route("/graphql/ws", get(ws::upgrade))
        .route("/auth/dev", get(auth::dev_login))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::anonymous_quota,
        ));
    let demo = config
        .web
        .demo_dir
        .as_deref()
        .map(demo::router)
        .unwrap_or_default();
    let routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/assets/{name}", get(graphql::graphiql::asset))
        .merge(login_routes)
        .merge(anonymous_routes)
        .merge(demo)
        .route("/webhooks/stripe", axum::routing::post(webhooks::stripe))
        .route("/webhooks/{source}", axum::routing::post(webhooks::receive))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .with_state(state.clone())
        // The only layer inside routing: it labels each request with the route that matched.
        .layer(request_metrics::RecordLayer);
    // Everything else wraps the router once rather than each route: a layer added with
    // `Router::layer` wraps every route in its own boxed service, and the router clones the
    // matched route's whole stack, box by box, for every request.
    let middleware = tower::ServiceBuilder::new()
        .layer(request_id::AssignLayer)
        .layer(request_span::RequestSpanLayer)
        .layer(cors::Cors::new(&config))
        .map_response(IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(config.http_max_body_bytes))
        .map_request(|request: Request<Limited<Body>>| request.map(Body::new))
        .layer(DefaultBodyLimit::disable())
        .layer(limits::ClientAddressLayer::new(state.limits.clone()));
    middleware.service(routes)
}

/// The router of `METRICS_ADDR`: `GET /metrics`, Prometheus text exposition. It is kept off the
/// public listener so counters and provider names are not open to anyone.
pub fn metrics_router(handle: metrics_exporter_prometheus::PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    )
}
