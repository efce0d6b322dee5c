//! `cargo xtask tidy`: rules kept by a check, not by memory.
//!
//! 1. Layering, read from `cargo metadata`: each workspace crate may depend only on the crates
//!    listed for it (server → auth → store ← postgres; tower → auth; fql → model only;
//!    everything → model), some only as dev-dependencies.
//! 2. Every `.rs` file under `crates/`, `xtask/` and `tests/` starts with a `//!` doc.
//! 3. `fuzz/Cargo.lock` is current (CI builds the fuzz targets `--locked`).
//! 4. Migrations are append-only: every file in `migrations/` matches its SHA-256 in
//!    `migrations/CHECKSUMS`; `--bless` records new files (never changed ones).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::root;

/// Which internal crates each crate may depend on (normal and dev dependencies alike).
const ALLOWED: &[(&str, &[&str])] = &[
    ("sesame-model", &[]),
    ("sesame-fql", &["sesame-model", "sesame-fql"]),
    ("sesame-store", &["sesame-model", "sesame-store"]),
    ("sesame-postgres", &["sesame-model", "sesame-store", "sesame-postgres"]),
    // The engine hosts the query language (it implements `sesame_fql::Host`).
    ("sesame-auth", &["sesame-model", "sesame-store", "sesame-fql"]),
    (
        "sesame-server",
        &["sesame-model", "sesame-store", "sesame-auth", "sesame-postgres", "sesame-fql"],
    ),
    (
        "sesame-tests",
        &[
            "sesame-model",
            "sesame-store",
            "sesame-auth",
            "sesame-postgres",
            "sesame-server",
            "sesame-fql",
        ],
    ),
    // An embedding adapter over the engine; the server and a store only for its tests.
    (
        "sesame-tower",
        &["sesame-model", "sesame-auth", "sesame-tower", "sesame-store", "sesame-server"],
    ),
    // The bench measures the language in-process (its test host).
    ("xtask", &["sesame-fql"]),
];

/// Internal crates a crate may use only as dev-dependencies (for its tests and examples).
const DEV_ONLY: &[(&str, &[&str])] =
    &[("sesame-tower", &["sesame-tower", "sesame-store", "sesame-server"])];

/// External crates that must stay out of the inner layers.
const FORBIDDEN_EXTERNAL: &[(&str, &[&str])] = &[
    (
        "sesame-model",
        &["tokio", "hyper", "tokio-postgres", "deadpool-postgres", "async-trait", "serde"],
    ),
    ("sesame-store", &["hyper", "tokio-postgres", "deadpool-postgres", "argon2"]),
    // (serde_json is allowed: a query's body and document fields are JSON.)
    ("sesame-auth", &["hyper", "tokio-postgres", "deadpool-postgres", "http"]),
    ("sesame-postgres", &["hyper", "argon2", "http"]),
    ("sesame-tower", &["tokio-postgres", "deadpool-postgres", "argon2"]),
    (
        "sesame-fql",
        &[
            "tokio",
            "hyper",
            "http",
            "tokio-postgres",
            "deadpool-postgres",
            "postgres",
            "sqlx",
            "async-trait",
            "argon2",
        ],
    ),
];

pub(crate) fn run(bless: bool) -> Result<(), String> {
    let mut problems = Vec::new();
    layering(&mut problems)?;
    module_docs(&mut problems);
    surfaces(&mut problems);
    migrations(&mut problems, bless)?;
    fuzz_lock(&mut problems);
    if problems.is_empty() {
        eprintln!("tidy: ok");
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

/// The server's surface modules (REST, the query protocol, their shared plumbing) and what
/// they must never name: stores are the engine's business, so a surface cannot skip a rule.
const SURFACES: &[&str] = &[
    "crates/sesame-server/src/rest",
    "crates/sesame-server/src/fql.rs",
    "crates/sesame-server/src/protocol.rs",
    "crates/sesame-server/src/response.rs",
];
const SURFACE_FORBIDDEN: &[&str] = &[
    "dyn Store",
    "MemoryStore",
    "PgStore",
    "sesame_postgres",
    "StoreTx",
    "prelude::*",
    ".store()",
];

/// Surface modules reach the engine only.
fn surfaces(problems: &mut Vec<String>) {
    for s in SURFACES {
        let path = root().join(s);
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            std::fs::read_dir(&path)
                .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default()
        } else {
            vec![path]
        };
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            problems.extend(surface_problems(&f.display().to_string(), &text));
        }
    }
}

