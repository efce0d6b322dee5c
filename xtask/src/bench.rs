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
//! and the server's idle and peak RSS (`--only classic` runs just these). Then, against the
//! bare-hyper ceiling (`ceiling.rs`, its own process) in the same run, every server seeded with
//! 100 000 tokens, medians of 3 interleaved runs, each server's CPU time (user + system, from
//! `/proc/<pid>/stat`) divided by the requests it answered next to req/s, p50 and p99:
//! 7. (`--only memory`) memory `GET /tokens/self`: Sesame as shipped (`info` access log to a
//!    pipe) and with `RUST_LOG=warn` (the logging share), each pinned to 1 CPU and to 2 CPUs
//!    (`taskset`), against the ceiling likewise pinned;
//! 8. (`--only postgres`, after (3)) Postgres `GET /tokens/self` against the ceiling's
//!    deadpool variant: closed-loop maxima, then both driven open-loop at the same fixed rate
//!    (70% of the lower maximum) for p99 at equal throughput, with Postgres' own CPU per
//!    request.
//!
//! Parts 9–11 (`--only fql`) and 12 (`--only roles`) are in their own files; 13
//! (`--only instructions`, `bench_instructions.rs`) counts user-space instructions per
//! `GET /tokens/self` under callgrind, Sesame against the ceiling: the one figure the machine's
//! noise does not move. `--only ab` is a development aid (two builds side by side).
//!
//! Results go to stdout and `target/bench-results.md`. Not a test: it asserts nothing.
//! `--quick` shortens every run.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::{cargo, root, run as run_cmd};

#[path = "bench_fql.rs"]
mod fql;
#[path = "bench_instructions.rs"]
mod instructions;
#[path = "bench_roles.rs"]
mod roles;

const ADMIN: &str = "bench-admin-secret-0123456789abcdef";
const CONCURRENCY: usize = 16;
const REPEATS: usize = 3;
/// Tokens every server of the ceiling comparisons holds.
const SEED_TOKENS: u64 = 100_000;
/// The open-loop rate of the Postgres p99 comparison, as a share of the lower maximum.
const PACED_SHARE: f64 = 0.7;

struct Server {
    child: Child,
    base: String,
    /// Bytes the server wrote to stderr (its log), when it is piped to us.
    log_bytes: Arc<AtomicU64>,
    /// The start of its stderr, for error messages.
    log_head: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

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
    let s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log_bytes: Arc::default(),
        log_head: Arc::default(),
    };
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
    setup_doc(s).await.map(|(_, cid, secret)| (cid, secret))
}

/// [`setup`], with Jane's document id first.
async fn setup_doc(s: &Server) -> Result<(String, String, String), String> {
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
    Ok((id, cid, tok["secret"].as_str().ok_or("no secret")?.to_owned()))
}

/// What a load run measured.
struct Load {
    per_sec: f64,
    latencies: Vec<Duration>,
    errors: u64,
    /// Responses received, whatever their status: the requests the server served.
    answered: u64,
}

impl Load {
    fn p99(&mut self) -> Duration {
        self.quantile(0.99)
    }

    fn quantile(&mut self, q: f64) -> Duration {
        self.latencies.sort();
        let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len().max(1) - 1);
        self.latencies.get(i).copied().unwrap_or_default()
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
            let (mut errors, mut answered) = (0u64, 0u64);
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
                    answered += u64::from(outcome.is_ok());
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
            (lat, errors, answered)
        }));
    }
    let started = Instant::now();
    collect(tasks, started).await
}

type Outcome = (Vec<Duration>, u64, u64);

