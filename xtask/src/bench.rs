//! `cargo xtask bench`: the server's performance, as ratios to baselines measured in the same run.
//!
//! Starts release builds of `sesame` on loopback ports and drives them with an in-process load
//! generator (a minimal HTTP/1.1 keep-alive client, fixed concurrency and duration, median of
//! 3 runs):
//! 1. `GET /healthz` requests/s (the server's ceiling);
//! 2. authenticated `GET /tokens/self` requests/s, memory store, as a ratio to (1);
//! 3. the same on Postgres, as a ratio to `pgbench -S` at the same concurrency on the same server;
//! 4. logins/s against raw Argon2id verifications/s (same parameters, as many threads as the
//!    server's hashing pool), as a ratio;
//! 5. p99 of authenticated requests during a login storm, as a ratio to the quiet p99;
//! 6. the same during a storm of wrong passwords that throttling refuses;
//!
//! and the server's idle and peak RSS. Results go to stdout and `target/bench-results.md`.
//! Not a test: it asserts nothing. `--quick` shortens every run.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::{cargo, root, run as run_cmd};

const ADMIN: &str = "bench-admin-secret-0123456789abcdef";
const CONCURRENCY: usize = 16;
const REPEATS: usize = 3;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(database_url: Option<&str>) -> Result<Server, String> {
    let port = free_port();
    let mut c = Command::new(root().join("target/release/sesame"));
    // The login storm comes from one address: the per-address login limit would (rightly)
    // refuse most of it, so the bench measures hashing with that limit off.
    c.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--sweep-interval-secs", "0"])
        .args(["--login-rate-per-ip", "0"])
        .env("SESAME_ADMIN_SECRET", ADMIN)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        c.env("DATABASE_URL", url);
    }
    let child = c.spawn().map_err(|e| format!("start sesame: {e}"))?;
    let s = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = client();
    for _ in 0..200 {
        if get(&client, &format!("{}/healthz", s.base), None).await.is_ok() {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("sesame did not start".into())
}

type Http = Client<HttpConnector, Full<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build_http()
}

async fn request(
    c: &Http,
    method: &str,
    url: &str,
    secret: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let mut b = hyper::Request::builder().method(method).uri(url);
    if let Some(s) = secret {
        b = b.header("authorization", format!("Bearer {s}"));
    }
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let req = b
        .body(Full::new(body.map(|v| Bytes::from(v.to_string())).unwrap_or_default()))
        .map_err(|e| e.to_string())?;
    let resp = c.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let raw = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
}

async fn get(c: &Http, url: &str, secret: Option<&str>) -> Result<(u16, Value), String> {
    request(c, "GET", url, secret, None).await
}

/// Creates Customer/Jane with password `sekret`; returns (credential id, a token secret).
async fn setup(s: &Server) -> Result<(String, String), String> {
    let c = client();
    let b = &s.base;
    request(
        &c,
        "POST",
        &format!("{b}/collections"),
        Some(ADMIN),
        Some(json!({"name": "Customer"})),
    )
    .await?;
    let (_, doc) = request(
        &c,
        "POST",
        &format!("{b}/collections/Customer/documents"),
        Some(ADMIN),
        Some(json!({"firstName": "Jane"})),
    )
    .await?;
    let id = doc["id"].as_str().ok_or("no document id")?.to_owned();
    let (_, cred) = request(
        &c,
        "POST",
        &format!("{b}/credentials"),
        Some(ADMIN),
        Some(json!({"document": {"coll": "Customer", "id": id}, "password": "sekret"})),
    )
    .await?;
    let cid = cred["id"].as_str().ok_or("no credential id")?.to_owned();
    let (st, tok) = request(
        &c,
        "POST",
        &format!("{b}/credentials/{cid}/login"),
        Some(ADMIN),
        Some(json!({"password": "sekret"})),
    )
    .await?;
    if st != 201 {
        return Err(format!("login failed: {tok}"));
    }
    Ok((cid, tok["secret"].as_str().ok_or("no secret")?.to_owned()))
}

