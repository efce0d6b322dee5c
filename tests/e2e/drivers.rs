//! The seed tutorial through Fauna's official drivers, unchanged: Python `fauna==2.4.0`
//! (HTTP/1.1) and JavaScript `fauna@2.5.0` (h2c), each a small project under `tests/drivers/`
//! whose script runs against a server on loopback, over memory and over Postgres; and the shop
//! example of user-defined roles through the Python driver (`shop.py`).
//!
//! The drivers come from their registries (`bash .ci/run` installs them from the lock files).
//! Without them a test prints `SKIPPED: … (install with …)` and passes; under `CI` a missing
//! driver fails the test instead, so CI never silently skips them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sesame_tests::{TestServer, ADMIN};

/// How long one script may take (each step is one query; a debug build hashes slowly).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn drivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers")
}

/// One driver's script: what runs it, and how to install it when it is missing.
struct Driver {
    name: &'static str,
    program: PathBuf,
    script: PathBuf,
    dir: PathBuf,
    install: &'static str,
}

fn python() -> Result<Driver, Driver> {
    let dir = drivers_dir().join("python");
    let d = Driver {
        name: "Python fauna==2.4.0",
        program: dir.join(".venv/bin/python3"),
        script: dir.join("tutorial.py"),
        dir: dir.clone(),
        install: "python3 -m venv tests/drivers/python/.venv && \
                  tests/drivers/python/.venv/bin/pip install -r tests/drivers/python/requirements.txt",
    };
    let importable = Command::new(&d.program)
        .args(["-c", "import fauna"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if importable {
        Ok(d)
    } else {
        Err(d)
    }
}

fn javascript() -> Result<Driver, Driver> {
    let dir = drivers_dir().join("js");
    let d = Driver {
        name: "JavaScript fauna@2.5.0",
        program: PathBuf::from("node"),
        script: dir.join("tutorial.mjs"),
        dir: dir.clone(),
        install: "(cd tests/drivers/js && npm ci)",
    };
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if node && dir.join("node_modules/fauna/package.json").exists() {
        Ok(d)
    } else {
        Err(d)
    }
}

/// Runs `driver`'s script against `s`; panics with the script's output when it fails.
async fn run(s: &TestServer, driver: &Driver, script: &Path, store: &str) {
    let mut cmd = Command::new(&driver.program);
    cmd.arg(script)
        .current_dir(&driver.dir)
        .env("SESAME_ENDPOINT", s.base())
        .env("SESAME_ADMIN_SECRET", ADMIN)
        // The drivers' own settings must not leak in from the environment.
        .env_remove("FAUNA_ENDPOINT")
        .env_remove("FAUNA_SECRET")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let label = format!(
        "{} {} on {store}",
        driver.name,
        script.file_name().map(|f| f.to_string_lossy()).unwrap_or_default()
    );
    // A blocking wait off the runtime's workers, so the server keeps serving meanwhile.
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().map_err(|e| format!("could not start: {e}"))?;
        let start = Instant::now();
        loop {
            if child.try_wait().map_err(|e| e.to_string())?.is_some() {
                break;
            }
            if start.elapsed() > SCRIPT_TIMEOUT {
                let _ = child.kill();
                let out = child.wait_with_output().map_err(|e| e.to_string())?;
                return Err(format!(
                    "timed out after {SCRIPT_TIMEOUT:?}\n--- stdout\n{}--- stderr\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().map_err(|e| e.to_string())
    })
    .await
    .expect("the script's waiter");
    let out = out.unwrap_or_else(|e| panic!("{label}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{label}: the tutorial failed ({})\n--- stdout\n{stdout}--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("steps passed"), "{label}: no summary line\n{stdout}{stderr}");
    // Shown with `--nocapture`: one line per step.
    println!("== {label}\n{stdout}");
}

/// Runs `driver`'s tutorial on memory and on Postgres, or skips it (loudly; never under `CI`).
async fn tutorial(driver: Result<Driver, Driver>) {
    let script = match &driver {
        Ok(d) | Err(d) => d.script.clone(),
    };
    script_on_both(driver, &script).await;
}

/// Runs `script` with `driver` on memory and on Postgres, or skips it (loudly; never under
/// `CI`).
async fn script_on_both(driver: Result<Driver, Driver>, script: &Path) {
    let driver = match driver {
        Ok(d) => d,
        Err(d) => {
            assert!(
                !in_ci(),
                "the {} driver tests must run under CI, but the driver is not installed \
                 (install with `{}`; `bash .ci/run` does)",
                d.name,
                d.install
            );
            use std::io::Write as _;
            // Straight to the stderr handle: the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the {} driver test did not run: the driver is not installed \
                 (install with `{}`)",
                d.name,
                d.install
            );
            return;
        }
    };
    let s = TestServer::memory().await;
    run(&s, &driver, script, "memory").await;
    s.stop().await;
    if let Some(s) = TestServer::postgres().await {
        run(&s, &driver, script, "Postgres").await;
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_driver_tutorial() {
    tutorial(python()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_driver_tutorial() {
    tutorial(javascript()).await;
}

/// User-defined roles as an application uses them, through the unchanged Python driver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_driver_shop_roles() {
    let script = drivers_dir().join("python").join("shop.py");
    script_on_both(python(), &script).await;
}
