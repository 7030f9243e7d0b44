//! Typed configuration, read once at start from the environment (and `.env` in development).
//!
//! [`cli::Settings`] lists every variable with its default (`switchboard --help` prints them);
//! [`Config::from_settings`] turns that text into typed values and reports the first bad one as
//! `VARIABLE: what is wrong; what to do`.

pub mod auth;
pub mod cli;
pub mod limits;
mod parse;
pub mod production;
pub mod resilience;
mod stripe_keys;
pub mod web;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use crate::graphql::GraphqlLimits;
pub use crate::origins::url_on_allowed_origin;
pub use crate::providers::resilience::PolicyConfig;
pub use crate::store::DatabaseUrl;
pub use crate::telemetry::LogFormat;

pub use crate::limits::{Cidr, Quota, RateLimits, SocketLimits};
pub use auth::{AuthConfig, ProviderConfig, ProviderKind};
pub use cli::{Cli, Command, Settings};
pub use parse::ConfigError;
pub use web::WebConfig;

use parse::{parse_bool_or_auto, parse_header_names, parse_number, parse_origin};

/// Where the process runs; production tightens defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// A developer's machine: pretty logs, GraphiQL, introspection and the dev login.
    Development,
    /// A deployed server: JSON logs, no GraphiQL or introspection unless asked for.
    Production,
}

impl AppEnv {
    /// The name used in `APP_ENV` and in `serverInfo.environment`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Production => "production",
        }
    }
}

/// Incoming webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Secrets accepted for `Stripe-Signature`.
    pub secrets: Vec<SecretString>,
    /// Allowed distance of the signed timestamp from now.
    pub tolerance_seconds: i64,
    /// Attempts before an event is dead.
    pub max_attempts: i32,
    /// Sweep interval of the inbox.
    pub sweep_interval: Duration,
    /// Reconciliation interval; `None` when off.
    pub reconcile_interval: Option<Duration>,
    /// How far back reconciliation looks.
    pub reconcile_lookback: Duration,
}

/// Payment settings.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// Stripe secret key; `None` selects the sandbox.
    pub stripe_secret_key: Option<SecretString>,
    /// Stripe API base URL override.
    pub stripe_api_base: Option<Url>,
    /// Stripe publishable key, for clients; same mode (test/live) as the secret key.
    pub stripe_publishable_key: Option<String>,
    /// Time between the sandbox provider's steps.
    pub sandbox_step: Duration,
    /// How long the price catalog is fresh.
    pub catalog_ttl: Duration,
}

/// The validated configuration of one server process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Development or production.
    pub app_env: AppEnv,
    /// Where to bind; port 0 picks a free port (tests do this).
    pub listen_addr: SocketAddr,
    /// Where `/metrics` is served, apart from the public API.
    pub metrics_addr: SocketAddr,
    /// The externally visible base URL, without a trailing slash.
    pub public_url: Url,
    /// The database to use.
    pub database_url: DatabaseUrl,
    /// Pool size.
    pub database_max_connections: u32,
    /// Origins allowed for CORS and redirects (always includes the public URL's origin).
    pub allowed_origins: Vec<String>,
    /// Extra request headers allowed cross-origin (lower case), from `CORS_ALLOWED_HEADERS`.
    pub cors_allowed_headers: Vec<String>,
    /// Log filter directive.
    pub log_level: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// Request body limit in bytes.
    pub http_max_body_bytes: usize,
    /// GraphQL limits.
    pub graphql: GraphqlLimits,
    /// How long shutdown waits for in-flight work.
    pub shutdown_grace: Duration,
    /// Login providers and sessions.
    pub auth: AuthConfig,
    /// Incoming webhooks.
    pub webhooks: WebhookConfig,
    /// Payments.
    pub payments: PaymentsConfig,
    /// Inbound request rates and trusted proxies.
    pub rate_limits: RateLimits,
    /// WebSocket caps.
    pub sockets: SocketLimits,
    /// How long finished login attempts, spent refresh tokens and idempotency records are kept.
    pub retention: Duration,
    /// Resilience policy per provider name (every identity provider; payments add theirs).
    pub policies: std::collections::BTreeMap<String, PolicyConfig>,
    /// Trusted documents and the demo web app.
    pub web: WebConfig,
}

