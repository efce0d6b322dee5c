//! The README's curl tutorial, run as written: the `sh` block between the `tutorial:begin` and
//! `tutorial:end` markers goes to bash against a freshly started `sesame` binary (memory store,
//! loopback, the admin secret the README starts it with), and its output must match the
//! README's `tutorial-output` block, with ids, secrets, times and the curl version masked.
//!
//! Skips loudly without bash, curl or jq; under `CI` their absence is a failure. Not here: the
//! API's behaviour in detail (the `sesame-tests` crate).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../../README.md");
const DEFAULT_BASE: &str = "S=http://127.0.0.1:8787";

/// The first fenced block after `begin` and before `end`.
fn block(begin: &str, end: &str) -> String {
    let start = README.find(begin).unwrap_or_else(|| panic!("README lost the marker {begin}"));
    let rest = &README[start..];
    let stop = rest.find(end).unwrap_or_else(|| panic!("README lost the marker {end}"));
    let section = &rest[..stop];
    let open = section.find("```").expect("a fenced block");
    let body = &section[open..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    let close = body.rfind("```").expect("a closing fence");
    body[..close].to_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Masks what differs between runs: ids (15+ digits), secrets, RFC 3339 times, curl's version.
fn normalize(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        let run = |from: usize, ok: fn(u8) -> bool| {
            from + b[from..].iter().take_while(|&&c| ok(c)).count()
        };
        if rest.starts_with("snt_") || rest.starts_with("snk_") {
            out.push_str("<secret>");
            i = run(i + 4, |c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        } else if rest.starts_with("curl/") {
            out.push_str("curl/<version>");
            i = run(i + 5, |c| c.is_ascii_digit() || c == b'.');
        } else if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let digits = run(i, |c| c.is_ascii_digit());
            if digits - i == 4 && b.get(digits) == Some(&b'-') {
                out.push_str("<time>");
                i = run(i, |c| c.is_ascii_digit() || b"-:.TZ".contains(&c));
            } else if digits - i >= 15 {
                out.push_str("<id>");
                i = digits;
            } else {
                out.push_str(&text[i..digits]);
                i = digits;
            }
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_tutorial_runs_as_written() {
    let script = block("<!-- tutorial:begin", "<!-- tutorial:end");
    let expected = block("<!-- tutorial-output:begin", "<!-- tutorial-output:end");
    let missing: Vec<&str> = ["bash", "curl", "jq"].into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        assert!(!ci, "the README tutorial test must run under CI, but {missing:?} are missing");
        eprintln!("SKIPPED: README tutorial not run: {missing:?} not installed");
        return;
    }
    assert!(script.contains(DEFAULT_BASE), "the tutorial sets `{DEFAULT_BASE}`");
    let admin = script
        .lines()
        .find_map(|l| l.strip_prefix("ADMIN="))
        .and_then(|v| v.split_whitespace().next())
        .expect("the tutorial sets ADMIN=…");
    assert!(
        README.contains(&format!("SESAME_ADMIN_SECRET={admin} ")),
        "the quick start starts the server with the tutorial's admin secret"
    );

    // The server, as the quick start starts it, but on a free loopback port.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SESAME_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["--listen", "127.0.0.1:0"])
        .env("SESAME_ADMIN_SECRET", admin)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sesame");
    let stderr = child.stderr.take().expect("stderr");
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some((_, rest)) = line.split_once("listening on http://") {
                let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("sesame says where it listens");
    let script = script.replace(DEFAULT_BASE, &format!("S=http://{addr}"));

    let started = Instant::now();
    let out = Command::new("bash")
        .args(["-c", &format!("exec 2>&1\n{script}")])
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    drop(server);
    let got = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "the tutorial failed:\n{got}");
    assert!(started.elapsed() < Duration::from_secs(120));

    let (got_n, expected_n) = (normalize(&got), normalize(&expected));
    for (n, (g, e)) in got_n.lines().zip(expected_n.lines()).enumerate() {
        assert_eq!(g, e, "line {} of the tutorial's output differs from the README", n + 1);
    }
    assert_eq!(
        got_n.lines().count(),
        expected_n.lines().count(),
        "the tutorial printed:\n{got}\nthe README shows:\n{expected}"
    );
    // The statuses the README promises, in order.
    let statuses: Vec<&str> = got
        .lines()
        .filter_map(|l| l.rsplit_once(" -> ").map(|(_, s)| s).or_else(|| l.get(..3)))
        .collect();
    assert_eq!(
        statuses,
        ["201", "201", "201", "200", "201", "200", "200", "204", "401", "201"],
        "{got}"
    );
}

#[test]
fn normalize_masks_only_what_varies() {
    assert_eq!(
        normalize(
            r#"{"id":"915092481892044800","ts":"2026-11-30T04:10:49.237565Z","n":3600} -> 201"#
        ),
        r#"{"id":"<id>","ts":"<time>","n":3600} -> 201"#
    );
    assert_eq!(normalize("201 TOKEN=snt_3Xy-b_9 curl/7.88.1"), "201 TOKEN=<secret> curl/<version>");
}
