//! Shared subscription execution (decision 0020): a live subscription runs once per document,
//! variables and viewer, and its serialised responses fan out to every socket that subscribed
//! with the same key. Ten thousand sockets watching one payment cost one execution and one
//! serialisation per event, and one encoding of the message per operation id; the message is
//! written straight into every idle socket ([`super::ws_outlet`]), by a few delivering tasks
//! rather than by ten thousand socket tasks woken one by one.
//!
//! Authorization stays per subscriber: the key holds the viewer's user id and admin flag, so
//! only subscribers who would be shown exactly the same responses share them
//! ([`crate::graphql::shared_subscription`] says which subscriptions qualify).
//!
//! [`Execution::push`] is the one place where a response reaches its subscribers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::http::ClientMessage;
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::graphql::TrustedExecutor;
use super::graphql::trusted::Sender;
use super::ws_outlet::{Delivery, DeliveryKind, Offered, Outlet};
use crate::auth::Viewer;
use crate::graphql::{Replay, shared_subscription};
use crate::sync::lock;

/// Members one delivering task writes to. A large fan-out is split between tasks so that every
/// worker thread takes part; each task writes to many sockets, so waking it costs little.
const MEMBERS_PER_TASK: usize = 512;

/// Who may share an execution: the same document, operation, variables and viewer rights, sent
/// by the same kind of sender (the document policy exempts GraphiQL while it is enabled).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    user: Uuid,
    admin: bool,
    graphiql: bool,
    query: String,
    operation: Option<String>,
    variables: String,
}

impl Key {
    fn of(signed_in: &SignedIn, request: &Request) -> Option<Key> {
        let viewer = &signed_in.viewer;
        Some(Key {
            user: viewer.user_id,
            admin: viewer.is_admin,
            graphiql: signed_in.sender == Sender::Graphiql,
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).ok()?,
        })
    }
}

/// The executions running on this server, by key.
#[derive(Default)]
pub struct SharedExecutions {
    running: Mutex<HashMap<Arc<Key>, Arc<Execution>>>,
    next_member: AtomicU64,
}

/// One running execution and the sockets it serves.
struct Execution {
    key: Arc<Key>,
    replay: Replay,
    state: Mutex<ExecutionState>,
    /// Cancelled when the last member leaves, which stops the execution.
    idle: CancellationToken,
}

#[derive(Default)]
struct ExecutionState {
    members: HashMap<u64, Arc<Member>>,
    /// The latest payload, for joiners owed [`Replay::Latest`].
    latest: Option<Arc<str>>,
    /// The execution finished; joiners start a new one.
    ended: bool,
}

/// One socket's operation in an execution.
struct Member {
    serial: u64,
    outlet: Arc<Outlet>,
    operation_id: Arc<str>,
    /// Cleared when the socket leaves (its [`Membership`] is dropped), before the socket can
    /// acknowledge a `complete`.
    live: AtomicBool,
}

/// What the socket needs to start an execution on its viewer's behalf.
pub struct Origin {
    /// The schema behind the document policy, as the socket's other operations run.
    pub executor: TrustedExecutor,
    /// Where the execution's task is tracked, so shutdown waits for it.
    pub tasks: TaskTracker,
    /// The socket's connection data (request id, address, viewer), as a lone subscription gets.
    pub data: Data,
}

/// A socket's place in an execution; leaving (dropping it) stops the execution with its last
/// member.
pub struct Membership {
    member: Arc<Member>,
    execution: Arc<Execution>,
    executions: Arc<SharedExecutions>,
}

