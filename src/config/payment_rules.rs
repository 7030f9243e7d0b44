//! `PAYMENTS_ALLOW_CUSTOM_AMOUNT` and `REFUNDS_BY_OWNER`: the payment rules, whose defaults
//! follow `APP_ENV` (open in development, closed in production).

use chrono::Duration;

use super::parse::{parse_bool_or_auto, parse_number};
use super::{AppEnv, ConfigError, Settings};
use crate::payments::{OwnerRefunds, PaymentRules};

/// The longest owner refund window: Stripe refunds card payments for about 180 days.
const MAX_WINDOW_HOURS: i64 = 24 * 366;

/// Reads the payment rules; `auto` takes the defaults of `app_env`.
pub fn parse(s: &Settings, app_env: AppEnv) -> Result<PaymentRules, ConfigError> {
    let defaults = match app_env {
        AppEnv::Development => PaymentRules::DEVELOPMENT,
        AppEnv::Production => PaymentRules::PRODUCTION,
    };
    Ok(PaymentRules {
        allow_custom_amount: parse_bool_or_auto(
            "PAYMENTS_ALLOW_CUSTOM_AMOUNT",
            &s.payments_allow_custom_amount,
            defaults.allow_custom_amount,
        )?,
        owner_refunds: owner_refunds(&s.refunds_by_owner, defaults.owner_refunds)?,
    })
}

/// `auto`, `off`, `always`, or a window in whole hours.
fn owner_refunds(raw: &str, auto: OwnerRefunds) -> Result<OwnerRefunds, ConfigError> {
    const VARIABLE: &str = "REFUNDS_BY_OWNER";
    match raw.trim() {
        "auto" => Ok(auto),
        "off" => Ok(OwnerRefunds::Off),
        "always" => Ok(OwnerRefunds::Always),
        hours if hours.bytes().all(|b| b.is_ascii_digit()) && !hours.is_empty() => {
            let hours = parse_number(VARIABLE, hours, 1..=MAX_WINDOW_HOURS)?;
            Ok(OwnerRefunds::Within(Duration::hours(hours)))
        }
        other => Err(ConfigError::new(
            VARIABLE,
            format!(
                "{other:?} is not a refund policy; use off, always, or a window in hours after payment (e.g. 72)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(
        app_env: AppEnv,
        change: impl FnOnce(&mut Settings),
    ) -> Result<PaymentRules, ConfigError> {
        let mut settings = Settings::defaults();
        change(&mut settings);
        parse(&settings, app_env)
    }

    #[test]
    fn defaults_follow_the_environment_and_values_are_checked() {
        assert_eq!(
            rules(AppEnv::Development, |_| {}),
            Ok(PaymentRules::DEVELOPMENT)
        );
        assert_eq!(
            rules(AppEnv::Production, |_| {}),
            Ok(PaymentRules::PRODUCTION)
        );
        let open = rules(AppEnv::Production, |s| {
            s.payments_allow_custom_amount = "true".into();
            s.refunds_by_owner = "72".into();
        })
        .unwrap();
        assert!(open.allow_custom_amount);
        assert_eq!(
            open.owner_refunds,
            OwnerRefunds::Within(Duration::hours(72))
        );
        assert_eq!(
            rules(AppEnv::Development, |s| s.refunds_by_owner = "off".into())
                .unwrap()
                .owner_refunds,
            OwnerRefunds::Off
        );
        for bad in ["0", "-3", "72h", "sometimes", "100000"] {
            let err = rules(AppEnv::Development, |s| s.refunds_by_owner = bad.into()).unwrap_err();
            assert!(err.to_string().starts_with("REFUNDS_BY_OWNER: "), "{err}");
        }
        let err = rules(AppEnv::Development, |s| {
            s.payments_allow_custom_amount = "maybe".into()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("PAYMENTS_ALLOW_CUSTOM_AMOUNT: "),
            "{err}"
        );
    }
}
