//! Sesame's HTTP server: a thin hyper 1.x layer over [`sesame_auth::Engine`].
//!
//! [`serve`] accepts connections on a listener you bind (port 0 in tests) and speaks HTTP/1.1
//! and cleartext HTTP/2 with prior knowledge on the same port (hyper-util's auto builder), until
//! the `shutdown` future resolves; then it stops accepting and drains in-flight requests within
//! [`ServerConfig::shutdown_timeout`]. Each request gets an id, a tracing span and a panic guard.
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
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use sesame_auth::Engine;
use tokio::net::TcpListener;
use tracing::Instrument as _;

pub mod cli;
pub mod config;
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
    next: AtomicU64,
}

impl App {
    /// An app over `engine`.
    pub fn new(engine: Arc<Engine>, config: ServerConfig) -> Self {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        App {
            engine,
            config,
            request_ids: RequestIds { prefix: u32::from_le_bytes(b), next: AtomicU64::new(1) },
        }
    }

    fn request_id(&self, req: &Request<Incoming>) -> String {
        if let Some(v) = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
            if !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            {
                return v.to_owned();
            }
        }
        let n = self.request_ids.next.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:x}", self.request_ids.prefix)
    }

    /// Answers one request: id, span, panic guard, access log. Never fails.
    pub async fn respond(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let rid = self.request_id(&req);
        let is_query = req.uri().path() == fql::PATH;
        let is_shell = self.config.shell && shell::is_shell_path(req.uri().path());
        let route = if is_query {
            "query"
        } else if is_shell {
            "shell"
        } else {
            rest::router::Route::parse(req.uri().path()).map_or("unmatched", |r| r.name())
        };
        // The path only: query strings may carry personal data (e-mail filters).
        let span = tracing::info_span!("request", id = %rid, method = %req.method(), path = %req.uri().path(), peer = %peer.ip());
        async move {
            let served = async {
                if is_query {
                    fql::handle(self, req, peer.ip()).await
                } else if is_shell {
                    shell::handle(req.method(), req.uri().path())
                } else {
                    rest::handle(self, req, peer.ip()).await
                }
            };
            let mut resp = match std::panic::AssertUnwindSafe(served).catch_unwind().await {
                Ok(r) => r,
                Err(_) => {
                    tracing::error!("handler panicked");
                    ApiError::Internal("the handler panicked".into()).into_response()
                }
            };
            if let Ok(v) = HeaderValue::from_str(&rid) {
                resp.headers_mut().insert("x-request-id", v);
            }
            let elapsed = started.elapsed();
            metrics::record_request(route, resp.status().as_u16(), elapsed.as_secs_f64());
            tracing::info!(
                status = resp.status().as_u16(),
                micros = elapsed.as_micros() as u64,
                "served"
            );
            resp
        }
        .instrument(span)
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
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(app.config.header_read_timeout)
        .max_buf_size(128 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(128 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let graceful = GracefulShutdown::new();
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
                let app = app.clone();
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
