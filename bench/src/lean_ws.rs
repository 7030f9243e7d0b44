//! Lean graphql-transport-ws subscribers for the fan-out scenario.
//!
//! The harness's 10,000 client sockets share the two cores with the server they measure, so
//! every microsecond a client spends receiving is taken from the server. Here each socket is
//! set up with a few hand-written frames (upgrade, `connection_init`, `subscribe`) and then
//! handed to a [`Receiver`]: one thread that waits on all its sockets with one `epoll` and reads
//! each ready socket once, instead of a tokio task per socket woken one by one, a WebSocket
//! library's buffers and UTF-8 checks, and a second read per message to learn that the socket
//! is drained. The arrival time of a message is still taken per socket, as soon as the read
//! that completed its frame returns, so what each subscriber waited is measured as before
//! (and includes any time the message waited for the receiver thread).

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token, Waker};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Called with a subscriber's index, the arrival time of a `next` message, and whether it is
/// the subscription's first.
pub type OnNext = Arc<dyn Fn(usize, Instant, bool) + Send + Sync>;

/// WebSocket opcodes (RFC 6455 section 5.2).
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The masking key of every client frame: RFC 6455 requires clients to mask, any key will do.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A socket that has subscribed, with whatever the server sent past the `connection_ack`.
pub struct Subscribed {
    stream: std::net::TcpStream,
    buffered: Vec<u8>,
}

/// Opens a socket to `/graphql/ws` at `addr`, signs in with `token` in `connection_init`,
/// waits for `connection_ack` and sends one `subscribe` with id `1`.
pub async fn subscribe(
    addr: SocketAddr,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Subscribed> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let upgrade = format!(
        "GET /graphql/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    stream.write_all(upgrade.as_bytes()).await?;
    let mut buffered = Vec::with_capacity(512);
    let head_end = loop {
        if let Some(at) = find(&buffered, b"\r\n\r\n") {
            break at + 4;
        }
        read_more(&mut stream, &mut buffered).await?;
    };
    let head = String::from_utf8_lossy(&buffered[..head_end]);
    ensure!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
    buffered.drain(..head_end);

    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    stream
        .write_all(&client_frame(TEXT, init.to_string().as_bytes()))
        .await?;
    let ack = loop {
        if let Some(frame) = Frame::parse(&buffered)? {
            let payload = buffered[frame.payload.clone()].to_vec();
            buffered.drain(..frame.len);
            break payload;
        }
        read_more(&mut stream, &mut buffered).await?;
    };
    ensure!(
        find(&ack, b"connection_ack").is_some(),
        "expected connection_ack, got {}",
        String::from_utf8_lossy(&ack)
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } });
    stream
        .write_all(&client_frame(TEXT, subscribe.to_string().as_bytes()))
        .await?;
    Ok(Subscribed {
        stream: stream.into_std()?,
        buffered,
    })
}

async fn read_more(stream: &mut TcpStream, buffered: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 1024];
    let n = stream.read(&mut chunk).await?;
    ensure!(n > 0, "the server closed the socket during set-up");
    buffered.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// One server frame at the start of a buffer.
struct Frame {
    fin: bool,
    opcode: u8,
    payload: std::ops::Range<usize>,
    /// Header and payload.
    len: usize,
}

impl Frame {
    /// The frame at the start of `bytes`, or `None` until all of it has arrived.
    fn parse(bytes: &[u8]) -> anyhow::Result<Option<Frame>> {
        let [first, second, ..] = *bytes else {
            return Ok(None);
        };
        ensure!(second & 0x80 == 0, "a server frame must not be masked");
        let (len, header) = match second & 0x7f {
            126 if bytes.len() >= 4 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 if bytes.len() >= 10 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(len), 10)
            }
            126 | 127 => return Ok(None),
            short => (u64::from(short), 2),
        };
        let end = header + usize::try_from(len)?;
        if bytes.len() < end {
            return Ok(None);
        }
        Ok(Some(Frame {
            fin: first & 0x80 != 0,
            opcode: first & 0x0f,
            payload: header..end,
            len: end,
        }))
    }
}

