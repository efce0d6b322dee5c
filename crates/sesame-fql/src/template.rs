//! Request decoding (spec §10.4): the `query` (a string, or a template of `fql`/`value`/
//! `array`/`object` parts) and `arguments`. Values become holes bound by index; they are never
//! spliced into source text (only a NUL-prefixed marker `\0N>` is, which client text cannot
//! contain). Object keys of `{"object":…}` templates are written as escaped string literals.
//!
//! This module does not parse FQL; it produces the text and the hole values.

use serde_json::Value as Json;

use crate::ast::{quote, Span};
use crate::error::{Diagnostic, QueryError, Result};
use crate::value::{Object, Value};

/// Most template parts and holes per request.
pub const MAX_PARTS: usize = 10_000;
/// Longest query text, in bytes.
pub const MAX_QUERY_TEXT: usize = 256 * 1024;
/// Deepest template nesting.
pub const MAX_TEMPLATE_DEPTH: usize = 128;

/// A decoded request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Query text with hole markers.
    pub text: String,
    /// Hole values by index.
    pub holes: Vec<Value>,
    /// Top-level `arguments`, bound as variables before the body.
    pub arguments: Object,
}

/// Decodes a `POST /query/1` body (already parsed JSON).
pub fn decode_request(body: &Json) -> Result<Request> {
    let Json::Object(o) = body else { return Err(QueryError::request("expected a JSON object")) };
    for k in o.keys() {
        if !matches!(k.as_str(), "query" | "arguments") {
            return Err(QueryError::request(format!("Unknown field `{k}`")));
        }
    }
    let Some(q) = o.get("query") else { return Err(QueryError::request("Missing field `query`")) };
    let mut req = Request::default();
    let mut b = Builder { req: &mut req, parts: 0 };
    match q {
        Json::String(s) => b.text(s)?,
        t => b.template(t, 0, false)?,
    }
    if req.text.len() > MAX_QUERY_TEXT {
        return Err(QueryError::parse(
            format!("Query text exceeds {MAX_QUERY_TEXT} bytes"),
            Span::new(0, 0),
        ));
    }
    match o.get("arguments") {
        None | Some(Json::Null) => {}
        Some(Json::Object(args)) => {
            for (k, v) in args {
                let v = crate::tagged::decode(v, true)
                    .map_err(|m| QueryError::request(format!("argument `{k}`: {m}")))?;
                req.arguments.insert(k.clone(), v);
            }
        }
        Some(_) => return Err(QueryError::request("`arguments` must be an object")),
    }
    Ok(req)
}

struct Builder<'r> {
    req: &'r mut Request,
    parts: usize,
}

impl Builder<'_> {
    fn count(&mut self) -> Result<()> {
        self.parts += 1;
        if self.parts > MAX_PARTS {
            return Err(QueryError::request("too many template parts"));
        }
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<()> {
        self.count()?;
        if s.contains('\0') {
            return Err(QueryError::request("FQL strings cannot contain NUL characters"));
        }
        self.req.text.push_str(s);
        if self.req.text.len() > MAX_QUERY_TEXT {
            return Err(QueryError::parse(
                format!("Query text exceeds {MAX_QUERY_TEXT} bytes"),
                Span::new(0, 0),
            ));
        }
        Ok(())
    }

    fn hole(&mut self, v: &Json) -> Result<()> {
        self.count()?;
        let start = self.req.text.len();
        let n = self.req.holes.len();
        let marker = format!("\0{n}>");
        let span = Span::new(start, start + marker.len());
        let value = crate::tagged::decode(v, false).map_err(|m| {
            QueryError::invalid_query(vec![Diagnostic { message: m, span, annotation: None }])
        })?;
        self.req.text.push_str(&marker);
        self.req.holes.push(value);
        Ok(())
    }

    fn only_values(t: &Json) -> bool {
        match t {
            Json::Object(o) if o.len() == 1 => match o.iter().next() {
                Some((k, _)) if k == "value" => true,
                Some((k, Json::Array(items))) if k == "array" => {
                    items.iter().all(Self::only_values)
                }
                Some((k, Json::Object(fields))) if k == "object" => {
                    fields.values().all(Self::only_values)
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Builds the tagged JSON of an all-values container, to decode as one hole.
    fn values_json(t: &Json) -> Json {
        match t {
            Json::Object(o) => match o.iter().next() {
                Some((k, v)) if k == "value" => v.clone(),
                Some((k, Json::Array(items))) if k == "array" => {
                    Json::Array(items.iter().map(Self::values_json).collect())
                }
                Some((k, Json::Object(fields))) if k == "object" => {
                    let inner: serde_json::Map<String, Json> =
                        fields.iter().map(|(k, v)| (k.clone(), Self::values_json(v))).collect();
                    serde_json::json!({ "@object": inner })
                }
                _ => Json::Null,
            },
            _ => Json::Null,
        }
    }

    fn template(&mut self, t: &Json, depth: usize, in_container: bool) -> Result<()> {
        if depth > MAX_TEMPLATE_DEPTH {
            return Err(QueryError::request("JSON exceeds nesting limit"));
        }
        let Json::Object(o) = t else { return Err(QueryError::request("invalid query template")) };
        if o.len() != 1 {
            return Err(QueryError::request("a template part must have exactly one key"));
        }
        let Some((k, v)) = o.iter().next() else {
            return Err(QueryError::request("empty template part"));
        };
        if Self::only_values(t) && k != "value" {
            return self.hole(&Self::values_json(t));
        }
        match (k.as_str(), v) {
            ("value", v) => self.hole(v),
            ("fql", Json::Array(parts)) => {
                if in_container {
                    self.req.text.push('(');
                }
                for p in parts {
                    match p {
                        Json::String(s) => self.text(s)?,
                        other => self.template(other, depth + 1, false)?,
                    }
                }
                if in_container {
                    self.req.text.push(')');
                }
                Ok(())
            }
            ("array", Json::Array(items)) => {
                self.req.text.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        self.req.text.push_str(", ");
                    }
                    self.template(x, depth + 1, true)?;
                }
                self.req.text.push(']');
                Ok(())
            }
            ("object", Json::Object(fields)) => {
                self.req.text.push('{');
                let mut seen = std::collections::HashSet::new();
                for (i, (fk, x)) in fields.iter().enumerate() {
                    if !seen.insert(fk) {
                        return Err(QueryError::request(format!("Duplicate object field `{fk}`")));
                    }
                    self.req.text.push_str(if i > 0 { ", " } else { " " });
                    let mut q = String::new();
                    quote(fk, &mut q);
                    self.req.text.push_str(&q);
                    self.req.text.push_str(": ");
                    self.template(x, depth + 1, true)?;
                }
                self.req.text.push_str(if fields.is_empty() { "}" } else { " }" });
                Ok(())
            }
            _ => Err(QueryError::request("invalid query template")),
        }
    }
}