async fn collect(tasks: Vec<tokio::task::JoinHandle<Outcome>>, started: Instant) -> Load {
    let mut latencies = Vec::new();
    let (mut errors, mut answered) = (0, 0);
    for t in tasks {
        let (l, e, a) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
        answered += a;
    }
    Load {
        per_sec: latencies.len() as f64 / started.elapsed().as_secs_f64(),
        latencies,
        errors,
        answered,
    }
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

pub(crate) fn run(quick: bool, only: Option<&str>) -> Result<(), String> {
    let parts = match only {
        None => Parts {
            classic: true,
            memory: true,
            postgres: true,
            fql: true,
            roles: true,
            instructions: true,
            ab: false,
        },
        Some("classic") => Parts { classic: true, ..Parts::NONE },
        Some("memory") => Parts { memory: true, ..Parts::NONE },
        Some("postgres") => Parts { postgres: true, ..Parts::NONE },
        Some("fql") => Parts { fql: true, ..Parts::NONE },
        Some("roles") => Parts { roles: true, ..Parts::NONE },
        Some("instructions") => Parts { instructions: true, ..Parts::NONE },
        Some("ab") => Parts { ab: true, ..Parts::NONE },
        Some(o) => {
            return Err(format!(
                "--only {o}: expected classic, memory, postgres, fql, roles, instructions or ab"
            ))
        }
    };
    let mut build = cargo();
    build.args(["build", "--release", "-p", "sesame-server", "--bin", "sesame"]);
    run_cmd(build)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(bench(if quick { Duration::from_secs(2) } else { Duration::from_secs(5) }, parts))
}

/// Which parts of the bench run (`--only`).
#[derive(Debug, Clone, Copy)]
struct Parts {
    /// Measures 1–6, RSS, and (3) with `pgbench`.
    classic: bool,
    /// (7): the memory path against the ceiling.
    memory: bool,
    /// (8): the Postgres path against the ceiling.
    postgres: bool,
    /// (9–11): Fauna's protocol against REST; the language's costs.
    fql: bool,
    /// (12): a role's read predicate against `read: true`.
    roles: bool,
    /// (13): instructions per request against the ceiling, under callgrind.
    instructions: bool,
    /// A/B of a code path under `SESAME_EXPERIMENT=$BENCH_EXPERIMENT` (a development aid).
    ab: bool,
}

impl Parts {
    const NONE: Parts = Parts {
        classic: false,
        memory: false,
        postgres: false,
        fql: false,
        roles: false,
        instructions: false,
        ab: false,
    };
}

async fn bench(run: Duration, parts: Parts) -> Result<(), String> {
    let mut out = Vec::<String>::new();
    let mut say = |s: String| {
        println!("{s}");
        out.push(s);
    };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let pool = cpus.saturating_sub(1).max(1);
    say(format!("# cargo xtask bench\n\n{cpus} CPUs; load generator in-process on the same machine; concurrency {CONCURRENCY}; {}s runs; medians of {REPEATS}.\n", run.as_secs()));
    if parts.classic {
        classic(run, pool, &mut say).await?;
    }
    if parts.memory {
        match memory_vs_ceiling(run).await {
            Ok(lines) => lines.into_iter().for_each(&mut say),
            Err(e) => say(format!("7. memory path against the ceiling failed: {e}")),
        }
    }
    if parts.fql {
        match fql::fql_part(run).await {
            Ok(lines) => lines.into_iter().for_each(&mut say),
            Err(e) => say(format!("9. FQL part failed: {e}")),
        }
    }
    if parts.ab {
        match ab(run).await {
            Ok(lines) => lines.into_iter().for_each(&mut say),
            Err(e) => say(format!("A/B failed: {e}")),
        }
    }
    if parts.roles {
        match roles::roles_part(run).await {
            Ok(lines) => lines.into_iter().for_each(&mut say),
            Err(e) => say(format!("12. roles part failed: {e}")),
        }
    }
    if parts.instructions {
        match instructions::instructions_part().await {
            Ok(lines) => lines.into_iter().for_each(&mut say),
            Err(e) => say(format!("13. instructions part failed: {e}")),
        }
    }
    // --- Postgres ---------------------------------------------------------------------------
    if parts.classic || parts.postgres {
        match postgres_part(run, parts).await {
            Ok(lines) => lines.into_iter().for_each(&mut say),
            Err(e) => say(format!("3./8. Postgres part skipped: {e}")),
        }
    }
    let path = root().join("target/bench-results.md");
    std::fs::write(&path, out.join("\n") + "\n").map_err(|e| e.to_string())?;
    eprintln!("bench: results written to {}", path.display());
    Ok(())
}

/// Measures 1, 2, 4, 5, 6 and RSS on the memory store.
async fn classic(run: Duration, pool: usize, say: &mut impl FnMut(String)) -> Result<(), String> {
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
    Ok(())
}

async fn postgres_part(run: Duration, parts: Parts) -> Result<Vec<String>, String> {
    psql("postgres", "DROP DATABASE IF EXISTS sesame_bench")?;
    psql("postgres", "CREATE DATABASE sesame_bench")?;
    let url = "postgres://postgres@127.0.0.1:5432/sesame_bench";
    let mut lines = Vec::new();
    if parts.classic {
        let pg = start(Some(url)).await?;
        let (_, token) = setup(&pg).await?;
        let tokself = token_self(&pg, token);
        let (t, tv) = median_rate(&tokself, CONCURRENCY, run).await;
        drop(pg);
        let pgb =
            tokio::task::spawn_blocking(move || pgbench_tps(CONCURRENCY, run)).await.unwrap()?;
        lines.push(format!(
            "3. GET /tokens/self, Postgres: {t:.0} req/s (runs {tv:.0?}); pgbench -S -c {CONCURRENCY}: {pgb:.0} tps; ratio = {:.2} (target >= 0.9)",
            t / pgb
        ));
    }
    if parts.postgres {
        match postgres_vs_ceiling(run, url).await {
            Ok(l) => lines.extend(l),
            Err(e) => lines.push(format!("8. Postgres path against the ceiling failed: {e}")),
        }
    }
    let _ = psql("postgres", "DROP DATABASE IF EXISTS sesame_bench");
    Ok(lines)
}

// --- against the ceiling ----------------------------------------------------------------------

/// One server of the ceiling comparisons.
#[derive(Debug, Clone, Copy)]
struct Spec {
    /// The bare-hyper ceiling (`cargo xtask ceiling`) rather than `sesame`.
    ceiling: bool,
    /// `taskset -c` CPU list.
    cpus: &'static str,
    /// `RUST_LOG`; `None` runs Sesame as shipped (`info`).
    rust_log: Option<&'static str>,
    /// `SESAME_EXPERIMENT` for A/B runs of a code path under test (`--only ab`).
    experiment: Option<&'static str>,
}

impl Spec {
    fn label(&self) -> String {
        let who = if self.ceiling { "ceiling" } else { "Sesame" };
        let log = match (self.ceiling, self.rust_log) {
            (true, _) => "no logs",
            (false, None) => "`info` (default)",
            (false, Some(l)) => l,
        };
        let n = self.cpus.split(',').count();
        format!("| {who} | {log} | {n} ({}) ", self.cpus)
    }
}

/// Starts `spec` under `taskset`, stderr piped to a thread that counts and discards it (a log
/// collector reading a pipe, as under a container runtime or systemd).
async fn start_spec(spec: Spec, database_url: Option<&str>) -> Result<Server, String> {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut c = Command::new("taskset");
    c.args(["-c", spec.cpus]);
    if spec.ceiling {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        c.arg(exe).args(["ceiling", "--listen", &listen, "--tokens", &SEED_TOKENS.to_string()]);
        if let Some(url) = database_url {
            c.args(["--database-url", url]);
        }
    } else {
        // A/B of two builds: the experiment arm runs `BENCH_B_BINARY` when it is set.
        let exe = match (spec.experiment, std::env::var_os("BENCH_B_BINARY")) {
            (Some(_), Some(b)) => std::path::PathBuf::from(b),
            _ => root().join("target/release/sesame"),
        };
        c.arg(exe)
            .args(["serve", "--listen", &listen, "--sweep-interval-secs", "0"])
            .args(["--login-rate-per-ip", "0"])
            .env("SESAME_ADMIN_SECRET", ADMIN)
            .env_remove("DATABASE_URL");
        if let Some(url) = database_url {
            c.env("DATABASE_URL", url);
        }
    }
    c.env_remove("RUST_LOG");
    if let Some(l) = spec.rust_log {
        c.env("RUST_LOG", l);
    }
    c.env_remove("SESAME_EXPERIMENT");
    if let Some(x) = spec.experiment {
        c.env("SESAME_EXPERIMENT", x);
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("start {c:?} (is taskset installed?): {e}"))?;
    let (log_bytes, log_head) = (Arc::<AtomicU64>::default(), Arc::<Mutex<String>>::default());
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (bytes, head) = (log_bytes.clone(), log_head.clone());
    // Ends at end of file, i.e. when the server exits.
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            bytes.fetch_add(n as u64, Ordering::Relaxed);
            let mut h = head.lock().unwrap();
            if h.len() < 2048 {
                h.push_str(&String::from_utf8_lossy(&buf[..n.min(2048)]));
            }
        }
    });
    let s = Server { child, base: format!("http://127.0.0.1:{port}"), log_bytes, log_head };
    let client = client();
    // The ceiling seeds its table before listening: allow it 60 s.
    for _ in 0..600 {
        if get(&client, &format!("{}/healthz", s.base), None).await.is_ok() {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{c:?} did not start: {}", s.log_head.lock().unwrap()))
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 if that fails).
fn clk_tck() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        let t = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok());
        t.unwrap_or_else(|| {
            eprintln!("bench: `getconf CLK_TCK` failed; assuming 100 ticks/s");
            100
        })
    })
}

