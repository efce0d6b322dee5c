//! `cargo xtask bench` part 12 (`--only roles`): the cost of a role's `read` predicate.
//!
//! 12. A token reads one document whose collection its role reads with a predicate
//!     (`d => d.owner == Query.identity()`), against the same read of a collection its role
//!     reads with `true`: `GET /collections/{C}/documents/{id}` and `C.byId(id)!` over
//!     `/query/1`, interleaved in one run, on the memory store and on Postgres; req/s and
//!     server CPU per request, as ratios (target ≥ 0.6).
//!
//! Not a test: it asserts nothing.

use std::time::Duration;

use serde_json::json;

use super::{
    client, cpu_micros, load, median, psql, request, setup_doc, start, Job, ADMIN, CONCURRENCY,
    REPEATS,
};

/// Measures 12 on memory, then on Postgres (when it answers); the report lines.
pub(super) async fn roles_part(run: Duration) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    out.extend(one_store(run, None, "memory").await?);
    let url = "postgres://postgres@127.0.0.1:5432/sesame_bench_roles";
    let db = psql("postgres", "DROP DATABASE IF EXISTS sesame_bench_roles")
        .and_then(|()| psql("postgres", "CREATE DATABASE sesame_bench_roles"));
    match db {
        Ok(()) => {
            out.extend(one_store(run, Some(url), "Postgres").await?);
            let _ = psql("postgres", "DROP DATABASE IF EXISTS sesame_bench_roles");
        }
        Err(e) => out.push(format!("12. Postgres skipped: {e}")),
    }
    Ok(out)
}

async fn one_store(run: Duration, url: Option<&str>, label: &str) -> Result<Vec<String>, String> {
    let s = start(url).await?;
    let (jane, _, token) = setup_doc(&s).await?;
    let c = client();
    let b = &s.base;
    let owner = json!({"@ref": {"id": jane, "coll": {"@mod": "Customer"}}});
    let mut ids = Vec::new();
    for coll in ["Open", "Owned"] {
        request(&c, "POST", &format!("{b}/collections"), Some(ADMIN), Some(json!({"name": coll})))
            .await?;
        let (_, d) = request(
            &c,
            "POST",
            &format!("{b}/collections/{coll}/documents"),
            Some(ADMIN),
            Some(json!({"owner": owner, "title": "x"})),
        )
        .await?;
        ids.push(d["id"].as_str().ok_or("no id")?.to_owned());
    }
    let role = json!({
        "name": "customer",
        "membership": {"resource": "Customer"},
        "privileges": [
            {"resource": "Open", "actions": {"read": true}},
            {"resource": "Owned", "actions": {"read": "d => d.owner == Query.identity()"}}
        ]
    });
    let (st, r) = request(&c, "POST", &format!("{b}/roles"), Some(ADMIN), Some(role)).await?;
    if st != 201 {
        return Err(format!("role: {r}"));
    }
    let rest = |coll: &str, id: &str| Job {
        method: "GET",
        url: format!("{b}/collections/{coll}/documents/{id}"),
        secret: Some(token.clone()),
        body: None,
        expect: 200,
        pace: None,
    };
    let fql = |coll: &str, id: &str| Job {
        method: "POST",
        url: format!("{b}/query/1"),
        secret: Some(token.clone()),
        body: Some(json!({"query": format!("{coll}.byId('{id}')!.title")})),
        expect: 200,
        pace: None,
    };
    let pid = s.child.id();
    let mut lines = Vec::new();
    for (surface, open, owned) in [
        ("REST GET", rest("Open", &ids[0]), rest("Owned", &ids[1])),
        ("/query/1 byId", fql("Open", &ids[0]), fql("Owned", &ids[1])),
    ] {
        let _ = load(open.clone(), CONCURRENCY, run / 4).await;
        let _ = load(owned.clone(), CONCURRENCY, run / 4).await;
        let (mut rt, mut rp, mut ct, mut cp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            for (job, rates, cpu) in [(&open, &mut rt, &mut ct), (&owned, &mut rp, &mut cp)] {
                let before = cpu_micros(pid);
                let l = load(job.clone(), CONCURRENCY, run).await;
                let used = cpu_micros(pid).saturating_sub(before) as f64;
                if l.errors > 0 {
                    return Err(format!("{} errors reading {}", l.errors, job.url));
                }
                rates.push(l.per_sec);
                cpu.push(used / (l.answered.max(1) as f64));
            }
        }
        let (t, p) = (median(rt.clone()), median(rp.clone()));
        let (tc, pc) = (median(ct), median(cp));
        lines.push(format!(
            "12. {label}, {surface}: read predicate {p:.0} req/s (runs {rp:.0?}), {pc:.1} µs CPU/request; \
             read: true {t:.0} req/s (runs {rt:.0?}), {tc:.1} µs CPU/request; ratio {:.2} (target >= 0.6), CPU ratio {:.2}",
            p / t,
            pc / tc
        ));
    }
    drop(s);
    Ok(lines)
}
