//! Reading values: document reads (counted), field access, indexing, `!`, and the `?.` test.
//!
//! Errors follow spec §5.4, §5.7, §5.8, §5.13. Permissions come from the host's `DocRead`.

use super::{bad_arg, Interp};
use crate::ast::Span;
use crate::error::{Code, QueryError, Result};
use crate::host::{DocRead, LiveDoc};
use crate::value::{DocKey, DocRef, Missing, NullCause, Overlay, Value};

/// `document_not_found` for a missing or deleted document.
pub(crate) fn doc_missing_error(d: &DocRef) -> QueryError {
    match &d.key {
        DocKey::Id(id) => QueryError::new(
            Code::DocumentNotFound,
            format!("Collection `{}` does not contain document with id {id}.", d.coll),
        ),
        DocKey::Name(n) => {
            QueryError::new(Code::DocumentNotFound, format!("{} `{n}` not found.", d.coll))
        }
    }
}

fn missing_of(r: &DocRead) -> Option<Missing> {
    match r {
        DocRead::Live(_) => None,
        DocRead::NotFound => Some(Missing::NotFound),
        DocRead::Deleted => Some(Missing::Deleted),
        DocRead::Denied => Some(Missing::Denied),
    }
}

impl Interp<'_> {
    /// Reads a document through the host, counting a read op.
    pub(crate) fn read(&mut self, d: &DocRef) -> Result<DocRead> {
        self.tick(1)?;
        self.stats.read_ops += 1;
        match d.overlay.as_deref() {
            Some(Overlay::Deleted) => return Ok(DocRead::Deleted),
            Some(Overlay::Version(v)) => return Ok(DocRead::Live(v.clone())),
            _ => {}
        }
        self.host.read_doc(d)
    }

    /// Reads a document that must be live: `document_not_found` or `permission_denied`.
    pub(crate) fn read_live(&mut self, d: &DocRef) -> Result<LiveDoc> {
        match self.read(d)? {
            DocRead::Live(l) => Ok(l),
            DocRead::Denied => Err(QueryError::permission_denied()),
            DocRead::NotFound | DocRead::Deleted => Err(doc_missing_error(d)),
        }
    }

    /// For `?.`: `Some(null)` when the receiver is null or a document that can't be read.
    pub(crate) fn optional_null(&mut self, v: &Value, is_exists: bool) -> Result<Option<Value>> {
        match v {
            Value::Null(_) => Ok(Some(v.clone())),
            Value::Doc(d) if !is_exists => {
                let r = self.read(d)?;
                Ok(missing_of(&r).map(|m| Value::Null(NullCause::Doc(d.clone(), m))))
            }
            _ => Ok(None),
        }
    }

    /// A field of a live document value (metadata, overlay, then user fields).
    pub(crate) fn doc_field(&mut self, d: &DocRef, name: &str) -> Result<Value> {
        match name {
            "id" => {
                if let DocKey::Id(i) = d.key {
                    return Ok(Value::Id(i));
                }
            }
            "coll" => return Ok(Value::Module(d.coll.clone())),
            _ => {}
        }
        let live = self.read_live(d)?;
        if let Some(Overlay::Extra(o)) = d.overlay.as_deref() {
            if let Some(v) = o.get(name) {
                return Ok(v.clone());
            }
        }
        Ok(match name {
            "ts" => Value::Time(live.ts),
            "ttl" => live.ttl.map_or(Value::NULL, Value::Time),
            "data" if !live.fields.contains_key("data") => {
                let mut o = live.fields.clone();
                o.shift_remove("name");
                Value::object(o)
            }
            _ => live
                .fields
                .get(name)
                .cloned()
                .unwrap_or_else(|| Value::Null(NullCause::MissingField(name.into()))),
        })
    }

    /// `v.name`.
    pub(crate) fn get_field(&mut self, v: Value, name: &str, span: Span) -> Result<Value> {
        let r = match &v {
            Value::Null(_) => Err(QueryError::new(
                Code::InvalidNullAccess,
                format!("Cannot access `{name}` on null."),
            )),
            Value::Object(o) => Ok(o
                .get(name)
                .cloned()
                .unwrap_or_else(|| Value::Null(NullCause::MissingField(name.into())))),
            Value::Doc(d) => self.doc_field(d, name),
            Value::Str(s) if name == "length" => Ok(Value::int(s.chars().count() as i64)),
            Value::Array(a) if name == "length" => Ok(Value::int(a.len() as i64)),
            Value::Time(t) => Ok(crate::stdlib::time_field(*t, name)
                .unwrap_or_else(|| Value::Null(NullCause::MissingField(name.into())))),
            _ => {
                if crate::stdlib::has_method(&v, name) {
                    Ok(Value::Func(std::rc::Rc::new(crate::value::Func::Method {
                        recv: v.clone(),
                        name: name.into(),
                    })))
                } else {
                    Ok(Value::Null(NullCause::MissingField(name.into())))
                }
            }
        };
        r.map_err(|e| e.at(span))
    }

    /// `v[i]`.
    pub(crate) fn index(&mut self, v: Value, idx: Value, span: Span) -> Result<Value> {
        let oob = |i: i64, n: usize| {
            QueryError::new(
                Code::IndexOutOfBounds,
                format!("index {i} out of bounds for length {n}"),
            )
            .at(span)
        };
        match (&v, &idx) {
            (Value::Array(a), _) => {
                let Some(i) = idx.as_i64() else {
                    return Err(bad_arg("index", "Int", &idx).at(span));
                };
                usize::try_from(i)
                    .ok()
                    .and_then(|u| a.get(u))
                    .cloned()
                    .ok_or_else(|| oob(i, a.len()))
            }
            (Value::Str(s), _) => {
                let Some(i) = idx.as_i64() else {
                    return Err(bad_arg("index", "Int", &idx).at(span));
                };
                let n = s.chars().count();
                usize::try_from(i)
                    .ok()
                    .and_then(|u| s.chars().nth(u))
                    .map(|c| Value::str(c.to_string()))
                    .ok_or_else(|| oob(i, n))
            }
            (Value::Object(_) | Value::Doc(_) | Value::Null(_), Value::Str(k)) => {
                let k = k.clone();
                self.get_field(v, &k, span)
            }
            (Value::Object(_) | Value::Doc(_), _) => Err(bad_arg("key", "String", &idx).at(span)),
            _ => Err(super::no_method("[]", &v).at(span)),
        }
    }

    /// Postfix `!`.
    pub(crate) fn bang(&mut self, v: Value, span: Span) -> Result<Value> {
        let null_value = |m: String| QueryError::new(Code::NullValue, m).at(span);
        match &v {
            Value::Null(c) => Err(match c {
                NullCause::Lit => null_value("Null literal value".into()),
                NullCause::MissingField(f) => {
                    null_value(format!("Null value, due to missing field `{f}`"))
                }
                NullCause::NoSuch(r) => null_value(format!("Null value, due to {r}")),
                NullCause::Doc(_, Missing::Denied) => {
                    null_value("Null value, due to permission denied".into())
                }
                NullCause::Doc(d, _) => doc_missing_error(d).at(span),
            }),
            Value::Doc(d) => match self.read(d)? {
                DocRead::Live(_) => Ok(v),
                DocRead::Denied => Err(null_value("Null value, due to permission denied".into())),
                _ => Err(doc_missing_error(d).at(span)),
            },
            _ => Ok(v),
        }
    }
}
