//! Prometheus metrics: the recorder and a separate scrape listener (`--metrics-listen`).
//!
//! Instrumentation uses the `metrics` facade: the engine records logins by outcome, throttled
//! attempts, Argon2 queue depth and durations, and store errors; this crate records requests by
//! route and status with their latency, and log lines dropped because stderr fell behind
//! (`sesame_log_lines_dropped_total`, read from [`crate::telemetry`] at scrape time). Nothing is recorded unless [`install`] ran. The scrape
//! endpoint has its own listener, so it is never exposed on the API port by accident; it needs
//! no authentication and should stay on a private address.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sesame_auth::Engine;
use tokio::net::TcpListener;

/// Latency buckets, seconds: from a fraction of a millisecond (token checks) to seconds
/// (logins waiting for a hashing slot).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the global Prometheus recorder. Call once per process.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    let _ = HANDLES.set(Handles::new());
    Ok(handle)
}

/// Route names the per-request metrics cache handles for (every [`crate::rest::router::Route`]
/// name, the query endpoint, unmatched paths); another name is recorded without the cache.
const ROUTES: &[&str] = &[
    "healthz",
    "readyz",
    "openapi",
    "collections",
    "collection",
    "documents",
    "document",
    "document_credential",
    "document_tokens",
    "credentials",
    "credential",
    "credential_login",
    "credential_verify",
    "login",
    "tokens",
    "token_self",
    "token",
    "identity",
    "keys",
    "key",
    "audit",
    "query",
    "unmatched",
];

/// Statuses the cache holds a counter for, with their labels; another status is recorded
/// without the cache.
const STATUSES: &[(u16, &str)] = &[
    (200, "200"),
    (201, "201"),
    (204, "204"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (409, "409"),
    (413, "413"),
    (415, "415"),
    (422, "422"),
    (429, "429"),
    (431, "431"),
    (500, "500"),
    (503, "503"),
];

/// Metric handles per route (and status), registered with the recorder on first use (so that
/// only series that happened are exported), then reused: a request neither formats its status
/// nor looks its series up in the recorder's registry.
struct Handles {
    routes: Box<[RouteHandles]>,
}

struct RouteHandles {
    duration: OnceLock<metrics::Histogram>,
    requests: [OnceLock<metrics::Counter>; STATUSES.len()],
}

impl Handles {
    fn new() -> Self {
        let routes = ROUTES
            .iter()
            .map(|_| RouteHandles {
                duration: OnceLock::new(),
                requests: std::array::from_fn(|_| OnceLock::new()),
            })
            .collect();
        Handles { routes }
    }
}

/// Set by [`install`]: without a global recorder installed, handles are not cached (they would
/// stay no-ops).
static HANDLES: OnceLock<Handles> = OnceLock::new();

/// Records one answered request.
pub(crate) fn record_request(route: &'static str, status: u16, seconds: f64) {
    // Without `metrics::install` (no `--metrics-listen`) there is no recorder: skip the work.
    let Some(h) = HANDLES.get() else { return };
    let cached = ROUTES.iter().position(|n| *n == route).and_then(|r| {
        let s = STATUSES.iter().position(|(code, _)| *code == status)?;
        Some((&h.routes[r], s))
    });
    let Some((r, s)) = cached else {
        metrics::counter!("sesame_http_requests_total", "route" => route, "status" => status.to_string()).increment(1);
        metrics::histogram!("sesame_http_request_duration_seconds", "route" => route)
            .record(seconds);
        return;
    };
    r.requests[s]
        .get_or_init(|| {
            let label = STATUSES[s].1;
            metrics::counter!("sesame_http_requests_total", "route" => route, "status" => label)
        })
        .increment(1);
    r.duration
        .get_or_init(
            || metrics::histogram!("sesame_http_request_duration_seconds", "route" => route),
        )
        .record(seconds);
}

/// The scrape body: refreshes the gauges that are read rather than pushed, then renders.
pub async fn render(handle: &PrometheusHandle, engine: &Engine) -> String {
    match engine.active_token_count().await {
        Ok(n) => metrics::gauge!("sesame_active_tokens").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "could not count active tokens for metrics"),
    }
    metrics::gauge!("sesame_argon2_queue_depth").set(engine.hash_queue_depth() as f64);
    metrics::counter!("sesame_log_lines_dropped_total").absolute(crate::telemetry::dropped_lines());
    handle.render()
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let (handle, engine) = (handle.clone(), engine.clone());
        let svc = service_fn(move |req: Request<Incoming>| {
            let (handle, engine) = (handle.clone(), engine.clone());
            async move {
                let mut r = if req.method() == Method::GET && req.uri().path() == "/metrics" {
                    let mut r =
                        Response::new(Full::new(Bytes::from(render(&handle, &engine).await)));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    r
                } else {
                    Response::new(Full::new(Bytes::from_static(b"not found\n")))
                };
                if req.uri().path() != "/metrics" || req.method() != Method::GET {
                    *r.status_mut() = StatusCode::NOT_FOUND;
                }
                Ok::<_, Infallible>(r)
            }
        });
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
