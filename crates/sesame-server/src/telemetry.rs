//! Logging set-up: `tracing` to stderr, human-readable or JSON, off the request path.
//!
//! Nothing in Sesame logs secrets, passwords or the Authorization header; request spans carry
//! the method, path (no query string), peer address and request id. Audit events use the
//! `sesame::audit` target. The level comes from `RUST_LOG` (default `info`).
//!
//! A request never waits for stderr: a formatted line goes into a bounded in-memory queue
//! ([`QUEUED_LINES`] lines) that one writer thread drains into a buffered stderr, in batches:
//! after each batch it pauses [`WRITER_PAUSE`], so under load it makes about a hundred `write(2)`
//! calls and wake-ups a second instead of one per line, and a request thread rarely has to
//! wake it.
//! When stderr cannot keep up and the queue is full, new lines are dropped rather than slowing
//! requests down; [`dropped_lines`] counts them (`sesame_log_lines_dropped_total` in metrics).
//! The writer flushes what is queued when the thread that called [`init`] ends (the end of
//! `main`) or when [`flush`] is called.
//!
//! The access log (one line per request) is the hot path's only log line, so it skips
//! `tracing`'s machinery: no span is built per request. The request's context (id, method,
//! path, peer) lives in a task-local [`RequestCtx`]; [`access`] writes the line by hand into the
//! same queue, in the same shape `tracing_subscriber` gives an event inside a `request` span
//! (`… INFO request{id=… method=… path=… peer=…}: sesame_server: served status=… micros=…`, or
//! the JSON equivalent), and only when `RUST_LOG` enables `sesame_server` at `info`. Any other
//! event logged while a request is handled gets the same `request{…}` context from the
//! task-local ([`WithRequest`]). Without [`init`] (tests, embedders with their own subscriber)
//! the line is an ordinary `tracing` event with those fields.

use std::cell::RefCell;
use std::io::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use http::uri::PathAndQuery;
use http::{HeaderValue, Method};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// What the logs say about the request being handled: its id, method, path (never the query
/// string: it may carry personal data) and peer address.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// The `x-request-id` sent back.
    pub id: RequestId,
    /// The method.
    pub method: Method,
    /// The path and query (shared with the request, not copied); only the path is logged.
    pub target: Option<PathAndQuery>,
    /// The client's address.
    pub peer: IpAddr,
}

/// A request id, held inline (at most [`RequestId::MAX`] bytes of `[A-Za-z0-9_.:-]`): no
/// allocation to build, keep or copy one.
#[derive(Clone, Copy)]
pub struct RequestId {
    buf: [u8; RequestId::MAX],
    len: u8,
}

impl RequestCtx {
    /// The request's path (without the query string).
    pub fn path(&self) -> &str {
        self.target.as_ref().map_or("/", PathAndQuery::path)
    }
}

impl RequestId {
    /// The longest id kept (a client's longer `x-request-id` is replaced by a new one).
    pub const MAX: usize = 64;

    /// `b` as an id, if it is 1 to [`RequestId::MAX`] bytes of `[A-Za-z0-9_.:-]`.
    pub fn new(b: &[u8]) -> Option<RequestId> {
        if b.is_empty()
            || b.len() > Self::MAX
            || !b.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        {
            return None;
        }
        let mut buf = [0u8; Self::MAX];
        buf[..b.len()].copy_from_slice(b);
        Some(RequestId { buf, len: b.len() as u8 })
    }

    /// A new id, `{prefix:08x}-{n:x}` (no check needed: hex digits and a dash).
    pub fn generated(prefix: u32, n: u64) -> RequestId {
        let mut buf = [0u8; Self::MAX];
        let mut len = hex(&mut buf, u64::from(prefix), 8);
        buf[len] = b'-';
        len += 1;
        len += hex(&mut buf[len..], n, 1);
        RequestId { buf, len: len as u8 }
    }

