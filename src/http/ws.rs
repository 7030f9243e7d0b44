//! `/graphql/ws`: GraphQL subscriptions over WebSocket, speaking both `graphql-transport-ws` and
//! the legacy `graphql-ws` subprotocol.
//!
//! The socket loop is ours rather than `async_graphql_axum::GraphQLWebSocket::serve` so that the
//! server can end a socket with a proper close frame: on shutdown today, and when a session ends.

use async_graphql::Data;
use std::str::FromStr;

use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlSocket, WebSocketProtocols, WsMessage,
};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};

use super::AppState;
use super::request_id::CurrentRequestId;
use crate::graphql::RequestId;

/// Close code sent when the server shuts down (RFC 6455 "going away").
const CLOSE_GOING_AWAY: u16 = 1001;

/// Upgrades the connection and serves GraphQL over it until either side ends it.
pub async fn upgrade(
    State(state): State<AppState>,
    CurrentRequestId(request_id): CurrentRequestId,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = subprotocol(&headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "Ask for the graphql-transport-ws or graphql-ws subprotocol.",
        )
            .into_response();
    };
    let tasks = state.ws_tasks.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| tasks.track_future(serve(socket, state, protocol, request_id)))
}

/// The first GraphQL subprotocol the client offers.
fn subprotocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    request_id: String,
) {
    let (mut sink, stream) = socket.split();
    // Ending the input ends the GraphQL session, which stops its subscriptions.
    let input = Box::pin(
        stream
            .take_until(state.shutdown.clone().cancelled_owned())
            .take_while(|message| future::ready(message.is_ok()))
            .filter_map(|message| {
                future::ready(match message {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        Some(message.into_data())
                    }
                    _ => None,
                })
            }),
    );
    let mut data = Data::default();
    data.insert(RequestId(request_id));
    let mut output =
        GraphqlSocket::new(state.schema.clone(), input, protocol).connection_data(data);
    while let Some(message) = output.next().await {
        let message = match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => close(code, reason),
        };
        if sink.send(message).await.is_err() {
            return;
        }
    }
    if state.shutdown.is_cancelled() {
        let _ = sink
            .send(close(CLOSE_GOING_AWAY, "server shutting down".into()))
            .await;
    }
    let _ = sink.close().await;
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
