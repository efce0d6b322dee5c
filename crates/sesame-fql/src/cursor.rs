//! Stateless set cursors: a page's `after` token carries the set itself (source, steps with
//! their lambdas as FQL source plus the captured values they use, and the position), so
//! `Set.paginate(after)` works in a later query without server-side state.
//!
//! A cursor is client-controlled input: it is decoded with the same parser limits, its
//! callbacks run read-only with the caller's own rights, and every error is `invalid_cursor`.
//! Sets that cannot be written this way (callbacks capturing sets or functions, built-in
//! method values) fall back to in-query cursors. This module is not a cache.

use std::rc::Rc;

use base64::Engine as _;
use serde_json::{json, Value as Json};

use crate::ast::{print_expr, Expr};
use crate::eval::Env;
use crate::host::Scan;
use crate::materialize::{encode_plain, Format};
use crate::set::{SetExpr, SetSource, SetStep, MAX_PAGE};
use crate::value::{DocRef, Func, Value};

/// Prefix of stateless cursors.
const PREFIX: &str = "c1.";
/// Largest cursor token, in bytes.
pub const MAX_CURSOR: usize = 16 * 1024;

fn storable(v: &Value) -> bool {
    match v {
        Value::Set(_) | Value::Func(_) => false,
        Value::Array(a) => a.iter().all(storable),
        Value::Object(o) => o.values().all(storable),
        _ => true,
    }
}

fn tagged(v: &Value) -> Option<Json> {
    storable(v).then(|| encode_plain(v, Format::Tagged))
}

fn encode_fn(f: &Value, holes: &[Value]) -> Option<Json> {
    let Value::Func(func) = f else { return None };
    let Func::Lambda { def, env } = &**func else { return None };
    let mut lambda = Expr::Lambda(def.clone());
    let mut names = Vec::new();
    let mut used_holes = Vec::new();
    lambda.visit_names(&mut |n| names.push(n.to_owned()), &mut used_holes);
    let mut bound = serde_json::Map::new();
    for n in names {
        if def.params.iter().flatten().any(|p| *p == n) || bound.contains_key(&n) {
            continue;
        }
        if let Some(v) = env.get(&n) {
            bound.insert(n, tagged(&v)?);
        }
    }
    for h in used_holes {
        bound.insert(format!("hole__{h}"), tagged(holes.get(h as usize)?)?);
    }
    let mut src = String::new();
    print_expr(&lambda, &mut src);
    Some(json!({ "fn": src, "env": bound }))
}

/// The cursor token for `set` after `skip` elements, if the set can be written down.
pub(crate) fn encode(set: &SetExpr, skip: usize, size: usize, holes: &[Value]) -> Option<String> {
    let source = match &set.source {
        SetSource::Scan(Scan::All { coll }) => json!({ "all": &**coll }),
        SetSource::Scan(Scan::Index { coll, index, terms }) => {
            let terms: Option<Vec<Json>> = terms.iter().map(tagged).collect();
            json!({ "index": [&**coll, &**index, terms?] })
        }
        SetSource::Scan(Scan::TokensOf(d)) => json!({ "tokens": tagged(&Value::Doc(d.clone()))? }),
        SetSource::Scan(Scan::Collections) => json!({ "collections": true }),
        SetSource::Array(items) => json!({ "array": tagged(&Value::Array(items.clone()))? }),
        SetSource::Sequence(a, b) => json!({ "seq": [a, b] }),
    };
    let mut steps = Vec::new();
    for s in &set.steps {
        steps.push(match s {
            SetStep::Where(f) => json!({ "where": encode_fn(f, holes)? }),
            SetStep::Map(f) => json!({ "map": encode_fn(f, holes)? }),
            SetStep::Take(n) => json!({ "take": n }),
            SetStep::Drop(n) => json!({ "drop": n }),
        });
    }
    let body = json!({ "src": source, "steps": steps, "skip": skip, "size": size });
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string());
    let token = format!("{PREFIX}{text}");
    (token.len() <= MAX_CURSOR).then_some(token)
}

fn value(j: &Json) -> Option<Value> {
    crate::tagged::decode(j, false).ok()
}

fn decode_fn(j: &Json) -> Option<Value> {
    let src = j.get("fn")?.as_str()?;
    let def = crate::parser::parse_lambda(src).ok()?;
    let mut env = Env::default();
    for (k, v) in j.get("env")?.as_object()? {
        env = env.bind(k, value(v)?);
    }
    Some(Value::Func(Rc::new(Func::Lambda { def, env })))
}

/// Decodes a stateless cursor: the set, elements to skip, and the page size.
pub(crate) fn decode(token: &str) -> Option<(SetExpr, usize, usize)> {
    let text = token.strip_prefix(PREFIX)?;
    if token.len() > MAX_CURSOR {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
    let body: Json = serde_json::from_slice(&bytes).ok()?;
    let src = &body["src"];
    let source = if let Some(c) = src.get("all") {
        SetSource::Scan(Scan::All { coll: c.as_str()?.into() })
    } else if let Some(ix) = src.get("index") {
        let terms: Option<Vec<Value>> = ix.get(2)?.as_array()?.iter().map(value).collect();
        SetSource::Scan(Scan::Index {
            coll: ix.get(0)?.as_str()?.into(),
            index: ix.get(1)?.as_str()?.into(),
            terms: terms?,
        })
    } else if let Some(d) = src.get("tokens") {
        let Value::Doc(d) = &value(d)? else { return None };
        SetSource::Scan(Scan::TokensOf(DocRef { overlay: None, ..d.clone() }))
    } else if src.get("collections").is_some() {
        SetSource::Scan(Scan::Collections)
    } else if let Some(a) = src.get("array") {
        let Value::Array(items) = &value(a)? else { return None };
        SetSource::Array(items.clone())
    } else {
        let s = src.get("seq")?;
        SetSource::Sequence(s.get(0)?.as_i64()?, s.get(1)?.as_i64()?)
    };
    let mut set = SetExpr::new(source);
    for st in body["steps"].as_array()? {
        set.steps.push(if let Some(f) = st.get("where") {
            SetStep::Where(decode_fn(f)?)
        } else if let Some(f) = st.get("map") {
            SetStep::Map(decode_fn(f)?)
        } else if let Some(n) = st.get("take") {
            SetStep::Take(usize::try_from(n.as_u64()?).ok()?)
        } else {
            SetStep::Drop(usize::try_from(st.get("drop")?.as_u64()?).ok()?)
        });
    }
    let skip = usize::try_from(body["skip"].as_u64()?).ok()?;
    let size =
        usize::try_from(body["size"].as_u64()?).ok().filter(|s| (1..=MAX_PAGE).contains(s))?;
    set.page_size = size;
    Some((set, skip, size))
}