fn surface_problems(name: &str, text: &str) -> Vec<String> {
    SURFACE_FORBIDDEN
        .iter()
        .filter(|w| text.contains(*w))
        .map(|w| {
            format!("{name}: a surface module must not reach the store (`{w}`): call the engine")
        })
        .collect()
}

fn layering(problems: &mut Vec<String>) -> Result<(), String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    check_layering(&meta, problems);
    Ok(())
}

/// The layering rules applied to `cargo metadata` output.
fn check_layering(meta: &serde_json::Value, problems: &mut Vec<String>) {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let forbidden: BTreeMap<&str, &[&str]> = FORBIDDEN_EXTERNAL.iter().copied().collect();
    let dev_only: BTreeMap<&str, &[&str]> = DEV_ONLY.iter().copied().collect();
    let members: Vec<String> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(ok) = allowed.get(name) else {
            problems.push(format!("crate `{name}` has no layering rule in xtask/src/tidy.rs"));
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            let normal = d["kind"].is_null();
            if members.iter().any(|m| m == dep) && !ok.contains(&dep) {
                problems.push(format!("layering: `{name}` must not depend on `{dep}`"));
            }
            if normal && dev_only.get(name).is_some_and(|d| d.contains(&dep)) {
                problems
                    .push(format!("layering: `{name}` may use `{dep}` only in dev-dependencies"));
            }
            if normal && forbidden.get(name).is_some_and(|f| f.contains(&dep)) {
                problems.push(format!("layering: `{name}` must not depend on external `{dep}`"));
            }
        }
    }
}

/// `fuzz/` is its own workspace with its own Cargo.lock; CI builds it `--locked`, so a change
/// to the crates it uses must be followed by `cargo update --workspace` there.
fn fuzz_lock(problems: &mut Vec<String>) {
    let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root().join("fuzz"))
        .args(["metadata", "--locked", "--format-version", "1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        problems.push(
            "fuzz/Cargo.lock is out of date: run `cargo update --workspace` in fuzz/ and commit it"
                .into(),
        );
    }
}

