//! Start-up and graceful shutdown.

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::TestApp;
use crate::websocket::{connect, receive, send};

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away_and_stops_listening() {
    let app = TestApp::spawn().await;
    let address = app.address.clone();
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");

    let client = app.client.clone();
    let stopped = tokio::spawn(app.stop());

    let close = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("close before the deadline")
        .expect("a frame")
        .expect("no error");
    let Message::Close(Some(frame)) = close else {
        panic!("expected a close frame, got {close:?}");
    };
    assert_eq!(frame.code, CloseCode::Away);
    stopped.await.unwrap().expect("clean shutdown");

    let refused = client.get(format!("{address}/health/live")).send().await;
    assert!(refused.is_err(), "listener is closed after shutdown");
}
