//! `cargo xtask bench` part 13 (`--only instructions`): user-space instructions per request,
//! Sesame against the ceiling, counted by valgrind's callgrind.
//!
//! 13. Each server runs under `valgrind --tool=callgrind` (Sesame as shipped: memory store,
//!     `info` access log; the ceiling with its in-memory map), is seeded with
//!     [`TOKENS`] tokens, answers a warm-up, has its counters zeroed (`callgrind_control -z`),
//!     answers [`REQUESTS`] `GET /tokens/self` on one keep-alive connection, and is dumped
//!     (`callgrind_control -d`): instructions of all its threads ÷ requests. Instruction counts
//!     do not depend on what else the machine runs, so this figure is stable from run to run
//!     (±0.2%) where CPU time is not; it leaves out the kernel (TCP, scheduling), which both
//!     servers share, and cache misses. Under valgrind SHA-256 runs without the CPU's SHA
//!     extensions (about 3 400 instructions in both servers).
//!
//! Not a test: it asserts nothing. Skipped, with a note, when valgrind is not installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{
    client, create_tokens, free_port, get, repeat, root, setup_doc, token_self, Server, ADMIN,
};

/// Requests counted per server.
const REQUESTS: u64 = 5_000;
/// Tokens each server holds (fewer than the other parts: seeding runs under valgrind).
const TOKENS: u64 = 1_000;

/// Measures 13; the report lines.
pub(super) async fn instructions_part() -> Result<Vec<String>, String> {
    let version = Command::new("valgrind").arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        return Ok(vec![
            "13. instructions per request skipped: valgrind is not installed (apt-get install valgrind)".into(),
        ]);
    }
    let dir = root().join("target/callgrind");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sesame = count(&dir, false).await?;
    let ceiling = count(&dir, true).await?;
    Ok(vec![
        format!("\n## 13. Instructions per `GET /tokens/self` (callgrind)\n\nUser-space instructions of all the server's threads per request, {REQUESTS} requests on one keep-alive connection after a warm-up; {TOKENS} tokens per server; Sesame as shipped (memory store, `info` access log).\n"),
        "| server | instructions per request | ÷ ceiling |".into(),
        "|---|---|---|".into(),
        format!("| Sesame | {sesame:.0} | **{:.2}** |", sesame / ceiling),
        format!("| ceiling | {ceiling:.0} | 1.00 |"),
    ])
}

/// Instructions per request of one server under callgrind.
async fn count(dir: &Path, ceiling: bool) -> Result<f64, String> {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let out = dir.join(if ceiling { "ceiling.out" } else { "sesame.out" });
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(dump_file(&out));
    let mut c = Command::new("valgrind");
    c.args(["--tool=callgrind", "--quiet"]).arg(format!("--callgrind-out-file={}", out.display()));
    if ceiling {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        c.arg(exe).args(["ceiling", "--listen", &listen, "--tokens", &TOKENS.to_string()]);
    } else {
        c.arg(root().join("target/release/sesame"))
            .args(["serve", "--listen", &listen, "--sweep-interval-secs", "0"])
            .args(["--login-rate-per-ip", "0"])
            .env("SESAME_ADMIN_SECRET", ADMIN)
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG");
    }
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let child = c.spawn().map_err(|e| format!("valgrind: {e}"))?;
    let pid = child.id();
    let s = Server::adopt(child, format!("http://{listen}"));
    let http = client();
    let mut up = false;
    for _ in 0..600 {
        if get(&http, &format!("{}/healthz", s.base), None).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        return Err(format!("{listen} under valgrind did not start"));
    }
    let secret = if ceiling {
        crate::ceiling::secret(TOKENS / 2)
    } else {
        let (doc, _, token) = setup_doc(&s).await?;
        create_tokens(&s, &doc, TOKENS - 1, 4).await?;
        token
    };
    let job = token_self(&s, secret);
    let warm = repeat(&job, 1, 500, Duration::from_secs(120)).await;
    control("-z", pid)?;
    let done = repeat(&job, 1, REQUESTS, Duration::from_secs(300)).await;
    control("-d", pid)?;
    drop(s);
    if warm != 500 || done != REQUESTS {
        return Err(format!("answered {warm} of 500 and {done} of {REQUESTS}"));
    }
    let text =
        std::fs::read_to_string(dump_file(&out)).map_err(|e| format!("callgrind dump: {e}"))?;
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("summary: ").or_else(|| l.strip_prefix("totals: ")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or("no instruction total in the callgrind dump")?;
    Ok(total / REQUESTS as f64)
}

/// The file of callgrind's first dump on request.
fn dump_file(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.1", out.display()))
}

fn control(what: &str, pid: u32) -> Result<(), String> {
    let st = Command::new("callgrind_control")
        .args([what, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("callgrind_control: {e}"))?;
    if !st.success() {
        return Err(format!("callgrind_control {what} {pid} failed"));
    }
    // The dump is written by the server's own threads: give it a moment.
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

impl Server {
    /// A server started by the caller (under valgrind here), killed when dropped.
    fn adopt(child: Child, base: String) -> Server {
        Server { child, base, log_bytes: Default::default(), log_head: Default::default() }
    }
}
