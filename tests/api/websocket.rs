//! `/graphql/ws` with both subprotocols, through a real WebSocket client.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::TestApp;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` offering `protocol`, and checks the server picked it.
pub async fn connect(app: &TestApp, protocol: &str) -> Socket {
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

/// Opens a graphql-transport-ws socket authenticated by `token` in `connection_init`.
pub async fn signed_in_socket(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(app, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    send(&mut socket, init).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

/// Sends a JSON message.
pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// Receives the next JSON message, failing after a deadline.
pub async fn receive(socket: &mut Socket) -> Value {
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("a message before the deadline")
        .expect("socket open")
        .expect("no socket error");
    match next {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Waits for the server's close frame and returns its code, failing after a deadline.
pub async fn close_code(socket: &mut Socket) -> u16 {
    close_frame(socket).await.0
}

/// The code and reason of the next frame, which must be a close frame.
pub async fn close_frame(socket: &mut Socket) -> (u16, String) {
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("a close frame before the deadline")
        .expect("a frame")
        .expect("no socket error");
    let Message::Close(Some(frame)) = next else {
        panic!("expected a close frame, got {next:?}");
    };
    (u16::from(frame.code), frame.reason.to_string())
}

#[tokio::test]
async fn graphql_transport_ws_runs_an_operation() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ serverInfo { version } }" } }),
    )
    .await;
    let next = receive(&mut socket).await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["id"], "1");
    assert_eq!(
        next["payload"]["data"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        receive(&mut socket).await,
        json!({ "id": "1", "type": "complete" })
    );
}

#[tokio::test]
async fn legacy_graphql_ws_runs_an_operation() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app, "graphql-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "7", "type": "start", "payload": { "query": "{ serverInfo { environment } }" } }),
    )
    .await;
    let data = receive(&mut socket).await;
    assert_eq!(data["type"], "data");
    assert_eq!(
        data["payload"]["data"]["serverInfo"]["environment"],
        "development"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");
}

#[tokio::test]
async fn upgrade_without_a_graphql_subprotocol_is_refused() {
    let app = TestApp::spawn().await;
    let request = app.ws_url().into_client_request().unwrap();
    let err = tokio_tungstenite::connect_async(request)
        .await
        .expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal, got {err:?}");
    };
    assert_eq!(response.status(), 400);
}
