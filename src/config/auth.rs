//! Login providers and session settings.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::parse::{parse_bool_or_auto, parse_number};
use super::{AppEnv, ConfigError, Settings};
use crate::auth::SessionSettings;
pub use crate::providers::identity::{DEV_PROVIDER, ProviderConfig, ProviderKind};

/// Everything about signing in and sessions.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// External providers, in the configured order.
    pub providers: Vec<ProviderConfig>,
    /// Whether the keyless `dev` provider is offered.
    pub dev_login: bool,
    /// Signing keys, lifetimes and admins of the login and session service.
    pub sessions: SessionSettings,
}

/// Reads the auth settings.
pub fn parse(s: &Settings, app_env: AppEnv) -> Result<AuthConfig, ConfigError> {
    let production = app_env == AppEnv::Production;
    let dev_login = parse_bool_or_auto("AUTH_DEV_LOGIN", &s.auth_dev_login, !production)?;
    if dev_login && production {
        return Err(ConfigError::new(
            "AUTH_DEV_LOGIN",
            "the dev login signs anyone in without a password and is refused in production; set it to false",
        ));
    }
    let signing_keys = parse_signing_keys(&s.session_signing_keys)?;
    if signing_keys.is_empty() && production {
        return Err(ConfigError::new(
            "SESSION_SIGNING_KEYS",
            "required in production; set KID:SECRET with a random secret of 32+ characters",
        ));
    }
    let mut providers = Vec::new();
    for name in s
        .auth_providers
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if providers.iter().any(|p: &ProviderConfig| p.name == name) {
            return Err(ConfigError::new(
                "AUTH_PROVIDERS",
                format!("{name:?} is listed twice"),
            ));
        }
        providers.push(parse_provider(name, &s.provider_env)?);
    }
    let mut admin_identities = Vec::new();
    for entry in s
        .admin_identities
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (provider, subject) = entry
            .split_once(':')
            .filter(|(p, s)| !p.is_empty() && !s.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "ADMIN_IDENTITIES",
                    format!("{entry:?} is not PROVIDER:SUBJECT, e.g. google:1234567890"),
                )
            })?;
        admin_identities.push((provider.to_owned(), subject.to_owned()));
    }
    let sessions = SessionSettings {
        admin_identities,
        signing_keys,
        access_token_ttl: seconds(
            "ACCESS_TOKEN_TTL_SECONDS",
            &s.access_token_ttl_seconds,
            30..=86_400,
        )?,
        session_ttl: seconds(
            "SESSION_TTL_SECONDS",
            &s.session_ttl_seconds,
            300..=31_536_000,
        )?,
        login_ttl: seconds("LOGIN_TTL_SECONDS", &s.login_ttl_seconds, 30..=3_600)?,
        refresh_grace: seconds("REFRESH_GRACE_SECONDS", &s.refresh_grace_seconds, 0..=60)?,
    };
    Ok(AuthConfig {
        providers,
        dev_login,
        sessions,
    })
}

fn seconds(
    variable: &'static str,
    raw: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    parse_number(variable, raw, range).map(Duration::from_secs)
}

fn parse_signing_keys(raw: &str) -> Result<Vec<(String, SecretString)>, ConfigError> {
    let mut keys: Vec<(String, SecretString)> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((kid, secret)) = entry.split_once(':') else {
            return Err(ConfigError::new(
                "SESSION_SIGNING_KEYS",
                "each key must be KID:SECRET, e.g. 2026-11:<32+ random characters>",
            ));
        };
        let kid = kid.trim();
        if kid.is_empty()
            || !kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ConfigError::new(
                "SESSION_SIGNING_KEYS",
                format!("key id {kid:?} must be letters, digits, '-', '_' or '.'"),
            ));
        }
        if secret.len() < 32 {
            return Err(ConfigError::new(
                "SESSION_SIGNING_KEYS",
                format!("the secret of key {kid:?} is shorter than 32 characters"),
            ));
        }
        if keys.iter().any(|(k, _)| k == kid) {
            return Err(ConfigError::new(
                "SESSION_SIGNING_KEYS",
                format!("key id {kid:?} is used twice"),
            ));
        }
        keys.push((kid.to_owned(), secret.into()));
    }
    Ok(keys)
}

/// The environment variable prefix of a provider, e.g. `AUTH_MY_IDP_`.
pub fn env_prefix(name: &str) -> String {
    format!("AUTH_{}_", name.to_ascii_uppercase().replace('-', "_"))
}

fn parse_provider(
    name: &str,
    env: &BTreeMap<String, String>,
) -> Result<ProviderConfig, ConfigError> {
    if name == DEV_PROVIDER
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(ConfigError::new(
            "AUTH_PROVIDERS",
            format!(
                "{name:?} is not a usable provider name; use lower-case letters, digits, '-' or '_' (and not \"dev\")"
            ),
        ));
    }
    let prefix = env_prefix(name);
    let var = |suffix: &str| format!("{prefix}{suffix}");
    let get = |suffix: &str| {
        env.get(&format!("{prefix}{suffix}"))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let required = |suffix: &str| {
        get(suffix)
            .ok_or_else(|| ConfigError::new(var(suffix), format!("required for provider {name:?}")))
    };
    let url = |suffix: &str, default: &str| -> Result<Url, ConfigError> {
        let raw = get(suffix).unwrap_or_else(|| default.to_owned());
        Url::parse(&raw)
            .map_err(|e| ConfigError::new(var(suffix), format!("{raw:?} is not a URL ({e})")))
    };
    let kind_name = required("KIND")?;
    let (kind, default_scopes) = match kind_name.as_str() {
        "oidc" => (
            ProviderKind::Oidc {
                issuer: url("ISSUER", &required("ISSUER")?)?,
            },
            "openid email profile",
        ),
        "google" => (
            ProviderKind::Oidc {
                issuer: url("ISSUER", "https://accounts.google.com")?,
            },
            "openid email profile",
        ),
        "github" => (
            ProviderKind::Github {
                auth_url: url("AUTH_URL", "https://github.com/login/oauth/authorize")?,
                token_url: url("TOKEN_URL", "https://github.com/login/oauth/access_token")?,
                api_url: url("API_URL", "https://api.github.com")?,
            },
            "read:user user:email",
        ),
        other => {
            return Err(ConfigError::new(
                var("KIND"),
                format!("unknown kind {other:?}; use oidc, google or github"),
            ));
        }
    };
    Ok(ProviderConfig {
        name: name.to_owned(),
        display_name: get("DISPLAY_NAME").unwrap_or_else(|| name.to_owned()),
        kind,
        client_id: required("CLIENT_ID")?,
        client_secret: required("CLIENT_SECRET")?.into(),
        scopes: get("SCOPES")
            .unwrap_or_else(|| default_scopes.to_owned())
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        trust_email: parse_bool_or_auto(
            &var("TRUST_EMAIL"),
            &get("TRUST_EMAIL").unwrap_or_else(|| "false".into()),
            false,
        )?,
    })
}
