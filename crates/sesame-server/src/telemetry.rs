//! Logging set-up: `tracing` to stderr, human-readable or JSON, off the request path.
//!
//! Nothing in Sesame logs secrets, passwords or the Authorization header; request spans carry
//! the method, path (no query string), peer address and request id. Audit events use the
//! `sesame::audit` target. The level comes from `RUST_LOG` (default `info`).
//!
//! A request never waits for stderr: a formatted line goes into a bounded in-memory queue
//! ([`QUEUED_LINES`] lines) that one writer thread drains into a buffered stderr, in batches:
//! after each batch it pauses [`WRITER_PAUSE`], so under load it makes a few hundred `write(2)`
//! calls and wake-ups a second instead of one per line, and a request thread rarely has to
//! wake it.
//! When stderr cannot keep up and the queue is full, new lines are dropped rather than slowing
//! requests down; [`dropped_lines`] counts them (`sesame_log_lines_dropped_total` in metrics).
//! The writer flushes what is queued when the thread that called [`init`] ends (the end of
//! `main`) or when [`flush`] is called.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

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

/// How long the writer thread waits after writing a batch before it takes the next one: how
/// late a line can reach stderr, and what bounds the writer's wake-ups (500 a second).
pub const WRITER_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    if installed.is_ok() {
        let _ = WRITER.set((Mutex::new(Some(guard)), counter));
        FLUSH_AT_EXIT.with(|_| {});
    }
}

/// Log lines dropped so far because the queue to stderr was full.
pub fn dropped_lines() -> u64 {
    WRITER.get().map_or(0, |(_, c)| c.dropped_lines() as u64)
}

/// Writes out every queued line and stops the writer thread; later lines are dropped. For the
/// end of the process (it also runs when the thread that called [`init`] ends).
pub fn flush() {
    if let Some((guard, _)) = WRITER.get() {
        let guard = guard.lock().map(|mut g| g.take()).unwrap_or(None);
        drop(guard);
        let _ = std::io::stderr().flush();
    }
}
