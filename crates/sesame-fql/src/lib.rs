//! Sesame's FQL v10 subset: the language behind Fauna's `POST /query/1`, for the auth model.
//!
//! Pipeline (spec `fql-subset.md` §10.1):
//!
//! ```text
//! request JSON ──template::decode_request──▶ Request { text with \0N> markers, holes, arguments }
//!   ──lexer::lex──▶ tokens (spans, newline_before) ──parser::parse_query──▶ Vec<ast::Stmt>
//!   ──eval::Interp::run (over &mut dyn Host)──▶ Value | QueryError
//!   ──Interp::materialize(Format)──▶ `data` JSON (simple or tagged)
//! ```
//!
//! [`run`] does all of it and builds the response body (`data`/`error`, `summary`, `txn_ts`,
//! `stats`) and its HTTP status. The host (the auth engine, or [`testing::MemHost`]) performs
//! every read, write, privilege check, password check and token mint inside one transaction,
//! which it commits only if [`Response::ok`]. [`render::render_fql`] prints a tagged result in
//! FQL notation for shells.
//!
//! This crate does no I/O: no SQL, no HTTP, no async, no clock (the host gives the snapshot
//! time) and no randomness (the host makes ids and secrets).
//!
//! Stack: parsing and evaluation recurse (bounded by the limits in [`Limits`] and the parser's
//! depth 128), so run [`run`] on a thread with [`STACK_BYTES`] of stack (debug builds need
//! about four times as much).

pub mod ast;
mod cursor;
pub mod diag;
pub mod error;
pub mod eval;
pub mod host;
pub mod lexer;
pub mod materialize;
pub mod parser;
pub mod render;
pub mod set;
mod stdlib;
pub mod tagged;
pub mod template;
pub mod value;

#[cfg(feature = "corpus")]
pub mod corpus;
#[cfg(feature = "testing")]
pub mod testing;

use serde_json::{json, Value as Json};

pub use error::{Code, ConstraintFailure, QueryError};
pub use eval::{Interp, Limits, Stats};
pub use host::{Caller, DocRead, Host, IndexInfo, LiveDoc, Page, Scan};
pub use materialize::{encode_plain, Format};
pub use parser::{parse_lambda, parse_query};
pub use stdlib::deep_merge;
pub use template::{decode_request, Request};
pub use value::{DocKey, DocRef, Object, Overlay, Value};

/// Names of the language's modules: collections may not take them.
pub const RESERVED_COLLECTION_NAMES: &[&str] = &[
    "Collection",
    "Credential",
    "Credentials",
    "Token",
    "Key",
    "Role",
    "Query",
    "Time",
    "Set",
    "Math",
    "Object",
    "Array",
    "String",
    "Function",
    "Database",
    "AccessProvider",
    "Date",
    "ID",
    "Boolean",
    "Number",
    "Null",
];

/// The field names of a collection definition's `terms`, `unique` and similar lists, which
/// name a field either as a string (`"email"`) or as `{ field: ".email" }`; other entries are
/// ignored. One reading for every host.
pub fn field_names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::Str(s) => Some(s.to_string()),
                Value::Object(o) => match o.get("field") {
                    Some(Value::Str(s)) => Some(s.to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The stack a query thread should have (release builds).
pub const STACK_BYTES: usize = 16 * 1024 * 1024;

/// Per-request options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub format: Format,
    pub limits: Limits,
}

/// A complete answer: HTTP status and JSON body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Json,
    pub stats: Stats,
    /// True on success: the host commits its transaction only then.
    pub ok: bool,
}

fn stats_json(s: Stats) -> Json {
    json!({
        "compute_ops": s.compute_ops, "read_ops": s.read_ops, "write_ops": s.write_ops,
        "query_time_ms": 0, "contention_retries": 0, "storage_bytes_read": 0,
        "storage_bytes_write": 0, "rate_limits_hit": []
    })
}