impl SharedExecutions {
    /// Joins (or starts) the shared execution of `request`, delivering to `outlet` under
    /// `operation_id`. `None` when the request must run alone, or when `admit` refuses a joiner
    /// (a rate limit): the caller then hands the request to the ordinary path.
    pub fn join(
        self: &Arc<Self>,
        request: Request,
        operation_id: &str,
        outlet: &Arc<Outlet>,
        signed_in: &SignedIn,
        origin: impl FnOnce() -> Origin,
        admit: impl FnOnce() -> bool,
    ) -> Option<Membership> {
        let key = Key::of(signed_in, &request)?;
        let mut running = lock(&self.running);
        let current = running
            .get(&key)
            .filter(|execution| !lock(&execution.state).ended)
            .cloned();
        let execution = match current {
            // The joiner's operation is counted like any other; the starter's is counted by
            // the execution itself.
            Some(execution) => admit().then_some(execution)?,
            None => {
                let replay = shared_subscription(&request)?;
                let execution = Arc::new(Execution {
                    key: Arc::new(key),
                    replay,
                    state: Mutex::default(),
                    idle: CancellationToken::new(),
                });
                running.insert(execution.key.clone(), execution.clone());
                let origin = origin();
                let data = Some(Arc::new(origin.data));
                let responses = origin.executor.execute_stream(request, data);
                origin
                    .tasks
                    .spawn(run(execution.clone(), Arc::downgrade(self), responses));
                execution
            }
        };
        let member = Arc::new(Member {
            serial: self.next_member.fetch_add(1, Ordering::Relaxed),
            outlet: outlet.clone(),
            operation_id: operation_id.into(),
            live: AtomicBool::new(true),
        });
        {
            let mut state = lock(&execution.state);
            if let (Replay::Latest, Some(latest)) = (execution.replay, &state.latest) {
                let text = message_text(outlet.legacy, operation_id, latest);
                outlet.queue(Delivery {
                    serial: member.serial,
                    operation_id: member.operation_id.clone(),
                    kind: DeliveryKind::Next(text.into()),
                });
            }
            state.members.insert(member.serial, member.clone());
        }
        drop(running);
        Some(Membership {
            member,
            execution,
            executions: self.clone(),
        })
    }

    /// Forgets `execution` if it is still the one running under its key.
    fn forget(&self, execution: &Arc<Execution>) {
        let mut running = lock(&self.running);
        if running
            .get(&execution.key)
            .is_some_and(|current| Arc::ptr_eq(current, execution))
        {
            running.remove(&execution.key);
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // First: a delivering task that reads this while holding the socket's write half has
        // written its `next` before the socket's `complete` can be sent.
        self.member.live.store(false, Ordering::Release);
        let mut running = lock(&self.executions.running);
        let mut state = lock(&self.execution.state);
        state.members.remove(&self.member.serial);
        if state.members.is_empty() && !state.ended {
            state.ended = true;
            self.execution.idle.cancel();
            if running
                .get(&self.execution.key)
                .is_some_and(|current| Arc::ptr_eq(current, &self.execution))
            {
                running.remove(&self.execution.key);
            }
        }
    }
}

/// Drives one execution until it ends or nobody listens any more.
async fn run(
    execution: Arc<Execution>,
    executions: std::sync::Weak<SharedExecutions>,
    mut responses: BoxStream<'static, Response>,
) {
    loop {
        let response = tokio::select! {
            () = execution.idle.cancelled() => return,
            response = responses.next() => response,
        };
        match response {
            // Unconstrained: writing to thousands of sockets in one go must not run out of
            // tokio's per-task budget and see sockets as busy that are not.
            Some(response) => tokio::task::unconstrained(execution.push(&response)).await,
            None => {
                execution.finish();
                if let Some(executions) = executions.upgrade() {
                    executions.forget(&execution);
                }
                return;
            }
        }
    }
}

impl Execution {
    /// Serialises `response` once and delivers it to every member, returning once each has it
    /// written or queued (so the next response cannot overtake it).
    async fn push(&self, response: &Response) {
        let payload: Arc<str> = match serde_json::to_string(response) {
            Ok(payload) => payload.into(),
            Err(err) => {
                tracing::error!(error = %err, "a subscription response did not serialise");
                return;
            }
        };
        // Written without the lock held: members may join and leave meanwhile.
        let members: Arc<[Arc<Member>]> = {
            let mut state = lock(&self.state);
            state.latest = Some(payload.clone());
            state.members.values().cloned().collect()
        };
        let first = members.len().min(MEMBERS_PER_TASK);
        let helpers: Vec<_> = (first..members.len())
            .step_by(MEMBERS_PER_TASK)
            .map(|start| {
                let (members, payload) = (members.clone(), payload.clone());
                let end = (start + MEMBERS_PER_TASK).min(members.len());
                tokio::spawn(tokio::task::unconstrained(async move {
                    deliver(&members[start..end], &payload)
                }))
            })
            .collect();
        let mut lagged = deliver(&members[..first], &payload);
        for helper in helpers {
            lagged.extend(helper.await.unwrap_or_default());
        }
        // A member whose socket stopped reading is ended rather than queued without bound.
        if !lagged.is_empty() {
            let mut state = lock(&self.state);
            for serial in lagged {
                state.members.remove(&serial);
            }
        }
    }

