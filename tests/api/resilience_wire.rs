//! The policy stack against real HTTP servers on the loopback interface that
//! misbehave: throttling, failing, hanging and dropping connections.
//!
//! Real time passes here, so waits are kept short: a 200 ms attempt timeout
//! and 10 ms backoff. Nothing sleeps to synchronise; every assertion is on
//! results and request counts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard::providers::resilience::http::{classify_response, classify_transport_error};
use switchboard::providers::resilience::{
    Operation, PolicyConfig, ProviderError, ResilientProvider,
};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Per-attempt timeout of the HTTP client, as a provider adapter sets it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(200);

fn policy() -> PolicyConfig {
    PolicyConfig {
        attempt_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(10),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..PolicyConfig::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .build()
        .expect("client")
}

async fn server() -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback port");
    MockServer::builder().listener(listener).start().await
}

/// A minimal provider adapter: one GET, its failure classified once.
async fn get(client: &reqwest::Client, url: &str) -> Result<String, ProviderError> {
    let response = client.get(url).send().await.map_err(transport)?;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.text().await.map_err(transport)?;
    match classify_response(status, &headers, &body) {
        Some(error) => Err(error),
        None => Ok(body),
    }
}

fn transport(error: reqwest::Error) -> ProviderError {
    classify_transport_error(error.is_timeout(), error.is_connect(), error.to_string())
}

/// Calls `url` through the stack; returns the result and the error class of
/// every failed attempt.
async fn call(url: &str, op: Operation) -> (Result<String, ProviderError>, Vec<&'static str>) {
    let provider = ResilientProvider::new("stripe", policy()).expect("valid policy");
    let client = client();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let result = provider
        .call(op, |_| {
            let (client, failures, url) = (client.clone(), failures.clone(), url.to_owned());
            async move {
                let result = get(&client, &url).await;
                if let Err(error) = &result {
                    failures.lock().expect("not poisoned").push(error.kind());
                }
                result
            }
        })
        .await;
    let failures = failures.lock().expect("not poisoned").clone();
    (result, failures)
}

async fn mount_once(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/v1/customers/cus_1"))
        .respond_with(response)
        .up_to_n_times(1)
        .mount(server)
        .await;
}

async fn request_count(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("recording on")
        .len()
}

fn url(server: &MockServer) -> String {
    format!("{}/v1/customers/cus_1", server.uri())
}

const READ: Operation = Operation::read("customers.retrieve");

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_then_succeeds() {
    let server = server().await;
    mount_once(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
    )
    .await;
    mount_once(&server, ResponseTemplate::new(200).set_body_string("cus_1")).await;

    let started = Instant::now();
    let (result, failures) = call(&url(&server), READ).await;
    assert_eq!(result, Ok("cus_1".to_owned()));
    assert_eq!(failures, ["rate_limited"]);
    assert_eq!(request_count(&server).await, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server = server().await;
    mount_once(&server, ResponseTemplate::new(500)).await;
    mount_once(&server, ResponseTemplate::new(503)).await;
    mount_once(&server, ResponseTemplate::new(200).set_body_string("cus_1")).await;

    let (result, failures) = call(&url(&server), READ).await;
    assert_eq!(result, Ok("cus_1".to_owned()));
    assert_eq!(failures, ["transient", "transient"]);
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn slow_response_times_out_and_is_retried() {
    let server = server().await;
    let slow = ResponseTemplate::new(200)
        .set_body_string("late")
        .set_delay(Duration::from_secs(2));
    mount_once(&server, slow).await;
    mount_once(&server, ResponseTemplate::new(200).set_body_string("cus_1")).await;

    let (result, failures) = call(&url(&server), READ).await;
    assert_eq!(result, Ok("cus_1".to_owned()));
    assert_eq!(failures, ["timeout"]);
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn dropped_connections_are_transient_and_retried() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let address = listener.local_addr().expect("bound");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let acceptor = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });

    let (result, failures) = call(&format!("http://{address}/v1/customers/cus_1"), READ).await;
    acceptor.abort();
    assert!(
        matches!(result, Err(ProviderError::Transient { .. })),
        "{result:?}"
    );
    assert_eq!(
        failures, ["transient"; 3],
        "every attempt was made and failed"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn card_decline_is_returned_without_retry() {
    let server = server().await;
    let body = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}"#;
    let declined = ResponseTemplate::new(402).set_body_raw(body, "application/json");
    mount_once(&server, declined).await;
    mount_once(&server, ResponseTemplate::new(200)).await;

    let op = Operation::idempotent_write("payment_intents.confirm");
    let (result, _) = call(&url(&server), op).await;
    let expected = ProviderError::Permanent {
        status: Some(402),
        code: Some("card_declined".into()),
        message: "Your card was declined.".into(),
    };
    assert_eq!(result, Err(expected));
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn stripe_should_retry_false_is_not_retried() {
    let server = server().await;
    mount_once(
        &server,
        ResponseTemplate::new(500).insert_header("Stripe-Should-Retry", "false"),
    )
    .await;
    mount_once(&server, ResponseTemplate::new(200)).await;

    let (result, _) = call(&url(&server), READ).await;
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
    assert_eq!(request_count(&server).await, 1);
}