    /// The id's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(self.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static("-"))
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

tokio::task_local! {
    /// The request the current task is handling.
    pub static REQUEST: RequestCtx;
}

/// The access log's sink once [`init`] ran. Each request thread writes its lines into its own
/// buffer (registered in `buffers` on first use) under a lock only the mover ever shares, every
/// [`WRITER_PAUSE`]: no allocation, no wake-up and no memory shared between serving threads per
/// request. The `sesame-access` thread moves what has accumulated into the log queue, so access
/// lines reach stderr through the one writer thread, in whole lines, in batches: in order per
/// thread; lines of different threads within one batch may be out of time order (each carries
/// its time).
struct AccessSink {
    writer: NonBlocking,
    json: bool,
    /// Whether `RUST_LOG` lets `sesame_server` log at `info` (the filter does not change).
    enabled: bool,
    buffers: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
    dropped: std::sync::atomic::AtomicU64,
}

/// The most access-log bytes a thread keeps waiting between two batches; lines past it are
/// dropped (and counted with the queue's own drops).
const ACCESS_BUFFER: usize = 4 * 1024 * 1024;

static ACCESS: OnceLock<AccessSink> = OnceLock::new();

thread_local! {
    /// This thread's access-log buffer, once it logged a line.
    static LINES: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
}

impl AccessSink {
    /// Moves the waiting lines into the log queue; whether there were any.
    fn drain(&self, spare: &mut Vec<u8>) -> bool {
        let buffers = match self.buffers.lock() {
            Ok(b) => b.clone(),
            Err(_) => return false,
        };
        let mut busy = false;
        for b in buffers {
            spare.clear();
            if let Ok(mut l) = b.lock() {
                std::mem::swap(&mut *l, spare);
            }
            if !spare.is_empty() {
                busy = true;
                let mut w = self.writer.clone();
                let _ = w.write_all(spare);
            }
        }
        busy
    }

    /// A new buffer for the calling thread, registered for the mover.
    fn register(&self) -> Arc<Mutex<Vec<u8>>> {
        let b = Arc::new(Mutex::new(Vec::with_capacity(64 * 1024)));
        if let Ok(mut all) = self.buffers.lock() {
            all.push(b.clone());
        }
        b
    }
}

/// The `sesame-access` thread: every [`WRITER_PAUSE`] while lines come, every 50 ms when idle.
fn access_mover() {
    let mut spare = Vec::with_capacity(64 * 1024);
    loop {
        let Some(sink) = ACCESS.get() else { return };
        let busy = sink.drain(&mut spare);
        if spare.capacity() > ACCESS_BUFFER {
            spare = Vec::with_capacity(64 * 1024);
        }
        std::thread::sleep(if busy { WRITER_PAUSE } else { std::time::Duration::from_millis(50) });
    }
}

/// Decimal digits of `v`, without the formatting machinery.
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes `v` in lowercase hex, at least `min` digits, at the start of `out`; the digits written.
fn hex(out: &mut [u8], v: u64, min: usize) -> usize {
    let digits = (16 - v.leading_zeros() as usize / 4).max(min);
    for (i, d) in out[..digits].iter_mut().enumerate() {
        let nibble = (v >> (4 * (digits - 1 - i))) & 0xf;
        *d = b"0123456789abcdef"[nibble as usize];
    }
    digits
}

/// An address as `Display` writes it (IPv4 by hand, the common case).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            /// Each octet's digits (padded to 3 bytes) and how many there are.
            const OCTETS: [([u8; 3], u8); 256] = {
                let mut t = [([0u8; 3], 0u8); 256];
                let mut i = 0;
                while i < 256 {
                    let o = i as u8;
                    t[i] = if o >= 100 {
                        ([b'0' + o / 100, b'0' + o / 10 % 10, b'0' + o % 10], 3)
                    } else if o >= 10 {
                        ([b'0' + o / 10, b'0' + o % 10, 0], 2)
                    } else {
                        ([b'0' + o, 0, 0], 1)
                    };
                    i += 1;
                }
                t
            };
            // Written on the stack (fixed-size copies), appended once.
            let mut text = [0u8; 4 * 4 + 3];
            let mut len = 0;
            for o in v4.octets() {
                let (digits, n) = OCTETS[usize::from(o)];
                text[len..len + 3].copy_from_slice(&digits);
                len += usize::from(n);
                text[len] = b'.';
                len += 1;
            }
            out.extend_from_slice(&text[..len - 1]);
        }
        IpAddr::V6(_) => {
            let _ = write!(out, "{ip}");
        }
    }
}

/// `request{id=… method=… path=… peer=…}` (the human form).
fn write_ctx_human(out: &mut Vec<u8>, r: &RequestCtx) {
    out.extend_from_slice(b"request{id=");
    out.extend_from_slice(r.id.as_bytes());
    out.extend_from_slice(b" method=");
    out.extend_from_slice(r.method.as_str().as_bytes());
    out.extend_from_slice(b" path=");
    out.extend_from_slice(r.path().as_bytes());
    out.extend_from_slice(b" peer=");
    push_ip(out, r.peer);
    out.push(b'}');
}