/// What a load run measured.
struct Load {
    per_sec: f64,
    latencies: Vec<Duration>,
    errors: u64,
}

impl Load {
    fn p99(&mut self) -> Duration {
        self.latencies.sort();
        self.latencies.get(self.latencies.len() * 99 / 100).copied().unwrap_or_default()
    }
}

#[derive(Clone)]
struct Job {
    method: &'static str,
    url: String,
    secret: Option<String>,
    body: Option<Value>,
    expect: u16,
    /// Open loop: each connection starts a request every `pace` (None: back to back).
    pace: Option<Duration>,
}

/// The request as bytes, ready to write again and again on a keep-alive connection.
fn request_bytes(job: &Job) -> (String, Vec<u8>) {
    let rest = job.url.strip_prefix("http://").expect("http URL");
    let (host, path) =
        rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut r = format!("{} {path} HTTP/1.1\r\nHost: {host}\r\n", job.method);
    if let Some(s) = &job.secret {
        r.push_str(&format!("Authorization: Bearer {s}\r\n"));
    }
    let body = job.body.as_ref().map(|b| b.to_string()).unwrap_or_default();
    if job.body.is_some() {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    r.push_str(&body);
    (host.to_owned(), r.into_bytes())
}

/// Reads one HTTP/1.1 response with a Content-Length body; its status.
async fn read_response(
    s: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    line: &mut String,
) -> std::io::Result<u16> {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
    line.clear();
    s.read_line(line).await?;
    let status: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        if s.read_line(line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(status)
}

/// `concurrency` keep-alive connections, each sending `job` back to back for `run`. A minimal
/// HTTP/1.1 client, so that the load generator costs as little CPU as possible next to the
/// server on the same cores.
async fn load(job: Job, concurrency: usize, run: Duration) -> Load {
    use tokio::io::AsyncWriteExt as _;
    let (host, bytes) = request_bytes(&job);
    let bytes = Arc::new(bytes);
    let deadline = Instant::now() + run;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (host, bytes, expect, pace) = (host.clone(), bytes.clone(), job.expect, job.pace);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut line = String::new();
            'conn: while Instant::now() < deadline {
                let Ok(stream) = tokio::net::TcpStream::connect(&host).await else {
                    errors += 1;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let mut s = tokio::io::BufReader::new(stream);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if s.get_mut().write_all(&bytes).await.is_err() {
                        errors += 1;
                        continue 'conn;
                    }
                    let outcome = read_response(&mut s, &mut line).await;
                    if let Some(p) = pace {
                        tokio::time::sleep(p.saturating_sub(t.elapsed())).await;
                    }
                    match outcome {
                        Ok(st) if st == expect => lat.push(t.elapsed()),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            continue 'conn;
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    Load { per_sec: latencies.len() as f64 / started.elapsed().as_secs_f64(), latencies, errors }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn median_rate(job: &Job, concurrency: usize, run: Duration) -> (f64, Vec<f64>) {
    let _ = load(job.clone(), concurrency, run / 4).await; // warm-up
    let mut v = Vec::new();
    for _ in 0..REPEATS {
        let l = load(job.clone(), concurrency, run).await;
        if l.errors > 0 {
            eprintln!("bench: {} errors during {} {}", l.errors, job.method, job.url);
        }
        v.push(l.per_sec);
    }
    (median(v.clone()), v)
}

/// Raw Argon2id verifications/s with the server's default parameters on `threads` threads.
fn raw_argon2(threads: usize, run: Duration) -> f64 {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"benchsaltbenchsa").unwrap();
    let phc = a.hash_password(b"sekret", &salt).unwrap().to_string();
    let deadline = Instant::now() + run;
    let started = Instant::now();
    let n: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let phc = phc.clone();
                s.spawn(move || {
                    let parsed = argon2::PasswordHash::new(&phc).unwrap();
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        argon2::Argon2::default().verify_password(b"sekret", &parsed).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    n as f64 / started.elapsed().as_secs_f64()
}

fn psql(db: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn pgbench_tps(concurrency: usize, run: Duration) -> Result<f64, String> {
    psql("postgres", "DROP DATABASE IF EXISTS sesame_bench_pgbench")?;
    psql("postgres", "CREATE DATABASE sesame_bench_pgbench")?;
    let init = Command::new("pgbench")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "1", "sesame_bench_pgbench"])
        .output()
        .map_err(|e| format!("pgbench: {e}"))?;
    if !init.status.success() {
        return Err(String::from_utf8_lossy(&init.stderr).into_owned());
    }
    let mut v = Vec::new();
    for _ in 0..REPEATS {
        let out = Command::new("pgbench")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-S", "-M", "prepared", "-n"])
            .args([
                "-c",
                &concurrency.to_string(),
                "-j",
                "2",
                "-T",
                &run.as_secs().max(1).to_string(),
            ])
            .arg("sesame_bench_pgbench")
            .output()
            .map_err(|e| format!("pgbench: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let tps = text
            .lines()
            .find(|l| l.starts_with("tps ="))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|t| t.parse::<f64>().ok())
            .ok_or_else(|| format!("no tps in pgbench output: {text}"))?;
        v.push(tps);
    }
    let _ = psql("postgres", "DROP DATABASE IF EXISTS sesame_bench_pgbench");
    Ok(median(v))
}

pub(crate) fn run(quick: bool) -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "sesame-server", "--bin", "sesame"]);
    run_cmd(build)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(bench(if quick { Duration::from_secs(2) } else { Duration::from_secs(5) }))
}

async fn bench(run: Duration) -> Result<(), String> {
    let mut out = Vec::<String>::new();
    let mut say = |s: String| {
        println!("{s}");
        out.push(s);
    };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let pool = cpus.saturating_sub(1).max(1);
    say(format!("# cargo xtask bench\n\n{cpus} CPUs; load generator in-process on the same machine; concurrency {CONCURRENCY}; {}s runs; medians of {REPEATS}.\n", run.as_secs()));

    // --- memory store ---------------------------------------------------------------------
    let mem = start(None).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = mem.rss_kib("VmRSS:");
    let (cred, token) = setup(&mem).await?;
    let health = Job {
        method: "GET",
        url: format!("{}/healthz", mem.base),
        secret: None,
        body: None,
        expect: 200,
        pace: None,
    };
    let tokself = Job {
        method: "GET",
        url: format!("{}/tokens/self", mem.base),
        secret: Some(token.clone()),
        body: None,
        expect: 200,
        pace: None,
    };
    let (h, hv) = median_rate(&health, CONCURRENCY, run).await;
    say(format!("1. GET /healthz: {h:.0} req/s (runs {hv:.0?})"));
    let (t, tv) = median_rate(&tokself, CONCURRENCY, run).await;
    say(format!("2. GET /tokens/self, memory: {t:.0} req/s (runs {tv:.0?}); ratio to (1) = {:.2} (target >= 0.85)", t / h));

    // Logins against raw Argon2id.
    let login = Job {
        method: "POST",
        url: format!("{}/credentials/{cred}/login", mem.base),
        secret: Some(ADMIN.into()),
        body: Some(json!({"password": "sekret", "ttl": 60})),
        expect: 201,
        pace: None,
    };
    let raw = tokio::task::spawn_blocking(move || raw_argon2(pool, run)).await.unwrap();
    let (l, lv) = median_rate(&login, 4, run).await;
    say(format!("4. logins: {l:.1}/s (runs {lv:.1?}); raw Argon2id verifications on {pool} thread(s): {raw:.1}/s; ratio = {:.2} (target >= 0.9)", l / raw));

    // p99 of token checks, quiet vs during a login storm.
    let mut quiet_p99 = Vec::new();
    let mut storm_p99 = Vec::new();
    for _ in 0..REPEATS {
        quiet_p99.push(load(tokself.clone(), 4, run).await.p99().as_secs_f64() * 1e3);
        let storm = tokio::spawn(load(login.clone(), 32, run + Duration::from_millis(500)));
        tokio::time::sleep(Duration::from_millis(250)).await;
        storm_p99.push(load(tokself.clone(), 4, run).await.p99().as_secs_f64() * 1e3);
        let _ = storm.await;
    }
    let (q, s) = (median(quiet_p99.clone()), median(storm_p99.clone()));
    say(format!("5. p99 GET /tokens/self: quiet {q:.2} ms (runs {quiet_p99:.2?}), during a login storm {s:.2} ms (runs {storm_p99:.2?}); ratio = {:.2} (target <= 2)", s / q));
    // 6. The same, during a storm of wrong passwords on one account: throttled after three
    // failures, so it costs lookups, not hashing.
    let storm_job = Job {
        method: "POST",
        url: format!("{}/credentials/{cred}/login", mem.base),
        secret: Some(ADMIN.into()),
        body: Some(json!({"password": "wrong guess"})),
        expect: 429,
        // 32 connections × 20/s = 640 attempts/s: about 17× what the hashing pool can verify,
        // the kind of storm (5) is. (A closed-loop flood of any cheap request saturates the
        // cores whatever it asks for; the per-address bucket is the answer to that.)
        pace: Some(Duration::from_millis(50)),
    };
    let mut throttled_p99 = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..REPEATS {
        let storm = tokio::spawn(load(storm_job.clone(), 32, run + Duration::from_millis(500)));
        tokio::time::sleep(Duration::from_millis(250)).await;
        throttled_p99.push(load(tokself.clone(), 4, run).await.p99().as_secs_f64() * 1e3);
        refused.push(storm.await.map(|l| l.per_sec).unwrap_or(0.0));
    }
    let t = median(throttled_p99.clone());
    say(format!(
        "6. p99 GET /tokens/self during a throttled login storm ({:.0} refused attempts/s): {t:.2} ms (runs {throttled_p99:.2?}); ratio to quiet = {:.2} (target <= 2)",
        median(refused),
        t / q
    ));
    let peak_rss = mem.rss_kib("VmHWM:");
    say(format!(
        "RSS, memory store: idle {:.1} MB, peak {:.1} MB (target idle < 20 MB)",
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    ));
    drop(mem);

    // --- Postgres ---------------------------------------------------------------------------
    match postgres_part(run).await {
        Ok(lines) => lines.into_iter().for_each(&mut say),
        Err(e) => say(format!("3. Postgres part skipped: {e}")),
    }
    let path = root().join("target/bench-results.md");
    std::fs::write(&path, out.join("\n") + "\n").map_err(|e| e.to_string())?;
    eprintln!("bench: results written to {}", path.display());
    Ok(())
}

async fn postgres_part(run: Duration) -> Result<Vec<String>, String> {
    psql("postgres", "DROP DATABASE IF EXISTS sesame_bench")?;
    psql("postgres", "CREATE DATABASE sesame_bench")?;
    let url = "postgres://postgres@127.0.0.1:5432/sesame_bench";
    let pg = start(Some(url)).await?;
    let (_, token) = setup(&pg).await?;
    let tokself = Job {
        method: "GET",
        url: format!("{}/tokens/self", pg.base),
        secret: Some(token),
        body: None,
        expect: 200,
        pace: None,
    };
    let (t, tv) = median_rate(&tokself, CONCURRENCY, run).await;
    drop(pg);
    let pgb = tokio::task::spawn_blocking(move || pgbench_tps(CONCURRENCY, run)).await.unwrap()?;
    let _ = psql("postgres", "DROP DATABASE IF EXISTS sesame_bench");
    Ok(vec![format!(
        "3. GET /tokens/self, Postgres: {t:.0} req/s (runs {tv:.0?}); pgbench -S -c {CONCURRENCY}: {pgb:.0} tps; ratio = {:.2} (target >= 0.9)",
        t / pgb
    )])
}