/// A masked client frame (FIN set) carrying `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    frame
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a text message is a `next`: the server writes `type` first, so the common case is a
/// prefix check; anything else is searched in full.
fn is_next(text: &[u8]) -> bool {
    const NEXT: &[u8] = br#""type":"next""#;
    text.get(1..=NEXT.len()) == Some(NEXT) || find(text, NEXT).is_some()
}

/// One thread receiving on many subscribed sockets.
pub struct Receiver {
    incoming: mpsc::Sender<(usize, Subscribed)>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

/// The waker's token; sockets use their subscriber index.
const WAKE: Token = Token(usize::MAX);

impl Receiver {
    /// Starts a receiver thread that reports every `next` message through `on_next`.
    pub fn start(on_next: OnNext) -> anyhow::Result<Receiver> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let (incoming, added) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fanout-receiver".into())
            .spawn(move || {
                if let Err(err) = receive(poll, &added, &on_next) {
                    eprintln!("fan-out receiver stopped: {err:#}");
                }
            })?;
        Ok(Receiver {
            incoming,
            waker,
            thread: Some(thread),
        })
    }

    /// Hands subscriber `index`'s socket to the thread.
    pub fn add(&self, index: usize, socket: Subscribed) -> anyhow::Result<()> {
        self.incoming
            .send((index, socket))
            .ok()
            .context("the receiver thread has stopped")?;
        self.waker.wake()?;
        Ok(())
    }
}

impl Drop for Receiver {
    /// Stops the thread (closing its sockets) and waits for it.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.incoming, closed));
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A socket the receiver reads.
struct Socket {
    stream: MioStream,
    /// The start of a frame whose end has not arrived yet.
    partial: Vec<u8>,
    first: bool,
}

fn receive(
    mut poll: Poll,
    added: &mpsc::Receiver<(usize, Subscribed)>,
    on_next: &OnNext,
) -> anyhow::Result<()> {
    let mut sockets: Vec<Option<Socket>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 16 * 1024];
    loop {
        match poll.poll(&mut events, Some(Duration::from_secs(1))) {
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            other => other?,
        }
        for event in &events {
            if event.token() == WAKE {
                continue;
            }
            let index = event.token().0;
            let Some(socket) = sockets.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if read_ready(index, socket, &mut scratch, on_next).is_err() {
                let _ = poll.registry().deregister(&mut socket.stream);
                sockets[index] = None;
            }
        }
        loop {
            match added.try_recv() {
                Ok((index, subscribed)) => {
                    let mut socket = Socket {
                        stream: MioStream::from_std(subscribed.stream),
                        partial: Vec::new(),
                        first: true,
                    };
                    poll.registry().register(
                        &mut socket.stream,
                        Token(index),
                        Interest::READABLE,
                    )?;
                    // What arrived with the `connection_ack` is handled like any later read.
                    if !subscribed.buffered.is_empty() {
                        let arrived = Instant::now();
                        let Socket { stream, first, .. } = &mut socket;
                        let buffered = &subscribed.buffered;
                        let used = frames(index, buffered, first, stream, arrived, on_next)?;
                        socket.partial = subscribed.buffered[used..].to_vec();
                    }
                    if sockets.len() <= index {
                        sockets.resize_with(index + 1, || None);
                    }
                    sockets[index] = Some(socket);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
            }
        }
    }
}

/// The socket was closed, or spoke something this client does not.
struct Closed;

/// The server sent a close frame.
#[derive(Debug)]
struct ClosedByServer;

impl std::fmt::Display for ClosedByServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed by the server")
    }
}

impl std::error::Error for ClosedByServer {}

