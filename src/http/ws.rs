//! `/graphql/ws`: GraphQL subscriptions over WebSocket, speaking both `graphql-transport-ws` and
//! the legacy `graphql-ws` subprotocol.
//!
//! Authentication: a bearer token in the `connection_init` payload (`{"authorization":
//! "Bearer …"}` or `{"accessToken": "…"}`), or the session cookie on the upgrade request when
//! its `Origin` is allowed (browsers send cookies cross-site on WebSocket upgrades, so the
//! origin check stands in for CSRF protection). Refused credentials close the socket with
//! 4403 and a reason that starts with `extensions.reason` (`TOKEN_EXPIRED: ...`); logout and
//! the end of the session close it with 4403 and `SESSION_ENDED: ...`.
//!
//! Limits (docs/security.md): sockets per address and in all are counted at the upgrade, per
//! user at `connection_init`; `connection_init` must come within a deadline (4408); keepalive
//! pings close a silent peer (3008); a repeated operation id closes the socket (4409) and
//! operations past the per-socket cap are answered with an error ([`super::ws_guard`]).
//!
//! The socket loop is ours rather than `async_graphql_axum::GraphQLWebSocket::serve` so that
//! the server can end a socket with a proper close frame and enforce those limits.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use async_graphql::Data;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlSocket, WebSocketProtocols, WsMessage,
};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt, future};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::graphql::TrustedExecutor;
use super::graphql::trusted::{Sender, sender_of_init};
use super::request_id::CurrentRequestId;
use super::ws_guard::{Admission, Guard, operation_lagged};
use super::ws_outlet::{Delivery, DeliveryKind, Outlet};
use super::ws_shared::{Origin, Taken, complete_text};
use crate::auth::viewer::bearer_token;
use crate::auth::{Credentials, ViewerState, WatchedSocket};
use crate::error::AppError;
use crate::graphql::Caller;
use crate::limits::ClientIp;
use crate::limits::sockets::{SocketRefusal, SocketSlot};
use crate::sync::lock;

/// Close code sent when the server shuts down (RFC 6455 "going away").
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a socket past a per-user or per-address cap (RFC 6455 "policy violation").
const CLOSE_POLICY: u16 = 1008;
/// Close code when the server holds all the sockets it may (RFC 6455 "try again later").
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// Close code for a peer that stopped answering keepalive pings ("timeout").
const CLOSE_TIMEOUT: u16 = 3008;
/// Close code for refused credentials and ended sessions (graphql-transport-ws "Forbidden").
const CLOSE_FORBIDDEN: u16 = 4403;
/// Close code when `connection_init` did not come in time (graphql-transport-ws).
const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// Upgrades the connection and serves GraphQL over it until either side ends it.
pub async fn upgrade(
    State(state): State<AppState>,
    CurrentRequestId(request_id): CurrentRequestId,
    Extension(client): Extension<ClientIp>,
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
    // The place is taken before the upgrade, so a flood of sockets is refused, not queued.
    let slot = state.sockets.open(client.0);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // GraphQL messages are small and most sockets sit idle: the default 128 KiB buffers
        // each way would dominate a server holding thousands of subscriptions.
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| {
            tasks.track_future(async move {
                match slot {
                    Ok(slot) => {
                        let connection = Connection {
                            protocol,
                            request_id,
                            cookie_credentials,
                            client,
                            slot: Arc::new(slot),
                        };
                        serve(socket, state, connection).await;
                    }
                    Err(refusal) => refuse(socket, refusal).await,
                }
            })
        })
}

