//! `cargo xtask`: the project's automation, in Rust instead of shell scripts.
//!
//! - `cargo xtask ci` runs what CI runs: tidy, fmt check, clippy `-D warnings`, the tests.
//! - `cargo xtask tidy [--bless]` checks layering, `//!` docs and migration immutability.
//! - `cargo xtask bench [--quick] [--only classic|memory|postgres]` measures the server (see
//!   `bench.rs`, results in `BENCHMARKS.md`).
//! - `cargo xtask ceiling --listen 127.0.0.1:PORT [--tokens N] [--database-url URL]` runs the
//!   bare-hyper server the bench compares Sesame with (see `ceiling.rs`).
//! - `cargo xtask profile [--ceiling] [--rust-log LEVEL] [--name NAME]` samples the memory token
//!   path with `perf` and renders `docs/flamegraph-NAME.svg` (see `bench.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod ceiling;
mod tidy;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut c: Command) -> Result<(), String> {
    eprintln!("xtask: running {c:?}");
    let status = c.status().map_err(|e| format!("{c:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{c:?} failed: {status}"))
    }
}

fn ci() -> Result<(), String> {
    tidy::run(false)?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    run(clippy)?;
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    if std::env::var_os("SESAME_TEST_DATABASE_URL").is_none()
        && std::env::var_os("DATABASE_URL").is_none()
    {
        test.env("SESAME_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test");
    }
    run(test)
}

/// The cargo-fuzz targets in `fuzz/`.
const FUZZ_TARGETS: &[&str] = &["request_body", "secret", "model_parsers", "request_line"];

/// `cargo xtask fuzz [target] [seconds]`: runs one target (or all) under libFuzzer for a while
/// (default 30 s each). Needs cargo-fuzz (installed on first use) and a nightly toolchain, or
/// falls back to `RUSTC_BOOTSTRAP=1` on stable.
fn fuzz(args: &[String]) -> Result<(), String> {
    let targets: Vec<&str> = match args.first().map(String::as_str) {
        Some(t) if FUZZ_TARGETS.contains(&t) => vec![t],
        Some(t) if t.parse::<u64>().is_err() => {
            return Err(format!("unknown fuzz target `{t}`; targets: {}", FUZZ_TARGETS.join(", ")))
        }
        _ => FUZZ_TARGETS.to_vec(),
    };
    let secs = args.iter().find_map(|a| a.parse::<u64>().ok()).unwrap_or(30);
    let have_fuzz = cargo().args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !have_fuzz {
        let mut install = cargo();
        install.args(["install", "cargo-fuzz", "--locked"]);
        run(install)?;
    }
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    for t in targets {
        let mut c = Command::new("cargo");
        c.current_dir(root());
        if nightly {
            c.arg("+nightly");
        } else {
            c.env("RUSTC_BOOTSTRAP", "1");
        }
        c.args(["fuzz", "run", t, "--", &format!("-max_total_time={secs}")]);
        run(c)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("tidy") => tidy::run(args.iter().any(|a| a == "--bless")),
        Some("bench" | "ceiling" | "profile") if cfg!(debug_assertions) => {
            // The load generator, the raw Argon2 baseline and the ceiling must be optimised
            // builds.
            let mut c = cargo();
            c.args(["run", "--quiet", "--release", "-p", "xtask", "--"]).args(&args);
            run(c)
        }
        Some("bench") => {
            let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
            bench::run(args.iter().any(|a| a == "--quick"), only.map(String::as_str))
        }
        Some("ceiling") => ceiling::run(&args[1..]),
        Some("profile") => bench::profile(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        _ => Err(
            concat!(
                "usage: cargo xtask ci | tidy [--bless] | bench [--quick] [--only classic|memory|postgres]",
                " | ceiling --listen ADDR [--tokens N] [--database-url URL]",
                " | profile [--ceiling] [--rust-log LEVEL] [--cpus LIST] [--seconds N] [--name NAME]",
                " | fuzz [target] [seconds]"
            )
            .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// Tidy runs as part of `cargo test`, so a plain test run enforces it too.
    #[test]
    fn tidy() {
        super::tidy::run(false).unwrap();
    }
}
