//! Per-provider resilience policies: `PROVIDER_<NAME>_<SETTING>` over the defaults.

use std::collections::BTreeMap;

use super::ConfigError;
use crate::providers::resilience::PolicyConfig;

/// The variable prefix of a provider's policy, e.g. `PROVIDER_STRIPE_`.
pub fn env_prefix(provider: &str) -> String {
    format!(
        "PROVIDER_{}_",
        provider.to_ascii_uppercase().replace('-', "_")
    )
}

/// The policy of `provider`: defaults, overridden by its variables, validated as a whole.
pub fn policy_for(
    provider: &str,
    env: &BTreeMap<String, String>,
) -> Result<PolicyConfig, ConfigError> {
    let prefix = env_prefix(provider);
    let mut policy = PolicyConfig::default();
    for (variable, value) in env
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
    {
        let suffix = &variable[prefix.len()..];
        policy.apply_env(suffix, value).map_err(|e| {
            ConfigError::new(
                variable.clone(),
                format!("{}; see `switchboard --help`", e.reason),
            )
        })?;
    }
    policy
        .validate()
        .map_err(|e| ConfigError::new(format!("{prefix}*"), e.to_string()))?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_override_defaults_and_bad_ones_are_named() {
        let mut env = BTreeMap::new();
        env.insert("PROVIDER_STRIPE_MAX_ATTEMPTS".to_owned(), "5".to_owned());
        env.insert(
            "PROVIDER_STRIPES_MAX_ATTEMPTS".to_owned(),
            "oops".to_owned(),
        );
        let policy = policy_for("stripe", &env).unwrap();
        assert_eq!(policy.max_attempts, 5);
        env.insert("PROVIDER_STRIPE_TIMEOUT_MS".to_owned(), "soon".to_owned());
        let err = policy_for("stripe", &env).unwrap_err();
        assert_eq!(err.variable, "PROVIDER_STRIPE_TIMEOUT_MS");
    }
}
