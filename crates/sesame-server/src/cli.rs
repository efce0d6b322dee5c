//! The `sesame` command line: `serve` (default), `migrate`, `shell`, `key create | list | revoke`.
//!
//! Wires configuration, storage, the engine and the HTTP server together; `main.rs` only calls
//! [`main`]. Secrets printed here (a generated admin key, `key create`) go to the terminal once,
//! never through the logger. Flags are defined in [`crate::config`]; what the key commands do
//! through the engine is in [`keys`]; `sesame shell`, an HTTP client of `/query/1`, is [`shell`].
//! No HTTP handling here.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sesame_auth::{AuthConfig, Engine};
use sesame_model::{Role, Timestamp};
use sesame_postgres::PgStore;
use sesame_store::{MemoryStore, Store};
use tokio::net::TcpListener;

use crate::config::{
    Cli, Command, Config, DbArgs, KeyCommand, KeyCreateArgs, KeyRevokeArgs, StoreConfig,
};
use crate::{serve, telemetry, App};

pub mod keys;
pub mod shell;

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sesame: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            None => run_serve(cli.serve).await,
            Some(Command::Serve(a)) => run_serve(a).await,
            Some(Command::Migrate(a)) => run_migrate(a).await,
            Some(Command::Shell(a)) => {
                shell::run(a).await.map_err(|shell::ShellError(code, msg)| Failure(code, msg))
            }
            Some(Command::Key { command: KeyCommand::Create(a) }) => run_key_create(a).await,
            Some(Command::Key { command: KeyCommand::List(a) }) => run_key_list(a).await,
            Some(Command::Key { command: KeyCommand::Revoke(a) }) => run_key_revoke(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, msg)) => {
            eprintln!("sesame: {msg}");
            ExitCode::from(code)
        }
    }
}

/// An exit code and the message explaining it.
struct Failure(u8, String);

/// A configuration problem (exit code 2): the error and its causes, e.g. why a URL is refused.
fn config_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Failure {
    Failure(2, sesame_auth::error_chain(&*e.into()))
}

/// A runtime failure (exit code 1), with its causes on one line (the operator needs the root
/// cause: `migration failed: store unavailable: connection refused`, not `store error`).
fn runtime_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Failure {
    Failure(1, sesame_auth::error_chain(&*e.into()))
}

async fn postgres(cfg: sesame_postgres::PgConfig, migrate: bool) -> Result<PgStore, Failure> {
    let url = cfg.redacted_url();
    let store = PgStore::new(cfg)
        .map_err(|e| config_err(format!("database: {}", sesame_auth::error_chain(&e))))?;
    store.ping().await.map_err(|e| {
        runtime_err(format!("cannot reach Postgres at {url}: {}", sesame_auth::error_chain(&e)))
    })?;
    if migrate {
        let report = store.migrate().await.map_err(runtime_err)?;
        tracing::info!(applied = ?report.applied, version = report.current, "database schema is current");
    }
    Ok(store)
}

async fn run_serve(args: crate::config::ServeArgs) -> Result<(), Failure> {
    let cfg = Config::from_args(args).map_err(config_err)?;
    telemetry::init(cfg.log_format);
    tracing::debug!(config = ?cfg, "configuration");
    let (store, persistent): (Arc<dyn Store>, bool) = match &cfg.store {
        StoreConfig::Memory => {
            tracing::warn!("using the in-memory store: nothing will persist across restarts (set DATABASE_URL for Postgres)");
            (Arc::new(MemoryStore::new()), false)
        }
        StoreConfig::Postgres(pg) => (Arc::new(postgres(pg.clone(), cfg.migrate).await?), true),
    };
    let engine = Arc::new(Engine::new(store, cfg.auth.clone()).map_err(config_err)?);
    // Bind both listeners before minting anything: a port in use must fail before a key is
    // generated and printed (a key nobody can use, shown for nothing).
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| runtime_err(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener.local_addr().map_err(runtime_err)?;
    let metrics_listener = match cfg.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| runtime_err(format!("cannot listen for metrics on {addr}: {e}")))?,
        ),
        None => None,
    };
    if cfg.auth.admin_secret.is_none() {
        if persistent {
            if !engine.has_admin_key().await.map_err(runtime_err)? {
                return Err(Failure(
                    2,
                    "no admin key exists in this database and no admin secret is set.\n  \
                     Mint one:  sesame key create --role admin --database-url <url>\n  \
                     or set SESAME_ADMIN_SECRET to an operator secret (16 to 512 characters, no whitespace)."
                        .into(),
                ));
            }
        } else {
            let k = keys::create(&engine, Role::Admin, None).await.map_err(runtime_err)?;
            // Straight to the terminal, once; never through the logger.
            eprintln!(
                "sesame: generated an admin key for this in-memory run (shown once):\n  {}",
                k.secret.expose()
            );
        }
    }
    tracing::info!(%addr, store = if persistent { "postgres" } else { "memory" }, "sesame listening on http://{addr}");
    if let Some(every) = cfg.sweep_interval {
        engine.spawn_maintenance(every);
    }
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(());
    if let Some(l) = metrics_listener {
        let handle = crate::metrics::install().map_err(runtime_err)?;
        let addr = l.local_addr().map_err(runtime_err)?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        let mut stopped = metrics_stopped.clone();
        tokio::spawn(crate::metrics::serve_metrics(l, handle, engine.clone(), async move {
            let _ = stopped.changed().await;
        }));
    }
    let app = Arc::new(App::new(engine, cfg.server.clone()));
    serve(listener, app, shutdown_signal()).await.map_err(runtime_err)?;
    let _ = stop_metrics.send(());
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = term => tracing::info!("received SIGTERM"),
    }
}