/// `{"id":…,"method":…,"path":…,"peer":…,"name":"request"}` (the JSON form).
fn write_ctx_json(out: &mut Vec<u8>, r: &RequestCtx) {
    out.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut *out, r.id.as_str());
    out.extend_from_slice(b",\"method\":");
    let _ = serde_json::to_writer(&mut *out, r.method.as_str());
    out.extend_from_slice(b",\"path\":");
    let _ = serde_json::to_writer(&mut *out, r.path());
    out.extend_from_slice(b",\"peer\":\"");
    push_ip(out, r.peer);
    out.extend_from_slice(b"\",\"name\":\"request\"}");
}

fn now_rfc3339(out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    match sesame_model::Timestamp::from_micros(now) {
        Ok(t) => t.write_rfc3339(out),
        Err(_) => out.extend_from_slice(b"-"),
    }
}

/// One access line (human or JSON), newline included.
fn access_line(out: &mut Vec<u8>, json: bool, r: &RequestCtx, status: u16, micros: u64) {
    if json {
        out.extend_from_slice(b"{\"timestamp\":\"");
        now_rfc3339(out);
        let _ = write!(
            out,
            "\",\"level\":\"INFO\",\"message\":\"served\",\"status\":{status},\"micros\":{micros},\"target\":\"sesame_server\",\"span\":"
        );
        write_ctx_json(out, r);
        out.extend_from_slice(b",\"spans\":[");
        write_ctx_json(out, r);
        out.extend_from_slice(b"]}\n");
    } else {
        now_rfc3339(out);
        out.extend_from_slice(b"  INFO ");
        write_ctx_human(out, r);
        out.extend_from_slice(b": sesame_server: served status=");
        push_u64(out, u64::from(status));
        out.extend_from_slice(b" micros=");
        push_u64(out, micros);
        out.push(b'\n');
    }
}

/// The access log line of one request (`served`, with its status and latency).
pub fn access(r: &RequestCtx, status: u16, micros: u64) {
    let sink = ACCESS.get();
    if let Some(sink) = sink {
        if !sink.enabled {
            return;
        }
    } else if !tracing::enabled!(target: "sesame_server", tracing::Level::INFO) {
        return;
    }
    let Some(sink) = sink else {
        tracing::info!(
            target: "sesame_server",
            id = %r.id.as_str(),
            method = %r.method,
            path = %r.path(),
            peer = %r.peer,
            status,
            micros,
            "served"
        );
        return;
    };
    let written = LINES.try_with(|l| {
        // The thread's buffer, borrowed: no reference count touched per request.
        let Ok(mut l) = l.try_borrow_mut() else { return false };
        let buf = match &mut *l {
            Some(b) => b,
            None => l.insert(sink.register()),
        };
        let Ok(mut lines) = buf.lock() else { return false };
        let before = lines.len();
        access_line(&mut lines, sink.json, r, status, micros);
        if lines.len() > ACCESS_BUFFER {
            lines.truncate(before);
            return false;
        }
        true
    });
    if written != Ok(true) {
        sink.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The event format: `tracing_subscriber`'s, plus the current request's context (from
/// [`REQUEST`]) for events logged while a request is handled.
#[derive(Debug)]
pub struct WithRequest {
    full: Format<Full>,
    bare: Format<Full, ()>,
    json: Option<Format<Json>>,
}

impl<S> FormatEvent<S, DefaultFields> for WithRequest
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, DefaultFields>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Ok(r) = REQUEST.try_with(RequestCtx::clone) else {
            return self.full.format_event(ctx, writer, event);
        };
        let mut out = Vec::with_capacity(256);
        now_rfc3339(&mut out);
        let _ = write!(out, " {:>5} ", event.metadata().level().as_str());
        write_ctx_human(&mut out, &r);
        out.extend_from_slice(b": ");
        writer.write_str(std::str::from_utf8(&out).unwrap_or_default())?;
        self.bare.format_event(ctx, writer, event)
    }
}

impl<S> FormatEvent<S, JsonFields> for WithRequest
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let json = self.json.clone().unwrap_or_else(|| Format::default().json());
        let Ok(r) = REQUEST.try_with(RequestCtx::clone) else {
            return json.format_event(ctx, writer, event);
        };
        let mut inner = String::new();
        json.format_event(ctx, Writer::new(&mut inner), event)?;
        let mut req = Vec::with_capacity(128);
        write_ctx_json(&mut req, &r);
        match inner.strip_prefix('{') {
            Some(rest) => {
                writer.write_str("{\"span\":")?;
                writer.write_str(std::str::from_utf8(&req).unwrap_or("null"))?;
                writer.write_str(",")?;
                writer.write_str(rest)
            }
            None => writer.write_str(&inner),
        }
    }
}

