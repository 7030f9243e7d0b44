//! The command line: subcommands and every setting with its environment variable.
//!
//! Settings are read as text here and validated in [`super::Config::from_settings`], so a bad value
//! produces one line naming the variable rather than a usage dump.

use clap::{Args, Parser, Subcommand};

/// switchboard: a GraphQL backend-for-frontend for Stripe payments and OAuth/OpenID Connect login.
///
/// Every setting is an environment variable (a `.env` file in the working directory is read too);
/// the matching flag overrides it.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None, after_help = after_help())]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub settings: Settings,
}

/// Per-provider settings cannot be flags, since their names depend on `AUTH_PROVIDERS`.
const PROVIDER_HELP: &str = "\
Login providers: for each NAME in AUTH_PROVIDERS (upper-cased, '-' as '_'):
  AUTH_<NAME>_KIND            oidc, google or github
  AUTH_<NAME>_ISSUER          issuer URL (oidc; google defaults to https://accounts.google.com)
  AUTH_<NAME>_CLIENT_ID       OAuth client id
  AUTH_<NAME>_CLIENT_SECRET   OAuth client secret
  AUTH_<NAME>_SCOPES          space-separated scopes (default: openid email profile; github: read:user user:email)
  AUTH_<NAME>_DISPLAY_NAME    name shown on login buttons (default: NAME)
  AUTH_<NAME>_TRUST_EMAIL     true to link accounts that share a verified email (default false)
  AUTH_<NAME>_AUTH_URL, AUTH_<NAME>_TOKEN_URL, AUTH_<NAME>_API_URL
                              github only: endpoint overrides (GitHub Enterprise)
The server's callback for NAME is PUBLIC_URL/auth/callback/NAME.
";

/// The text after the flags: login providers, then the provider policies from their table.
fn after_help() -> String {
    format!(
        "{PROVIDER_HELP}\n{}",
        crate::providers::resilience::env_help()
    )
}

/// The subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run migrations, then serve the API (the default).
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
    /// Check the configuration and what it points to before going live: one line per check
    /// (ok, warn or fail); exits non-zero on any fail. Changes nothing.
    Doctor,
}

/// Raw settings as given by the environment or flags, before validation.
#[derive(Clone, Args)]
pub struct Settings {
    /// `development` or `production`. Production turns on JSON logs and turns off GraphiQL,
    /// introspection and the development login.
    #[arg(long, global = true, env = "APP_ENV", default_value = "development")]
    pub app_env: String,