/// CPU time (user + system, all threads, including exited ones) of process `pid`, µs.
fn cpu_micros(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let f: Vec<u64> =
        rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    f.iter().sum::<u64>() * 1_000_000 / clk_tck()
}

/// CPU time of every `postgres` process on the machine, µs (the database's share of a run).
fn postgres_cpu_micros() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_micros)
        .sum()
}

/// What one run against one server measured.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us: f64,
    db_us: f64,
    log_bytes: f64,
    errors: u64,
}

/// Drives `job` against `s` for `run`, closed-loop or (with `rate`) open-loop at `rate` req/s;
/// the server's CPU time (and Postgres', with `db`) over the requests it answered.
async fn sample(s: &Server, job: &Job, rate: Option<f64>, run: Duration, db: bool) -> Sample {
    let (c0, d0, l0) = (
        cpu_micros(s.pid()),
        if db { postgres_cpu_micros() } else { 0 },
        s.log_bytes.load(Ordering::Relaxed),
    );
    let mut l = match rate {
        None => load(job.clone(), CONCURRENCY, run).await,
        Some(r) => paced(job.clone(), CONCURRENCY, r, run).await,
    };
    // Let a log writer thread finish the run's lines before reading the counters.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (c1, d1, l1) = (
        cpu_micros(s.pid()),
        if db { postgres_cpu_micros() } else { 0 },
        s.log_bytes.load(Ordering::Relaxed),
    );
    let n = l.answered.max(1) as f64;
    if l.errors > 0 {
        eprintln!("bench: {} errors during {} {}", l.errors, job.method, job.url);
    }
    Sample {
        per_sec: l.per_sec,
        p50_ms: l.quantile(0.5).as_secs_f64() * 1e3,
        p99_ms: l.p99().as_secs_f64() * 1e3,
        cpu_us: (c1 - c0) as f64 / n,
        db_us: d1.saturating_sub(d0) as f64 / n,
        log_bytes: (l1 - l0) as f64 / n,
        errors: l.errors,
    }
}

