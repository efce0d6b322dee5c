//! Isolated Postgres stores for tests: one fresh schema per case, migrated, dropped afterwards.
//!
//! The server comes from `SESAME_TEST_DATABASE_URL` (or `DATABASE_URL`). Without one, or when it
//! does not answer, [`TestDb::new`] returns `None` after printing why, so local runs skip
//! loudly; when `CI` is set it panics instead, so a Postgres suite can never silently not run.
//! Schemas are named `sesame_t_<unix seconds>_<random>`; ones older than an hour, left by
//! crashed runs, are dropped when a process first asks for a test store.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

use crate::{PgConfig, PgStore};

/// The environment variables read for the test database, in order.
pub const URL_VARS: &[&str] = &["SESAME_TEST_DATABASE_URL", "DATABASE_URL"];

/// The test database URL, if configured.
pub fn url() -> Option<String> {
    URL_VARS.iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Either skip loudly (locally) or fail (under CI).
fn unavailable(why: &str) -> Option<TestDb> {
    if in_ci() {
        panic!("Postgres tests must run under CI, but {why}");
    }
    // Straight to the stderr handle: the test harness captures `eprintln!`, not this.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: Postgres test not run: {why}. Set SESAME_TEST_DATABASE_URL (see README)."
    );
    None
}

/// A migrated store in its own schema, dropped when this is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The store, scoped to the schema.
    pub store: Arc<PgStore>,
    /// The schema's name.
    pub schema: String,
    /// The configuration (with `schema` set), to build more stores on the same data.
    pub config: PgConfig,
}

static SWEPT: OnceCell<()> = OnceCell::const_new();

impl TestDb {
    /// A fresh schema, migrated; `None` if Postgres is not configured or not reachable (and
    /// `CI` is unset).
    pub async fn new() -> Option<TestDb> {
        let db = TestDb::empty().await?;
        db.store.migrate().await.expect("migrations apply to a fresh schema");
        Some(db)
    }

    /// A fresh, *unmigrated* schema (for migration tests).
    pub async fn empty() -> Option<TestDb> {
        let Some(url) = url() else {
            return unavailable("no SESAME_TEST_DATABASE_URL or DATABASE_URL is set");
        };
        let client = match connect(&url).await {
            Ok(c) => c,
            Err(e) => {
                return unavailable(&format!("cannot connect to {}: {e}", crate::redact_url(&url)))
            }
        };
        SWEPT.get_or_init(|| sweep(&client)).await;
        let mut r = [0u8; 6];
        getrandom::fill(&mut r).expect("OS random source");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let schema = format!("sesame_t_{now}_{suffix}");
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("create test schema");
        let config =
            PgConfig { schema: Some(schema.clone()), max_connections: 40, ..PgConfig::new(url) };
        let store = Arc::new(PgStore::new(config.clone()).expect("valid test config"));
        Some(TestDb { store, schema, config })
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg: tokio_postgres::Config = url.parse()?;
    cfg.connect_timeout(Duration::from_secs(5));
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn sweep(client: &tokio_postgres::Client) {
    let cutoff =
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().saturating_sub(3600);
    let Ok(rows) = client
        .query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sesame\\_t\\_%'", &[])
        .await
    else {
        return;
    };
    for r in rows {
        let Ok(name) = r.try_get::<_, String>("nspname") else { continue };
        let born = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(u64::MAX);
        if born < cutoff {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        let Some(url) = url() else { return };
        // Drop cannot be async: use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let c = connect(&url).await.ok()?;
                c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.ok()
            })
        })
        .join();
    }
}