impl WithRequest {
    fn new(ansi: bool, json: bool) -> Self {
        WithRequest {
            full: Format::default().with_ansi(ansi),
            bare: Format::default().without_time().with_level(false).with_ansi(ansi),
            json: json
                .then(|| Format::default().json().flatten_event(true).with_current_span(true)),
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per event.
    Json,
}

/// Dependencies that log what they are given at debug level (tokio-postgres logs every
/// statement's parameters: password hashes, match values). A broad level such as
/// `RUST_LOG=debug` must not turn them on: they stay at `info` unless named explicitly.
pub const PINNED_DEPENDENCIES: &[&str] = &[
    "tokio_postgres",
    "postgres_protocol",
    "deadpool_postgres",
    "deadpool",
    "hyper",
    "h2",
    "rustls",
];

/// The log filter for a `RUST_LOG`-style `spec` (an invalid spec means `info`), with the
/// [`PINNED_DEPENDENCIES`] held at `info` unless the spec names them.
pub fn filter(spec: &str) -> EnvFilter {
    let mut f = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for dep in PINNED_DEPENDENCIES {
        let named = spec.split(',').any(|d| d.trim().split('=').next() == Some(dep));
        if !named {
            if let Ok(d) = format!("{dep}=info").parse() {
                f = f.add_directive(d);
            }
        }
    }
    f
}

/// Lines the queue between request threads and the writer thread holds (about 200 bytes
/// each when full; the queue's slots are allocated up front, ~40 bytes each).
pub const QUEUED_LINES: usize = 16 * 1024;

/// The writer's stderr buffer: one `write(2)` per batch of lines instead of one per line.
const STDERR_BUFFER: usize = 64 * 1024;

/// How long the writer thread waits after writing a batch before it takes the next one (and
/// the access-log mover between two batches): about how late a line can reach stderr, and
/// what bounds each thread's wake-ups (100 a second). Fewer, larger batches matter on a busy
/// machine: every wake-up of a log thread (and of whatever reads stderr) can push a serving
/// thread or the database off a core for a moment, which shows in tail latency
/// (BENCHMARKS.md, Postgres part).
pub const WRITER_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Buffered stderr whose `flush` (called by the writer thread after each batch) pauses.
struct BatchedStderr(std::io::BufWriter<std::io::Stderr>);

impl std::io::Write for BatchedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        std::thread::sleep(WRITER_PAUSE);
        Ok(())
    }
}

/// The writer thread's guard (dropping it flushes and stops the thread) and its drop counter.
static WRITER: OnceLock<(Mutex<Option<WorkerGuard>>, ErrorCounter)> = OnceLock::new();

thread_local! {
    /// Flushes the log when the thread that installed it (the main thread) ends.
    static FLUSH_AT_EXIT: FlushOnDrop = const { FlushOnDrop };
}

struct FlushOnDrop;

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        flush();
    }
}

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    use std::io::IsTerminal as _;
    if WRITER.get().is_some() {
        return;
    }
    let filter = filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("sesame-log")
        .finish(BatchedStderr(std::io::BufWriter::with_capacity(STDERR_BUFFER, std::io::stderr())));
    let counter = writer.error_counter();
    let ansi = std::io::stderr().is_terminal();
    let access = writer.clone();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    let json = format == LogFormat::Json;
    let installed = match format {
        LogFormat::Human => builder.event_format(WithRequest::new(ansi, false)).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .event_format(WithRequest::new(false, true))
            .try_init(),
    };
    if installed.is_ok() {
        let _ = WRITER.set((Mutex::new(Some(guard)), counter));
        // Coloured terminals keep `tracing`'s own access line (colours and all).
        if !ansi {
            let enabled = tracing::enabled!(target: "sesame_server", tracing::Level::INFO);
            let sink = AccessSink {
                writer: access,
                json,
                enabled,
                buffers: Mutex::new(Vec::new()),
                dropped: Default::default(),
            };
            if ACCESS.set(sink).is_ok() {
                let _ =
                    std::thread::Builder::new().name("sesame-access".into()).spawn(access_mover);
            }
        }
        FLUSH_AT_EXIT.with(|_| {});
    }
}