/// Open loop: `concurrency` keep-alive connections share `rate` requests/s, each sending on a
/// fixed schedule whatever the answers. Latency counts from the scheduled start, so a slow
/// answer also charges the requests queued behind it (no coordinated omission). The schedule
/// runs on tokio's 1 ms timer: requests leave in small bursts at each tick.
async fn paced(job: Job, concurrency: usize, rate: f64, run: Duration) -> Load {
    use tokio::io::AsyncWriteExt as _;
    let (host, bytes) = request_bytes(&job);
    let bytes = Arc::new(bytes);
    let interval = Duration::from_secs_f64(concurrency as f64 / rate.max(1.0));
    let started = Instant::now();
    let deadline = started + run;
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let (host, bytes, expect) = (host.clone(), bytes.clone(), job.expect);
        let mut next = started + interval.mul_f64(i as f64 / concurrency as f64);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let (mut errors, mut answered) = (0u64, 0u64);
            let mut line = String::new();
            'conn: while next < deadline {
                let Ok(stream) = tokio::net::TcpStream::connect(&host).await else {
                    errors += 1;
                    next += interval;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let mut s = tokio::io::BufReader::new(stream);
                while next < deadline {
                    tokio::time::sleep_until(next.into()).await;
                    let sent = next;
                    next += interval;
                    if s.get_mut().write_all(&bytes).await.is_err() {
                        errors += 1;
                        continue 'conn;
                    }
                    let outcome = read_response(&mut s, &mut line).await;
                    answered += u64::from(outcome.is_ok());
                    match outcome {
                        Ok(st) if st == expect => lat.push(sent.elapsed()),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            continue 'conn;
                        }
                    }
                }
            }
            (lat, errors, answered)
        }));
    }
    collect(tasks, started).await
}

