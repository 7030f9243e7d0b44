//! Classification of HTTP responses and transport failures into
//! [`ProviderError`]s. Provider adapters call these once per attempt; the
//! policies act only on the resulting class.

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};

use super::error::ProviderError;
use super::retry::parse_retry_after;

/// Stripe's verdict on whether a failed request may be retried. `true`
/// overrides a status that is not normally retried (e.g. 409 lock
/// contention); `false` forbids retrying any status.
pub const STRIPE_SHOULD_RETRY: &str = "stripe-should-retry";

/// Longest body excerpt carried into an error message.
const MAX_MESSAGE_CHARS: usize = 200;

/// Classifies a response; `None` for a 2xx.
///
/// `body_snippet` is the start of the body (it may be cut short). JSON
/// error bodies from Stripe (`{"error": {"code", "message"}}`), OAuth
/// (`{"error", "error_description"}`) and GitHub (`{"message"}`) supply the
/// code and message; anything else is quoted, shortened.
pub fn classify_response(
    status: StatusCode,
    headers: &HeaderMap,
    body_snippet: &str,
) -> Option<ProviderError> {
    classify_response_at(status, headers, body_snippet, SystemTime::now())
}

/// [`classify_response`] measuring an HTTP-date `Retry-After` from `now`.
pub fn classify_response_at(
    status: StatusCode,
    headers: &HeaderMap,
    body_snippet: &str,
    now: SystemTime,
) -> Option<ProviderError> {
    if status.is_success() {
        return None;
    }
    let retry_after = retry_after(headers, now);
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        // A 503 that names a time to come back is throttling, not a crash.
        || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some());
    let retryable = match stripe_should_retry(headers) {
        Some(verdict) => verdict,
        None => rate_limited || is_retryable_status(status),
    };
    Some(match (retryable, rate_limited) {
        (true, true) => ProviderError::RateLimited { retry_after },
        (true, false) => ProviderError::Transient {
            message: summary(status, body_snippet),
        },
        (false, _) => permanent(status, body_snippet),
    })
}

/// Classifies a failure that produced no response.
///
/// With reqwest: `classify_transport_error(e.is_timeout(), e.is_connect(),
/// e.to_string())`. Errors raised before sending (an invalid URL, a request
/// that cannot be built) are bugs, not provider failures; report those as
/// [`ProviderError::Permanent`] instead.
pub fn classify_transport_error(
    is_timeout: bool,
    is_connect: bool,
    message: impl Into<String>,
) -> ProviderError {
    let message = message.into();
    if is_timeout {
        ProviderError::Timeout
    } else if is_connect {
        ProviderError::Transient {
            message: format!("connection failed: {message}"),
        }
    } else {
        // The connection broke mid-request (reset, closed before a full
        // response): the provider or the path to it is in trouble.
        ProviderError::Transient {
            message: format!("request interrupted: {message}"),
        }
    }
}

/// The `Retry-After` header as a wait from `now`, if present and valid.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