/// Log lines dropped so far because the queue to stderr was full.
pub fn dropped_lines() -> u64 {
    let access = ACCESS.get().map_or(0, |a| a.dropped.load(std::sync::atomic::Ordering::Relaxed));
    WRITER.get().map_or(0, |(_, c)| c.dropped_lines() as u64) + access
}

/// Writes out every queued line and stops the writer thread; later lines are dropped. For the
/// end of the process (it also runs when the thread that called [`init`] ends).
pub fn flush() {
    if let Some(sink) = ACCESS.get() {
        sink.drain(&mut Vec::new());
    }
    if let Some((guard, _)) = WRITER.get() {
        let guard = guard.lock().map(|mut g| g.take()).unwrap_or(None);
        drop(guard);
        let _ = std::io::stderr().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestCtx {
        RequestCtx {
            id: RequestId::new(b"81a8bd51-1").unwrap(),
            method: Method::GET,
            target: Some("/tokens/self?email=private@example.org".parse().unwrap()),
            peer: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn hex_writes_like_format() {
        for (v, min) in [(0u64, 1), (0, 8), (0xab, 8), (u64::MAX, 1), (0x1234_5678, 8), (17, 1)] {
            let mut b = [0u8; 16];
            let n = super::hex(&mut b, v, min);
            assert_eq!(std::str::from_utf8(&b[..n]).unwrap(), format!("{v:0min$x}"));
        }
    }

    #[test]
    fn generated_ids_are_what_a_client_could_send() {
        for (p, n) in [(0u32, 1u64), (0xdead_beef, u64::MAX), (7, 0x1234)] {
            let id = RequestId::generated(p, n);
            assert_eq!(id.as_str(), format!("{p:08x}-{n:x}"));
            assert_eq!(
                RequestId::new(id.as_bytes()).map(|i| i.as_str().to_owned()),
                Some(id.as_str().to_owned())
            );
        }
    }

    /// Addresses are written as `Display` writes them.
    #[test]
    fn addresses_are_written_like_display() {
        let mut v4: Vec<std::net::Ipv4Addr> =
            (0..=255u8).map(|o| std::net::Ipv4Addr::new(o, 0, 10, 255)).collect();
        v4.extend(
            [[127, 0, 0, 1], [255, 255, 255, 255], [0, 0, 0, 0], [9, 99, 100, 199]]
                .map(std::net::Ipv4Addr::from),
        );
        for a in v4 {
            let mut out = Vec::new();
            push_ip(&mut out, a.into());
            assert_eq!(String::from_utf8(out).unwrap(), a.to_string());
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let mut out = Vec::new();
        push_ip(&mut out, v6);
        assert_eq!(String::from_utf8(out).unwrap(), v6.to_string());
    }

    /// The hand-written access line has the shape `tracing_subscriber` gives an event inside a
    /// `request` span, and never the query string.
    #[test]
    fn access_lines_look_like_tracing_lines() {
        let mut out = Vec::new();
        access_line(&mut out, false, &ctx(), 200, 35);
        let line = String::from_utf8(out).unwrap();
        let (ts, rest) = line.split_once("  INFO ").unwrap();
        assert!(sesame_model::Timestamp::parse_rfc3339(ts).is_ok(), "{ts}");
        assert_eq!(
            rest,
            "request{id=81a8bd51-1 method=GET path=/tokens/self peer=127.0.0.1}: sesame_server: served status=200 micros=35\n"
        );
        let mut out = Vec::new();
        access_line(&mut out, true, &ctx(), 404, 7);
        assert!(out.ends_with(b"\n"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "served");
        assert_eq!((v["status"].as_u64(), v["micros"].as_u64()), (Some(404), Some(7)));
        let span = serde_json::json!({"id": "81a8bd51-1", "method": "GET", "path": "/tokens/self", "peer": "127.0.0.1", "name": "request"});
        assert_eq!(v["span"], span);
        assert_eq!(v["spans"], serde_json::json!([span]));
        assert!(!String::from_utf8_lossy(&out).contains("private@example.org"));
    }
}