/// Sends `job` `n` times over `concurrency` connections, within `limit`; the requests answered
/// with the expected status.
async fn repeat(job: &Job, concurrency: usize, n: u64, limit: Duration) -> u64 {
    use tokio::io::AsyncWriteExt as _;
    let (host, bytes) = request_bytes(job);
    let bytes = Arc::new(bytes);
    let deadline = Instant::now() + limit;
    let mut tasks = Vec::new();
    for i in 0..concurrency as u64 {
        let share = n / concurrency as u64 + u64::from(i < n % concurrency as u64);
        let (host, bytes, expect) = (host.clone(), bytes.clone(), job.expect);
        tasks.push(tokio::spawn(async move {
            let (mut done, mut line) = (0u64, String::new());
            let mut attempts = 0u64;
            'conn: while done < share && attempts < 2 * share + 10 && Instant::now() < deadline {
                let Ok(stream) = tokio::net::TcpStream::connect(&host).await else {
                    attempts += 1;
                    continue;
                };
                let mut s = tokio::io::BufReader::new(stream);
                while done < share && attempts < 2 * share + 10 && Instant::now() < deadline {
                    attempts += 1;
                    if s.get_mut().write_all(&bytes).await.is_err() {
                        continue 'conn;
                    }
                    match read_response(&mut s, &mut line).await {
                        Ok(st) if st == expect => done += 1,
                        Ok(_) => {}
                        Err(_) => continue 'conn,
                    }
                }
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap_or(0);
    }
    done
}

/// A `GET /tokens/self` job against `s` with `secret`.
fn token_self(s: &Server, secret: String) -> Job {
    Job {
        method: "GET",
        url: format!("{}/tokens/self", s.base),
        secret: Some(secret),
        body: None,
        expect: 200,
        pace: None,
    }
}

/// Creates Jane and her login token on a Sesame server, then `SEED_TOKENS - 1` more tokens for
/// her through `POST /tokens` (memory store) or `seed_sql` (Postgres); the login token's secret.
async fn seed_sesame(s: &Server, via_sql: Option<&str>) -> Result<String, String> {
    let (doc, _, token) = setup_doc(s).await?;
    let extra = SEED_TOKENS - 1;
    match via_sql {
        None => create_tokens(s, &doc, extra, CONCURRENCY).await?,
        Some(db) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            psql(db, &format!(
                "SET search_path = sesame;
                 INSERT INTO tokens (id, document_coll, document_id, digest, ts, origin, client_addr)
                 SELECT 1000000 + i, 'Customer', {doc}, sha256(convert_to('seed-' || i, 'UTF8')),
                        {}, 'create', '127.0.0.1'
                 FROM generate_series(1, {extra}) AS i; ANALYZE tokens;",
                now.as_micros()
            ))?;
        }
    }
    Ok(token)
}

/// Makes `n` more tokens for document `doc` of `Customer` through `POST /tokens`.
async fn create_tokens(s: &Server, doc: &str, n: u64, concurrency: usize) -> Result<(), String> {
    let create = Job {
        method: "POST",
        url: format!("{}/tokens", s.base),
        secret: Some(ADMIN.into()),
        body: Some(json!({"document": {"coll": "Customer", "id": doc}})),
        expect: 201,
        pace: None,
    };
    let made = repeat(&create, concurrency, n, Duration::from_secs(300)).await;
    if made != n {
        return Err(format!("seeded {made} of {n} tokens"));
    }
    Ok(())
}

fn header() -> Vec<String> {
    vec![
        "| server | log level | CPUs (taskset) | req/s | p50 ms | p99 ms | server CPU µs/req | log bytes/req | errors |".into(),
        "|---|---|---|---|---|---|---|---|---|".into(),
    ]
}

/// The medians of `runs`, as a table row.
fn row(spec: Spec, runs: &[Sample], db: bool) -> (String, Sample) {
    let m = |f: fn(&Sample) -> f64| median(runs.iter().map(f).collect());
    let s = Sample {
        per_sec: m(|s| s.per_sec),
        p50_ms: m(|s| s.p50_ms),
        p99_ms: m(|s| s.p99_ms),
        cpu_us: m(|s| s.cpu_us),
        db_us: m(|s| s.db_us),
        log_bytes: m(|s| s.log_bytes),
        errors: runs.iter().map(|s| s.errors).sum(),
    };
    let cpu: Vec<String> = runs.iter().map(|r| format!("{:.1}", r.cpu_us)).collect();
    let p99: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.p99_ms)).collect();
    let db = if db { format!(" (+ Postgres {:.1})", s.db_us) } else { String::new() };
    let line = format!(
        "{}| {:.0} | {:.3} | {:.3} (runs {}) | **{:.1}**{db} (runs {}) | {:.0} | {} |",
        spec.label(),
        s.per_sec,
        s.p50_ms,
        s.p99_ms,
        p99.join(", "),
        s.cpu_us,
        cpu.join(", "),
        s.log_bytes,
        s.errors
    );
    (line, s)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// (7): memory `GET /tokens/self`, Sesame against the ceiling, CPU per request.
/// Starts each of `specs` (over Postgres `db` = (URL, database) if given), seeds its tokens and
/// warms it up: the servers with the `GET /tokens/self` job each answers.
async fn start_seeded(
    specs: &[Spec],
    db: Option<(&str, &str)>,
    run: Duration,
) -> Result<Vec<(Spec, Server, Job)>, String> {
    let mut servers = Vec::new();
    for &spec in specs {
        let s = start_spec(spec, db.map(|(url, _)| url)).await?;
        let secret = if spec.ceiling {
            crate::ceiling::secret(SEED_TOKENS / 2)
        } else {
            seed_sesame(&s, db.map(|(_, name)| name)).await?
        };
        let job = token_self(&s, secret);
        let _ = load(job.clone(), CONCURRENCY, run / 4).await; // warm-up
        servers.push((spec, s, job));
    }
    Ok(servers)
}

/// Sesame as shipped against Sesame with `SESAME_EXPERIMENT=$BENCH_EXPERIMENT` (run from the
/// binary `BENCH_B_BINARY` when set: two builds side by side) and the ceiling, 2 CPUs, 6
/// interleaved runs (the two Sesame arms alternating in order): for trying a change to the hot
/// path before making it.
async fn ab(run: Duration) -> Result<Vec<String>, String> {
    let x: &'static str = Box::leak(
        std::env::var("BENCH_EXPERIMENT").unwrap_or_else(|_| "none".into()).into_boxed_str(),
    );
    let specs = [
        Spec { ceiling: false, cpus: "0,1", rust_log: None, experiment: None },
        Spec { ceiling: false, cpus: "0,1", rust_log: None, experiment: Some(x) },
        Spec { ceiling: true, cpus: "0,1", rust_log: None, experiment: None },
    ];
    let servers = start_seeded(&specs, None, run).await?;
    let mut cpu = vec![Vec::new(); servers.len()];
    for round in 0..6 {
        // The two Sesame arms swap places every round: the first server of a round measured
        // a few percent slower than the second, running the same binary.
        let order = if round % 2 == 0 { [0, 1, 2] } else { [1, 0, 2] };
        for i in order {
            let (_, s, job) = &servers[i];
            cpu[i].push(sample(s, job, None, run, false).await.cpu_us);
        }
    }
    let m: Vec<f64> = cpu.iter().map(|v| median(v.clone())).collect();
    Ok(vec![format!(
        "A/B `{x}`: Sesame {:.1} µs/req (runs {:.1?}), experiment {:.1} (runs {:.1?}), ceiling {:.1} (runs {:.1?}); ratios to the ceiling {:.2} / {:.2}",
        m[0], cpu[0], m[1], cpu[1], m[2], cpu[2], m[0] / m[2], m[1] / m[2]
    )])
}