    /// Tells every member that the operation completed.
    fn finish(&self) {
        let mut state = lock(&self.state);
        state.ended = true;
        for (serial, member) in state.members.drain() {
            member.outlet.queue(Delivery {
                serial,
                operation_id: member.operation_id.clone(),
                kind: DeliveryKind::Complete,
            });
        }
    }
}

/// Offers the response `payload` to `members`; returns the serials of those that lagged.
fn deliver(members: &[Arc<Member>], payload: &str) -> Vec<u64> {
    let mut messages = Messages::of(payload);
    let mut lagged = Vec::new();
    for member in members {
        let Member {
            serial,
            outlet,
            operation_id,
            live,
        } = &**member;
        let text = messages.next(outlet.legacy, operation_id);
        let live = || live.load(Ordering::Acquire);
        if outlet.offer(*serial, operation_id, text, live) == Offered::Lagged {
            lagged.push(*serial);
        }
    }
    lagged
}

/// The messages carrying one response, encoded once per protocol and operation id: the
/// sockets whose clients chose the same id (most clients number from 1) share one buffer.
struct Messages<'a> {
    payload: &'a str,
    /// By protocol (`graphql-transport-ws`, legacy `graphql-ws`), then operation id.
    built: [HashMap<Arc<str>, Utf8Bytes>; 2],
}

impl<'a> Messages<'a> {
    fn of(payload: &'a str) -> Self {
        Messages {
            payload,
            built: Default::default(),
        }
    }

    fn next(&mut self, legacy: bool, operation_id: &Arc<str>) -> &Utf8Bytes {
        let payload = self.payload;
        self.built[usize::from(legacy)]
            .entry(operation_id.clone())
            .or_insert_with(|| message_text(legacy, operation_id, payload).into())
    }
}

/// A socket's side of shared executions: its outlet, its viewer once `connection_init` signed
/// it in, and the operations it runs through a shared execution, by id.
pub struct SocketShares {
    /// Where the executions deliver to this socket.
    pub outlet: Arc<Outlet>,
    signed_in: OnceLock<SignedIn>,
    operations: Mutex<HashMap<String, Membership>>,
}

/// Who a socket signed in as, and through what.
pub struct SignedIn {
    viewer: Viewer,
    sender: Sender,
}

/// What became of a client message.
pub enum Taken {
    /// Not ours: the GraphQL session handles it.
    No,
    /// Handled.
    Yes,
    /// Handled; send this reply.
    Reply(String),
}

impl SocketShares {
    /// The shares of the socket written through `outlet`.
    pub fn new(outlet: Arc<Outlet>) -> SocketShares {
        SocketShares {
            outlet,
            signed_in: OnceLock::new(),
            operations: Mutex::default(),
        }
    }

    /// Remembers who `connection_init` signed in, and through what; only signed-in sockets
    /// share.
    pub fn signed_in(&self, viewer: &Viewer, sender: Sender) {
        let viewer = viewer.clone();
        let _ = self.signed_in.set(SignedIn { viewer, sender });
    }

