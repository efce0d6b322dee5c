//! The golden-corpus harness (feature `corpus`; format in spec §11): loads cases and checks
//! responses with type-aware comparison, `match: subset`, placeholders (`<id> <time> <secret>
//! <cursor> <any>`), `absent` keys, optional `tagged` re-runs, errors and `then` steps.
//!
//! It runs queries only through a caller-supplied runner, so the same cases can drive the
//! in-memory host or the real HTTP server. It knows nothing about how queries execute.

use serde_json::Value as Json;

/// Who sends a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum As {
    Admin,
    /// A token secret obtained from the last setup query.
    Secret(String),
}

/// Runs `query` as someone in a format (`"simple"` or `"tagged"`); returns status and body.
pub type Runner<'a> = dyn FnMut(&str, &As, &str) -> (u16, Json) + 'a;

/// Makes a runner over a fresh, empty database (called once per pass of a case).
pub type NewRunner<'a> = dyn FnMut() -> Box<Runner<'a>> + 'a;

/// One corpus case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub raw: Json,
}

/// Parses a JSONL corpus.
pub fn load(jsonl: &str) -> Result<Vec<Case>, String> {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let raw: Json = serde_json::from_str(l).map_err(|e| e.to_string())?;
            let id = raw["id"].as_str().ok_or("case without id")?.to_owned();
            Ok(Case { id, raw })
        })
        .collect()
}

/// Outcome of a passing case: advisory notes (summary mismatches).
pub type Notes = Vec<String>;

fn is_time(s: &str) -> bool {
    sesame_model::Timestamp::parse_rfc3339(s).is_ok()
}