async fn memory_vs_ceiling(run: Duration) -> Result<Vec<String>, String> {
    let specs = [
        Spec { ceiling: false, cpus: "0,1", rust_log: None, experiment: None },
        Spec { ceiling: false, cpus: "0,1", rust_log: Some("warn"), experiment: None },
        Spec { ceiling: true, cpus: "0,1", rust_log: None, experiment: None },
        Spec { ceiling: false, cpus: "0", rust_log: None, experiment: None },
        Spec { ceiling: false, cpus: "0", rust_log: Some("warn"), experiment: None },
        Spec { ceiling: true, cpus: "0", rust_log: None, experiment: None },
    ];
    let servers = start_seeded(&specs, None, run).await?;
    let mut runs = vec![Vec::new(); servers.len()];
    for _ in 0..REPEATS {
        for (i, (_, s, job)) in servers.iter().enumerate() {
            runs[i].push(sample(s, job, None, run, false).await);
        }
    }
    let mut lines = vec![format!(
        "\n## 7. Memory `GET /tokens/self` against the ceiling\n\nEach server holds {SEED_TOKENS} tokens; {CONCURRENCY} connections, closed loop; medians of {REPEATS} interleaved {}s runs. CPU = the server process's user + system time over the requests it answered. Sesame's log goes to a pipe read by the bench.\n",
        run.as_secs()
    )];
    lines.extend(header());
    let mut med = Vec::new();
    for ((spec, _, _), r) in servers.iter().zip(&runs) {
        let (line, m) = row(*spec, r, false);
        lines.push(line);
        med.push(m);
    }
    let [s2, s2w, c2, s1, s1w, c1] = [med[0], med[1], med[2], med[3], med[4], med[5]];
    let r2 = s2.cpu_us / c2.cpu_us;
    lines.push(String::new());
    lines.push(format!("- CPU per request, Sesame as shipped ÷ ceiling, 2 CPUs: **{r2:.2}×** (target ≤ 1.3: {}); 1 CPU: {:.2}×", verdict(r2 <= 1.3), s1.cpu_us / c1.cpu_us));
    lines.push(format!(
        "- the same with `RUST_LOG=warn`: {:.2}× (2 CPUs), {:.2}× (1 CPU)",
        s2w.cpu_us / c2.cpu_us,
        s1w.cpu_us / c1.cpu_us
    ));
    lines.push(format!(
        "- logging share of Sesame's CPU per request (`info` − `warn`) ÷ `info`: {:.0}% on 2 CPUs ({:.1} µs), {:.0}% on 1 CPU ({:.1} µs); {:.0} log bytes per request",
        100.0 * (s2.cpu_us - s2w.cpu_us) / s2.cpu_us,
        s2.cpu_us - s2w.cpu_us,
        100.0 * (s1.cpu_us - s1w.cpu_us) / s1.cpu_us,
        s1.cpu_us - s1w.cpu_us,
        s2.log_bytes
    ));
    let g = s2.cpu_us / s1.cpu_us - 1.0;
    lines.push(format!(
        "- CPU per request from 1 to 2 CPUs: Sesame {:+.0}% (target ≤ +15%: {}), with `warn` {:+.0}%, ceiling {:+.0}%",
        100.0 * g,
        verdict(g <= 0.15),
        100.0 * (s2w.cpu_us / s1w.cpu_us - 1.0),
        100.0 * (c2.cpu_us / c1.cpu_us - 1.0)
    ));
    lines.push(format!(
        "- throughput ÷ ceiling: {:.2} (2 CPUs), {:.2} (1 CPU); p99 ÷ ceiling: {:.2} (2 CPUs), {:.2} (1 CPU)",
        s2.per_sec / c2.per_sec,
        s1.per_sec / c1.per_sec,
        s2.p99_ms / c2.p99_ms,
        s1.p99_ms / c1.p99_ms
    ));
    Ok(lines)
}

