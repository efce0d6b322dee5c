//! Postgres implementation of [`sesame_store::Store`]: [`PgStore`], and its transactions.
//!
//! Owns all of Sesame's SQL and row mapping, on tokio-postgres with a deadpool-postgres pool.
//! Knows nothing about HTTP, password hashing or a query language. Every trait method is one
//! statement or one transaction; integrity (one credential per document, unique digests, unique
//! user constraints, cascades of documents to their credential, tokens and index entries) is
//! enforced by the schema in the top-level `migrations/` folder, embedded here and applied by
//! [`PgStore::migrate`] (see [`migrate`]).
//!
//! Files by concern: `documents.rs` (collections, documents, index entries, scans), `auth.rs`
//! (credentials, tokens, keys), `roles.rs` (user-defined roles), `audit.rs`, `throttle.rs`,
//! `store.rs` (the trait impls and serializable transactions), `db.rs` (a connection's statements
//! and the transaction guard), `rows.rs` (row mapping), `error.rs` (driver errors to
//! `StoreError`), `lanes.rs` (the hot path).

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use sesame_store::StoreError;
use tokio_postgres::{NoTls, Row};

mod audit;
mod auth;
mod db;
mod documents;
mod error;
mod lanes;
pub mod migrate;
mod roles;
mod rows;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;
mod tls;

use error::{map_pg, map_pool};
pub use migrate::{MigrationError, MigrationReport};

/// How to reach Postgres. `Debug` never prints the URL's password.
#[derive(Clone)]
pub struct PgConfig {
    /// A libpq-style URL, e.g. `postgres://user:pass@127.0.0.1:5432/sesame`.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: usize,
    /// Longest wait for a new connection to be established.
    pub connect_timeout: Duration,
    /// Longest wait for a free connection from the pool; past it, calls fail `unavailable`.
    pub acquire_timeout: Duration,
    /// Longest a single statement may run (Postgres `statement_timeout`).
    pub statement_timeout: Duration,
    /// The schema Sesame's tables live in: `sesame` by default, created by [`PgStore::migrate`]
    /// if missing, so they never mix with an application's own tables in `public`. `None` uses
    /// the connection's own `search_path` (for databases set up before this default). Tests
    /// isolate their cases with a schema each.
    pub schema: Option<String>,
    /// Extra trusted CA certificates (PEM) for `sslmode=require`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl PgConfig {
    /// The default schema.
    pub const DEFAULT_SCHEMA: &'static str = "sesame";

    /// Defaults for `url`: 16 connections, 5 s connect and acquire timeouts, 30 s statements,
    /// tables in the schema [`PgConfig::DEFAULT_SCHEMA`].
    pub fn new(url: impl Into<String>) -> Self {
        PgConfig {
            url: url.into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            schema: Some(PgConfig::DEFAULT_SCHEMA.to_owned()),
            ca_file: None,
        }
    }

    /// The URL with any password replaced by `****`, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks that the URL parses and the TLS settings load (without connecting).
    pub fn check(&self) -> Result<(), StoreError> {
        self.tls().map(drop)
    }

    /// The TLS connector when the URL asks for `sslmode=require`; `None` means plaintext.
    pub(crate) fn tls(
        &self,
    ) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
        if self.pg_config()?.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            tls::connector(self.ca_file.as_deref()).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn pg_config(&self) -> Result<tokio_postgres::Config, StoreError> {
        let mut c: tokio_postgres::Config = self.url.parse().map_err(|_| {
            StoreError::Other(format!("invalid database URL {}", self.redacted_url()).into())
        })?;
        c.connect_timeout(self.connect_timeout);
        c.application_name("sesame");
        let mut options = format!("-c statement_timeout={}", self.statement_timeout.as_millis());
        if let Some(schema) = &self.schema {
            if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(StoreError::Other("schema names are [A-Za-z0-9_]+".into()));
            }
            options.push_str(&format!(" -c search_path={schema}"));
        }
        c.options(&options);
        Ok(c)
    }
}

/// Replaces the password in a `scheme://user:password@host/...` URL with `****`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "****".into() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let host = match host.split_once('?') {
        Some((h, _)) => format!("{h}?…"),
        None => host.to_owned(),
    };
    match auth {
        Some(a) => match a.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
            None => format!("{scheme}://{a}@{host}"),
        },
        None => format!("{scheme}://{host}"),
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema", &self.schema)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A [`Store`] on Postgres. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    config: PgConfig,
    lanes: Arc<lanes::Lanes>,
    /// The last transaction timestamp handed out (µs), shared by clones.
    last_txn_ts: Arc<AtomicI64>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The hot-path lookups, also used by [`lanes`].
pub(crate) const TOKEN_BY_DIGEST: &str =
    concat!("SELECT ", rows::token_cols!(), " FROM tokens WHERE digest = $1");
pub(crate) const KEY_BY_DIGEST: &str =
    concat!("SELECT ", rows::key_cols!(), " FROM keys WHERE digest = $1");

impl PgStore {
    /// Builds the pool. Does not connect yet: call [`PgStore::migrate`] or
    /// [`sesame_store::Store::ping`] to fail fast at start-up.
    pub fn new(config: PgConfig) -> Result<Self, StoreError> {
        let mut pg = config.pg_config()?;
        let tls = config.tls()?;
        if tls.is_none() {
            // Plaintext by choice: don't let tokio-postgres' `prefer` try TLS it can't verify.
            pg.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        let pg_for_lanes = pg.clone();
        let mc = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let mgr = match tls.clone() {
            Some(tls) => Manager::from_config(pg, tls, mc),
            None => Manager::from_config(pg, NoTls, mc),
        };
        let pool = Pool::builder(mgr)
            .max_size(config.max_connections.max(1))
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let lanes = Arc::new(lanes::Lanes::new(pg_for_lanes, tls, config.connect_timeout));
        Ok(PgStore { pool, config, lanes, last_txn_ts: Arc::new(AtomicI64::new(0)) })
    }

    /// The configuration this store was built with.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// Creates the configured schema if it is missing, then applies pending migrations (see
    /// [`migrate`]).
    pub async fn migrate(&self) -> Result<MigrationReport, MigrationError> {
        let mut client = self.client().await.map_err(MigrationError::Store)?;
        if let Some(schema) = &self.config.schema {
            // Checked by `pg_config` ([A-Za-z0-9_]+); under the runner's lock, so concurrent
            // starters don't race on it.
            migrate::ensure_schema(&mut client, schema).await?;
        }
        migrate::run(&mut client).await
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(map_pool)
    }

    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_pg)?;
        c.query(&stmt, params).await.map_err(map_pg)
    }

    pub(crate) async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_pg)?;
        c.query_opt(&stmt, params).await.map_err(map_pg)
    }

    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_pg)?;
        c.execute(&stmt, params).await.map_err(map_pg)
    }
}