async fn run_migrate(a: DbArgs) -> Result<(), Failure> {
    telemetry::init(a.log_format);
    let mut cfg = crate::config::pg_config(&a.database_url, 2, Duration::from_secs(10))
        .map_err(config_err)?;
    cfg.schema = Some(a.database_schema.clone());
    let store = postgres(cfg, false).await?;
    let report = store.migrate().await.map_err(runtime_err)?;
    if report.applied.is_empty() {
        eprintln!("sesame: schema is current (version {})", report.current);
    } else {
        eprintln!(
            "sesame: applied migrations {:?}; schema version {}",
            report.applied, report.current
        );
    }
    Ok(())
}

/// An engine over the migrated database of `a`, for the key commands.
async fn key_engine(a: &DbArgs) -> Result<Engine, Failure> {
    telemetry::init(a.log_format);
    let mut cfg = crate::config::pg_config(&a.database_url, 2, Duration::from_secs(10))
        .map_err(config_err)?;
    cfg.schema = Some(a.database_schema.clone());
    let store: Arc<dyn Store> = Arc::new(postgres(cfg, true).await?);
    Engine::new(store, AuthConfig::default()).map_err(config_err)
}

async fn run_key_create(a: KeyCreateArgs) -> Result<(), Failure> {
    let role: Role = a.role.parse().map_err(config_err)?;
    let engine = key_engine(&a.db).await?;
    let ttl = match a.ttl {
        None => None,
        Some(t) => Some(match t.parse::<i64>() {
            Ok(secs) if secs > 0 => engine.now().plus_seconds(secs),
            Ok(_) => return Err(config_err("--ttl in seconds must be positive")),
            Err(_) => Timestamp::parse_rfc3339(&t).map_err(config_err)?,
        }),
    };
    let k = keys::create(&engine, role, ttl).await.map_err(runtime_err)?;
    eprintln!("sesame: created {} key {} (the secret below is shown once)", k.key.role, k.key.id);
    println!("{}", k.secret.expose());
    Ok(())
}

async fn run_key_list(a: DbArgs) -> Result<(), Failure> {
    let engine = key_engine(&a).await?;
    let mut out = std::io::stdout().lock();
    let n = keys::list(&engine, &mut out).await.map_err(runtime_err)?;
    eprintln!("sesame: {n} key(s)");
    Ok(())
}

async fn run_key_revoke(a: KeyRevokeArgs) -> Result<(), Failure> {
    let engine = key_engine(&a.db).await?;
    let admin_remains = keys::revoke(&engine, &a.id).await.map_err(|e| match e {
        sesame_auth::AuthError::InvalidArgument { .. }
        | sesame_auth::AuthError::DocumentNotFound { .. } => config_err(e),
        e => runtime_err(e),
    })?;
    eprintln!("sesame: revoked key {}", a.id);
    if !admin_remains {
        eprintln!(
            "sesame: warning: no admin key remains; `sesame serve` on this database needs \
             SESAME_ADMIN_SECRET or a new key (sesame key create --role admin)"
        );
    }
    Ok(())
}
