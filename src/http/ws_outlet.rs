//! A socket's write side, shared by the socket's own task and the shared executions that fan
//! out to it (decision 0020).
//!
//! A fan-out of one event to ten thousand sockets used to wake ten thousand socket tasks, each
//! of which polled its whole select loop, wrapped the payload in its own message and sent it.
//! Now the task that delivers an event writes the message, encoded once, straight into each
//! socket that is idle: no task is woken. A socket whose task is sending, whose earlier
//! deliveries still wait, or whose kernel buffer is full gets the delivery queued instead, and
//! its task sends it in order; a socket that falls [`INBOX_LIMIT`] deliveries behind has its
//! shared operations ended, so a slow socket neither stalls others nor grows memory unbounded.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{Sink, SinkExt};
use tokio::sync::Notify;

use crate::sync::lock;

/// Deliveries one socket may hold unsent before its shared operations are ended as lagging.
pub const INBOX_LIMIT: usize = 1024;

/// The write half of a socket.
pub type SocketSink = SplitSink<WebSocket, Message>;

/// Where everything a socket sends goes through (`S`, the write half, is a stand-in in tests).
pub struct Outlet<S = SocketSink> {
    /// The write half. The socket's task holds it while it sends; a delivering task only ever
    /// tries it, so it never waits for a socket.
    sink: tokio::sync::Mutex<S>,
    /// Deliveries waiting for the socket's task, in order. Allocates only when used.
    queue: Mutex<VecDeque<Delivery>>,
    /// Wakes the socket's task: deliveries were queued, or a direct write is left to finish.
    ready: Arc<Notify>,
    /// Given to the sink on direct writes: a write the kernel could not take at once wakes the
    /// socket's task, which finishes it.
    waker: Waker,
    /// The socket speaks the legacy `graphql-ws` protocol, whose `next` is called `data`.
    pub legacy: bool,
}

/// One message for one of a socket's shared operations.
#[derive(Debug)]
pub struct Delivery {
    /// The membership it is for: a stale delivery for an operation id since reused is dropped.
    pub serial: u64,
    /// The client's id of the operation.
    pub operation_id: Arc<str>,
    /// What happened.
    pub kind: DeliveryKind,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A response, as the whole `next` (or `data`) message for this operation.
    Next(Utf8Bytes),
    /// The execution ended.
    Complete,
    /// The socket fell [`INBOX_LIMIT`] deliveries behind; the operation is ended.
    Lagged,
}

/// What became of a delivery offered with [`Outlet::offer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Offered {
    /// Written to the socket (or left to the socket's task to finish writing).
    Written,
    /// Queued for the socket's task.
    Queued,
    /// The socket is [`INBOX_LIMIT`] deliveries behind: the operation was ended instead.
    Lagged,
    /// The operation was completed meanwhile, or the socket is closing: nothing was sent.
    Dropped,
}

/// Wakes the socket's task through its [`Notify`].
struct WakeSocket(Arc<Notify>);

impl Wake for WakeSocket {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

impl<S> Outlet<S>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    /// The outlet of a socket whose write half is `sink`.
    pub fn new(sink: S, legacy: bool) -> Self {
        let ready = Arc::new(Notify::new());
        Outlet {
            sink: tokio::sync::Mutex::new(sink),
            queue: Mutex::default(),
            waker: Waker::from(Arc::new(WakeSocket(ready.clone()))),
            ready,
            legacy,
        }
    }

    /// Sends `message` from the socket's own task, after whatever a direct write left.
    pub async fn send(&self, message: Message) -> Result<(), axum::Error> {
        self.sink.lock().await.send(message).await
    }

    /// Closes the write half.
    pub async fn close(&self) -> Result<(), axum::Error> {
        self.sink.lock().await.close().await
    }

    /// Resolves when the socket's task has queued deliveries to send or a write to finish
    /// ([`Outlet::drain`]).
    pub async fn wanted(&self) {
        self.ready.notified().await;
    }