/// Closes a socket that is past a cap, with a close frame saying which.
async fn refuse(mut socket: WebSocket, refusal: SocketRefusal) {
    let code = match refusal {
        SocketRefusal::ServerFull => CLOSE_TRY_AGAIN_LATER,
        SocketRefusal::TooManyFromAddress | SocketRefusal::TooManyForUser => CLOSE_POLICY,
    };
    let _ = socket.send(close(code, refusal.reason().into())).await;
    let _ = socket.close().await;
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

/// What the upgrade learned about a socket.
struct Connection {
    protocol: WebSocketProtocols,
    request_id: Arc<str>,
    cookie_credentials: Option<Credentials>,
    client: ClientIp,
    slot: Arc<SocketSlot>,
}

async fn serve(socket: WebSocket, state: AppState, connection: Connection) {
    let Connection {
        protocol,
        request_id,
        cookie_credentials,
        client,
        slot,
    } = connection;
    let _open = crate::telemetry::stages::OpenSocket::open();
    let limits = state.sockets.limits().clone();
    let (sink, stream) = socket.split();
    let legacy = protocol == WebSocketProtocols::SubscriptionsTransportWS;
    // Everything this task sends goes through the outlet, which shared executions also write to.
    let outlet = Arc::new(Outlet::new(sink, legacy));
    let guard = Arc::new(Guard::new(
        limits.max_subscriptions_per_socket,
        outlet.clone(),
    ));
    // Cancelled when the socket's session ends (logout, refresh-token reuse, expiry).
    let session_ended = CancellationToken::new();
    let stop = {
        let (shutdown, ended, reading) = (
            state.shutdown.clone(),
            session_ended.clone(),
            guard.stop_reading.clone(),
        );
        async move {
            tokio::select! {
                () = shutdown.cancelled() => {},
                () = ended.cancelled() => {},
                () = reading.cancelled() => {},
            }
        }
    };
    // Ending the input ends the GraphQL session, which stops its subscriptions.
    let input = {
        let guard = guard.clone();
        let share = Share {
            state: state.clone(),
            request_id: request_id.clone(),
            client,
        };
        Box::pin(
            stream
                .take_until(stop)
                .take_while(|message| future::ready(message.is_ok()))
                .filter_map(move |message| {
                    let guard = guard.clone();
                    let share = share.clone();
                    async move {
                        *lock(&guard.last_heard) = Instant::now();
                        let data = match message {
                            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                                message.into_data()
                            }
                            _ => return None,
                        };
                        match guard.admit(&data) {
                            Admission::Pass => match share.take(&guard, &data) {
                                Taken::No => Some(data),
                                Taken::Yes => None,
                                Taken::Reply(reply) => {
                                    guard.queue_reply(reply).await;
                                    None
                                }
                            },
                            Admission::Drop => None,
                            Admission::Refuse(refusal) => {
                                guard.queue_reply(refusal).await;
                                None
                            }
                        }
                    }
                }),
        )
    };
    let on_init = {
        // The socket keeps its own handle on the slot: the place is held until it closes.
        let (state, ended, guard, slot) = (
            state.clone(),
            session_ended.clone(),
            guard.clone(),
            slot.clone(),
        );
        move |payload: serde_json::Value| async move {
            guard.initialised.store(true, Ordering::Release);
            let credentials = match payload_token(&payload) {
                Some(token) => Credentials::bearer(token),
                None => cookie_credentials.unwrap_or_default(),
            };
            let viewer = authenticate_socket(&state, &credentials, ended).await;
            match &viewer {
                ViewerState::Rejected(err) => {
                    let reason = close_reason(err);
                    let _ = guard.closing.set((CLOSE_FORBIDDEN, reason.clone()));
                    return Err(async_graphql::Error::new(reason));
                }
                ViewerState::SignedIn(viewer) => {
                    if let Err(refusal) = slot.sign_in(viewer.user_id) {
                        let _ = guard.closing.set((CLOSE_POLICY, refusal.reason().into()));
                        return Err(async_graphql::Error::new(refusal.reason()));
                    }
                    guard.shares.signed_in(viewer, sender_of_init(&payload));
                }
                ViewerState::Anonymous => {}
            }
            let mut data = Data::default();
            data.insert(Caller {
                request_id,
                client,
                viewer,
                // A socket's credentials were checked here, and it cannot set cookies.
                credentials: None,
                cookies: None,
            });
            // Read by the document policy (GraphiQL is exempt from trusted-only while enabled).
            data.insert(sender_of_init(&payload));
            Ok(data)
        }
    };
    let executor = trusted_executor(&state);
    let mut output = GraphqlSocket::new(executor, input, protocol).on_connection_init(on_init);
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(init_deadline);
    let mut pings = tokio::time::interval_at(
        tokio::time::Instant::now() + limits.ping_interval,
        limits.ping_interval,
    );
    // A slow send must not be followed by a burst of catch-up pings.
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent_close = false;
    loop {
        let message = tokio::select! {
            message = output.next() => match message {
                Some(WsMessage::Text(text)) => {
                    guard.sent(&text);
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    sent_close = true;
                    match guard.closing.get() {
                        Some((code, reason)) => close(*code, reason.clone()),
                        None => close(code, reason),
                    }
                }
                None => break,
            },
            reply = guard.next_reply() => Message::Text(reply.into()),
            () = outlet.wanted() => {
                if outlet.drain(|delivery| delivery_text(&guard, delivery)).await.is_err() {
                    return;
                }
                continue;
            }
            () = &mut init_deadline, if !guard.initialised.load(Ordering::Acquire) => {
                guard.close_with(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout");
                break;
            }
            _ = pings.tick() => {
                if lock(&guard.last_heard).elapsed() > limits.ping_interval * 2 {
                    guard.close_with(CLOSE_TIMEOUT, "no answer to keepalive pings");
                    break;
                }
                Message::Ping(Default::default())
            }
        };
        if outlet.send(message).await.is_err() {
            return;
        }
    }
    let farewell = if sent_close {
        None
    } else if let Some((code, reason)) = guard.closing.get() {
        Some(close(*code, reason.clone()))
    } else if state.shutdown.is_cancelled() {
        Some(close(CLOSE_GOING_AWAY, "server shutting down".into()))
    } else if session_ended.is_cancelled() {
        Some(close(CLOSE_FORBIDDEN, SESSION_ENDED_REASON.into()))
    } else {
        None
    };
    if let Some(farewell) = farewell {
        let _ = outlet.send(farewell).await;
    }
    session_ended.cancel();
    let _ = outlet.close().await;
}

/// The schema behind the document policy, as every operation on a socket runs.
fn trusted_executor(state: &AppState) -> TrustedExecutor {
    TrustedExecutor::new(
        state.schema.clone(),
        state.document_policy.clone(),
        state.documents.clone(),
    )
}

/// What a socket needs to run its subscriptions in shared executions.
#[derive(Clone)]
struct Share {
    state: AppState,
    request_id: Arc<str>,
    client: ClientIp,
}

impl Share {
    /// Hands a client message to the shared executions when it is theirs.
    fn take(&self, guard: &Guard, message: &[u8]) -> Taken {
        let origin = |viewer: &crate::auth::Viewer, sender: Sender| {
            let mut data = Data::default();
            data.insert(Caller {
                request_id: self.request_id.clone(),
                client: self.client,
                viewer: ViewerState::SignedIn(viewer.clone()),
                credentials: None,
                cookies: None,
            });
            data.insert(sender);
            Origin {
                executor: trusted_executor(&self.state),
                tasks: self.state.ws_tasks.clone(),
                data,
            }
        };
        // A joiner's operation counts against the user's quota as a lone one would.
        let admit = |viewer: &crate::auth::Viewer| self.state.limits.user(viewer.user_id).is_ok();
        let executions = self.state.shared_executions();
        guard.shares.take(message, executions, origin, admit)
    }
}

/// The text of a queued shared delivery, or `None` for one whose operation the client
/// completed.
fn delivery_text(guard: &Guard, delivery: Delivery) -> Option<Utf8Bytes> {
    if !guard.shares.accepts(&delivery) {
        return None;
    }
    if !matches!(delivery.kind, DeliveryKind::Next(_)) {
        guard.finished(&delivery.operation_id);
    }
    Some(match delivery.kind {
        DeliveryKind::Next(text) => text,
        DeliveryKind::Complete => complete_text(&delivery.operation_id).into(),
        DeliveryKind::Lagged => operation_lagged(&delivery.operation_id).into(),
    })
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
        Ok((viewer, verified)) => {
            state
                .auth
                .sockets()
                .register(verified.session.id, ended.clone());
            let token_expires_at = state.auth.access_expiry(token).unwrap_or_else(Utc::now);
            let socket = WatchedSocket {
                viewer: viewer.clone(),
                session_expires_at: verified.session.expires_at,
                ended,
            };
            if state.socket_rechecks().watch(token_expires_at, socket) {
                start_rechecks(state);
            }
            ViewerState::SignedIn(viewer)
        }
        Err(err) => ViewerState::Rejected(err),
    }
}

