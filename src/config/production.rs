//! Settings that would silently weaken a deployed server are refused at start, each with one
//! line naming the variable and the fix.

use std::collections::HashSet;

use base64::Engine as _;
use secrecy::ExposeSecret;
use url::Url;

use super::{AppEnv, Config, ConfigError, ProviderKind};

/// Bytes of key material a session signing secret must decode to.
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// Checks that apply in every environment: the dev login never reaches past this machine.
pub fn check_everywhere(config: &Config) -> Result<(), ConfigError> {
    if config.auth.dev_login && !reachable_only_locally(config) {
        return Err(ConfigError::new(
            "AUTH_DEV_LOGIN",
            format!(
                "the password-less dev login would be reachable from outside this machine \
                 (LISTEN_ADDR {}, PUBLIC_URL {}); set AUTH_DEV_LOGIN=false, or keep both on 127.0.0.1",
                config.listen_addr,
                config.public_url.as_str().trim_end_matches('/')
            ),
        ));
    }
    Ok(())
}

/// Checks that apply only with `APP_ENV=production`.
pub fn check_production(config: &Config, payments_sandbox: bool) -> Result<(), ConfigError> {
    if config.app_env != AppEnv::Production {
        return Ok(());
    }
    let stripe = config.payments.stripe_secret_key.is_some();
    if !stripe && !payments_sandbox {
        return Err(ConfigError::new(
            "STRIPE_SECRET_KEY",
            "required in production: without it the sandbox marks payments succeeded without charging; \
             set it, or set PAYMENTS_SANDBOX=true for a demo deployment",
        ));
    }
    if stripe && payments_sandbox {
        return Err(ConfigError::new(
            "PAYMENTS_SANDBOX",
            "true while STRIPE_SECRET_KEY is set; remove one of them",
        ));
    }
    if stripe && config.webhooks.secrets.is_empty() {
        return Err(ConfigError::new(
            "STRIPE_WEBHOOK_SECRETS",
            "required in production with STRIPE_SECRET_KEY, or every Stripe webhook is refused; \
             set the whsec_... secret of the webhook endpoint from the Stripe dashboard",
        ));
    }
    if stripe && config.payments.stripe_publishable_key.is_none() {
        return Err(ConfigError::new(
            "STRIPE_PUBLISHABLE_KEY",
            "required in production with STRIPE_SECRET_KEY: web and mobile apps read it from              serverInfo.stripePublishableKey; set the pk_live_... key from the Stripe dashboard",
        ));
    }
    for (kid, secret) in &config.auth.sessions.signing_keys {
        if !looks_random(&key_material(secret.expose_secret())) {
            return Err(ConfigError::new(
                "SESSION_SIGNING_KEYS",
                format!(
                    "the secret of key {kid:?} is not {MIN_SIGNING_KEY_BYTES}+ random bytes; \
                     generate one with: openssl rand -base64 48"
                ),
            ));
        }
    }
    for (variable, url) in provider_urls(config) {
        if url.scheme() != "https" {
            return Err(ConfigError::new(
                variable,
                format!("{url} is not https; use the provider's https:// URL in production"),
            ));
        }
    }
    Ok(())
}

/// True when both the socket and the URL browsers use are on the loopback interface.
fn reachable_only_locally(config: &Config) -> bool {
    let url_is_local = match config.public_url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    config.listen_addr.ip().is_loopback() && url_is_local
}

/// Every outbound provider URL with the variable that sets it.
fn provider_urls(config: &Config) -> Vec<(String, &Url)> {
    let mut urls = Vec::new();
    if let Some(base) = &config.payments.stripe_api_base {
        urls.push(("STRIPE_API_BASE".to_owned(), base));
    }
    for provider in &config.auth.providers {
        let prefix = super::auth::env_prefix(&provider.name);
        match &provider.kind {
            ProviderKind::Oidc { issuer } => urls.push((format!("{prefix}ISSUER"), issuer)),
            ProviderKind::Github {
                auth_url,
                token_url,
                api_url,
            } => {
                urls.push((format!("{prefix}AUTH_URL"), auth_url));
                urls.push((format!("{prefix}TOKEN_URL"), token_url));
                urls.push((format!("{prefix}API_URL"), api_url));
            }
        }
    }
    urls
}

/// The bytes a secret stands for: hex or base64 (standard or URL-safe, padded or not) when it
/// is written that way, otherwise the text itself.
pub fn key_material(secret: &str) -> Vec<u8> {
    let secret = secret.trim();
    if secret.len().is_multiple_of(2) && secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..secret.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&secret[i..i + 2], 16).ok())
            .collect();
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|engine| engine.decode(secret).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// True when `bytes` are at least [`MIN_SIGNING_KEY_BYTES`] long and look drawn at random: the
/// byte values spread out (Shannon entropy of 4 bits per byte or more, where 32 random bytes
/// measure about 4.8 and text about 4) and no value dominates.
pub fn looks_random(bytes: &[u8]) -> bool {
    if bytes.len() < MIN_SIGNING_KEY_BYTES {
        return false;
    }
    let mut counts = [0usize; 256];
    for byte in bytes {
        counts[usize::from(*byte)] += 1;
    }
    let total = bytes.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / total;
            -p * p.log2()
        })
        .sum();
    let distinct = bytes.iter().collect::<HashSet<_>>().len();
    entropy >= 4.0 && distinct * 2 >= MIN_SIGNING_KEY_BYTES.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_pass_and_patterns_do_not() {
        let random = "q1m3Yk0vXb2l9sN8dRt7uW6eZa5cFg4hJp3oLi2kMn1bVc0xQw9zAs8dEr7tYu6i";
        assert!(looks_random(&key_material(random)));
        let hex = "8f14e45fceea167a5a36dedd4bea2543c9f0f895fb98ab9159f51fd0297e236d";
        assert!(looks_random(&key_material(hex)));
        for weak in [
            "a".repeat(32),
            "ab".repeat(32),
            "password".repeat(5),
            // 32 hex characters decode to 16 bytes only.
            "0123456789abcdef0123456789abcdef".to_owned(),
            // Base64 of 24 bytes.
            "c2hvcnQtYnV0LWJhc2U2NC1lbmNvZGVkIQ==".to_owned(),
        ] {
            assert!(!looks_random(&key_material(&weak)), "{weak}");
        }
    }
}