    /// Finishes a direct write the kernel could not take at once, then sends the queued
    /// deliveries in order, each as `text` makes it (`None` skips one).
    pub async fn drain(
        &self,
        mut text: impl FnMut(Delivery) -> Option<Utf8Bytes>,
    ) -> Result<(), axum::Error> {
        let mut sink = self.sink.lock().await;
        sink.flush().await?;
        // Popped while the sink is held, so a direct write cannot overtake what was queued.
        while let Some(delivery) = self.pop() {
            if let Some(text) = text(delivery) {
                sink.send(Message::Text(text)).await?;
            }
        }
        Ok(())
    }

    fn pop(&self) -> Option<Delivery> {
        lock(&self.queue).pop_front()
    }

    /// Queues `delivery` for the socket's task.
    pub fn queue(&self, delivery: Delivery) {
        lock(&self.queue).push_back(delivery);
        self.ready.notify_one();
    }

    /// Delivers the `next` message `text` of the operation `operation_id` (membership
    /// `serial`): written straight to the socket when nothing is ahead of it and the socket
    /// takes it now, queued otherwise. `live` tells whether the operation still runs; it is
    /// read while the write half is held, so a `next` can never follow the operation's
    /// `complete`, which the socket's task sends through the same write half.
    pub fn offer(
        &self,
        serial: u64,
        operation_id: &Arc<str>,
        text: &Utf8Bytes,
        live: impl Fn() -> bool,
    ) -> Offered {
        if let Ok(mut sink) = self.sink.try_lock()
            && lock(&self.queue).is_empty()
        {
            if !live() {
                return Offered::Dropped;
            }
            match self.write_now(&mut sink, text) {
                Some(true) => return Offered::Written,
                Some(false) => return Offered::Dropped,
                None => {}
            }
        }
        let mut queue = lock(&self.queue);
        let lagged = queue.len() >= INBOX_LIMIT;
        queue.push_back(Delivery {
            serial,
            operation_id: operation_id.clone(),
            kind: if lagged {
                DeliveryKind::Lagged
            } else {
                DeliveryKind::Next(text.clone())
            },
        });
        drop(queue);
        self.ready.notify_one();
        if lagged {
            Offered::Lagged
        } else {
            Offered::Queued
        }
    }

    /// Writes `text` without waiting: `Some(true)` once the sink took it (a rest the kernel did
    /// not take yet is finished by the socket's task, which the sink wakes), `Some(false)` when
    /// the socket is failing or closing, `None` when the sink is still busy with an earlier
    /// message.
    fn write_now(&self, sink: &mut S, text: &Utf8Bytes) -> Option<bool> {
        let mut cx = Context::from_waker(&self.waker);
        let mut sink = Pin::new(sink);
        match sink.as_mut().poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return Some(false),
            Poll::Pending => return None,
        }
        if sink
            .as_mut()
            .start_send(Message::Text(text.clone()))
            .is_err()
        {
            return Some(false);
        }
        // Pending leaves the rest with the sink, which wakes the socket's task to finish it.
        Some(!matches!(sink.poll_flush(&mut cx), Poll::Ready(Err(_))))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    /// A socket that takes messages only while open, and remembers who waits for it to open.
    #[derive(Clone, Default)]
    struct Socket(Arc<Mutex<SocketState>>);

    #[derive(Default)]
    struct SocketState {
        closed: bool,
        sent: Vec<String>,
        waiting: Option<Waker>,
    }

    impl Sink<Message> for Socket {
        type Error = axum::Error;

        fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            let mut state = lock(&self.0);
            if state.closed {
                state.waiting = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }

        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            let Message::Text(text) = item else {
                panic!("only text is sent here");
            };
            lock(&self.0).sent.push(text.to_string());
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.poll_ready(cx)
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    impl Socket {
        fn set_closed(&self, closed: bool) {
            lock(&self.0).closed = closed;
        }

        fn sent(&self) -> Vec<String> {
            lock(&self.0).sent.clone()
        }
    }