/// Reads what a ready socket holds. A read shorter than the buffer drained the socket (as tokio
/// also assumes): the next data to arrive raises a new readiness event.
fn read_ready(
    index: usize,
    socket: &mut Socket,
    scratch: &mut [u8],
    on_next: &OnNext,
) -> Result<(), Closed> {
    loop {
        let n = match socket.stream.read(scratch) {
            Ok(0) => return Err(Closed),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(Closed),
        };
        let arrived = Instant::now();
        let report = |err: anyhow::Error| {
            // A close frame is how every socket ends when the server stops.
            if err.downcast_ref::<ClosedByServer>().is_none() {
                eprintln!("fan-out subscriber {index}: {err:#}");
            }
            Closed
        };
        let Socket {
            stream,
            partial,
            first,
        } = socket;
        if partial.is_empty() {
            let read = &scratch[..n];
            let used = frames(index, read, first, stream, arrived, on_next).map_err(report)?;
            partial.extend_from_slice(&read[used..]);
        } else {
            partial.extend_from_slice(&scratch[..n]);
            let used = frames(index, partial, first, stream, arrived, on_next).map_err(report)?;
            partial.drain(..used);
        }
        if n < scratch.len() {
            return Ok(());
        }
    }
}

/// Handles the whole frames at the start of `bytes`, read from subscriber `index`'s `stream`
/// at `arrived`, and returns how many bytes they took.
fn frames(
    index: usize,
    bytes: &[u8],
    first: &mut bool,
    stream: &MioStream,
    arrived: Instant,
    on_next: &OnNext,
) -> anyhow::Result<usize> {
    let mut used = 0;
    let mut pongs = Vec::new();
    while let Some(frame) = Frame::parse(&bytes[used..])? {
        ensure!(
            frame.fin,
            "fragmented messages are not expected from the server"
        );
        let payload = &bytes[used..][frame.payload.clone()];
        match frame.opcode {
            TEXT if is_next(payload) => {
                on_next(index, arrived, *first);
                *first = false;
            }
            TEXT if payload.starts_with(br#"{"type":"error""#) => {
                eprintln!("subscription error: {}", String::from_utf8_lossy(payload));
            }
            // The server closes sockets that do not answer its keepalive pings.
            PING => pongs.push(client_frame(PONG, payload)),
            CLOSE => return Err(ClosedByServer.into()),
            _ => {}
        }
        used += frame.len;
    }
    for pong in pongs {
        // Tiny frames on an idle socket: the kernel buffer has room.
        (&*stream).write_all(&pong)?;
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_across_lengths_and_wait_for_their_end() {
        let short = [0x81, 2, b'h', b'i'];
        let frame = Frame::parse(&short).unwrap().unwrap();
        assert_eq!((frame.opcode, frame.payload, frame.len), (TEXT, 2..4, 4));
        assert!(Frame::parse(&short[..3]).unwrap().is_none());
        let mut long = vec![0x81, 126, 0x01, 0x00];
        long.extend(std::iter::repeat_n(b'x', 256));
        let frame = Frame::parse(&long).unwrap().unwrap();
        assert_eq!((frame.payload, frame.len), (4..260, 260));
        assert!(Frame::parse(&long[..259]).unwrap().is_none());
    }

    #[test]
    fn next_messages_are_told_apart() {
        assert!(is_next(br#"{"type":"next","id":"1","payload":{}}"#));
        assert!(is_next(br#"{"id":"1","type":"next","payload":{}}"#));
        assert!(!is_next(br#"{"type":"complete","id":"1"}"#));
    }

    #[test]
    fn client_frames_are_masked() {
        let frame = client_frame(TEXT, b"abcd");
        assert_eq!(&frame[..2], &[0x81, 0x84]);
        let unmasked: Vec<u8> = frame[6..].iter().zip(MASK).map(|(b, m)| b ^ m).collect();
        assert_eq!(unmasked, b"abcd");
    }
}
