//! OpenTelemetry traces: the real binary, configured only through the standard `OTEL_*`
//! variables, exports to an OTLP/HTTP receiver in this test. One payment created through
//! GraphQL with a caller's `traceparent`, paid at localstripe, its signed webhook applied and
//! pushed to a subscriber, shows as one trace with links: mutation → Stripe call → webhook
//! received → applied → pushed.

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::otlp::{Received, Receiver};
use crate::stripe::LocalStripe;

const KEY: &str = "sk_test_switchboard";
const WEBHOOK_SECRET: &str = "whsec_localstripe_traces";

/// The switchboard binary, serving until stopped with SIGTERM.
struct Server {
    child: Child,
    base: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The server on Stripe at localstripe.
    async fn start(stripe: &LocalStripe, receiver: &Receiver) -> Server {
        let stripe_base = format!("{}/", stripe.base);
        let payments = [
            ("STRIPE_SECRET_KEY", KEY),
            ("STRIPE_API_BASE", &stripe_base),
            ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET),
        ];
        Server::start_with(receiver, &payments).await
    }

    /// The server with `payments` settings, exporting traces to `receiver`.
    async fn start_with(receiver: &Receiver, payments: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("traces.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env_clear()
            .envs([
                ("APP_ENV", "development"),
                ("LOG_FORMAT", "json"),
                ("LOG_LEVEL", "info"),
                ("LISTEN_ADDR", "127.0.0.1:0"),
                ("METRICS_ADDR", "127.0.0.1:0"),
                ("DATABASE_URL", &database),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
                ("OTEL_SERVICE_NAME", "switchboard-traced"),
                // Nothing leaves before shutdown, so the spans arriving prove the final flush.
                ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ])
            .envs(payments.iter().copied())
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let serving = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let Ok(log) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if log["message"] == "switchboard is serving" {
                    return log;
                }
            }
            panic!("the server exited before serving");
        })
        .await
        .expect("serving within the deadline");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            child,
            base: format!("http://{}", serving["address"].as_str().unwrap()),
            metrics: serving["metrics"].as_str().unwrap().to_owned(),
            _dir: dir,
        }
    }

    /// SIGTERM, then waits for a clean exit.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits within the deadline")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}

/// A random W3C trace context: (traceparent, trace id, span id).
fn caller_context() -> (String, String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    (format!("00-{trace}-{span}-01"), trace, span)
}