/// (8): Postgres `GET /tokens/self`, Sesame against the ceiling's deadpool variant.
async fn postgres_vs_ceiling(run: Duration, url: &str) -> Result<Vec<String>, String> {
    // `BENCH_PG_RUST_LOG` runs Sesame at another log level here (a development aid).
    let log: Option<&'static str> =
        std::env::var("BENCH_PG_RUST_LOG").ok().map(|l| &*Box::leak(l.into_boxed_str()));
    let specs = [
        Spec { ceiling: false, cpus: "0,1", rust_log: log, experiment: None },
        Spec { ceiling: true, cpus: "0,1", rust_log: None, experiment: None },
    ];
    let servers = start_seeded(&specs, Some((url, "sesame_bench")), run).await?;
    let mut max = vec![Vec::new(); servers.len()];
    for _ in 0..REPEATS {
        for (i, (_, s, job)) in servers.iter().enumerate() {
            max[i].push(sample(s, job, None, run, true).await);
        }
    }
    let mut lines = vec![format!(
        "\n## 8. Postgres `GET /tokens/self` against the ceiling (hyper + deadpool-postgres, one prepared lookup)\n\nEach table holds {SEED_TOKENS} tokens; {CONCURRENCY} connections; medians of {REPEATS} interleaved {}s runs; both servers on 2 CPUs, sharing them with Postgres and the load generator. CPU in brackets: all `postgres` processes' CPU time over the same requests.\n\nClosed loop (maximum throughput):\n",
        run.as_secs()
    )];
    lines.extend(header());
    let mut top = Vec::new();
    for ((spec, _, _), r) in servers.iter().zip(&max) {
        let (line, m) = row(*spec, r, true);
        lines.push(line);
        top.push(m);
    }
    let rate = PACED_SHARE * top[0].per_sec.min(top[1].per_sec);
    let mut paced_runs = vec![Vec::new(); servers.len()];
    for _ in 0..REPEATS {
        for (i, (_, s, job)) in servers.iter().enumerate() {
            paced_runs[i].push(sample(s, job, Some(rate), run, true).await);
        }
    }
    lines.push(format!(
        "\nOpen loop at the same fixed rate, {rate:.0} req/s ({:.0}% of the lower maximum); latency from each request's scheduled start:\n",
        PACED_SHARE * 100.0
    ));
    lines.extend(header());
    let mut at = Vec::new();
    for ((spec, _, _), r) in servers.iter().zip(&paced_runs) {
        let (line, m) = row(*spec, r, true);
        lines.push(line);
        at.push(m);
    }
    let p = at[0].p99_ms / at[1].p99_ms;
    lines.push(String::new());
    lines.push(format!(
        "- p99 at equal throughput, Sesame ÷ ceiling: **{p:.2}×** (target ≤ 1.5: {}); p50 {:.2}×",
        verdict(p <= 1.5),
        at[0].p50_ms / at[1].p50_ms
    ));
    lines.push(format!(
        "- maximum throughput ÷ ceiling: {:.2}; CPU per request ÷ ceiling: server {:.2}× at maximum, {:.2}× paced; Postgres {:.2}× paced",
        top[0].per_sec / top[1].per_sec,
        top[0].cpu_us / top[1].cpu_us,
        at[0].cpu_us / at[1].cpu_us,
        at[0].db_us / at[1].db_us
    ));
    Ok(lines)
}

