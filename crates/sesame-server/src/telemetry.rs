//! Logging set-up: `tracing` to stderr, human-readable or JSON.
//!
//! Nothing in Sesame logs secrets, passwords or the Authorization header; request spans carry
//! the method, path (no query string), peer address and request id. Audit events use the
//! `sesame::audit` target. The level comes from `RUST_LOG` (default `info`).

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

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
