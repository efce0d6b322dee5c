//! Sesame's HTTP server: a thin hyper 1.x layer over [`sesame_auth::Engine`].
//!
//! [`serve`] accepts connections on a listener you bind (port 0 in tests) and speaks HTTP/1.1
//! and cleartext HTTP/2 with prior knowledge on the same port (hyper-util's auto builder), until
//! the `shutdown` future resolves; then it stops accepting and drains in-flight requests within
//! [`ServerConfig::shutdown_timeout`] ([`drain`]). Each request gets an id, a logging context
//! (a task-local, see [`telemetry`]), a panic guard and an access line.
//! The REST surface is [`rest`] (routing to one operation per method and path, decoding, one
//! engine call, encoding); plumbing every surface shares is [`protocol`] (bearer, body limits)
//! and [`response`] (bodies); the error-to-status mapping is [`error`]. This crate checks no
//! privileges, applies no limits and hashes nothing; configuration is read only in [`config`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use http::{HeaderName, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sesame_auth::Engine;
use tokio::net::TcpListener;

pub mod cli;
pub mod config;
pub mod drain;
pub mod error;
pub mod fql;
pub mod metrics;
pub mod protocol;
pub mod response;
pub mod rest;
pub mod shell;
pub mod telemetry;

pub use error::ApiError;
use response::Body;

pub mod timer;

/// The request id header, read from requests and set on every response.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings of the HTTP layer itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted (default 64 KiB).
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send request headers (HTTP/1.1).
    pub header_read_timeout: Duration,
    /// Whether to serve the web shell at `/shell` (see [`shell`]; off by default here, on by
    /// default in `sesame serve` on loopback).
    pub shell: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: 64 * 1024,
            shutdown_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            shell: false,
        }
    }
}

/// What a server serves: the engine and the HTTP settings.
#[derive(Debug)]
pub struct App {
    /// The engine every handler calls.
    pub engine: Arc<Engine>,
    /// HTTP settings.
    pub config: ServerConfig,
    request_ids: RequestIds,
}

#[derive(Debug)]
struct RequestIds {
    prefix: u32,
}

/// Request numbers, unique in the process: each thread takes a block of [`ID_BLOCK`] from here
/// and numbers its requests from it, so that serving threads share no counter per request.
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);
const ID_BLOCK: u64 = 1024;

thread_local! {
    /// This thread's next request number and the end of its block.
    static ID_RANGE: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// The next request number (unique in the process; increasing on each thread).
fn next_request_number() -> u64 {
    ID_RANGE.with(|r| {
        let (mut next, mut end) = r.get();
        if next >= end {
            next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        r.set((next + 1, end));
        next
    })
}

impl App {
    /// An app over `engine`.
    pub fn new(engine: Arc<Engine>, config: ServerConfig) -> Self {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        App { engine, config, request_ids: RequestIds { prefix: u32::from_le_bytes(b) } }
    }

    /// The client's `x-request-id` when it is short and plain, else a new id
    /// `{prefix:08x}-{n:x}`, `n` unique in the process (written on the stack).
    fn request_id(&self, req: &Request<Incoming>) -> telemetry::RequestId {
        if let Some(id) =
            req.headers().get(&X_REQUEST_ID).and_then(|v| telemetry::RequestId::new(v.as_bytes()))
        {
            return id;
        }
        telemetry::RequestId::generated(self.request_ids.prefix, next_request_number())
    }

    /// Answers one request: id, logging context, panic guard, access log. Never fails.
    pub async fn respond(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let rid = self.request_id(&req);
        let is_query = req.uri().path() == fql::PATH;
        let is_shell = !is_query && self.config.shell && shell::is_shell_path(req.uri().path());
        // Matched once: for the metrics label here and for dispatch in `rest`.
        let route = (!is_query && !is_shell).then(|| rest::router::Route::parse(req.uri().path()));
        let route_name = match &route {
            None if is_shell => "shell",
            None => "query",
            Some(r) => r.as_ref().map_or("unmatched", |r| r.name()),
        };
        // The logs' view of the request (the path only: query strings may carry personal
        // data, e.g. e-mail filters), for the access line and any event logged meanwhile.
        let ctx = telemetry::RequestCtx {
            id: rid,
            method: req.method().clone(),
            target: req.uri().path_and_query().cloned(),
            peer: peer.ip(),
        };
        telemetry::REQUEST
            .scope(ctx, async move {
                let served = async {
                    match route {
                        None if is_shell => shell::handle(req.method(), req.uri().path()),
                        // Boxed: the query surface's state would enlarge every request's.
                        None => Box::pin(fql::handle(self, req, peer.ip())).await,
                        Some(route) => rest::handle_routed(self, req, peer.ip(), route).await,
                    }
                };
                let mut resp = match std::panic::AssertUnwindSafe(served).catch_unwind().await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::error!("handler panicked");
                        ApiError::Internal("the handler panicked".into()).into_response()
                    }
                };
                resp.headers_mut().insert(X_REQUEST_ID, rid.header_value());
                let elapsed = started.elapsed();
                let status = resp.status().as_u16();
                metrics::record_request(route_name, status, elapsed.as_secs_f64());
                let _ = telemetry::REQUEST
                    .try_with(|r| telemetry::access(r, status, elapsed.as_micros() as u64));
                resp
            })
            .await
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/1's header-read timeout is armed for every request: on a coarse timer (a timeout
    // fires up to `timer::TICK` late) rather than tokio's, which costs a timer-wheel insert and
    // removal per request. HTTP/2 keeps tokio's timer (one keep-alive ping per connection).
    builder
        .http1()
        .timer(timer::CoarseTimer::start())
        .header_read_timeout(app.config.header_read_timeout)
        .max_buf_size(128 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(128 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let graceful = drain::Drain::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // Each request's future holds the app; counted per connection (an `Arc` of the
                // `Arc`), so requests on different cores do not share one reference count.
                let app = Arc::new(app.clone());
                let svc = service_fn(move |req: Request<Incoming>| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.respond(req, peer).await) }
                });
                let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc).into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(app.config.shutdown_timeout) => {
            tracing::warn!("drain deadline passed; closing remaining connections");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Request numbers come from per-thread blocks: still unique across threads.
    #[test]
    fn request_numbers_are_unique_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..3000).map(|_| super::next_request_number()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
