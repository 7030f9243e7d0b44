//! The Stripe adapter's own transport against a scripted server: `Retry-After` and
//! `Stripe-Should-Retry` reach the retry policy (async-stripe's client drops them; decision
//! record 0022). localstripe sends neither header, hence wiremock.
//!
//! The server records when each request arrives, so a wait is checked from its side: the gap
//! between two arrivals is at least what the header asked for, which no scheduling can break.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use switchboard::providers::payments::{PaymentProvider, StripeProvider};
use switchboard::providers::resilience::{PolicyConfig, ProviderError, ResilientProvider};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const INTENT: &str =
    r#"{"id":"pi_1","status":"requires_payment_method","client_secret":"pi_1_secret_x"}"#;
const REFUND: &str = r#"{"id":"re_1","amount":100,"status":"succeeded"}"#;

/// Answers the scripted responses in order (the last one from then on), noting when each
/// request arrived.
#[derive(Clone)]
struct Script {
    responses: Vec<ResponseTemplate>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Script {
    fn new(responses: Vec<ResponseTemplate>) -> Self {
        Self {
            responses,
            arrivals: Arc::default(),
        }
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

impl Respond for Script {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().unwrap();
        arrivals.push(Instant::now());
        let index = (arrivals.len() - 1).min(self.responses.len() - 1);
        self.responses[index].clone()
    }
}

/// A Stripe adapter talking to `server`, with a 10 ms backoff: a wait of a second can only
/// come from the header.
fn stripe(server: &MockServer, deadline: Duration) -> StripeProvider {
    let policy = PolicyConfig {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
        attempt_timeout: Duration::from_secs(2),
        deadline,
        rate_limit_per_sec: 0,
        ..PolicyConfig::default()
    };
    let resilience = ResilientProvider::new("stripe", policy).expect("valid policy");
    let key = SecretString::from("sk_test_retry");
    StripeProvider::new(&key, Some(&format!("{}/", server.uri())), resilience).expect("adapter")
}

async fn serve(server: &MockServer, verb: &str, route: &str, script: &Script) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(script.clone())
        .mount(server)
        .await;
}

fn status(code: u16, headers: &[(&str, &str)], body: &str) -> ResponseTemplate {
    headers.iter().fold(
        ResponseTemplate::new(code).set_body_raw(body.to_owned(), "application/json"),
        |response, (name, value)| response.insert_header(*name, *value),
    )
}

#[tokio::test]
async fn a_rate_limited_read_waits_as_long_as_retry_after_says() {
    let server = MockServer::start().await;
    let script = Script::new(vec![
        status(
            429,
            &[("retry-after", "1")],
            r#"{"error":{"type":"rate_limit_error"}}"#,
        ),
        status(200, &[], INTENT),
    ]);
    serve(&server, "GET", "/v1/payment_intents/pi_1", &script).await;

    let secret = stripe(&server, Duration::from_secs(10))
        .client_secret("pi_1")
        .await;

    assert_eq!(secret.as_deref(), Ok("pi_1_secret_x"));
    let arrivals = script.arrivals();
    assert_eq!(arrivals.len(), 2, "one retry");
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(1),
        "the retry came {:?} after the 429 that asked for 1 s",
        arrivals[1] - arrivals[0]
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let server = MockServer::start().await;
    let script = Script::new(vec![
        status(429, &[("retry-after", "30")], "{}"),
        status(200, &[], INTENT),
    ]);
    serve(&server, "GET", "/v1/payment_intents/pi_1", &script).await;

    let result = stripe(&server, Duration::from_secs(5))
        .client_secret("pi_1")
        .await;

    assert_eq!(
        result,
        Err(ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }),
        "the provider's hint is passed on"
    );
    assert_eq!(script.arrivals().len(), 1, "no sleeping past the deadline");
}

#[tokio::test]
async fn stripe_should_retry_false_stops_a_server_error_after_one_request() {
    let server = MockServer::start().await;
    let script = Script::new(vec![
        status(500, &[("stripe-should-retry", "false")], "{}"),
        status(200, &[], INTENT),
    ]);
    serve(&server, "GET", "/v1/payment_intents/pi_1", &script).await;

    let result = stripe(&server, Duration::from_secs(10))
        .client_secret("pi_1")
        .await;

    assert!(
        matches!(
            result,
            Err(ProviderError::Permanent {
                status: Some(500),
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(script.arrivals().len(), 1);
}

#[tokio::test]
async fn stripe_should_retry_true_retries_a_conflict_with_the_same_key() {
    let server = MockServer::start().await;
    let lock = r#"{"error":{"type":"invalid_request_error","code":"lock_timeout"}}"#;
    let script = Script::new(vec![
        status(409, &[("stripe-should-retry", "true")], lock),
        status(200, &[], REFUND),
    ]);
    serve(&server, "POST", "/v1/refunds", &script).await;

    let refund = stripe(&server, Duration::from_secs(10))
        .refund("pi_1", 100, "refund-key-1")
        .await;

    assert_eq!(refund.map(|r| r.id).as_deref(), Ok("re_1"));
    let requests = server.received_requests().await.unwrap();
    let keys: Vec<_> = requests
        .iter()
        .map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(keys.len(), 2, "retried once");
    assert!(
        keys.iter()
            .all(|k| k.as_ref().is_some_and(|k| k == "refund-key-1")),
        "{keys:?}"
    );
}
