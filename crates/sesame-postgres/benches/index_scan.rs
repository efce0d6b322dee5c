//! Benchmark: index scans per second on Postgres with 10 thousand and 1 million documents in a
//! collection, in one run; the ratio shows whether a scan's cost stays flat as it grows.
//!
//! Run with `cargo bench -p sesame-postgres --bench index_scan`, with
//! `SESAME_TEST_DATABASE_URL` set. Each lookup is the first page (16) of `byTeam` for a random
//! team of 64 documents, 16 concurrent tasks. Rows are generated in SQL (`generate_series`),
//! index entries too (the string encoding is simple enough to write there), in a scratch
//! schema dropped afterwards. Not a test: it prints figures, asserts only that scans find rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sesame_model::{Collection, CollectionName, FieldPath, IndexDef, IndexValue, Timestamp};
use sesame_postgres::testing::TestDb;
use sesame_store::Store;

const CONCURRENCY: usize = 16;
const RUN: Duration = Duration::from_secs(3);
const REPEATS: usize = 3;
const PER_TEAM: i64 = 64;
const PAGE: usize = 16;

async fn fill(db: &TestDb, total: i64) {
    let url = sesame_postgres::testing::url().unwrap();
    let mut cfg: tokio_postgres::Config = url.parse().unwrap();
    cfg.options(format!("-c search_path={}", db.schema));
    let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let have: i64 =
        c.query_one("SELECT coalesce(max(id), 0) FROM documents", &[]).await.unwrap().get(0);
    // Strings encode as 0x05, their UTF-8 bytes, 0x00 0x01 (sesame_store::encoding); a terms
    // key is the SHA-256 of the terms' encodings.
    c.execute(
        "WITH new AS (
           INSERT INTO documents (id, coll, ts, fields)
           SELECT i, 'Customer', 0,
                  jsonb_build_object('team', 'team-' || (i / $3), 'name', 'name-' || i)
           FROM generate_series($1::bigint + 1, $2::bigint) AS i
           RETURNING id)
         INSERT INTO index_entries (coll, index_name, terms_key, sort_key, doc_id)
         SELECT 'Customer', 'byTeam',
                sha256('\\x05'::bytea || convert_to('team-' || (id / $3), 'UTF8') || '\\x0001'::bytea),
                '\\x05'::bytea || convert_to('name-' || id, 'UTF8') || '\\x0001'::bytea, id
         FROM new",
        &[&have, &total, &PER_TEAM],
    )
    .await
    .unwrap();
    c.batch_execute("ANALYZE documents; ANALYZE index_entries").await.unwrap();
}

/// First pages per second for random teams among the first `teams`.
async fn scans_per_sec(store: Arc<dyn Store>, teams: u64) -> f64 {
    let coll: CollectionName = "Customer".parse().unwrap();
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY as u64 {
        let (store, coll) = (store.clone(), coll.clone());
        tasks.push(tokio::spawn(async move {
            let (mut n, mut i) = (0u64, w);
            while Instant::now() < deadline {
                i = (i.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(3_037_000_493)) % teams;
                let team = json!(format!("team-{}", i + 1));
                let page = store.scan_index(&coll, "byTeam", &[team], None, PAGE).await.unwrap();
                assert_eq!(page.data.len(), PAGE, "team {} has its documents", i + 1);
                n += 1;
            }
            n
        }));
    }
    let started = Instant::now();
    let mut n = 0;
    for t in tasks {
        n += t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let Some(db) = TestDb::new().await else {
        eprintln!("index_scan: no database, nothing measured");
        return;
    };
    let store: Arc<dyn Store> = db.store.clone();
    let p = |s: &str| s.parse::<FieldPath>().unwrap();
    let index = IndexDef::new(
        "byTeam".parse().unwrap(),
        vec![p("team")],
        vec![IndexValue { path: p("name"), desc: false }],
    )
    .unwrap();
    let coll = Collection::new("Customer".parse().unwrap(), Timestamp::from_micros(0).unwrap())
        .with_index(index)
        .unwrap();
    store.create_collection(&coll).await.unwrap();
    let measure = |teams: u64| {
        let store = store.clone();
        async move {
            scans_per_sec(store.clone(), teams).await; // warm-up
            let mut v = Vec::new();
            for _ in 0..REPEATS {
                v.push(scans_per_sec(store.clone(), teams).await);
            }
            (median(v.clone()), v)
        }
    };
    let t = Instant::now();
    fill(&db, 10_000).await;
    eprintln!("filled to 10000 documents in {:.1}s", t.elapsed().as_secs_f64());
    let teams = |docs: i64| (docs / PER_TEAM - 1) as u64;
    let (small, runs) = measure(teams(10_000)).await;
    println!("collection of    10000 documents: median {small:>8.0} scans/s  runs {runs:.0?}");
    let t = Instant::now();
    fill(&db, 1_000_000).await;
    eprintln!("filled to 1000000 documents in {:.1}s", t.elapsed().as_secs_f64());
    let (big, runs) = measure(teams(1_000_000)).await;
    println!("collection of  1000000 documents: median {big:>8.0} scans/s  runs {runs:.0?}");
    println!("ratio 1M / 10k: {:.2} (1.00 = flat; target >= 0.80)", big / small);
}
