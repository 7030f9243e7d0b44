//! `switchboard doctor`: checks a configuration the way an operator would before going live.
//! Each check prints one line, `ok`, `warn` or `fail`, naming what it looked at; the command
//! exits non-zero when any check fails. It reads and changes nothing but what a read needs.

mod endpoint;
mod remote;

use std::fmt;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::{AppEnv, Config, ConfigError, DatabaseUrl, ProviderKind};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// As it should be.
    Ok,
    /// Works, but an operator should look.
    Warn,
    /// Would break in production.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked, e.g. `database`.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// What was found, naming the setting to fix.
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        };
        write!(f, "{status:<4} {}: {}", self.name, self.detail)
    }
}

/// Clock offsets from a provider's `Date` header past these warn and fail. Webhook signatures
/// and tokens tolerate minutes; a few seconds already shows a clock that is not synchronised.
const CLOCK_WARN: Duration = Duration::from_secs(5);
const CLOCK_FAIL: Duration = Duration::from_secs(60);

/// Runs every check on `config` (or reports why it did not parse).
pub async fn run(config: Result<Config, ConfigError>) -> Vec<Check> {
    let config = match config {
        Ok(config) => config,
        Err(err) => return vec![Check::new("config", Status::Fail, err.to_string())],
    };
    let env = match config.app_env {
        AppEnv::Production => "production",
        AppEnv::Development => "development",
    };
    let mut checks = vec![Check::new(
        "config",
        Status::Ok,
        format!("parses (APP_ENV={env})"),
    )];
    checks.push(public_url(&config));
    checks.push(database(&config).await);
    let http = remote::client();
    let (stripe, mut clock) = stripe_key(&config, &http).await;
    let key_accepted = stripe.status != Status::Fail;
    checks.push(stripe);
    if key_accepted && let Some(key) = &config.payments.stripe_secret_key {
        let url = config
            .public_url
            .join("/webhooks/stripe")
            .map_or_else(|_| config.public_url.to_string(), |url| url.to_string());
        checks.push(endpoint::check(&http, &stripe_base(&config), key.expose_secret(), &url).await);
    }
    checks.push(webhook_secret(&config));
    for provider in &config.auth.providers {
        if let ProviderKind::Oidc { issuer } = &provider.kind {
            let (check, date) = remote::discovery(&http, &provider.name, issuer).await;
            checks.push(check);
            clock = clock.or(date);
        }
    }
    checks.push(clock_check(clock));
    checks
}

/// True when any check failed.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

fn public_url(config: &Config) -> Check {
    let url = &config.public_url;
    match (url.scheme(), config.app_env) {
        ("https", _) => Check::new("public url", Status::Ok, format!("{url} is https")),
        (_, AppEnv::Production) => Check::new(
            "public url",
            Status::Fail,
            format!("PUBLIC_URL {url} is not https in production; serve it over TLS"),
        ),
        _ => Check::new(
            "public url",
            Status::Warn,
            format!("PUBLIC_URL {url} is not https (fine in development only)"),
        ),
    }
}

/// The file of a SQLite URL that does not exist yet (opening it would create it).
fn missing_sqlite_file(url: &DatabaseUrl) -> Option<std::path::PathBuf> {
    let DatabaseUrl::Sqlite(url) = url else {
        return None;
    };
    let options: sqlx::sqlite::SqliteConnectOptions = url.expose_secret().parse().ok()?;
    let file = options.get_filename();
    (file.as_os_str() != ":memory:" && !file.exists()).then(|| file.to_path_buf())
}

async fn database(config: &Config) -> Check {
    let url = &config.database_url;
    if let Some(file) = missing_sqlite_file(url) {
        return Check::new(
            "database",
            Status::Fail,
            format!(
                "DATABASE_URL: {} does not exist; `switchboard migrate` creates it",
                file.display()
            ),
        );
    }
    let connected =
        tokio::time::timeout(Duration::from_secs(10), crate::store::connect(url, 1)).await;
    let store = match connected {
        Ok(Ok(store)) => store,
        Ok(Err(err)) => {
            return Check::new(
                "database",
                Status::Fail,
                format!(
                    "DATABASE_URL: cannot open the {} database: {err}",
                    url.backend()
                ),
            );
        }
        Err(_) => {
            return Check::new(
                "database",
                Status::Fail,
                format!(
                    "DATABASE_URL: the {} database did not answer within 10 s",
                    url.backend()
                ),
            );
        }
    };
    let check = match store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => Check::new(
            "database",
            Status::Ok,
            format!("{} reachable, migrations current", url.backend()),
        ),
        Ok(pending) => Check::new(
            "database",
            Status::Fail,
            format!(
                "{} migrations not applied ({}); run `switchboard migrate`",
                pending.len(),
                pending.join(", ")
            ),
        ),
        Err(err) => Check::new(
            "database",
            Status::Fail,
            format!("cannot read the migrations: {err}"),
        ),
    };
    store.close().await;
    check
}