impl Config {
    /// Reads `.env` (if present), the environment and the command line.
    ///
    /// Returns the parsed command line too, since the subcommand decides what to do next.
    pub fn load() -> Result<(Command, Config), ConfigError> {
        let (command, config) = Config::load_command();
        Ok((command, config?))
    }

    /// Like [`Config::load`], but names the command even when the configuration is wrong
    /// (`doctor` reports that as a check).
    pub fn load_command() -> (Command, Result<Config, ConfigError>) {
        // A missing .env is normal; real environment variables always win over it.
        let _ = dotenvy::dotenv();
        let mut cli = <Cli as clap::Parser>::parse();
        cli.settings.provider_env = std::env::vars()
            .filter(|(k, _)| k.starts_with("AUTH_") || k.starts_with("PROVIDER_"))
            .collect();
        let config = Config::from_settings(cli.settings);
        (cli.command.unwrap_or(Command::Serve), config)
    }

    /// Validates raw settings; the error names the first variable that is wrong.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let app_env = match s.app_env.as_str() {
            "development" => AppEnv::Development,
            "production" => AppEnv::Production,
            other => {
                return Err(ConfigError::new(
                    "APP_ENV",
                    format!("unknown environment {other:?}; use development or production"),
                ));
            }
        };
        let dev = app_env == AppEnv::Development;
        let public_url = parse_public_url(&s.public_url)?;
        let mut allowed_origins = vec![public_url.origin().ascii_serialization()];
        for origin in s.allowed_origins.split(',').map(str::trim) {
            if !origin.is_empty() {
                let origin = parse_origin("ALLOWED_ORIGINS", origin)?;
                if !allowed_origins.contains(&origin) {
                    allowed_origins.push(origin);
                }
            }
        }
        let auth = auth::parse(&s, app_env)?;
        let mut policies = std::collections::BTreeMap::new();
        for provider in ["stripe", "sandbox"] {
            policies.insert(
                provider.to_owned(),
                resilience::policy_for(provider, &s.provider_env)?,
            );
        }
        for provider in &auth.providers {
            policies.insert(
                provider.name.clone(),
                resilience::policy_for(&provider.name, &s.provider_env)?,
            );
        }
        let webhooks = WebhookConfig {
            secrets: s
                .stripe_webhook_secrets
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .collect(),
            tolerance_seconds: parse_number(
                "WEBHOOK_TOLERANCE_SECONDS",
                &s.webhook_tolerance_seconds,
                1..=86_400,
            )?,
            max_attempts: parse_number("WEBHOOK_MAX_ATTEMPTS", &s.webhook_max_attempts, 1..=100)?,
            reconcile_interval: match parse_number(
                "RECONCILE_INTERVAL_SECONDS",
                &s.reconcile_interval_seconds,
                0..=86_400,
            )? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            reconcile_lookback: Duration::from_secs(
                3600 * parse_number::<u64>(
                    "RECONCILE_LOOKBACK_HOURS",
                    &s.reconcile_lookback_hours,
                    1..=720,
                )?,
            ),
            sweep_interval: Duration::from_secs(parse_number(
                "WEBHOOK_SWEEP_SECONDS",
                &s.webhook_sweep_seconds,
                1..=3600,
            )?),
        };
        let stripe_secret_key = Some(s.stripe_secret_key.trim()).filter(|k| !k.is_empty());
        if let Some(key) = stripe_secret_key
            && !(key.starts_with("sk_") || key.starts_with("rk_"))
        {
            return Err(ConfigError::new(
                "STRIPE_SECRET_KEY",
                "not a Stripe secret key; use the sk_test_... or sk_live_... key from the Stripe dashboard",
            ));
        }
        let stripe_api_base = match s.stripe_api_base.trim() {
            "" => None,
            raw => Some(Url::parse(raw).map_err(|e| {
                ConfigError::new("STRIPE_API_BASE", format!("{raw:?} is not a URL ({e})"))
            })?),
        };
        let stripe_publishable_key =
            stripe_keys::publishable_key(&s.stripe_publishable_key, stripe_secret_key)?;
        let payments = PaymentsConfig {
            stripe_secret_key: stripe_secret_key.map(SecretString::from),
            stripe_api_base,
            stripe_publishable_key,
            catalog_ttl: Duration::from_secs(parse_number(
                "CATALOG_TTL_SECONDS",
                &s.catalog_ttl_seconds,
                0..=86_400,
            )?),
            sandbox_step: Duration::from_millis(parse_number(
                "SANDBOX_STEP_MS",
                &s.sandbox_step_ms,
                1..=600_000,
            )?),
        };
        let payments_sandbox = parse_bool_or_auto("PAYMENTS_SANDBOX", &s.payments_sandbox, false)?;
        let config = Config {
            metrics_addr: parse_address("METRICS_ADDR", &s.metrics_addr)?,
            rate_limits: limits::parse_rate_limits(&s)?,
            sockets: limits::parse_socket_limits(&s)?,
            retention: Duration::from_secs(
                3600 * parse_number::<u64>("RETENTION_HOURS", &s.retention_hours, 1..=8760)?,
            ),
            payments,
            webhooks,
            auth,
            policies,
            web: web::parse(&s, app_env)?,
            app_env,
            listen_addr: parse_address("LISTEN_ADDR", &s.listen_addr)?,
            public_url,
            database_url: parse_database_url(&s.database_url)?,
            database_max_connections: parse_number(
                "DATABASE_MAX_CONNECTIONS",
                &s.database_max_connections,
                1..=1000,
            )?,
            allowed_origins,
            cors_allowed_headers: parse_header_names(
                "CORS_ALLOWED_HEADERS",
                &s.cors_allowed_headers,
            )?,
            log_level: parse_log_level(&s.log_level)?,
            log_format: match s.log_format.as_str() {
                "auto" if dev => LogFormat::Pretty,
                "auto" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::new(
                        "LOG_FORMAT",
                        format!("unknown format {other:?}; use auto, pretty or json"),
                    ));
                }
            },
            http_max_body_bytes: parse_number(
                "HTTP_MAX_BODY_BYTES",
                &s.http_max_body_bytes,
                1024..=64 * 1024 * 1024,
            )?,
            graphql: GraphqlLimits {
                max_depth: parse_number("GRAPHQL_MAX_DEPTH", &s.graphql_max_depth, 2..=100)?,
                max_complexity: parse_number(
                    "GRAPHQL_MAX_COMPLEXITY",
                    &s.graphql_max_complexity,
                    10..=1_000_000,
                )?,
                introspection: parse_bool_or_auto(
                    "GRAPHQL_INTROSPECTION",
                    &s.graphql_introspection,
                    dev,
                )?,
                graphiql: parse_bool_or_auto("GRAPHIQL", &s.graphiql, dev)?,
                max_aliases: parse_number("GRAPHQL_MAX_ALIASES", &s.graphql_max_aliases, 0..=1000)?,
                max_root_fields: parse_number(
                    "GRAPHQL_MAX_ROOT_FIELDS",
                    &s.graphql_max_root_fields,
                    1..=1000,
                )?,
            },
            shutdown_grace: Duration::from_secs(parse_number(
                "SHUTDOWN_GRACE_SECONDS",
                &s.shutdown_grace_seconds,
                0..=3600,
            )?),
        };
        production::check_everywhere(&config)?;
        web::check(&config)?;
        production::check_production(&config, payments_sandbox)?;
        Ok(config)
    }

    /// The login and session service's settings.
    pub fn auth_settings(&self) -> crate::auth::AuthSettings {
        crate::auth::AuthSettings {
            public_url: self.public_url.clone(),
            local_http: self.is_local_http(),
            allowed_origins: self.allowed_origins.clone(),
            sessions: self.auth.sessions.clone(),
        }
    }

    /// The resilience policy of the provider called `name` (the defaults for an unknown name).
    pub fn policy(&self, name: &str) -> PolicyConfig {
        self.policies.get(name).cloned().unwrap_or_default()
    }

    /// True when a browser reaches the server over plain HTTP on the local machine, where
    /// `Secure` cookies would not be stored.
    pub fn is_local_http(&self) -> bool {
        self.public_url.scheme() == "http"
            && matches!(
                self.public_url.host_str(),
                Some("localhost" | "127.0.0.1" | "[::1]")
            )
    }
}