    fn outlet() -> (Outlet<Socket>, Socket) {
        let socket = Socket::default();
        (Outlet::new(socket.clone(), false), socket)
    }

    fn offer(outlet: &Outlet<Socket>, text: &str) -> Offered {
        outlet.offer(1, &"1".into(), &text.to_owned().into(), || true)
    }

    fn queued_text(delivery: Delivery) -> Option<Utf8Bytes> {
        match delivery.kind {
            DeliveryKind::Next(text) => Some(text),
            DeliveryKind::Complete | DeliveryKind::Lagged => None,
        }
    }

    #[test]
    fn an_idle_socket_is_written_at_once_without_waking_its_task() {
        let (outlet, socket) = outlet();
        assert_eq!(offer(&outlet, "a"), Offered::Written);
        assert_eq!(socket.sent(), ["a"]);
        assert!(outlet.wanted().now_or_never().is_none());
    }

    #[tokio::test]
    async fn a_busy_socket_gets_its_deliveries_in_order_from_its_task() {
        let (outlet, socket) = outlet();
        socket.set_closed(true);
        assert_eq!(offer(&outlet, "a"), Offered::Queued);
        assert_eq!(offer(&outlet, "b"), Offered::Queued);
        socket.set_closed(false);
        // Open again, but "a" and "b" are still queued: "c" must not overtake them.
        assert_eq!(offer(&outlet, "c"), Offered::Queued);
        assert!(socket.sent().is_empty());
        outlet.wanted().await;
        outlet.drain(queued_text).await.unwrap();
        assert_eq!(socket.sent(), ["a", "b", "c"]);
        assert_eq!(offer(&outlet, "d"), Offered::Written);
    }

    #[tokio::test]
    async fn a_socket_held_by_its_task_gets_deliveries_queued() {
        let (outlet, socket) = outlet();
        let held = outlet.sink.lock().await;
        assert_eq!(offer(&outlet, "a"), Offered::Queued);
        drop(held);
        outlet.drain(queued_text).await.unwrap();
        assert_eq!(socket.sent(), ["a"]);
    }

    #[test]
    fn a_socket_that_falls_behind_has_the_operation_ended() {
        let (outlet, socket) = outlet();
        socket.set_closed(true);
        for _ in 0..INBOX_LIMIT {
            assert_eq!(offer(&outlet, "a"), Offered::Queued);
        }
        assert_eq!(offer(&outlet, "a"), Offered::Lagged);
        let queue = lock(&outlet.queue);
        assert_eq!(queue.len(), INBOX_LIMIT + 1);
        assert_eq!(queue.back().map(|d| &d.kind), Some(&DeliveryKind::Lagged));
    }

    #[test]
    fn an_operation_that_ended_is_sent_nothing_more() {
        let (outlet, socket) = outlet();
        let ended = outlet.offer(1, &"1".into(), &"a".into(), || false);
        assert_eq!(ended, Offered::Dropped);
        assert!(socket.sent().is_empty());
    }

    #[test]
    fn a_socket_that_opens_again_wakes_its_task() {
        let (outlet, socket) = outlet();
        socket.set_closed(true);
        offer(&outlet, "a");
        // Consume the notice of the queued delivery; the sink's wake-up must give another.
        assert!(outlet.wanted().now_or_never().is_some());
        let waiting = lock(&socket.0)
            .waiting
            .take()
            .expect("the sink kept a waker");
        waiting.wake();
        assert!(outlet.wanted().now_or_never().is_some());
    }

    #[test]
    fn a_woken_socket_is_told_once_it_waits() {
        let notify = Arc::new(Notify::new());
        let waker = Waker::from(Arc::new(WakeSocket(notify.clone())));
        waker.wake_by_ref();
        // The permit is kept for the next wait.
        let waited = futures_util::FutureExt::now_or_never(notify.notified());
        assert!(waited.is_some());
    }
}
