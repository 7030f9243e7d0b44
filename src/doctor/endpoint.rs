//! Whether Stripe sends its events to this deployment: a webhook endpoint registered for
//! `PUBLIC_URL` + `/webhooks/stripe`, enabled, with every event type the processor acts on.

use serde_json::Value;

use super::{Check, Status};

/// The event types the Stripe adapter acts on (docs/webhooks.md lists the same).
pub const NEEDED_EVENTS: &[&str] = crate::providers::payments::STRIPE_EVENT_TYPES;

const NAME: &str = "webhook endpoint";

/// Reads `GET /v1/webhook_endpoints` and judges the endpoint registered for `url`.
pub async fn check(http: &reqwest::Client, base: &str, key: &str, url: &str) -> Check {
    let response = match http
        .get(format!("{base}/v1/webhook_endpoints?limit=100"))
        .bearer_auth(key)
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => {
            return Check::new(
                NAME,
                Status::Fail,
                format!("cannot reach Stripe at {base}: {err}"),
            );
        }
    };
    let status = response.status();
    if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::NOT_FOUND {
        return Check::new(
            NAME,
            Status::Warn,
            format!(
                "Stripe answered {status} to listing webhook endpoints; check by hand that {url} is registered"
            ),
        );
    }
    if !status.is_success() {
        return Check::new(
            NAME,
            Status::Fail,
            format!("Stripe answered {status} to listing webhook endpoints"),
        );
    }
    match response.json::<Value>().await {
        Ok(list) => verdict(&list, url),
        Err(err) => Check::new(
            NAME,
            Status::Fail,
            format!("unreadable webhook endpoint list: {err}"),
        ),
    }
}

/// Judges a `webhook_endpoints` list for `url`.
pub fn verdict(list: &Value, url: &str) -> Check {
    let endpoints = list["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mine: Vec<&Value> = endpoints
        .iter()
        .filter(|e| e["url"].as_str().map(|u| u.trim_end_matches('/')) == Some(url))
        .collect();
    if mine.is_empty() {
        return Check::new(
            NAME,
            Status::Fail,
            format!(
                "no Stripe webhook endpoint sends to {url}; register it (docs/webhooks.md) with {}",
                NEEDED_EVENTS.join(", ")
            ),
        );
    }
    let Some(enabled) = mine
        .iter()
        .find(|e| e["status"].as_str() != Some("disabled"))
    else {
        return Check::new(
            NAME,
            Status::Fail,
            format!("the Stripe webhook endpoint for {url} is disabled; enable it"),
        );
    };
    let events: Vec<&str> = enabled["enabled_events"]
        .as_array()
        .map(|events| events.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if events.contains(&"*") {
        return Check::new(NAME, Status::Ok, format!("{url} receives every event"));
    }
    let missing: Vec<&str> = NEEDED_EVENTS
        .iter()
        .copied()
        .filter(|needed| !events.contains(needed))
        .collect();
    if missing.is_empty() {
        Check::new(
            NAME,
            Status::Ok,
            format!(
                "{url} receives the {} event types needed",
                NEEDED_EVENTS.len()
            ),
        )
    } else {
        Check::new(
            NAME,
            Status::Fail,
            format!(
                "the Stripe webhook endpoint for {url} is not sent {}; add them",
                missing.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://pay.example.com/webhooks/stripe";

    #[test]
    fn the_endpoint_must_exist_be_enabled_and_get_every_needed_event() {
        let status = |list: Value| verdict(&list, URL).status;
        assert_eq!(status(json!({ "data": [] })), Status::Fail);
        assert_eq!(
            status(
                json!({ "data": [{ "url": "https://other.example.com/webhooks/stripe", "status": "enabled", "enabled_events": ["*"] }] })
            ),
            Status::Fail
        );
        assert_eq!(
            status(
                json!({ "data": [{ "url": URL, "status": "disabled", "enabled_events": ["*"] }] })
            ),
            Status::Fail
        );
        assert_eq!(
            status(
                json!({ "data": [{ "url": URL, "status": "enabled", "enabled_events": ["*"] }] })
            ),
            Status::Ok
        );
        let some = verdict(
            &json!({ "data": [{ "url": URL, "status": "enabled", "enabled_events": ["payment_intent.succeeded"] }] }),
            URL,
        );
        assert_eq!(some.status, Status::Fail);
        assert!(some.detail.contains("charge.refunded"), "{}", some.detail);
        assert_eq!(
            status(
                json!({ "data": [{ "url": URL, "status": "enabled", "enabled_events": NEEDED_EVENTS }] })
            ),
            Status::Ok
        );
    }
}
