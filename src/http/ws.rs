//! `/graphql/ws`: GraphQL subscriptions over WebSocket, speaking both `graphql-transport-ws` and
//! the legacy `graphql-ws` subprotocol.
//!
//! Authentication: a bearer token in the `connection_init` payload (`{"authorization":
//! "Bearer …"}` or `{"accessToken": "…"}`), or the session cookie on the upgrade request when
//! its `Origin` is allowed (browsers send cookies cross-site on WebSocket upgrades, so the
//! origin check stands in for CSRF protection). Refused credentials close the socket with
//! 4403; so do logout and the end of the session.
//!
//! The socket loop is ours rather than `async_graphql_axum::GraphQLWebSocket::serve` so that
//! the server can end a socket with a proper close frame.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use async_graphql::Data;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlSocket, WebSocketProtocols, WsMessage,
};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt, future};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::request_id::CurrentRequestId;
use crate::auth::viewer::bearer_token;
use crate::auth::{Credentials, ViewerState};
use crate::graphql::RequestId;

/// Close code sent when the server shuts down (RFC 6455 "going away").
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for refused credentials and ended sessions (graphql-transport-ws "Forbidden").
const CLOSE_FORBIDDEN: u16 = 4403;

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
    let cookie_credentials = origin_allowed(&state, &headers)
        .then(|| Credentials::from_headers(&headers, state.auth.cookies()))
        .filter(|c| c.uses_cookie() || c.duplicate.is_some());
    let tasks = state.ws_tasks.clone();
    let max_message = state.config.http_max_body_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // GraphQL messages are small and most sockets sit idle: the default 128 KiB buffers
        // each way would dominate a server holding thousands of subscriptions.
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| {
            tasks.track_future(serve(
                socket,
                state,
                protocol,
                request_id,
                cookie_credentials,
            ))
        })
}

/// Read buffer of each socket; larger messages still arrive, in more reads.
const SOCKET_BUFFER_BYTES: usize = 1024;

/// The first GraphQL subprotocol the client offers.
fn subprotocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| state.auth.is_allowed_origin(origin))
}

/// The bearer token of a `connection_init` payload, if any.
fn payload_token(payload: &serde_json::Value) -> Option<String> {
    let field = |name: &str| payload.get(name).and_then(|v| v.as_str());
    field("authorization")
        .or_else(|| field("Authorization"))
        .and_then(bearer_token)
        .or_else(|| field("accessToken"))
        .map(str::to_owned)
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    request_id: String,
    cookie_credentials: Option<Credentials>,
) {
    let (mut sink, stream) = socket.split();
    // Cancelled when the socket's session ends (logout, refresh-token reuse, expiry).
    let session_ended = CancellationToken::new();
    let refused: Arc<OnceLock<String>> = Arc::default();
    let stop = {
        let (shutdown, ended) = (state.shutdown.clone(), session_ended.clone());
        async move {
            tokio::select! { () = shutdown.cancelled() => {}, () = ended.cancelled() => {} }
        }
    };
    // Ending the input ends the GraphQL session, which stops its subscriptions.
    let input = Box::pin(
        stream
            .take_until(stop)
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
    let on_init = {
        let (state, ended, refused) = (state.clone(), session_ended.clone(), refused.clone());
        move |payload: serde_json::Value| async move {
            let credentials = match payload_token(&payload) {
                Some(token) => Credentials::bearer(token),
                None => cookie_credentials.unwrap_or_default(),
            };
            let viewer = authenticate_socket(&state, &credentials, ended).await;
            if let ViewerState::Rejected(err) = &viewer {
                let _ = refused.set(err.to_string());
                return Err(async_graphql::Error::new(err.to_string()));
            }
            let mut data = Data::default();
            data.insert(viewer);
            Ok(data)
        }
    };
    let mut output = GraphqlSocket::new(state.schema.clone(), input, protocol)
        .connection_data(data)
        .on_connection_init(on_init);
    while let Some(message) = output.next().await {
        let message = match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(_, reason) if refused.get().is_some() => {
                close(CLOSE_FORBIDDEN, reason)
            }
            WsMessage::Close(code, reason) => close(code, reason),
        };
        if sink.send(message).await.is_err() {
            return;
        }
    }
    let farewell = if state.shutdown.is_cancelled() {
        Some(close(CLOSE_GOING_AWAY, "server shutting down".into()))
    } else if session_ended.is_cancelled() {
        Some(close(CLOSE_FORBIDDEN, "session ended".into()))
    } else {
        None
    };
    if let Some(farewell) = farewell {
        let _ = sink.send(farewell).await;
    }
    session_ended.cancel();
    let _ = sink.close().await;
}

/// Authenticates a socket and, when signed in, arranges for it to end with its session and
/// to re-check its viewer whenever the access token it relied on would have expired.
async fn authenticate_socket(
    state: &AppState,
    credentials: &Credentials,
    ended: CancellationToken,
) -> ViewerState {
    if let Some(duplicate) = &credentials.duplicate {
        return ViewerState::Rejected(duplicate.clone().into_error());
    }
    let Some((token, source)) = &credentials.access else {
        return ViewerState::Anonymous;
    };
    match state.auth.session_of(token, *source).await {
        Ok((viewer, session)) => {
            state.auth.sockets().register(session.id, ended.clone());
            let token_expires_at = state.auth.access_expiry(token).unwrap_or_else(Utc::now);
            tokio::spawn(recheck_viewer(
                state.clone(),
                viewer.clone(),
                session.expires_at,
                token_expires_at,
                ended,
            ));
            ViewerState::SignedIn(viewer)
        }
        Err(err) => ViewerState::Rejected(err),
    }
}

/// Ends the socket when its session expires, and at the expiry of each access token's worth
/// of time checks the viewer against the database: a session ended elsewhere or a right the
/// user lost (an admin removed from `ADMIN_IDENTITIES`) ends the socket with 4403.
async fn recheck_viewer(
    state: AppState,
    viewer: crate::auth::Viewer,
    session_expires_at: chrono::DateTime<Utc>,
    mut check_at: chrono::DateTime<Utc>,
    ended: CancellationToken,
) {
    loop {
        let deadline = check_at.min(session_expires_at);
        let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = ended.cancelled() => return,
        }
        if deadline >= session_expires_at {
            ended.cancel();
            return;
        }
        match state.auth.viewer_still_stands(&viewer).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(session_id = %viewer.session_id, "socket viewer no longer stands; closing");
                ended.cancel();
                return;
            }
            // The database did not answer: fail closed, the client reconnects.
            Err(err) => {
                tracing::warn!(error = %err, "re-checking a socket's viewer failed; closing");
                ended.cancel();
                return;
            }
        }
        check_at =
            Utc::now() + chrono::Duration::from_std(state.auth.access_ttl()).unwrap_or_default();
    }
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