    /// Address and port the HTTP server binds to.
    #[arg(
        long,
        global = true,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8000"
    )]
    pub listen_addr: String,

    /// The URL clients use to reach this server (callbacks and links are built from it).
    #[arg(
        long,
        global = true,
        env = "PUBLIC_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub public_url: String,

    /// `sqlite://FILE` (created on first run) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://switchboard.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        global = true,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value = "10"
    )]
    pub database_max_connections: String,

    /// Comma-separated origins (scheme://host[:port]) allowed for CORS and redirect targets.
    /// The origin of PUBLIC_URL is always allowed.
    #[arg(long, global = true, env = "ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,

    /// Comma-separated request headers browsers may send cross-origin, besides the ones always
    /// allowed (content-type, authorization, tracing and Apollo client headers).
    #[arg(long, global = true, env = "CORS_ALLOWED_HEADERS", default_value = "")]
    pub cors_allowed_headers: String,

    /// Log filter in `RUST_LOG` syntax, e.g. `info` or `switchboard=debug,sqlx=warn`.
    #[arg(long, global = true, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// `auto` (pretty in development, JSON in production), `pretty` or `json`.
    #[arg(long, global = true, env = "LOG_FORMAT", default_value = "auto")]
    pub log_format: String,

    /// Largest accepted request body, in bytes.
    #[arg(
        long,
        global = true,
        env = "HTTP_MAX_BODY_BYTES",
        default_value = "262144"
    )]
    pub http_max_body_bytes: String,

    /// Deepest selection nesting a GraphQL operation may have.
    #[arg(long, global = true, env = "GRAPHQL_MAX_DEPTH", default_value = "15")]
    pub graphql_max_depth: String,

    /// Highest complexity (roughly: fields selected, lists weighted by their size) an operation may have.
    #[arg(
        long,
        global = true,
        env = "GRAPHQL_MAX_COMPLEXITY",
        default_value = "1000"
    )]
    pub graphql_max_complexity: String,

    /// Serve schema introspection: `true`, `false`, or `auto` (on in development, off in production).
    #[arg(
        long,
        global = true,
        env = "GRAPHQL_INTROSPECTION",
        default_value = "auto"
    )]
    pub graphql_introspection: String,

    /// Serve the GraphiQL explorer at GET /graphql: `true`, `false`, or `auto` (on in development).
    #[arg(long, global = true, env = "GRAPHIQL", default_value = "auto")]
    pub graphiql: String,

    /// Comma-separated names of the login providers to offer (see "Login providers" below).
    #[arg(long, global = true, env = "AUTH_PROVIDERS", default_value = "")]
    pub auth_providers: String,

    /// Offer the `dev` provider, which signs in any named local user without a password:
    /// `true`, `false` or `auto` (on in development). Refused in production.
    #[arg(long, global = true, env = "AUTH_DEV_LOGIN", default_value = "auto")]
    pub auth_dev_login: String,

    /// Keys that sign session access tokens, as `KID:SECRET[,KID:SECRET...]` with secrets of 32+
    /// characters. The first signs; all verify, so adding a new key first rotates without
    /// signing anyone out. Required in production; development generates one per start.
    #[arg(
        long,
        global = true,
        env = "SESSION_SIGNING_KEYS",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub session_signing_keys: String,

    /// Lifetime of an access token, in seconds.
    #[arg(
        long,
        global = true,
        env = "ACCESS_TOKEN_TTL_SECONDS",
        default_value = "900"
    )]
    pub access_token_ttl_seconds: String,

    /// Lifetime of a session (refreshing does not extend it), in seconds.
    #[arg(
        long,
        global = true,
        env = "SESSION_TTL_SECONDS",
        default_value = "2592000"
    )]
    pub session_ttl_seconds: String,

    /// How long a started login may take to come back, in seconds.
    #[arg(long, global = true, env = "LOGIN_TTL_SECONDS", default_value = "600")]
    pub login_ttl_seconds: String,

    /// How long, in seconds, a just-spent refresh token may be presented again by a concurrent
    /// request (another tab, a retry) and receive the same new pair instead of ending the
    /// session; 0 turns the grace off.
    #[arg(
        long,
        global = true,
        env = "REFRESH_GRACE_SECONDS",
        default_value = "5"
    )]
    pub refresh_grace_seconds: String,

    /// Comma-separated webhook signing secrets (`whsec_...`) accepted on POST /webhooks/stripe;
    /// list the new one first while rotating.
    #[arg(
        long,
        global = true,
        env = "STRIPE_WEBHOOK_SECRETS",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub stripe_webhook_secrets: String,

    /// How far a webhook's signed timestamp may be from now, in seconds.
    #[arg(
        long,
        global = true,
        env = "WEBHOOK_TOLERANCE_SECONDS",
        default_value = "300"
    )]
    pub webhook_tolerance_seconds: String,

    /// Failed attempts before a webhook event is set aside as dead (replayable).
    #[arg(
        long,
        global = true,
        env = "WEBHOOK_MAX_ATTEMPTS",
        default_value = "10"
    )]
    pub webhook_max_attempts: String,

    /// Seconds between sweeps of the webhook inbox for events that are due.
    #[arg(
        long,
        global = true,
        env = "WEBHOOK_SWEEP_SECONDS",
        default_value = "5"
    )]
    pub webhook_sweep_seconds: String,

    /// Comma-separated identities (`PROVIDER:SUBJECT`, e.g. `google:1234567890`) that are made
    /// admins when they sign in. Admins can see every payment and replay webhook events.
    #[arg(long, global = true, env = "ADMIN_IDENTITIES", default_value = "")]
    pub admin_identities: String,

    /// Stripe secret key (`sk_test_...` or `sk_live_...`). Without it payments use the sandbox.
    #[arg(
        long,
        global = true,
        env = "STRIPE_SECRET_KEY",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub stripe_secret_key: String,

    /// Stripe API base URL; change it only to use a local fake Stripe (e.g. http://127.0.0.1:8420/).
    #[arg(long, global = true, env = "STRIPE_API_BASE", default_value = "")]
    pub stripe_api_base: String,

    /// Stripe publishable key (`pk_test_...` or `pk_live_...`, the same mode as the secret key),
    /// served as `serverInfo.stripePublishableKey` for Stripe.js and PaymentSheet. Required in
    /// production with Stripe.
    #[arg(
        long,
        global = true,
        env = "STRIPE_PUBLISHABLE_KEY",
        default_value = ""
    )]
    pub stripe_publishable_key: String,

    /// Seconds the price catalog is cached (it is served from the cache while Stripe is down).
    #[arg(
        long,
        global = true,
        env = "CATALOG_TTL_SECONDS",
        default_value = "300"
    )]
    pub catalog_ttl_seconds: String,

    /// Milliseconds between the steps the sandbox payment provider takes (created → processing →
    /// succeeded) when Stripe is not configured.
    #[arg(long, global = true, env = "SANDBOX_STEP_MS", default_value = "1500")]
    pub sandbox_step_ms: String,

    /// Seconds between reconciliation runs, which fetch recent events from Stripe and apply any
    /// that were never delivered; 0 turns the periodic run off (the admin mutation still works).
    #[arg(
        long,
        global = true,
        env = "RECONCILE_INTERVAL_SECONDS",
        default_value = "600"
    )]
    pub reconcile_interval_seconds: String,

    /// How far back, in hours, each reconciliation run looks (Stripe keeps events 30 days).
    #[arg(
        long,
        global = true,
        env = "RECONCILE_LOOKBACK_HOURS",
        default_value = "72"
    )]
    pub reconcile_lookback_hours: String,

    /// Let clients choose the amount of `createPaymentIntent` (`amount` and `currency`) instead of
    /// pricing `lineItems` from the catalog: `true`, `false`, or `auto` (on in development, off in
    /// production, where fulfilment must not trust a client's price).
    #[arg(
        long,
        global = true,
        env = "PAYMENTS_ALLOW_CUSTOM_AMOUNT",
        default_value = "auto"
    )]
    pub payments_allow_custom_amount: String,

    /// When a payment's owner may refund it: `off`, `always`, a window in hours after the payment
    /// was paid (e.g. `72`), or `auto` (`always` in development, `off` in production). Admins
    /// always may.
    #[arg(long, global = true, env = "REFUNDS_BY_OWNER", default_value = "auto")]
    pub refunds_by_owner: String,

    /// `true` lets production run the built-in sandbox, which marks payments succeeded without
    /// charging anyone (a demo deployment). Without it, production needs STRIPE_SECRET_KEY.
    #[arg(long, global = true, env = "PAYMENTS_SANDBOX", default_value = "false")]
    pub payments_sandbox: String,

    /// Address and port of the Prometheus `/metrics` endpoint, apart from the public API.
    #[arg(
        long,
        global = true,
        env = "METRICS_ADDR",
        default_value = "127.0.0.1:9100"
    )]
    pub metrics_addr: String,

    /// Comma-separated CIDRs of reverse proxies whose `X-Forwarded-For` is believed when
    /// finding a client's address (e.g. `10.0.0.0/8`). Empty: the peer address is the client.
    #[arg(long, global = true, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Requests per minute each client address may make without signing in (0: no limit).
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_ANONYMOUS_PER_MINUTE",
        default_value = "300"
    )]
    pub rate_limit_anonymous_per_minute: String,

    /// Requests an anonymous client address may make at once before the per-minute pace applies.
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_ANONYMOUS_BURST",
        default_value = "60"
    )]
    pub rate_limit_anonymous_burst: String,

    /// Operations per minute each signed-in user may make (0: no limit).
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_USER_PER_MINUTE",
        default_value = "600"
    )]
    pub rate_limit_user_per_minute: String,

    /// Operations a signed-in user may make at once before the per-minute pace applies.
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_USER_BURST",
        default_value = "120"
    )]
    pub rate_limit_user_burst: String,

    /// startLogin, completeLogin, refreshSession, linkIdentity and login callbacks per minute
    /// per client address (0: no limit).
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_LOGIN_PER_MINUTE",
        default_value = "20"
    )]
    pub rate_limit_login_per_minute: String,

    /// Login operations a client address may make at once.
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_LOGIN_BURST",
        default_value = "10"
    )]
    pub rate_limit_login_burst: String,

    /// createPaymentIntent, createCheckoutSession and refundPayment per minute per user: each
    /// user's share of the payment provider's budget (0: no limit).
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_PAYMENTS_PER_MINUTE",
        default_value = "30"
    )]
    pub rate_limit_payments_per_minute: String,

    /// Payment mutations a user may make at once.
    #[arg(
        long,
        global = true,
        env = "RATE_LIMIT_PAYMENTS_BURST",
        default_value = "10"
    )]
    pub rate_limit_payments_burst: String,

    /// Most aliases one GraphQL document may use.
    #[arg(long, global = true, env = "GRAPHQL_MAX_ALIASES", default_value = "30")]
    pub graphql_max_aliases: String,

    /// Most fields an operation may select at its root.
    #[arg(
        long,
        global = true,
        env = "GRAPHQL_MAX_ROOT_FIELDS",
        default_value = "20"
    )]
    pub graphql_max_root_fields: String,

    /// Seconds a new WebSocket has to send `connection_init` before it is closed (4408).
    #[arg(
        long,
        global = true,
        env = "WS_INIT_TIMEOUT_SECONDS",
        default_value = "10"
    )]
    pub ws_init_timeout_seconds: String,

    /// Seconds between keepalive pings; a peer silent for two intervals is closed.
    #[arg(
        long,
        global = true,
        env = "WS_PING_INTERVAL_SECONDS",
        default_value = "30"
    )]
    pub ws_ping_interval_seconds: String,

    /// Most operations running at once on one WebSocket.
    #[arg(
        long,
        global = true,
        env = "WS_MAX_SUBSCRIPTIONS_PER_SOCKET",
        default_value = "100"
    )]
    pub ws_max_subscriptions_per_socket: String,

    /// Most WebSockets one signed-in user may hold open.
    #[arg(
        long,
        global = true,
        env = "WS_MAX_SOCKETS_PER_USER",
        default_value = "20"
    )]
    pub ws_max_sockets_per_user: String,

    /// Most WebSockets one client address may hold open.
    #[arg(
        long,
        global = true,
        env = "WS_MAX_SOCKETS_PER_IP",
        default_value = "100"
    )]
    pub ws_max_sockets_per_ip: String,

    /// Most WebSockets the server holds open in all; past it new ones are closed (1013).
    #[arg(
        long,
        global = true,
        env = "WS_MAX_CONNECTIONS",
        default_value = "20000"
    )]
    pub ws_max_connections: String,

    /// Hours that finished login attempts, spent refresh tokens and idempotency records are
    /// kept before the retention job deletes them.
    #[arg(long, global = true, env = "RETENTION_HOURS", default_value = "24")]
    pub retention_hours: String,

    /// Per-provider variables (`AUTH_<NAME>_...`), read from the environment.
    #[arg(skip)]
    pub provider_env: std::collections::BTreeMap<String, String>,

    /// A trusted-documents manifest: the JSON object of SHA-256 hash → document that
    /// graphql-codegen's client preset writes (`persistedDocuments: true`). Clients may then
    /// send the hash alone. Empty: none.
    #[arg(long, global = true, env = "TRUSTED_DOCUMENTS", default_value = "")]
    pub trusted_documents: String,

    /// Run only the documents of `TRUSTED_DOCUMENTS` and refuse the rest with
    /// `DOCUMENT_NOT_TRUSTED` (GraphiQL's own requests are exempt while GraphiQL is enabled):
    /// `true` or `false`. Recommended in production.
    #[arg(
        long,
        global = true,
        env = "TRUSTED_DOCUMENTS_ONLY",
        default_value = "false"
    )]
    pub trusted_documents_only: String,

    /// A built web app (e.g. `examples/web/dist`) to serve at `/demo`. Development only.
    #[arg(long, global = true, env = "DEMO_DIR", default_value = "")]
    pub demo_dir: String,

    /// Seconds to let in-flight requests finish on shutdown before closing them.
    #[arg(
        long,
        global = true,
        env = "SHUTDOWN_GRACE_SECONDS",
        default_value = "10"
    )]
    pub shutdown_grace_seconds: String,
}

/// Secrets (keys, webhook secrets, a database password, provider client secrets) are raw text
/// here, so `Debug` shows where the server runs and which variables were set, never a value
/// that could hold a secret.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = crate::redact::REDACTED;
        f.debug_struct("Settings")
            .field("app_env", &self.app_env)
            .field("listen_addr", &self.listen_addr)
            .field("public_url", &self.public_url)
            .field("metrics_addr", &self.metrics_addr)
            .field("database_url", &redacted)
            .field("session_signing_keys", &redacted)
            .field("stripe_secret_key", &redacted)
            .field("stripe_webhook_secrets", &redacted)
            .field(
                "provider_env",
                &self.provider_env.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The settings as they are with no environment and no flags: every default.
    pub fn defaults() -> Self {
        Cli::parse_from_defaults().settings
    }
}

impl Cli {
    /// Parses an empty command line while ignoring the environment, to obtain the defaults.
    fn parse_from_defaults() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command.get_matches_from(["switchboard"]);
        // Every argument has a default and none is required, so an empty command line always parses.
        Cli::from_arg_matches(&matches).expect("defaults always parse")
    }
}
