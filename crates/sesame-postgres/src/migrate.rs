//! The migration runner: applies the embedded `migrations/NNNN_name.sql` files.
//!
//! One run is one transaction that first takes a transaction-scoped advisory lock, so instances
//! starting together queue up and each file is applied exactly once; a failing file leaves
//! nothing behind. Every applied file is recorded with its SHA-256; a database whose recorded
//! checksum differs from the embedded file, or that has files this binary does not know, is
//! refused with a clear error rather than run against.

use sesame_store::StoreError;
use sha2::{Digest as _, Sha256};

use crate::error::map_pg;

/// An embedded migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number (the `NNNN` of the file name).
    pub version: i32,
    /// The rest of the file name.
    pub name: &'static str,
    /// Its SQL.
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the file, hex.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Every migration this binary embeds, in order.
pub const MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Key of the advisory lock taken while migrating ("sesame" in ASCII).
const LOCK_KEY: i64 = 0x7365_7361_6d65;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run.
    pub applied: Vec<i32>,
    /// The schema version afterwards.
    pub current: i32,
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// An applied file differs from the one embedded in this binary.
    #[error(
        "migration {version} ({name}) was changed after it was applied (database has checksum \
         {recorded}, this binary has {embedded}); migrations are append-only: restore the file \
         and add a new migration instead"
    )]
    Changed {
        /// Its number.
        version: i32,
        /// Its name.
        name: String,
        /// Checksum recorded in the database.
        recorded: String,
        /// Checksum of the embedded file.
        embedded: String,
    },
    /// The database has migrations this binary does not know (it is older than the schema).
    #[error("the database has migration {version} ({name}), which this binary does not know; run a newer sesame")]
    Unknown {
        /// Its number.
        version: i32,
        /// Its name.
        name: String,
    },
    /// A file failed to apply, or the database could not be reached.
    #[error("migration failed: {0}")]
    Store(#[source] StoreError),
}

impl MigrationError {
    /// Stable code: `migration_changed`, `migration_unknown`, `migration_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            MigrationError::Changed { .. } => "migration_changed",
            MigrationError::Unknown { .. } => "migration_unknown",
            MigrationError::Store(_) => "migration_failed",
        }
    }
}

/// Creates `schema` if it does not exist, under the migration lock.
pub(crate) async fn ensure_schema(
    client: &mut tokio_postgres::Client,
    schema: &str,
) -> Result<(), MigrationError> {
    let pg = |e| MigrationError::Store(map_pg(e));
    if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || schema.is_empty() {
        return Err(MigrationError::Store(sesame_store::StoreError::Other(
            "schema names are [A-Za-z0-9_]+".into(),
        )));
    }
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(pg)?;
    tx.batch_execute("SET LOCAL client_min_messages = warning").await.map_err(pg)?;
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await.map_err(pg)?;
    tx.commit().await.map_err(pg)
}

/// Applies `migrations` on `client` (the embedded set in production; tests pass others).
pub async fn run_with(
    client: &mut tokio_postgres::Client,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrationError> {
    let pg = |e| MigrationError::Store(map_pg(e));
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(pg)?;
    // Quiet "already exists, skipping" notices from the idempotent statements below.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await.map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sesame_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             checksum   text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg)?;
    let rows = tx
        .query("SELECT version, name, checksum FROM sesame_migrations ORDER BY version", &[])
        .await
        .map_err(pg)?;
    let mut current = 0;
    for r in &rows {
        let col = |c: &str| MigrationError::Store(crate::rows::corrupt("sesame_migrations", c));
        let version: i32 = r.try_get("version").map_err(|_| col("version"))?;
        let name: String = r.try_get("name").map_err(|_| col("name"))?;
        let recorded: String = r.try_get("checksum").map_err(|_| col("checksum"))?;
        let Some(m) = migrations.iter().find(|m| m.version == version) else {
            return Err(MigrationError::Unknown { version, name });
        };
        let embedded = m.checksum();
        if embedded != recorded {
            return Err(MigrationError::Changed { version, name, recorded, embedded });
        }
        current = current.max(version);
    }
    let mut applied = Vec::new();
    let start = current;
    for m in migrations.iter().filter(|m| m.version > start) {
        tracing::info!(version = m.version, name = m.name, "applying migration");
        tx.batch_execute(m.sql).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO sesame_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )
        .await
        .map_err(pg)?;
        applied.push(m.version);
        current = m.version;
    }
    tx.commit().await.map_err(pg)?;
    Ok(MigrationReport { applied, current })
}

pub(crate) async fn run(
    client: &mut tokio_postgres::Client,
) -> Result<MigrationReport, MigrationError> {
    run_with(client, MIGRATIONS).await
}
