//! graphql-transport-ws subscribers: authenticate in `connection_init`, subscribe, and report
//! each `next` message with its arrival time.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Called with each `next` message's text and arrival time; `first` marks a subscription's
/// first message.
pub type OnNext = Arc<dyn Fn(&str, Instant, bool) + Send + Sync>;

/// Opens a subscription at `ws_url` and returns once the server acknowledged the connection
/// and the subscription was sent; a task then reads messages until the socket closes.
pub async fn subscribe(
    ws_url: &str,
    token: &str,
    query: &str,
    variables: Value,
    on_next: OnNext,
) -> anyhow::Result<()> {
    let mut request = ws_url.into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("valid header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })
                .to_string(),
        ))
        .await?;
    let ack = socket.next().await.context("closed before ack")??;
    if !ack.to_text().unwrap_or_default().contains("connection_ack") {
        bail!("expected connection_ack, got {ack:?}");
    }
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } })
                .to_string(),
        ))
        .await?;
    tokio::spawn(async move {
        let mut first = true;
        while let Some(Ok(message)) = socket.next().await {
            let arrived = Instant::now();
            if let Message::Text(text) = message {
                if text.contains(r#""type":"next""#) {
                    on_next(text.as_str(), arrived, first);
                    first = false;
                } else if text.contains(r#""type":"error""#) {
                    eprintln!("subscription error: {text}");
                }
            }
        }
    });
    Ok(())
}
