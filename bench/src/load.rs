//! Closed-loop HTTP load: N keep-alive connections, each sending its next request as soon as
//! the previous response is read, like wrk. Latencies go into an HDR histogram (microseconds).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Builds the `n`-th request a connection sends.
pub type RequestFactory = Arc<dyn Fn(u64) -> Request<Full<Bytes>> + Send + Sync>;

/// What one closed-loop run measured.
pub struct LoadResult {
    /// Responses with a 2xx status, in the measured window.
    pub ok: u64,
    /// Other statuses or transport errors, in the measured window.
    pub errors: u64,
    /// The measured window.
    pub elapsed: Duration,
    /// Latency of successful requests, in microseconds.
    pub latency: Histogram<u64>,
}

impl LoadResult {
    /// Nothing measured yet, over no time.
    pub fn empty() -> Self {
        LoadResult {
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: histogram(),
        }
    }

    /// Adds another measurement, made over its own window, to this one.
    pub fn absorb(&mut self, other: &LoadResult) -> anyhow::Result<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latency.add(&other.latency)?;
        Ok(())
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// A latency histogram from 1 µs to 60 s with three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Runs `connections` closed loops against `addr` for `warmup` (not recorded) then `duration`.
pub async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    request: RequestFactory,
) -> anyhow::Result<LoadResult> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            connection_loop(addr, measure_from, stop_at, request).await
        }));
    }
    let mut total = LoadResult::empty();
    for task in tasks {
        total.absorb(&task.await??)?;
    }
    // The connections measured the same window side by side.
    total.elapsed = duration;
    Ok(total)
}

async fn connection_loop(
    addr: SocketAddr,
    measure_from: Instant,
    stop_at: Instant,
    request: RequestFactory,
) -> anyhow::Result<LoadResult> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram(),
    };
    let mut n = 0;
    loop {
        let sent = Instant::now();
        if sent >= stop_at {
            return Ok(result);
        }
        let outcome = match sender.send_request(request(n)).await {
            Ok(response) => {
                let success = response.status().is_success();
                let body = response.into_body().collect().await;
                success && body.is_ok()
            }
            Err(_) => false,
        };
        n += 1;
        let done = Instant::now();
        if sent < measure_from || done > stop_at {
            continue;
        }
        if outcome {
            result.ok += 1;
            result.latency.saturating_record(micros(done - sent));
        } else {
            result.errors += 1;
            // A failed connection cannot carry more requests; open a new one.
            if sender.ready().await.is_err() {
                return Ok(result);
            }
        }
    }
}

/// A duration in whole microseconds (at least 1, the histogram's floor).
pub fn micros(duration: Duration) -> u64 {
    (duration.as_micros() as u64).max(1)
}

/// A POST of a JSON body to `path` with extra headers.
pub fn json_post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Full::new(body)).expect("valid request")
}

/// Runs an open loop against `addr`: `rate` requests per second spread over `connections`
/// keep-alive connections, each request due at its own time whether or not the one before it
/// has come back. Latency counts from when a request was due, so a server that falls behind
/// is charged for the queue it builds (no coordinated omission). Nothing is recorded during
/// `warmup`.
pub async fn open_loop(
    addr: SocketAddr,
    connections: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    request: RequestFactory,
) -> anyhow::Result<LoadResult> {
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + warmup;
    let stop_at = measure_from + duration;
    // Connection `c` sends requests c, c + n, c + 2n, ... of the schedule.
    let period = Duration::from_secs_f64(connections as f64 / rate.max(1.0));
    let offset = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let request = request.clone();
        let first = start + offset * c as u32;
        tasks.push(tokio::spawn(async move {
            scheduled_loop(addr, first, period, measure_from, stop_at, request).await
        }));
    }
    let mut total = LoadResult::empty();
    for task in tasks {
        total.absorb(&task.await??)?;
    }
    total.elapsed = duration;
    Ok(total)
}

async fn scheduled_loop(
    addr: SocketAddr,
    first: Instant,
    period: Duration,
    measure_from: Instant,
    stop_at: Instant,
    request: RequestFactory,
) -> anyhow::Result<LoadResult> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut result = LoadResult::empty();
    let mut n: u32 = 0;
    loop {
        let due = first + period * n;
        if due >= stop_at {
            return Ok(result);
        }
        tokio::time::sleep_until(due.into()).await;
        let ok = match sender.send_request(request(u64::from(n))).await {
            Ok(response) => {
                let success = response.status().is_success();
                success && response.into_body().collect().await.is_ok()
            }
            Err(_) => false,
        };
        n += 1;
        if due < measure_from {
            continue;
        }
        if ok {
            result.ok += 1;
            result
                .latency
                .saturating_record(micros(Instant::now() - due));
        } else {
            result.errors += 1;
            if sender.ready().await.is_err() {
                return Ok(result);
            }
        }
    }
}

/// Sends exactly `per_connection` requests on each of `connections` keep-alive connections,
/// each as soon as the one before it is answered; returns the successes and failures.
pub async fn fixed_count(
    addr: SocketAddr,
    connections: usize,
    per_connection: u64,
    request: RequestFactory,
) -> anyhow::Result<(u64, u64)> {
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let (mut ok, mut failed) = (0, 0);
            for n in 0..per_connection {
                let response = sender.send_request(request(n)).await?;
                let success = response.status().is_success();
                if success && response.into_body().collect().await.is_ok() {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            anyhow::Ok((ok, failed))
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await??;
        ok += o;
        failed += f;
    }
    Ok((ok, failed))
}
