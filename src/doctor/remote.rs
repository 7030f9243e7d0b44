//! The doctor's reads over the network: Stripe's balance and identity providers' discovery
//! documents and key sets. Each answers with a problem an operator can act on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::{Check, Status};

/// A client that gives up on a peer after 10 seconds.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

fn date_of(response: &reqwest::Response) -> Option<DateTime<Utc>> {
    let date = response
        .headers()
        .get(reqwest::header::DATE)?
        .to_str()
        .ok()?;
    Some(httpdate::parse_http_date(date).ok()?.into())
}

/// `GET /v1/balance`: the cheapest read every secret key may do.
pub async fn stripe_balance(
    http: &reqwest::Client,
    base: &str,
    key: &str,
) -> (Result<(), String>, Option<DateTime<Utc>>) {
    let response = match http
        .get(format!("{base}/v1/balance"))
        .bearer_auth(key)
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => return (Err(format!("cannot reach Stripe at {base}: {err}")), None),
    };
    let date = date_of(&response);
    let status = response.status();
    let answer = if status.is_success() {
        Ok(())
    } else if status == reqwest::StatusCode::UNAUTHORIZED {
        Err(
            "STRIPE_SECRET_KEY was refused by Stripe (401): copy the secret key from the dashboard"
                .to_owned(),
        )
    } else if status == reqwest::StatusCode::FORBIDDEN {
        Err(
            "STRIPE_SECRET_KEY may not read the balance (403): give the restricted key read access"
                .to_owned(),
        )
    } else {
        Err(format!("Stripe answered {status} to a balance read"))
    };
    (answer, date)
}

/// The issuer's discovery document and the key set it names.
pub async fn discovery(
    http: &reqwest::Client,
    name: &str,
    issuer: &Url,
) -> (Check, Option<DateTime<Utc>>) {
    let check = format!("identity provider {name}");
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.as_str().trim_end_matches('/')
    );
    let (document, date) = match json(http, &url).await {
        Ok(found) => found,
        Err(problem) => {
            return (
                Check::new(check, Status::Fail, format!("discovery {problem}")),
                None,
            );
        }
    };
    let Some(jwks_uri) = document["jwks_uri"].as_str() else {
        return (
            Check::new(check, Status::Fail, format!("{url} names no jwks_uri")),
            date,
        );
    };
    let found = match json(http, jwks_uri).await {
        Ok((keys, _)) => match keys["keys"].as_array().map(Vec::len) {
            Some(n) if n > 0 => Check::new(
                check,
                Status::Ok,
                format!("discovery and {n} signing key(s) reachable"),
            ),
            _ => Check::new(check, Status::Fail, format!("{jwks_uri} holds no keys")),
        },
        Err(problem) => Check::new(check, Status::Fail, format!("key set {problem}")),
    };
    (found, date)
}

async fn json(
    http: &reqwest::Client,
    url: &str,
) -> Result<(serde_json::Value, Option<DateTime<Utc>>), String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|err| format!("{url} unreachable: {err}"))?;
    let date = date_of(&response);
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let body = response
        .json()
        .await
        .map_err(|err| format!("{url} is not JSON: {err}"))?;
    Ok((body, date))
}