/// Validates the Stripe key with a cheap read; also returns Stripe's `Date` for the clock check.
async fn stripe_key(
    config: &Config,
    http: &reqwest::Client,
) -> (Check, Option<chrono::DateTime<chrono::Utc>>) {
    let Some(key) = &config.payments.stripe_secret_key else {
        return (
            Check::new(
                "stripe",
                Status::Warn,
                "no STRIPE_SECRET_KEY: payments use the sandbox, nothing is charged",
            ),
            None,
        );
    };
    let key = key.expose_secret();
    let live = key.starts_with("sk_live_") || key.starts_with("rk_live_");
    let (answer, date) = remote::stripe_balance(http, &stripe_base(config), key).await;
    (key_verdict(answer, live, config.app_env), date)
}

/// Stripe's API base URL, without a trailing slash.
fn stripe_base(config: &Config) -> String {
    config
        .payments
        .stripe_api_base
        .as_ref()
        .map_or("https://api.stripe.com".to_owned(), |u| {
            u.as_str().trim_end_matches('/').to_owned()
        })
}

/// Whether Stripe accepted the key, and whether it is the kind of key `env` expects.
fn key_verdict(answer: Result<(), String>, live: bool, env: AppEnv) -> Check {
    match (answer, live, env) {
        (Err(problem), _, _) => Check::new("stripe", Status::Fail, problem),
        (Ok(()), false, AppEnv::Production) => Check::new(
            "stripe",
            Status::Fail,
            "STRIPE_SECRET_KEY is a test key in production: nothing would be charged; use the live key",
        ),
        (Ok(()), true, AppEnv::Development) => Check::new(
            "stripe",
            Status::Warn,
            "STRIPE_SECRET_KEY is a live key in development: real cards would be charged",
        ),
        (Ok(()), live, _) => Check::new(
            "stripe",
            Status::Ok,
            format!("the {} key is accepted", if live { "live" } else { "test" }),
        ),
    }
}

fn webhook_secret(config: &Config) -> Check {
    let stripe = config.payments.stripe_secret_key.is_some();
    match (config.webhooks.secrets.len(), stripe) {
        (0, true) => Check::new(
            "webhook secret",
            Status::Fail,
            "STRIPE_WEBHOOK_SECRETS is empty: every Stripe webhook would be refused; set the endpoint's whsec_... secret",
        ),
        (0, false) => Check::new("webhook secret", Status::Ok, "not needed by the sandbox"),
        (n, _) => Check::new("webhook secret", Status::Ok, format!("{n} secret(s) set")),
    }
}

fn clock_check(provider_date: Option<chrono::DateTime<chrono::Utc>>) -> Check {
    let Some(date) = provider_date else {
        return Check::new(
            "clock",
            Status::Warn,
            "no provider answered with a Date header to compare with",
        );
    };
    let offset = (chrono::Utc::now() - date)
        .abs()
        .to_std()
        .unwrap_or_default();
    // The Date header has whole seconds: a second of offset is rounding.
    let shown = format!("{} s off a provider's clock", offset.as_secs());
    if offset > CLOCK_FAIL {
        Check::new(
            "clock",
            Status::Fail,
            format!("{shown}: webhook signatures and tokens will be refused; synchronise it (NTP)"),
        )
    } else if offset > CLOCK_WARN {
        Check::new(
            "clock",
            Status::Warn,
            format!("{shown}; synchronise it (NTP)"),
        )
    } else {
        Check::new("clock", Status::Ok, format!("in step ({shown})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_must_be_live_in_production_and_test_in_development() {
        let verdict = |live, env| key_verdict(Ok(()), live, env).status;
        assert_eq!(verdict(false, AppEnv::Production), Status::Fail);
        assert_eq!(verdict(true, AppEnv::Production), Status::Ok);
        assert_eq!(verdict(true, AppEnv::Development), Status::Warn);
        assert_eq!(verdict(false, AppEnv::Development), Status::Ok);
        let refused = key_verdict(Err("refused".into()), true, AppEnv::Production);
        assert_eq!(refused.status, Status::Fail);
    }

    #[test]
    fn a_clock_off_by_a_minute_fails() {
        let ago = |s| Some(chrono::Utc::now() - chrono::Duration::seconds(s));
        assert_eq!(clock_check(ago(1)).status, Status::Ok);
        assert_eq!(clock_check(ago(20)).status, Status::Warn);
        assert_eq!(clock_check(ago(-120)).status, Status::Fail);
        assert_eq!(clock_check(None).status, Status::Warn);
    }
}
