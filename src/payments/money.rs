//! Validating money and metadata at the boundary, with Stripe's limits.

use std::collections::BTreeMap;

use crate::error::AppError;

/// Currencies without minor units (an amount of 500 JPY is ¥500).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// ISO-4217 codes Stripe settles in (lower-case, as Stripe writes them).
const SUPPORTED: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf",
    "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb", "eur",
    "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg", "huf",
    "idr", "ils", "inr", "isk", "jmd", "jpy", "kes", "kgs", "khr", "kmf", "krw", "kyd", "kzt",
    "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mur",
    "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd", "pab", "pen",
    "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub", "rwf", "sar", "sbd", "scr",
    "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb", "tjs", "top", "try", "ttd",
    "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd", "vuv", "wst", "xaf", "xcd", "xof",
    "xpf", "yer", "zar", "zmw",
];

/// Stripe's largest amount: eight digits of minor units.
pub const MAX_AMOUNT: i64 = 99_999_999;

/// Checks an ISO-4217 code and returns it lower-cased.
pub fn currency(raw: &str, field: &str) -> Result<String, AppError> {
    let code = raw.trim().to_ascii_lowercase();
    if SUPPORTED.contains(&code.as_str()) {
        Ok(code)
    } else {
        Err(AppError::bad_input(
            field,
            format!("{raw:?} is not a supported ISO-4217 currency code, e.g. usd or eur"),
        ))
    }
}

/// The smallest chargeable amount in `currency`'s minor units (Stripe's floor is about half a
/// US dollar; zero-decimal currencies count whole units).
pub fn minimum_amount(currency: &str) -> i64 {
    match currency {
        "jpy" => 50,
        "krw" => 100,
        c if ZERO_DECIMAL.contains(&c) => 1,
        "gbp" => 30,
        "hkd" => 400,
        "mxn" => 1000,
        _ => 50,
    }
}

/// Checks an amount of minor units in `currency`.
pub fn amount(amount: i64, currency: &str, field: &str) -> Result<i64, AppError> {
    let minimum = minimum_amount(currency);
    if amount < minimum {
        return Err(AppError::bad_input(
            field,
            format!(
                "the amount must be at least {minimum} (minor units of {})",
                currency.to_ascii_uppercase()
            ),
        ));
    }
    if amount > MAX_AMOUNT {
        return Err(AppError::bad_input(
            field,
            format!("the amount must be at most {MAX_AMOUNT} minor units"),
        ));
    }
    Ok(amount)
}

/// Checks metadata against Stripe's limits: 50 keys, keys up to 40 characters, values up to 500.
pub fn metadata(map: &BTreeMap<String, String>, field: &str) -> Result<(), AppError> {
    if map.len() > 50 {
        return Err(AppError::bad_input(field, "at most 50 metadata keys"));
    }
    for (key, value) in map {
        if key.is_empty() || key.chars().count() > 40 || key.contains(['[', ']']) {
            return Err(AppError::bad_input(
                field,
                format!("metadata key {key:?} must be 1-40 characters without brackets"),
            ));
        }
        if value.chars().count() > 500 {
            return Err(AppError::bad_input(
                field,
                format!("metadata value of {key:?} is longer than 500 characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_and_amounts_follow_stripe() {
        assert_eq!(currency("USD", "c").unwrap(), "usd");
        assert!(currency("usdx", "c").is_err());
        assert!(currency("xxx", "c").is_err());
        assert!(amount(49, "usd", "a").is_err());
        assert_eq!(amount(50, "usd", "a").unwrap(), 50);
        assert!(amount(MAX_AMOUNT + 1, "usd", "a").is_err());
        assert_eq!(amount(50, "jpy", "a").unwrap(), 50, "¥50 is chargeable");
        assert!(amount(0, "jpy", "a").is_err());
        assert!(amount(-5, "eur", "a").is_err());
    }

    #[test]
    fn metadata_limits_name_the_field() {
        let mut map = BTreeMap::new();
        map.insert("order".to_owned(), "42".to_owned());
        assert!(metadata(&map, "input.metadata").is_ok());
        map.insert("k".repeat(41), "v".into());
        let AppError::BadUserInput { field, .. } = metadata(&map, "input.metadata").unwrap_err()
        else {
            panic!()
        };
        assert_eq!(field.as_deref(), Some("input.metadata"));
        let too_many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(metadata(&too_many, "m").is_err());
    }
}
