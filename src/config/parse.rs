//! Small parsers shared by the settings, each producing a [`ConfigError`] that names its variable.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use url::Url;

/// A setting that failed validation: which variable, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong and how to fix it, on one line.
    pub message: String,
}

impl ConfigError {
    /// A new error for `variable`.
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Parses a whole number within `range`.
pub fn parse_number<T>(
    variable: &str,
    raw: &str,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let out_of_range = || {
        ConfigError::new(
            variable,
            format!(
                "{raw:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )
    };
    let value: T = raw.trim().parse().map_err(|_| out_of_range())?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(out_of_range())
    }
}

/// Parses `true`, `false` or `auto` (which takes `auto_value`).
pub fn parse_bool_or_auto(
    variable: &str,
    raw: &str,
    auto_value: bool,
) -> Result<bool, ConfigError> {
    match raw.trim() {
        "auto" => Ok(auto_value),
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ConfigError::new(
            variable,
            format!("{other:?} is not a switch; use true, false or auto"),
        )),
    }
}

/// A comma-separated list of HTTP header names, lower-cased; empty entries are skipped.
pub fn parse_header_names(variable: &str, raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            axum::http::HeaderName::from_bytes(name.as_bytes())
                .map(|header| header.as_str().to_owned())
                .map_err(|_| {
                    ConfigError::new(
                        variable,
                        format!("{name:?} is not a header name; list names like traceparent,x-app-version"),
                    )
                })
        })
        .collect()
}

/// Parses an origin (`scheme://host[:port]`, no path) and returns its canonical form.
pub fn parse_origin(variable: &str, raw: &str) -> Result<String, ConfigError> {
    let invalid = |why: &str| {
        ConfigError::new(
            variable,
            format!("{raw:?} {why}; use scheme://host[:port], e.g. https://app.example.com"),
        )
    };
    let url = Url::parse(raw).map_err(|_| invalid("is not an origin"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("must be http or https with a host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || raw.ends_with('/')
    {
        return Err(invalid("must not have a path, query or trailing slash"));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_outside_their_range_are_refused() {
        assert_eq!(parse_number("X", "5", 1..=10), Ok(5));
        assert!(parse_number("X", "11", 1..=10).is_err());
        assert!(parse_number::<u32>("X", "-1", 1..=10).is_err());
        assert!(parse_number::<u32>("X", "ten", 1..=10).is_err());
    }

    #[test]
    fn header_names_are_lower_cased_and_checked() {
        assert_eq!(
            parse_header_names("X", " X-App-Version ,,traceparent").unwrap(),
            ["x-app-version", "traceparent"]
        );
        let err = parse_header_names("CORS_ALLOWED_HEADERS", "bad header").unwrap_err();
        assert!(err.to_string().contains("CORS_ALLOWED_HEADERS"), "{err}");
    }

    #[test]
    fn origins_are_canonical() {
        assert_eq!(
            parse_origin("X", "https://App.Example.com:443").unwrap(),
            "https://app.example.com"
        );
        assert!(parse_origin("X", "https://a.example/").is_err());
        assert!(parse_origin("X", "javascript:alert(1)").is_err());
    }
}