/// Compares `actual` with `expected` (placeholders, type-aware numbers, optional subset mode,
/// `@double` numerically when `tagged`).
pub fn compare(
    expected: &Json,
    actual: &Json,
    subset: bool,
    tagged: bool,
    path: &str,
) -> Result<(), String> {
    let fail = || Err(format!("at {path}: expected {expected}, got {actual}"));
    match expected {
        Json::String(s) if s == "<any>" => Ok(()),
        Json::String(s) if s == "<id>" => match actual.as_str() {
            Some(a) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            _ => fail(),
        },
        Json::String(s) if s == "<time>" => match actual {
            Json::String(a) if is_time(a) => Ok(()),
            Json::Object(m) if m.get("@time").and_then(Json::as_str).is_some_and(is_time) => Ok(()),
            _ => fail(),
        },
        Json::String(s) if s == "<secret>" || s == "<cursor>" => match actual.as_str() {
            Some(a) if !a.is_empty() => Ok(()),
            _ => fail(),
        },
        Json::Number(e) => match actual {
            Json::Number(a) if e.is_f64() == a.is_f64() && e.as_f64() == a.as_f64() => Ok(()),
            _ => fail(),
        },
        Json::Array(e) => {
            let Json::Array(a) = actual else { return fail() };
            if a.len() != e.len() {
                return fail();
            }
            for (i, (x, y)) in e.iter().zip(a.iter()).enumerate() {
                compare(x, y, subset, tagged, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Json::Object(e) => {
            let Json::Object(a) = actual else { return fail() };
            if tagged {
                if let (Some(Json::String(x)), Some(Json::String(y))) =
                    (e.get("@double"), a.get("@double"))
                {
                    let num = |s: &str| {
                        s.parse::<f64>().ok().or(match s {
                            "Infinity" => Some(f64::INFINITY),
                            "-Infinity" => Some(f64::NEG_INFINITY),
                            _ => None,
                        })
                    };
                    return if x == y || (num(x).is_some() && num(x) == num(y)) {
                        Ok(())
                    } else {
                        fail()
                    };
                }
            }
            if !subset && e.len() != a.len() {
                return fail();
            }
            for (k, x) in e {
                let Some(y) = a.get(k) else {
                    return Err(format!("at {path}: missing key `{k}` in {actual}"));
                };
                compare(x, y, subset, tagged, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        other => {
            if other == actual {
                Ok(())
            } else {
                fail()
            }
        }
    }
}

fn check_expect(
    query: &str,
    who: &As,
    expect: &Json,
    run: &mut Runner<'_>,
    notes: &mut Notes,
    tagged_pass: bool,
) -> Result<(), String> {
    let subset = expect["match"].as_str() == Some("subset");
    if tagged_pass {
        let Some(t) = expect.get("tagged") else { return Ok(()) };
        let (status, body) = run(query, who, "tagged");
        if status != 200 {
            return Err(format!("tagged run: HTTP {status}: {body}"));
        }
        return compare(t, &body["data"], subset, true, "tagged")
            .map_err(|e| format!("{e} (tagged)"));
    }
    let (status, body) = run(query, who, "simple");
    if let Some(err) = expect.get("error") {
        let want_status = expect["http_status"].as_u64().unwrap_or(400);
        if u64::from(status) != want_status {
            return Err(format!("expected HTTP {want_status}, got {status}: {body}"));
        }
        let got = &body["error"];
        for k in ["code", "message", "abort", "constraint_failures"] {
            if let Some(x) = err.get(k) {
                compare(x, &got[k], false, false, &format!("error.{k}"))
                    .map_err(|e| format!("{e} (body {body})"))?;
            }
        }
        if let Some(s) = expect["summary"].as_str() {
            if body["summary"].as_str() != Some(s) {
                notes.push(format!(
                    "summary differs (advisory):\n--- expected\n{s}\n--- got\n{}",
                    body["summary"].as_str().unwrap_or("")
                ));
            }
        }
        return Ok(());
    }
    if status != 200 {
        return Err(format!("expected success, got HTTP {status}: {body}"));
    }
    let data = &body["data"];
    compare(&expect["data"], data, subset, false, "data")?;
    if let Some(Json::Array(absent)) = expect.get("absent") {
        for k in absent.iter().filter_map(Json::as_str) {
            if data.get(k).is_some() {
                return Err(format!("key `{k}` must be absent from {data}"));
            }
        }
    }
    Ok(())
}

/// Runs one case: setup, query (simple format) and `then` steps on one fresh database; then,
/// if the case has a `tagged` expectation, setup and query again on another fresh database in
/// the tagged format. `Err` says why it failed.
pub fn run_case(case: &Case, new_runner: &mut NewRunner<'_>) -> Result<Notes, String> {
    let mut notes = Notes::new();
    let mut run = new_runner();
    run_pass(case, &mut *run, &mut notes, false)?;
    if case.raw["expect"].get("tagged").is_some() {
        let mut run = new_runner();
        run_pass(case, &mut *run, &mut notes, true)?;
    }
    Ok(notes)
}

fn run_pass(
    case: &Case,
    run: &mut Runner<'_>,
    notes: &mut Notes,
    tagged: bool,
) -> Result<(), String> {
    let c = &case.raw;
    let mut last = Json::Null;
    for s in c["setup"].as_array().into_iter().flatten().filter_map(Json::as_str) {
        let (status, body) = run(s, &As::Admin, "simple");
        if status != 200 {
            return Err(format!("setup query failed ({status}): {s}\n{body}"));
        }
        last = body["data"].clone();
    }
    let who_of = |a: &Json| -> Result<As, String> {
        if a.as_str() == Some("token") {
            last["secret"]
                .as_str()
                .map(|s| As::Secret(s.to_owned()))
                .ok_or_else(|| "no token secret from the last setup query".to_owned())
        } else {
            Ok(As::Admin)
        }
    };
    let who = who_of(&c["as"])?;
    let query = c["query"].as_str().ok_or("case without query")?;
    check_expect(query, &who, &c["expect"], run, notes, tagged)?;
    if tagged {
        return Ok(());
    }
    for step in c["then"].as_array().into_iter().flatten() {
        let who = who_of(&step["as"])?;
        let q = step["query"].as_str().ok_or("then step without query")?;
        check_expect(q, &who, &step["expect"], run, notes, false)
            .map_err(|e| format!("then `{q}`: {e}"))?;
        if step["expect"].get("tagged").is_some() {
            check_expect(q, &who, &step["expect"], run, notes, true)
                .map_err(|e| format!("then `{q}` (tagged): {e}"))?;
        }
    }
    Ok(())
}
