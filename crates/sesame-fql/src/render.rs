//! FQL-notation rendering of results for shells: `{ id: "1", coll: Customer, ts: Time("…") }`,
//! references as `Customer("1")`, NullDocs as `Customer("1") /* not found */`.
//!
//! It works from the tagged JSON of a response, so any client holding a response can use it.
//! It does not evaluate or read anything.

use serde_json::Value as Json;

use crate::ast::quote;

/// Renders a tagged JSON value in FQL notation.
pub fn render_fql(v: &Json) -> String {
    let mut out = String::new();
    render(v, &mut out, 0);
    out
}

fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn key(k: &str, out: &mut String) {
    if is_ident(k) {
        out.push_str(k);
    } else {
        quote(k, out);
    }
}

fn fields(m: &serde_json::Map<String, Json>, out: &mut String, depth: usize) {
    if m.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        key(k, out);
        out.push_str(": ");
        render(v, out, depth + 1);
    }
    out.push_str(" }");
}

/// An object with the `first` keys (when present) before the others.
fn ordered(m: &serde_json::Map<String, Json>, first: &[&str], out: &mut String, depth: usize) {
    if m.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    let keys = first
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .chain(m.keys().map(String::as_str).filter(|k| !first.contains(k)));
    for (i, k) in keys.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        key(k, out);
        out.push_str(": ");
        render(&m[k], out, depth + 1);
    }
    out.push_str(" }");
}

fn coll_name(v: Option<&Json>) -> String {
    match v {
        Some(Json::Object(m)) => m.get("@mod").and_then(Json::as_str).unwrap_or("?").to_owned(),
        Some(Json::String(s)) => s.clone(),
        _ => "?".to_owned(),
    }
}

fn reference(m: &serde_json::Map<String, Json>, out: &mut String) {
    let coll = coll_name(m.get("coll"));
    match (m.get("id").and_then(Json::as_str), m.get("name").and_then(Json::as_str)) {
        (Some(id), _) => {
            out.push_str(&coll);
            out.push('(');
            quote(id, out);
            out.push(')');
        }
        (None, Some(name)) => {
            out.push_str(&coll);
            out.push_str(".byName(");
            quote(name, out);
            out.push(')');
        }
        _ => out.push_str("null"),
    }
    if m.get("exists") == Some(&Json::Bool(false)) {
        let cause = m.get("cause").and_then(Json::as_str).unwrap_or("not found");
        out.push_str(" /* ");
        out.push_str(cause);
        out.push_str(" */");
    }
}

fn render(v: &Json, out: &mut String, depth: usize) {
    if depth > 128 {
        out.push_str("...");
        return;
    }
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => quote(s, out),
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(x, out, depth + 1);
            }
            out.push(']');
        }
        Json::Object(m) => {
            let tag = if m.len() == 1 { m.iter().next() } else { None };
            match tag {
                Some((t, Json::String(s))) if t == "@int" || t == "@long" => out.push_str(s),
                Some((t, Json::String(s))) if t == "@double" => out.push_str(match s.as_str() {
                    "Infinity" => "Math.Infinity",
                    "-Infinity" => "-Math.Infinity",
                    "NaN" => "Math.NaN",
                    s => s,
                }),
                Some((t, Json::String(s))) if t == "@time" => {
                    out.push_str("Time(");
                    quote(s, out);
                    out.push(')');
                }
                Some((t, Json::String(s))) if t == "@date" => {
                    out.push_str("Date(");
                    quote(s, out);
                    out.push(')');
                }
                Some((t, Json::String(s))) if t == "@bytes" => {
                    out.push_str("Bytes(");
                    quote(s, out);
                    out.push(')');
                }
                Some((t, Json::String(s))) if t == "@mod" => out.push_str(s),
                Some((t, Json::Object(inner))) if t == "@ref" => reference(inner, out),
                Some((t, Json::Object(inner))) if t == "@doc" => {
                    ordered(inner, &["id", "name", "coll", "ts", "ttl"], out, depth)
                }
                Some((t, Json::Object(inner))) if t == "@object" => fields(inner, out, depth),
                Some((t, Json::Object(page))) if t == "@set" => {
                    ordered(page, &["data", "after"], out, depth)
                }
                Some((t, Json::String(c))) if t == "@set" => {
                    out.push_str("Set.paginate(");
                    quote(c, out);
                    out.push(')');
                }
                _ => fields(m, out, depth),
            }
        }
    }
}
