//! Checks of the Stripe keys that go together.

use super::ConfigError;

/// `STRIPE_PUBLISHABLE_KEY`, checked against the secret key: a publishable key, in the same
/// mode (test or live) as `STRIPE_SECRET_KEY`, so a live app never talks to a test account or
/// the other way round. Empty is `None`.
pub(super) fn publishable_key(
    raw: &str,
    secret_key: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    let Some(live) = mode(key, "pk_") else {
        return Err(ConfigError::new(
            "STRIPE_PUBLISHABLE_KEY",
            "not a Stripe publishable key; use the pk_test_... or pk_live_... key from the Stripe dashboard",
        ));
    };
    // Restricted keys (rk_) have modes too; a secret key of no known mode is left alone.
    let secret_live = secret_key.and_then(|k| mode(k, "sk_").or_else(|| mode(k, "rk_")));
    if let Some(secret_live) = secret_live
        && secret_live != live
    {
        let name = |live| if live { "live" } else { "test" };
        return Err(ConfigError::new(
            "STRIPE_PUBLISHABLE_KEY",
            format!(
                "a {} key while STRIPE_SECRET_KEY is a {} key; use the two keys of the same mode \
                 from the Stripe dashboard",
                name(live),
                name(secret_live)
            ),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// `Some(true)` for `{prefix}live_...`, `Some(false)` for `{prefix}test_...`.
fn mode(key: &str, prefix: &str) -> Option<bool> {
    let rest = key.strip_prefix(prefix)?;
    if rest.starts_with("live_") {
        Some(true)
    } else if rest.starts_with("test_") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishable_keys_must_match_the_secret_key_mode() {
        assert_eq!(publishable_key("", Some("sk_live_x")).unwrap(), None);
        assert_eq!(
            publishable_key(" pk_test_abc ", Some("sk_test_x")).unwrap(),
            Some("pk_test_abc".into())
        );
        assert!(publishable_key("pk_live_abc", Some("rk_live_x")).is_ok());
        assert!(publishable_key("pk_test_abc", None).is_ok());
        for (key, secret, expected) in [
            ("sk_test_abc", None, "not a Stripe publishable key"),
            ("pk_abc", None, "not a Stripe publishable key"),
            (
                "pk_live_abc",
                Some("sk_test_x"),
                "a live key while STRIPE_SECRET_KEY is a test key",
            ),
            (
                "pk_test_abc",
                Some("sk_live_x"),
                "a test key while STRIPE_SECRET_KEY is a live key",
            ),
            (
                "pk_test_abc",
                Some("rk_live_x"),
                "a test key while STRIPE_SECRET_KEY is a live key",
            ),
        ] {
            let err = publishable_key(key, secret).unwrap_err().to_string();
            assert!(err.starts_with("STRIPE_PUBLISHABLE_KEY: "), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}