/// Starts the timer that ends sockets with their session, and at the expiry of each access
/// token's worth of time checks the viewer against the database: a session ended elsewhere or
/// a right the user lost (an admin removed from `ADMIN_IDENTITIES`) ends the socket with 4403.
fn start_rechecks(state: &AppState) {
    let auth = state.auth.clone();
    let check = move |viewer: crate::auth::Viewer| {
        let auth = auth.clone();
        async move { auth.viewer_still_stands(&viewer).await }
    };
    tokio::spawn(state.socket_rechecks().clone().run(
        check,
        state.auth.access_ttl(),
        state.shutdown.clone(),
    ));
}

/// The close reason when a socket's session ends while it is open.
const SESSION_ENDED_REASON: &str = "SESSION_ENDED: the session has ended; sign in again";

/// The close reason for refused credentials: `UNAUTHENTICATED`'s `extensions.reason` first,
/// so a client can tell "refresh and reconnect" from "sign in again" without parsing words.
fn close_reason(err: &AppError) -> String {
    let reason = match err {
        AppError::Unauthenticated { reason, message } => format!("{}: {message}", reason.as_str()),
        other => format!("{}: {other}", other.code().as_str()),
    };
    truncate_close_reason(reason)
}

/// A close frame's reason holds at most 123 bytes (RFC 6455 section 5.5).
fn truncate_close_reason(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