/// The `Stripe-Should-Retry` header, if present and `true` or `false`.
pub fn stripe_should_retry(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(STRIPE_SHOULD_RETRY)?.to_str().ok()?.trim();
    match value {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Statuses that signal a passing failure on the provider's side.
fn is_retryable_status(status: StatusCode) -> bool {
    // 501 and 505 say the provider does not support the request at all.
    let unsupported = [
        StatusCode::NOT_IMPLEMENTED,
        StatusCode::HTTP_VERSION_NOT_SUPPORTED,
    ];
    status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error() && !unsupported.contains(&status))
}

fn permanent(status: StatusCode, body: &str) -> ProviderError {
    let details = ErrorDetails::parse(body);
    ProviderError::Permanent {
        status: Some(status.as_u16()),
        code: details.code,
        message: details.message.unwrap_or_else(|| summary(status, body)),
    }
}

fn summary(status: StatusCode, body: &str) -> String {
    let details = ErrorDetails::parse(body);
    let detail = match details.message {
        Some(message) => message,
        None => shorten(body.trim()),
    };
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Code and message found in a JSON error body.
#[derive(Debug, Default)]
struct ErrorDetails {
    code: Option<String>,
    message: Option<String>,
}

impl ErrorDetails {
    fn parse(body: &str) -> Self {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
            return Self::default();
        };
        let text = |v: &serde_json::Value| v.as_str().map(shorten);
        match json.get("error") {
            // Stripe: {"error": {"code": "card_declined", "message": "..."}}
            Some(error @ serde_json::Value::Object(_)) => Self {
                code: error.get("code").and_then(text),
                message: error.get("message").and_then(text),
            },
            // OAuth 2.0: {"error": "invalid_grant", "error_description": "..."}
            Some(code @ serde_json::Value::String(_)) => Self {
                code: text(code),
                message: json.get("error_description").and_then(text),
            },
            // GitHub and others: {"message": "..."}
            _ => Self {
                code: None,
                message: json.get("message").and_then(text),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn classify(
        status: u16,
        pairs: &[(&'static str, &'static str)],
        body: &str,
    ) -> Option<ProviderError> {
        let status = StatusCode::from_u16(status).expect("valid status");
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("date");
        classify_response_at(status, &headers(pairs), body, now)
    }

    #[test]
    fn success_is_not_an_error() {
        assert_eq!(classify(200, &[], "{}"), None);
        assert_eq!(classify(204, &[], ""), None);
    }

    #[test]
    fn too_many_requests_carries_retry_after_in_either_form() {
        let seconds = classify(429, &[("retry-after", "2")], "");
        assert_eq!(
            seconds,
            Some(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            })
        );
        let date = classify(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:05 GMT")], "");
        assert_eq!(
            date,
            Some(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(5))
            })
        );
        let none = classify(429, &[], "");
        assert_eq!(none, Some(ProviderError::RateLimited { retry_after: None }));
    }

    #[test]
    fn server_errors_are_transient_and_unavailable_with_a_date_is_throttling() {
        let err = classify(502, &[], "<html>Bad gateway</html>").expect("error");
        assert_eq!(
            err,
            ProviderError::Transient {
                message: "HTTP 502 Bad Gateway: <html>Bad gateway</html>".into()
            }
        );
        assert!(matches!(
            classify(503, &[], ""),
            Some(ProviderError::Transient { .. })
        ));
        assert!(matches!(
            classify(408, &[], ""),
            Some(ProviderError::Transient { .. })
        ));
        let throttled = classify(503, &[("retry-after", "30")], "");
        assert_eq!(
            throttled,
            Some(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(30))
            })
        );
        assert!(matches!(
            classify(501, &[], ""),
            Some(ProviderError::Permanent {
                status: Some(501),
                ..
            })
        ));
    }

    #[test]
    fn card_decline_is_permanent_with_stripe_code() {
        let body = r#"{"error":{"code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","type":"card_error"}}"#;
        let err = classify(402, &[], body).expect("error");
        assert_eq!(
            err,
            ProviderError::Permanent {
                status: Some(402),
                code: Some("card_declined".into()),
                message: "Your card has insufficient funds.".into(),
            }
        );
    }

    #[test]
    fn oauth_and_github_error_bodies_are_understood() {
        let oauth = r#"{"error":"invalid_grant","error_description":"Code expired"}"#;
        let err = classify(400, &[], oauth).expect("error");
        assert_eq!(
            err,
            ProviderError::Permanent {
                status: Some(400),
                code: Some("invalid_grant".into()),
                message: "Code expired".into()
            }
        );
        let github = r#"{"message":"Bad credentials","documentation_url":"https://docs"}"#;
        let err = classify(401, &[], github).expect("error");
        assert!(
            matches!(err, ProviderError::Permanent { code: None, ref message, .. } if message == "Bad credentials")
        );
    }

    #[test]
    fn stripe_should_retry_overrides_the_status() {
        let conflict = classify(
            409,
            &[(STRIPE_SHOULD_RETRY, "true")],
            r#"{"error":{"code":"lock_timeout","message":"Try again"}}"#,
        );
        assert_eq!(
            conflict,
            Some(ProviderError::Transient {
                message: "HTTP 409 Conflict: Try again".into()
            })
        );
        assert!(matches!(
            classify(409, &[], ""),
            Some(ProviderError::Permanent { .. })
        ));

        let refused = classify(500, &[(STRIPE_SHOULD_RETRY, "false")], "").expect("error");
        assert!(matches!(
            refused,
            ProviderError::Permanent {
                status: Some(500),
                ..
            }
        ));
        assert!(!refused.is_retryable() && refused.counts_as_failure());
        let refused = classify(
            429,
            &[(STRIPE_SHOULD_RETRY, "False"), ("retry-after", "1")],
            "",
        );
        assert!(matches!(
            refused,
            Some(ProviderError::Permanent {
                status: Some(429),
                ..
            })
        ));
        // Unknown values are ignored rather than guessed at.
        assert!(matches!(
            classify(500, &[(STRIPE_SHOULD_RETRY, "maybe")], ""),
            Some(ProviderError::Transient { .. })
        ));
    }

    #[test]
    fn long_bodies_are_shortened_on_a_char_boundary() {
        let body = "é".repeat(500);
        let Some(ProviderError::Permanent { message, .. }) = classify(404, &[], &body) else {
            panic!("expected a permanent error");
        };
        assert!(message.starts_with("HTTP 404 Not Found: éé"));
        assert_eq!(
            message.chars().filter(|c| *c == 'é').count(),
            MAX_MESSAGE_CHARS
        );
    }

    #[test]
    fn transport_errors_map_to_timeout_or_transient() {
        assert_eq!(
            classify_transport_error(true, false, "timed out"),
            ProviderError::Timeout
        );
        let refused = classify_transport_error(false, true, "refused");
        assert_eq!(
            refused,
            ProviderError::Transient {
                message: "connection failed: refused".into()
            }
        );
        let reset = classify_transport_error(false, false, "reset");
        assert!(
            matches!(reset, ProviderError::Transient { ref message } if message.contains("interrupted"))
        );
    }
}