// --- profiling ----------------------------------------------------------------------------------

/// `cargo xtask profile [--ceiling] [--rust-log LEVEL] [--cpus LIST] [--seconds N] [--name NAME]`:
/// samples the memory `GET /tokens/self` path with `perf` (software clock, DWARF call graphs)
/// while the bench's load generator drives it (16 connections, 100 000 seeded tokens), and
/// renders `docs/flamegraph-NAME.svg` with inferno (`cargo install inferno`). Prints the
/// hottest functions by self time.
pub(crate) fn profile(args: &[String]) -> Result<(), String> {
    let flag = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
    };
    let ceiling = args.iter().any(|a| a == "--ceiling");
    let rust_log: Option<&'static str> = match flag("--rust-log") {
        None => None,
        Some(l) => Some(Box::leak(l.to_owned().into_boxed_str())),
    };
    let cpus: &'static str = Box::leak(flag("--cpus").unwrap_or("0,1").to_owned().into_boxed_str());
    let secs: u64 =
        flag("--seconds").unwrap_or("8").parse().map_err(|e| format!("--seconds: {e}"))?;
    let secs = secs.clamp(1, 60);
    let name = flag("--name").unwrap_or(if ceiling { "ceiling-memory" } else { "memory" });
    let mut build = cargo();
    build.args(["build", "--release", "-p", "sesame-server", "--bin", "sesame"]);
    run_cmd(build)?;
    let data = root().join(format!("target/perf-{name}.data"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let spec = Spec { ceiling, cpus, rust_log, experiment: None };
        let s = start_spec(spec, None).await?;
        let secret = if ceiling {
            crate::ceiling::secret(SEED_TOKENS / 2)
        } else {
            seed_sesame(&s, None).await?
        };
        let job = token_self(&s, secret);
        let _ = load(job.clone(), CONCURRENCY, Duration::from_secs(1)).await; // warm-up
        let mut perf = Command::new("perf")
            .args(["record", "-q", "-F", "499", "--call-graph", "dwarf,16384", "-o"])
            .arg(&data)
            .args(["-p", &s.pid().to_string(), "--", "sleep", &secs.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("perf (apt-get install linux-perf): {e}"))?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c0 = cpu_micros(s.pid());
        let l = load(job, CONCURRENCY, Duration::from_secs(secs)).await;
        let cpu = (cpu_micros(s.pid()) - c0) as f64 / l.answered.max(1) as f64;
        let status = tokio::task::spawn_blocking(move || perf.wait()).await.unwrap();
        println!(
            "profile: {} req/s, {cpu:.1} µs CPU per request (perf running: inflated); perf: {status:?}",
            l.per_sec as u64
        );
        Ok::<_, String>(())
    })?;
    let folded = root().join(format!("target/perf-{name}.folded"));
    let svg = root().join(format!("docs/flamegraph-{name}.svg"));
    let sh = format!(
        "perf script -i {d} 2>/dev/null | inferno-collapse-perf --all > {f} && \
         inferno-flamegraph --title 'Sesame memory GET /tokens/self: {name}' < {f} > {s}",
        d = data.display(),
        f = folded.display(),
        s = svg.display()
    );
    run_cmd({
        let mut c = Command::new("sh");
        c.args(["-c", &sh]);
        c
    })?;
    println!("profile: flame graph in {}", svg.display());
    let report = Command::new("perf")
        .args(["report", "--no-children", "--stdio", "-g", "none", "--percent-limit", "0.7", "-i"])
        .arg(&data)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&report.stdout);
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .take(45)
        .for_each(|l| println!("{l}"));
    Ok(())
}