fn parse_address(variable: &str, raw: &str) -> Result<SocketAddr, ConfigError> {
    raw.trim().parse().map_err(|_| {
        ConfigError::new(
            variable,
            format!("{raw:?} is not an address; use HOST:PORT, e.g. 127.0.0.1:8000"),
        )
    })
}

fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| {
        ConfigError::new(
            "PUBLIC_URL",
            format!("{raw:?} is not a URL ({e}); use e.g. https://api.example.com"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            format!("{raw:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

fn parse_database_url(raw: &str) -> Result<DatabaseUrl, ConfigError> {
    let scheme = raw.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("sqlite") => Ok(DatabaseUrl::Sqlite(raw.into())),
        Some("postgres" | "postgresql") => Ok(DatabaseUrl::Postgres(raw.into())),
        Some(other) => Err(ConfigError::new(
            "DATABASE_URL",
            format!("unsupported scheme {other:?}; use sqlite://... or postgres://..."),
        )),
        None => Err(ConfigError::new(
            "DATABASE_URL",
            "missing scheme; use sqlite://FILE or postgres://USER@HOST/DB",
        )),
    }
}

fn parse_log_level(raw: &str) -> Result<String, ConfigError> {
    tracing_subscriber::EnvFilter::try_new(raw).map_err(|e| {
        ConfigError::new(
            "LOG_LEVEL",
            format!("{raw:?} is not a log filter ({e}); use e.g. info or switchboard=debug"),
        )
    })?;
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Settings)) -> Result<Config, ConfigError> {
        let mut settings = Settings::defaults();
        f(&mut settings);
        Config::from_settings(settings)
    }

    #[test]
    fn defaults_are_valid_and_local() {
        let config = with(|_| {}).expect("defaults validate");
        assert_eq!(config.app_env, AppEnv::Development);
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(config.database_url.backend(), "sqlite");
        assert_eq!(config.allowed_origins, vec!["http://127.0.0.1:8000"]);
        assert!(config.graphql.graphiql && config.graphql.introspection);
        assert!(config.is_local_http());
    }

    /// A signing secret as `openssl rand -base64 48` prints it.
    const RANDOM_SECRET: &str = "r8Jx0vQ2mZ7pLk4tN1sW9yB6cH3fD5gA0eU8iO2qT7wE4rY6uI1oP3aS5dF7gH9j";

    fn production(s: &mut Settings) {
        s.app_env = "production".into();
        s.session_signing_keys = format!("k1:{RANDOM_SECRET}");
        s.payments_sandbox = "true".into();
    }

    fn production_with_stripe(s: &mut Settings) {
        production(s);
        s.payments_sandbox = "false".into();
        s.stripe_secret_key = "sk_live_x".into();
        s.stripe_webhook_secrets = "whsec_x".into();
        s.stripe_publishable_key = "pk_live_x".into();
    }

    #[test]
    fn production_refuses_each_unsafe_setting_in_one_line() {
        type Change = fn(&mut Settings);
        let cases: [(&str, Change); 12] = [
            ("STRIPE_SECRET_KEY: required in production", |s| {
                production(s);
                s.payments_sandbox = "false".into();
            }),
            ("STRIPE_PUBLISHABLE_KEY: required in production", |s| {
                production_with_stripe(s);
                s.stripe_publishable_key = String::new();
            }),
            (
                "STRIPE_PUBLISHABLE_KEY: a test key while STRIPE_SECRET_KEY is a live key",
                |s| {
                    production_with_stripe(s);
                    s.stripe_publishable_key = "pk_test_x".into();
                },
            ),
            ("STRIPE_WEBHOOK_SECRETS: required in production", |s| {
                production_with_stripe(s);
                s.stripe_webhook_secrets = String::new();
            }),
            ("PAYMENTS_SANDBOX:", |s| {
                production_with_stripe(s);
                s.payments_sandbox = "true".into();
            }),
            (
                "SESSION_SIGNING_KEYS: the secret of key \"k1\" is not 32+ random bytes",
                |s| {
                    production(s);
                    s.session_signing_keys = format!("k1:{}", "a".repeat(32));
                },
            ),
            ("SESSION_SIGNING_KEYS: the secret of key \"old\"", |s| {
                production(s);
                // Hex that decodes to 16 bytes only.
                s.session_signing_keys =
                    format!("k1:{RANDOM_SECRET},old:0123456789abcdef0123456789abcdef");
            }),
            (
                "STRIPE_API_BASE: http://stripe.internal/ is not https",
                |s| {
                    production_with_stripe(s);
                    s.stripe_api_base = "http://stripe.internal/".into();
                },
            ),
            ("AUTH_CORP_ISSUER: http://idp.example/ is not https", |s| {
                production(s);
                s.auth_providers = "corp".into();
                for (k, v) in [
                    ("AUTH_CORP_KIND", "oidc"),
                    ("AUTH_CORP_ISSUER", "http://idp.example"),
                    ("AUTH_CORP_CLIENT_ID", "id"),
                    ("AUTH_CORP_CLIENT_SECRET", "secret"),
                ] {
                    s.provider_env.insert(k.into(), v.into());
                }
            }),
            (
                "AUTH_GH_TOKEN_URL: http://ghe.example/token is not https",
                |s| {
                    production(s);
                    s.auth_providers = "gh".into();
                    for (k, v) in [
                        ("AUTH_GH_KIND", "github"),
                        ("AUTH_GH_TOKEN_URL", "http://ghe.example/token"),
                        ("AUTH_GH_CLIENT_ID", "id"),
                        ("AUTH_GH_CLIENT_SECRET", "secret"),
                    ] {
                        s.provider_env.insert(k.into(), v.into());
                    }
                },
            ),
            // APP_ENV unset is development, where the dev login is on: not on a public address.
            (
                "AUTH_DEV_LOGIN: the password-less dev login would be reachable",
                |s| {
                    s.listen_addr = "0.0.0.0:8000".into();
                },
            ),
            (
                "AUTH_DEV_LOGIN: the password-less dev login would be reachable",
                |s| {
                    s.public_url = "https://api.example.com".into();
                },
            ),
        ];
        for (expected, change) in cases {
            let err = with(change).expect_err(expected).to_string();
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn safe_deployments_still_start() {
        with(production_with_stripe).expect("stripe with webhook secrets");
        with(production).expect("an explicit sandbox demo");
        let config = with(|s| {
            s.listen_addr = "0.0.0.0:8000".into();
            s.public_url = "https://api.example.com".into();
            s.auth_dev_login = "false".into();
        })
        .expect("development on a public address without the dev login");
        assert!(!config.auth.dev_login);
        let config = with(|s| s.public_url = "http://localhost:8000".into()).unwrap();
        assert!(config.auth.dev_login, "localhost keeps the dev login");
    }

    #[test]
    fn production_turns_off_explorer_and_dev_login_unless_asked() {
        let config = with(production).unwrap();
        assert!(!config.graphql.graphiql && !config.graphql.introspection);
        assert!(!config.auth.dev_login);
        assert_eq!(config.log_format, LogFormat::Json);
        let config = with(|s| {
            production(s);
            s.graphql_introspection = "true".into();
        })
        .unwrap();
        assert!(config.graphql.introspection);
    }

    #[test]
    fn bad_values_name_their_variable() {
        type Change = fn(&mut Settings);
        let cases: [(&str, Change); 9] = [
            ("AUTH_DEV_LOGIN:", |s| {
                production(s);
                s.auth_dev_login = "true".into();
            }),
            ("SESSION_SIGNING_KEYS:", |s| {
                s.app_env = "production".into();
                s.auth_dev_login = "false".into();
            }),
            ("AUTH_CORP_ISSUER: required", |s| {
                s.auth_providers = "corp".into();
                s.provider_env
                    .insert("AUTH_CORP_KIND".into(), "oidc".into());
            }),
            ("DATABASE_URL: unsupported scheme \"mysql\"", |s| {
                s.database_url = "mysql://x".into()
            }),
            ("APP_ENV:", |s| s.app_env = "staging".into()),
            ("LISTEN_ADDR:", |s| s.listen_addr = "localhost".into()),
            ("GRAPHQL_MAX_DEPTH:", |s| s.graphql_max_depth = "0".into()),
            ("ALLOWED_ORIGINS:", |s| {
                s.allowed_origins = "https://a.example/path".into()
            }),
            ("PUBLIC_URL:", |s| s.public_url = "ftp://x".into()),
        ];
        for (expected, change) in cases {
            let err = with(change).expect_err(expected).to_string();
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn database_password_is_not_in_debug_output() {
        let config = with(|s| s.database_url = "postgres://u:hunter2@db/app".into()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn extra_origins_are_normalised_and_deduplicated() {
        let config =
            with(|s| s.allowed_origins = "https://app.example.com, http://127.0.0.1:8000,".into())
                .unwrap();
        assert_eq!(
            config.allowed_origins,
            vec!["http://127.0.0.1:8000", "https://app.example.com"]
        );
    }
}
