//! The migration runner: idempotent, safe when instances start together, strict about changes.

use sesame_postgres::migrate::{run_with, Migration, MigrationError, MIGRATIONS};
use sesame_postgres::testing::TestDb;
use sesame_postgres::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_twice_is_a_no_op() {
    let Some(db) = TestDb::empty().await else { return };
    let first = db.store.migrate().await.unwrap();
    assert_eq!(first.applied, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
    let second = db.store.migrate().await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.current, first.current);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runners_started_together_apply_each_file_once() {
    let Some(db) = TestDb::empty().await else { return };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = PgStore::new(db.config.clone()).unwrap();
        tasks.push(tokio::spawn(async move { store.migrate().await }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        applied.extend(t.await.unwrap().expect("every runner succeeds").applied);
    }
    applied.sort();
    assert_eq!(applied, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_applied_file_is_refused() {
    let Some(db) = TestDb::empty().await else { return };
    let pg = tokio_postgres_client(&db).await;
    let mut client = pg;
    let v1 = [Migration { version: 1, name: "t", sql: "CREATE TABLE t (a int);" }];
    run_with(&mut client, &v1).await.unwrap();
    let changed = [Migration { version: 1, name: "t", sql: "CREATE TABLE t (a bigint);" }];
    let e = run_with(&mut client, &changed).await.unwrap_err();
    assert!(matches!(e, MigrationError::Changed { version: 1, .. }), "{e}");
    assert_eq!(e.code(), "migration_changed");
    assert!(e.to_string().contains("append-only"));
    // A binary that does not know an applied migration refuses too.
    let e = run_with(&mut client, &[]).await.unwrap_err();
    assert_eq!(e.code(), "migration_unknown");
    // A failing file leaves nothing half-applied.
    let bad = [
        v1[0],
        Migration { version: 2, name: "bad", sql: "CREATE TABLE u (a int); SELECT no_such_fn();" },
    ];
    assert_eq!(run_with(&mut client, &bad).await.unwrap_err().code(), "migration_failed");
    let n: i64 = client.query_one("SELECT count(*) FROM pg_tables WHERE tablename = 'u' AND schemaname = current_schema()", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);
}

async fn tokio_postgres_client(db: &TestDb) -> tokio_postgres::Client {
    let url = sesame_postgres::testing::url().unwrap();
    let mut cfg: tokio_postgres::Config = url.parse().unwrap();
    cfg.options(format!("-c search_path={}", db.schema));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// Tables live in a dedicated schema (`sesame` by default), which `migrate` creates: they never
/// mix with an application's own tables in `public`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_the_dedicated_schema() {
    assert_eq!(
        sesame_postgres::PgConfig::new("postgres://x@h/db").schema.as_deref(),
        Some(sesame_postgres::PgConfig::DEFAULT_SCHEMA)
    );
    let Some(db) = TestDb::empty().await else { return };
    let mut client = tokio_postgres_client(&db).await;
    let fresh = format!("{}_own", db.schema);
    let mut cfg = db.config.clone();
    cfg.schema = Some(fresh.clone());
    let store = PgStore::new(cfg).unwrap();
    store.migrate().await.expect("the schema is created, then migrated");
    let tx = client.transaction().await.unwrap();
    let n: i64 = tx
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'tokens'",
            &[&fresh],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    tx.batch_execute(&format!("DROP SCHEMA \"{fresh}\" CASCADE")).await.unwrap();
    tx.commit().await.unwrap();
}