/// The `error` object of a response (abort values already materialised).
pub fn error_json(e: &QueryError, abort: Option<Json>) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("code".into(), Json::from(e.code.as_str()));
    m.insert("message".into(), Json::from(e.message.clone()));
    if !e.constraint_failures.is_empty() {
        let cf: Vec<Json> = e
            .constraint_failures
            .iter()
            .map(|c| json!({ "paths": c.paths, "message": c.message }))
            .collect();
        m.insert("constraint_failures".into(), Json::Array(cf));
    }
    if let Some(a) = abort {
        m.insert("abort".into(), a);
    }
    Json::Object(m)
}

fn error_response(
    e: &QueryError,
    src: &str,
    abort: Option<Json>,
    txn_ts: i64,
    stats: Stats,
) -> Response {
    let body = if e.code == Code::InvalidRequest || e.code == Code::Unauthorized {
        json!({ "error": error_json(e, None) })
    } else {
        json!({
            "error": error_json(e, abort),
            "summary": diag::summary(src, e),
            "txn_ts": txn_ts,
            "stats": stats_json(stats),
            "schema_version": 0,
        })
    };
    Response { status: e.http_status(), body, stats, ok: false }
}

/// Checks that every `@mod` in the holes names a module.
fn check_modules(v: &Value, host: &mut dyn Host) -> Result<(), String> {
    match v {
        Value::Module(m) => {
            let builtin = matches!(
                &**m,
                "Collection"
                    | "Credential"
                    | "Credentials"
                    | "Token"
                    | "Key"
                    | "Role"
                    | "Query"
                    | "Time"
                    | "Set"
                    | "Math"
            );
            if builtin || host.is_user_collection(m) {
                Ok(())
            } else {
                Err(format!("no such module '{m}'"))
            }
        }
        Value::Doc(d) => check_modules(&Value::Module(d.coll.clone()), host),
        Value::Array(a) => a.iter().try_for_each(|x| check_modules(x, host)),
        Value::Object(o) => o.values().try_for_each(|x| check_modules(x, host)),
        _ => Ok(()),
    }
}

/// Runs one `POST /query/1` body: decode, parse, evaluate, materialise, encode.
pub fn run(host: &mut dyn Host, body: &Json, opts: &Options) -> Response {
    let txn_ts = host.snapshot_time().as_micros();
    match decode_request(body) {
        Ok(req) => run_request(host, &req, opts),
        Err(e) => error_response(&e, "", None, txn_ts, Stats::default()),
    }
}

/// Runs a decoded request.
pub fn run_request(host: &mut dyn Host, req: &Request, opts: &Options) -> Response {
    let txn_ts = host.snapshot_time().as_micros();
    let stmts = match parse_query(&req.text) {
        Ok(s) => s,
        Err(e) => return error_response(&e, &req.text, None, txn_ts, Stats::default()),
    };
    for (i, h) in req.holes.iter().enumerate() {
        if let Err(m) = check_modules(h, host) {
            let marker = format!("\0{i}>");
            let at = req.text.find(&marker).unwrap_or(0);
            let e = QueryError::parse(m, ast::Span::new(at, at + marker.len()));
            return error_response(&e, &req.text, None, txn_ts, Stats::default());
        }
    }
    let mut interp = Interp::new(host, opts.limits.clone(), req.holes.clone());
    let result =
        interp.run(&stmts, &req.arguments).and_then(|v| interp.materialize(&v, opts.format));
    let summary: String = interp
        .logs
        .iter()
        .map(|(span, msg)| {
            format!("info at *query*:{}: {msg}\n", diag::line_col(&req.text, span.start).0)
        })
        .collect();
    match result {
        Ok(data) => Response {
            status: 200,
            body: json!({
                "data": data, "summary": summary.trim_end(), "txn_ts": txn_ts,
                "stats": stats_json(interp.stats), "schema_version": 0,
            }),
            stats: interp.stats,
            ok: true,
        },
        Err(e) => {
            let abort = match &e.abort {
                Some(v) => {
                    let v = (**v).clone();
                    Some(
                        interp
                            .materialize(&v, opts.format)
                            .unwrap_or_else(|_| encode_plain(&v, opts.format)),
                    )
                }
                None => None,
            };
            let stats = interp.stats;
            error_response(&e, &req.text, abort, txn_ts, stats)
        }
    }
}