async fn graphql(
    client: &reqwest::Client,
    server: &Server,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> Value {
    let mut request = client
        .post(format!("{}/graphql", server.base))
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// Signs in through the dev login as a mobile client would; returns the access token.
async fn sign_in(client: &reqwest::Client, server: &Server, login: &str) -> String {
    let started = graphql(
        client,
        server,
        &[],
        "mutation { startLogin(provider: \"dev\") { state } }",
        json!({}),
    )
    .await;
    let state = started["data"]["startLogin"]["state"].as_str().unwrap();
    let session = graphql(
        client,
        server,
        &[],
        "mutation($c: String!, $s: String!) { completeLogin(provider: \"dev\", code: $c, state: $s) { accessToken } }",
        json!({ "c": login, "s": state }),
    )
    .await;
    session["data"]["completeLogin"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message before the deadline")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

fn named<'a>(spans: &'a [Received], name: &str) -> impl Iterator<Item = &'a Received> {
    spans.iter().filter(move |s| s.span.name == name)
}

#[tokio::test]
async fn one_payment_is_one_linked_trace_from_mutation_to_push() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let receiver = Receiver::start().await;
    let server = Server::start(&stripe, &receiver).await;
    stripe
        .post(
            "/_config/webhooks/traces",
            &[
                ("url", &format!("{}/webhooks/stripe", server.base)),
                ("secret", WEBHOOK_SECRET),
            ],
        )
        .await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let token = sign_in(&client, &server, "tracy").await;
    let bearer = format!("Bearer {token}");

    // The click: a mutation carrying the caller's trace context.
    let (traceparent, trace, caller_span) = caller_context();
    let created = graphql(
        &client,
        &server,
        &[("authorization", &bearer), ("traceparent", &traceparent)],
        "mutation($i: PaymentIntentInput!, $k: String!) { createPaymentIntent(input: $i, idempotencyKey: $k) { payment { id providerPaymentId } } }",
        json!({ "i": { "amount": 1500, "currency": "usd" }, "k": "traced-1" }),
    )
    .await;
    let payment = &created["data"]["createPaymentIntent"]["payment"];
    assert!(payment.is_object(), "{created}");
    let intent = payment["providerPaymentId"].as_str().unwrap();
    let sent = stripe.intents().await;
    let sent = sent.iter().find(|i| i["id"] == intent).unwrap();
    assert_eq!(
        sent["metadata"]["traceparent"].as_str().map(|t| &t[3..35]),
        Some(trace.as_str()),
        "the PaymentIntent carries the mutation's trace: {sent}"
    );

    // A subscriber, whose WebSocket upgrade continues its own caller's trace.
    let (socket_parent, socket_trace, socket_span) = caller_context();
    let mut request = format!("{}/graphql/ws", server.base.replacen("http://", "ws://", 1))
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("traceparent", socket_parent.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    let init = json!({ "type": "connection_init", "payload": { "authorization": bearer } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($id: ID!) { paymentUpdated(paymentId: $id) { status } }",
        "variables": { "id": payment["id"] } } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    assert_eq!(
        next(&mut socket).await["payload"]["data"]["paymentUpdated"]["status"],
        "REQUIRES_PAYMENT_METHOD"
    );

    // Paid at Stripe: its signed webhook is received, applied and pushed.
    stripe.pay(intent, "pm_card_visa").await;
    let update = next(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["paymentUpdated"]["status"], "SUCCEEDED",
        "{update}"
    );
    let metrics = reqwest::get(&server.metrics)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("webhook_received_to_push_seconds_count ")
                && l.split(' ').nth(1) != Some("0")),
        "the push was measured from the webhook's arrival:\n{metrics}"
    );
    socket.close(None).await.unwrap();
    server.stop().await;

    let spans = receiver
        .until(|spans| {
            let applied =
                named(spans, "webhook.apply").find(|s| s.linked_traces().contains(&trace))?;
            let pushed =
                named(spans, "subscription.push").find(|s| s.linked_traces().contains(&trace))?;
            Some((applied.clone(), pushed.clone(), spans.to_vec()))
        })
        .await;
    let (applied, pushed, spans) = spans;
    assert!(spans.iter().all(|s| s.service == "switchboard-traced"));

    // The mutation continues the caller's trace...
    let mutation = named(&spans, "http")
        .find(|s| s.trace_id() == trace && s.attribute("path").as_deref() == Some("/graphql"))
        .expect("the mutation's request span is in the caller's trace");
    assert_eq!(mutation.parent_span_id(), caller_span);
    // ...and so does the Stripe call, with its policy outcome.
    let call = spans
        .iter()
        .find(|s| s.trace_id() == trace && s.span.name == "stripe payment_intents.create")
        .expect("the Stripe call is a span of the mutation's trace");
    assert_eq!(call.attribute("attempts").as_deref(), Some("1"));
    assert_eq!(call.attribute("breaker_state").as_deref(), Some("closed"));
    assert_eq!(call.attribute("rate_limit_wait_ms").as_deref(), Some("0"));
    assert_eq!(call.attribute("outcome").as_deref(), Some("success"));
    // The webhook's request links back to it...
    assert!(
        named(&spans, "http").any(
            |s| s.attribute("path").as_deref() == Some("/webhooks/stripe")
                && s.linked_traces().contains(&trace)
        ),
        "the webhook's request span links to the mutation's trace"
    );
    // ...as do its application and the push to the subscriber, a child of the application.
    assert_eq!(pushed.trace_id(), applied.trace_id());
    assert_eq!(pushed.parent_span_id(), applied.span_id());
    // The WebSocket upgrade continued its caller's trace too.
    let upgrade = named(&spans, "http")
        .find(|s| s.attribute("path").as_deref() == Some("/graphql/ws"))
        .expect("the upgrade's span");
    assert_eq!(
        (upgrade.trace_id(), upgrade.parent_span_id()),
        (socket_trace, socket_span)
    );
}

#[tokio::test]
async fn sandbox_events_link_to_the_trace_stored_with_their_payment() {
    let receiver = Receiver::start().await;
    // Sandbox events carry no metadata: the processor finds the trace stored with the payment.
    let server = Server::start_with(&receiver, &[("SANDBOX_STEP_MS", "50")]).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let token = sign_in(&client, &server, "sandy").await;
    let bearer = format!("Bearer {token}");
    let (traceparent, trace, _) = caller_context();
    let created = graphql(
        &client,
        &server,
        &[("authorization", &bearer), ("traceparent", &traceparent)],
        "mutation($i: PaymentIntentInput!, $k: String!) { createPaymentIntent(input: $i, idempotencyKey: $k) { payment { id } } }",
        json!({ "i": { "amount": 900, "currency": "usd" }, "k": "sandbox-traced" }),
    )
    .await;
    let id = &created["data"]["createPaymentIntent"]["payment"]["id"];
    assert!(id.is_string(), "{created}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let payment = graphql(
            &client,
            &server,
            &[("authorization", &bearer)],
            "query($id: ID!) { payment(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
        if payment["data"]["payment"]["status"] == "SUCCEEDED" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{payment}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;

    let spans = receiver
        .until(|spans| {
            named(spans, "webhook.apply")
                .any(|s| s.linked_traces().contains(&trace))
                .then(|| spans.to_vec())
        })
        .await;
    assert!(
        spans
            .iter()
            .any(|s| s.trace_id() == trace && s.span.name == "sandbox payment_intents.create"),
        "the sandbox call is a span of the mutation's trace"
    );
}