fn module_docs(problems: &mut Vec<String>) {
    let root = root();
    for dir in ["crates", "xtask", "tests", "fuzz"] {
        walk(&root.join(dir), &mut |path| {
            if path.extension().is_some_and(|e| e == "rs")
                && !path.components().any(|c| c.as_os_str() == "target")
            {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                if !first.starts_with("//!") {
                    problems.push(format!(
                        "{}: must start with a `//!` doc saying what it is",
                        path.strip_prefix(&root).unwrap_or(path).display()
                    ));
                }
            }
        });
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

fn migrations(problems: &mut Vec<String>, bless: bool) -> Result<(), String> {
    let dir = root().join("migrations");
    let sums_path = dir.join("CHECKSUMS");
    let recorded: BTreeMap<String, String> = std::fs::read_to_string(&sums_path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(h, f)| (f.trim().to_owned(), h.trim().to_owned())))
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("migrations/: {e}"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let mut out = recorded.clone();
    for (i, f) in files.iter().enumerate() {
        let want_prefix = format!("{:04}_", i + 1);
        if !f.starts_with(&want_prefix) {
            problems.push(format!(
                "migrations/{f}: expected a name starting with {want_prefix} (numbered, no gaps)"
            ));
        }
        let text = std::fs::read(dir.join(f)).map_err(|e| e.to_string())?;
        let sum: String = Sha256::digest(&text).iter().map(|b| format!("{b:02x}")).collect();
        match recorded.get(f) {
            Some(r) if *r == sum => {}
            Some(_) => problems.push(format!(
                "migrations/{f} changed after it was committed; migrations are append-only: restore it and add a new file"
            )),
            None if bless => {
                out.insert(f.clone(), sum);
            }
            None => problems.push(format!("migrations/{f} is not in migrations/CHECKSUMS: run `cargo xtask tidy --bless`")),
        }
    }
    for f in recorded.keys() {
        if !files.contains(f) {
            problems.push(format!("migrations/{f} was deleted; migrations are append-only"));
        }
    }
    if bless && out != recorded {
        let text: String = out.iter().map(|(f, h)| format!("{h}  {f}\n")).collect();
        std::fs::write(&sums_path, text).map_err(|e| e.to_string())?;
        eprintln!("tidy: recorded new migration checksums");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn surfaces_may_not_reach_the_store() {
        assert!(super::surface_problems("a.rs", "use sesame_auth::Engine;").is_empty());
        let p = super::surface_problems("b.rs", "let s: Arc<dyn Store> = app.engine.store();");
        assert_eq!(p.len(), 2, "{p:?}");
    }

    use serde_json::json;

    fn problems(meta: serde_json::Value) -> Vec<String> {
        let mut p = Vec::new();
        super::check_layering(&meta, &mut p);
        p
    }

    fn pkg(name: &str, deps: &[(&str, Option<&str>)]) -> serde_json::Value {
        let deps: Vec<_> = deps.iter().map(|(d, kind)| json!({"name": d, "kind": kind})).collect();
        json!({"name": name, "dependencies": deps})
    }

    #[test]
    fn the_real_arrows_pass() {
        let meta = json!({"packages": [
            pkg("sesame-model", &[("serde_json", None)]),
            pkg("sesame-store", &[("sesame-model", None)]),
            pkg("sesame-postgres", &[("sesame-store", None), ("tokio-postgres", None)]),
            pkg("sesame-auth", &[("sesame-store", None), ("serde_json", Some("dev"))]),
            pkg("sesame-server", &[("sesame-auth", None), ("sesame-postgres", None), ("hyper", None)]),
            pkg(
                "sesame-tower",
                &[("sesame-auth", None), ("hyper", None), ("sesame-server", Some("dev"))],
            ),
            pkg("sesame-fql", &[("sesame-model", None), ("serde_json", None), ("sesame-fql", Some("dev"))]),
        ]});
        assert_eq!(problems(meta), Vec::<String>::new());
    }

    #[test]
    fn upward_and_sideways_arrows_fail() {
        let meta = json!({"packages": [
            pkg("sesame-model", &[("tokio", None)]),
            pkg("sesame-store", &[("sesame-model", None), ("sesame-auth", None)]),
            pkg("sesame-auth", &[("sesame-store", None), ("sesame-postgres", None), ("hyper", None)]),
            pkg("sesame-postgres", &[("sesame-server", Some("dev"))]),
            pkg("sesame-server", &[]),
            pkg("sesame-new", &[]),
            pkg("sesame-tower", &[("sesame-server", None), ("sesame-postgres", Some("dev"))]),
            pkg("sesame-fql", &[("sesame-auth", None), ("tokio-postgres", None), ("hyper", None)]),
        ]});
        let p = problems(meta);
        for expected in [
            "`sesame-model` must not depend on external `tokio`",
            "`sesame-store` must not depend on `sesame-auth`",
            "`sesame-auth` must not depend on `sesame-postgres`",
            "`sesame-auth` must not depend on external `hyper`",
            "`sesame-postgres` must not depend on `sesame-server`",
            "crate `sesame-new` has no layering rule",
            "`sesame-tower` may use `sesame-server` only in dev-dependencies",
            "`sesame-tower` must not depend on `sesame-postgres`",
            "`sesame-fql` must not depend on `sesame-auth`",
            "`sesame-fql` must not depend on external `tokio-postgres`",
            "`sesame-fql` must not depend on external `hyper`",
        ] {
            assert!(p.iter().any(|l| l.contains(expected)), "missing {expected:?} in {p:#?}");
        }
    }
}
