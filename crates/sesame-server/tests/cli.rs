//! The `sesame` binary as an operator meets it at start-up: a port in use, a bad database URL,
//! a bad admin secret.
//!
//! Not here: the HTTP API and the key commands' engine side (the `sesame-tests` crate, `e2e`),
//! flag parsing (unit tests in `config.rs`). Every listener is on loopback.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary, with no Sesame or database settings inherited from the environment.
fn sesame() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sesame"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SESAME_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn").stdin(Stdio::null());
    c
}

/// Runs `c` to completion (at most 60 s); exit success, stdout, stderr.
fn run(mut c: Command) -> (bool, String, String) {
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn sesame");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sesame did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_port_in_use_fails_before_any_admin_key_is_generated() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = taken.local_addr().unwrap();
    let mut c = sesame();
    c.args(["serve", "--listen", &addr.to_string()]);
    let (ok, stdout, stderr) = run(c);
    assert!(!ok, "must fail: {stderr}");
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert!(!stderr.contains("snk_") && !stdout.contains("snk_"), "no key printed: {stderr}");
    assert!(!stderr.contains("generated an admin key"), "{stderr}");

    // And the metrics port too.
    let mut c = sesame();
    c.args(["--listen", "127.0.0.1:0", "--metrics-listen", &addr.to_string()]);
    let (ok, stdout, stderr) = run(c);
    assert!(!ok, "must fail: {stderr}");
    assert!(stderr.contains("cannot listen for metrics"), "{stderr}");
    assert!(!stderr.contains("snk_") && !stdout.contains("snk_"), "no key printed: {stderr}");
}

#[test]
fn a_bad_database_url_says_why_without_the_password() {
    let mut c = sesame();
    c.args(["key", "list", "--database-url", "postgres://app:pw-SECRET-9@db.example:5x32/sesame"]);
    let (ok, stdout, stderr) = run(c);
    assert!(!ok);
    assert!(stderr.contains("the port is not a number"), "{stderr}");
    assert!(stderr.contains("postgres://app:****@"), "{stderr}");
    assert!(!stderr.contains("SECRET") && !stdout.contains("SECRET"), "{stderr}");
}

#[test]
fn the_admin_secret_rule_is_enforced_as_documented() {
    let mut c = sesame();
    c.args(["--listen", "127.0.0.1:0"]).env("SESAME_ADMIN_SECRET", "too short");
    let (ok, _, stderr) = run(c);
    assert!(!ok);
    assert!(stderr.contains("16 to 512 characters without spaces"), "{stderr}");
    assert!(!stderr.contains("too short"), "the value is not echoed: {stderr}");
}