    /// Takes a `subscribe` that joins a shared execution (started through `origin` if none
    /// runs), or a `complete` of an operation that did. Anything else, and any subscribe that
    /// must run alone, is left to the GraphQL session.
    pub fn take(
        &self,
        message: &[u8],
        executions: &Arc<SharedExecutions>,
        origin: impl FnOnce(&Viewer, Sender) -> Origin,
        admit: impl FnOnce(&Viewer) -> bool,
    ) -> Taken {
        let Some(signed_in) = self.signed_in.get() else {
            return Taken::No;
        };
        let viewer = &signed_in.viewer;
        match serde_json::from_slice::<ClientMessage>(message) {
            Ok(ClientMessage::Start { id, payload }) => {
                let (origin, admit) = (|| origin(viewer, signed_in.sender), || admit(viewer));
                match executions.join(payload, &id, &self.outlet, signed_in, origin, admit) {
                    Some(membership) => {
                        lock(&self.operations).insert(id, membership);
                        Taken::Yes
                    }
                    None => Taken::No,
                }
            }
            Ok(ClientMessage::Stop { id }) => {
                let removed = lock(&self.operations).remove(&id);
                match removed {
                    // Acknowledged as the GraphQL session acknowledges its own operations.
                    Some(_) => Taken::Reply(complete_text(&id)),
                    None => Taken::No,
                }
            }
            _ => Taken::No,
        }
    }

    /// Whether `delivery` is for an operation still running under that membership; a
    /// completion or a lag ends the operation.
    pub fn accepts(&self, delivery: &Delivery) -> bool {
        let mut operations = lock(&self.operations);
        let current = operations
            .get(&*delivery.operation_id)
            .is_some_and(|membership| membership.member.serial == delivery.serial);
        let ended = current && !matches!(delivery.kind, DeliveryKind::Next(_));
        let removed = ended.then(|| operations.remove(&*delivery.operation_id));
        drop(operations);
        drop(removed);
        current
    }
}

/// The wire text of a shared delivery on a socket speaking `protocol`.
pub fn message_text(legacy: bool, operation_id: &str, payload: &str) -> String {
    let kind = if legacy { "data" } else { "next" };
    let id = serde_json::Value::from(operation_id).to_string();
    let mut text = String::with_capacity(payload.len() + id.len() + 32);
    text.push_str(r#"{"type":""#);
    text.push_str(kind);
    text.push_str(r#"","id":"#);
    text.push_str(&id);
    text.push_str(r#","payload":"#);
    text.push_str(payload);
    text.push('}');
    text
}

/// The completion message for a shared operation.
pub fn complete_text(operation_id: &str) -> String {
    let id = serde_json::Value::from(operation_id);
    format!(r#"{{"type":"complete","id":{id}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_what_async_graphql_sends() {
        let payload = r#"{"data":{"x":1}}"#;
        assert_eq!(
            message_text(false, "a\"1", payload),
            r#"{"type":"next","id":"a\"1","payload":{"data":{"x":1}}}"#
        );
        assert_eq!(
            message_text(true, "1", payload),
            r#"{"type":"data","id":"1","payload":{"data":{"x":1}}}"#
        );
        assert_eq!(complete_text("7"), r#"{"type":"complete","id":"7"}"#);
    }

    #[test]
    fn a_response_is_encoded_once_per_protocol_and_operation_id() {
        let payload = r#"{"data":{"x":1}}"#;
        let mut messages = Messages::of(payload);
        let first = messages.next(false, &"1".into()).clone();
        assert_eq!(first.as_str(), message_text(false, "1", payload));
        // Another socket's operation "1": the same buffer, not a copy.
        let again = messages.next(false, &"1".into()).clone();
        assert_eq!(first.as_str().as_ptr(), again.as_str().as_ptr());
        let legacy = messages.next(true, &"1".into()).as_str().to_owned();
        assert_eq!(legacy, message_text(true, "1", payload));
        let other = messages.next(false, &"2".into()).as_str().to_owned();
        assert_eq!(other, message_text(false, "2", payload));
    }
}
