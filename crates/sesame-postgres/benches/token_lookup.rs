//! Benchmark: token authentications per second on Postgres with 10 thousand and 1 million
//! tokens in the table, in one run; the ratio shows whether the cost stays flat as it grows.
//!
//! Run with `cargo bench -p sesame-postgres --bench token_lookup` (or `cargo xtask bench`),
//! with `SESAME_TEST_DATABASE_URL` set. Not a test: it prints figures, asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame_model::SecretDigest;
use sesame_postgres::testing::TestDb;
use sesame_store::Store;

const CONCURRENCY: usize = 16;
const RUN: Duration = Duration::from_secs(3);
const REPEATS: usize = 3;

async fn fill(db: &TestDb, total: i64) {
    let url = sesame_postgres::testing::url().unwrap();
    let mut cfg: tokio_postgres::Config = url.parse().unwrap();
    cfg.options(format!("-c search_path={}", db.schema));
    let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(
        "INSERT INTO collections VALUES ('Customer', 0) ON CONFLICT DO NOTHING;
         INSERT INTO documents (id, coll, ts) VALUES (1, 'Customer', 0) ON CONFLICT DO NOTHING;",
    )
    .await
    .unwrap();
    let have: i64 = c.query_one("SELECT count(*) FROM tokens", &[]).await.unwrap().get(0);
    c.execute(
        "INSERT INTO tokens (id, document_coll, document_id, digest, ts, origin)
         SELECT i, 'Customer', 1, sha256(('bench-' || i)::bytea), 0, 'login'
         FROM generate_series($1::bigint + 1, $2::bigint) AS i",
        &[&have, &total],
    )
    .await
    .unwrap();
    c.batch_execute("ANALYZE tokens").await.unwrap();
}

/// Lookups per second of tokens `1 + k * stride` for `k < span`: the working set is `span`
/// tokens spread over the whole table.
async fn lookups_per_sec(store: Arc<dyn Store>, span: u64, stride: u64) -> f64 {
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY as u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut i = w;
            while Instant::now() < deadline {
                i = (i * 2_862_933_555_777_941_757 + 3_037_000_493) % span;
                // The table holds sha256('bench-<i>'), exactly what SecretDigest::of computes.
                let digest = SecretDigest::of(&format!("bench-{}", i * stride + 1));
                store.token_by_digest(&digest).await.expect("token exists");
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
        eprintln!("token_lookup: no database, nothing measured");
        return;
    };
    let store: Arc<dyn Store> = db.store.clone();
    let measure = |span: u64, stride: u64| {
        let store = store.clone();
        async move {
            lookups_per_sec(store.clone(), span, stride).await; // warm-up
            let mut v = Vec::new();
            for _ in 0..REPEATS {
                v.push(lookups_per_sec(store.clone(), span, stride).await);
            }
            (median(v.clone()), v)
        }
    };
    fill(&db, 10_000).await;
    let (small, runs) = measure(10_000, 1).await;
    println!("table of    10000 tokens, all 10000 looked up:            median {small:>8.0}/s  runs {runs:.0?}");
    let t = Instant::now();
    fill(&db, 1_000_000).await;
    eprintln!("filled to 1000000 tokens in {:.1}s", t.elapsed().as_secs_f64());
    let (hot, runs) = measure(10_000, 100).await;
    println!("table of  1000000 tokens, 10000 of them looked up:        median {hot:>8.0}/s  runs {runs:.0?}");
    let (all, runs) = measure(1_000_000, 1).await;
    println!("table of  1000000 tokens, all 1000000 looked up (cold):   median {all:>8.0}/s  runs {runs:.0?}");
    println!("ratio, same working set, 100x the table: {:.2} (1.00 = flat)", hot / small);
    println!("ratio, working set 100x larger too:      {:.2}", all / small);
}