/// How much a role predicate may do: steps, call depth and wall-clock time. A predicate that
/// runs out of any of them denies.
pub const PREDICATE_FUEL: u64 = 10_000;
/// See [`PREDICATE_FUEL`].
pub const PREDICATE_MAX_CALL_DEPTH: usize = 32;
/// See [`PREDICATE_FUEL`].
pub const PREDICATE_TIME: std::time::Duration = std::time::Duration::from_millis(200);
/// The largest string or array a predicate may build (bytes, elements).
pub const PREDICATE_MAX_BYTES: usize = 64 * 1024;

thread_local! {
    /// Parsed predicates of this thread, by source (parsing is a pure function of the text).
    static PREDICATES: std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<ast::LambdaDef>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// How many parsed predicates a thread keeps (then it starts over).
const PREDICATE_CACHE: usize = 512;

/// Evaluates a role predicate (lambda source) read-only within the `PREDICATE_*` bounds, for
/// hosts that check privileges. `Ok(true)` allows; anything else (including an error) denies.
/// Parsed lambdas are cached per thread by source text.
pub fn eval_predicate(
    host: &mut dyn Host,
    lambda_src: &str,
    args: Vec<Value>,
) -> Result<bool, QueryError> {
    eval_predicate_until(host, lambda_src, args, None)
}

/// [`eval_predicate`], also stopping at `until` (the caller's own deadline) if that comes
/// before the predicate's time is up.
pub fn eval_predicate_until(
    host: &mut dyn Host,
    lambda_src: &str,
    mut args: Vec<Value>,
    until: Option<std::time::Instant>,
) -> Result<bool, QueryError> {
    let cached = PREDICATES.with(|c| c.borrow().get(lambda_src).cloned());
    let def = match cached {
        Some(d) => d,
        None => {
            let d = parse_lambda(lambda_src)?;
            PREDICATES.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= PREDICATE_CACHE {
                    c.clear();
                }
                c.insert(lambda_src.to_owned(), d.clone());
            });
            d
        }
    };
    let limits = Limits {
        fuel: PREDICATE_FUEL,
        max_call_depth: PREDICATE_MAX_CALL_DEPTH,
        max_string_bytes: PREDICATE_MAX_BYTES,
        max_array_len: PREDICATE_MAX_BYTES,
        max_writes: 0,
        max_password_checks: 0,
        deadline: Some(match until {
            Some(u) => u.min(std::time::Instant::now() + PREDICATE_TIME),
            None => std::time::Instant::now() + PREDICATE_TIME,
        }),
        ..Limits::default()
    };
    // An action with optional arguments (`create_with_id`) passes what the lambda takes.
    if def.rest.is_none() {
        args.truncate(def.params.len());
    }
    let mut interp = Interp::new(host, limits, Vec::new());
    let f = Value::Func(std::rc::Rc::new(value::Func::Lambda { def, env: eval::Env::default() }));
    let r = interp.read_only(|me| me.apply(f, args, ast::Span::default()))?;
    Ok(matches!(r, Value::Bool(true)))
}

/// How many arguments the lambda in `src` takes (`(min, max)`, max `usize::MAX` when variadic),
/// or why `src` is not exactly one lambda.
pub fn lambda_arity(src: &str) -> Result<(usize, usize), QueryError> {
    let def = parse_lambda(src)?;
    let n = def.params.len();
    Ok((n, if def.rest.is_some() { usize::MAX } else { n }))
}
