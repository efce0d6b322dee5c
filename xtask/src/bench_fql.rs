//! `cargo xtask bench` part 9 (`--only fql`): Fauna's protocol against the REST surface, and
//! the language's own costs.
//!
//! 9. `Query.token()` over `POST /query/1` against REST `GET /tokens/self` (same token, memory
//!    store, same run): req/s and server CPU per request, as a ratio (target ≥ 0.7);
//! 10. parse + evaluate time per tutorial query, in-process over the language's test host
//!     (`sesame_fql::testing::MemHost`: no hashing, no I/O), medians of many runs;
//! 11. the cost of 64 KiB hostile queries (deep nesting, a flat operator chain, a huge string).
//!
//! Not a test: it asserts nothing.

use std::time::{Duration, Instant};

use serde_json::json;
use sesame_fql::testing::MemHost;
use sesame_fql::Format;

use super::{cpu_micros, load, median, setup, start, token_self, Job, CONCURRENCY, REPEATS};

/// Measures 9–11; returns the report lines.
pub(super) async fn fql_part(run: Duration) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let s = start(None).await?;
    let (_, token) = setup(&s).await?;
    let rest = token_self(&s, token.clone());
    let query = Job {
        method: "POST",
        url: format!("{}/query/1", s.base),
        secret: Some(token),
        body: Some(json!({"query": {"fql": ["Query.token()"]}})),
        expect: 200,
        pace: None,
    };
    let pid = s.child.id();
    // Interleaved runs: REST, query, REST, query, …
    let (mut rest_rates, mut query_rates, mut rest_cpu, mut query_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let _ = load(rest.clone(), CONCURRENCY, run / 4).await;
    let _ = load(query.clone(), CONCURRENCY, run / 4).await;
    for _ in 0..REPEATS {
        for (job, rates, cpu) in
            [(&rest, &mut rest_rates, &mut rest_cpu), (&query, &mut query_rates, &mut query_cpu)]
        {
            let before = cpu_micros(pid);
            let l = load(job.clone(), CONCURRENCY, run).await;
            let used = cpu_micros(pid).saturating_sub(before) as f64;
            rates.push(l.per_sec);
            cpu.push(used / (l.answered.max(1) as f64));
        }
    }
    let (r, q) = (median(rest_rates.clone()), median(query_rates.clone()));
    let (rc, qc) = (median(rest_cpu), median(query_cpu));
    out.push(format!(
        "9. Query.token() over /query/1: {q:.0} req/s (runs {query_rates:.0?}), {qc:.1} µs CPU/request; \
         REST GET /tokens/self: {r:.0} req/s (runs {rest_rates:.0?}), {rc:.1} µs CPU/request; \
         ratio {:.2} (target >= 0.7), CPU ratio {:.2}",
        q / r,
        qc / rc
    ));
    drop(s);
    out.extend(tutorial_costs());
    out.extend(hostile_costs());
    Ok(out)
}

/// Median µs of `f` over `n` runs.
fn time_us(n: usize, mut f: impl FnMut()) -> f64 {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        v.push(t.elapsed().as_secs_f64() * 1e6);
    }
    median(v)
}

const TUTORIAL: &[(&str, &str)] = &[
    ("a1", "Collection.create({ name: \"Customer\", indexes: { byName: { terms: [{ field: \".firstName\" }, { field: \".lastName\" }] } } })"),
    ("a2", "Customer.create({ firstName: \"Jane\", lastName: \"Doe\", email: \"jane.doe@example.com\" })"),
    ("a3", "Customer.byName(\"Jane\", \"Doe\").first()"),
    ("b1", "Credential.create({ document: Customer.byName(\"Jane\", \"Doe\").first(), password: \"sekret\" })"),
    ("c1", "Credential.byDocument(Customer.byName(\"Jane\", \"Doe\").first()!)!.login(\"sekret\")"),
    ("c2", "Credential.byDocument(Customer.byName(\"Jane\", \"Doe\").first()!)!.login(\"sekret\", Time.now().add(1, \"hour\"))"),
];

/// Parse time, and parse + evaluate time (test host), per tutorial query.
fn tutorial_costs() -> Vec<String> {
    let mut out =
        vec!["10. FQL cost per tutorial query (in-process test host; median µs):".to_owned()];
    for (step, q) in TUTORIAL {
        let parse = time_us(2000, || {
            let _ = sesame_fql::parse_query(q);
        });
        // Each run on a fresh host that has what the query needs (the steps before it,
        // untimed).
        let mut runs = Vec::new();
        for _ in 0..300 {
            let mut host = MemHost::new();
            for (s, prior) in TUTORIAL {
                if s == step {
                    break;
                }
                host.query(None, prior, Format::Simple);
            }
            let t = Instant::now();
            host.query(None, q, Format::Tagged);
            runs.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let eval = median(runs);
        out.push(format!(
            "    {step}: parse {parse:.1} µs, parse + evaluate + encode {eval:.1} µs — `{q}`"
        ));
    }
    out
}

/// What 64 KiB of hostile query text costs before it is refused (or answered).
fn hostile_costs() -> Vec<String> {
    let n = 64 * 1024;
    let cases = [
        ("64 KiB of `[` (nesting, refused at depth 128)", "[".repeat(n)),
        ("64 KiB flat `1+1+…` chain (capped at 256 operators)", "1+".repeat(n / 2 - 1) + "1"),
        ("64 KiB string literal", format!("\"{}\"", "a".repeat(n - 2))),
        ("64 KiB of `.a` field accesses", format!("{{ a: 1 }}{}", ".a".repeat(n / 2 - 4))),
    ];
    let mut out =
        vec!["11. 64 KiB hostile queries (parse + evaluate, in-process; median µs):".to_owned()];
    for (what, q) in cases {
        let mut host = MemHost::new();
        let mut code = String::new();
        let us = time_us(50, || {
            let (status, body) = host.query(None, &q, Format::Simple);
            code = format!("{status} {}", body["error"]["code"].as_str().unwrap_or("ok"));
        });
        out.push(format!("    {what}: {us:.0} µs ({code})"));
    }
    out
}
