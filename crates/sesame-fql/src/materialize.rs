//! Materialisation and wire encoding (spec §4.2): walks a result, reads every document in it
//! with the caller's rights, writes documents in full (`@doc`) but documents inside their
//! fields as references (`@ref`), NullDocs as `@ref` with `exists:false` and a cause (simple:
//! `null`), sets as their first page (`@set`), and every other value in the simple or tagged
//! format.
//!
//! This module does not decide permissions (the host's reads do) or build the HTTP response.

use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

use crate::error::Result;
use crate::eval::Interp;
use crate::host::DocRead;
use crate::value::{java_double, DocKey, DocRef, Func, Missing, Object, Overlay, Value};

/// The two `X-Format` encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Simple,
    Tagged,
}

/// Sets nested deeper than this are written as a bare cursor.
const MAX_SET_DEPTH: usize = 10;
/// Deepest value nesting written.
const MAX_DEPTH: usize = 128;

fn module(name: &str, f: Format) -> Json {
    match f {
        Format::Simple => Json::from(name),
        Format::Tagged => json!({ "@mod": name }),
    }
}

fn wrap_object(m: Map<String, Json>, f: Format) -> Json {
    if f == Format::Tagged && m.keys().any(|k| k.starts_with('@')) {
        json!({ "@object": m })
    } else {
        Json::Object(m)
    }
}

fn key_fields(d: &DocRef, m: &mut Map<String, Json>, f: Format) {
    match &d.key {
        DocKey::Id(i) => m.insert("id".into(), Json::from(i.to_string())),
        DocKey::Name(n) => m.insert("name".into(), Json::from(n.to_string())),
    };
    m.insert("coll".into(), module(&d.coll, f));
}

/// A reference (documents inside documents): `@ref {id, coll}` / `{id, coll}`.
pub fn encode_ref(d: &DocRef, f: Format) -> Json {
    let mut m = Map::new();
    key_fields(d, &mut m, f);
    match f {
        Format::Simple => Json::Object(m),
        Format::Tagged => json!({ "@ref": m }),
    }
}

/// A NullDoc: tagged `@ref` with `exists:false` and a cause; simple `null`.
pub fn encode_null_doc(d: &DocRef, why: Missing, f: Format) -> Json {
    match f {
        Format::Simple => Json::Null,
        Format::Tagged => {
            let mut m = Map::new();
            key_fields(d, &mut m, f);
            m.insert("exists".into(), Json::Bool(false));
            m.insert("cause".into(), Json::from(why.cause()));
            json!({ "@ref": m })
        }
    }
}

fn time(t: sesame_model::Timestamp, f: Format) -> Json {
    match f {
        Format::Simple => Json::from(t.to_rfc3339()),
        Format::Tagged => json!({ "@time": t.to_rfc3339() }),
    }
}

/// Encodes a value without reading anything: documents become references, sets `[set]`.
/// This is also the storage encoding (tagged) a host may use for document fields.
pub fn encode_plain(v: &Value, f: Format) -> Json {
    encode_plain_at(v, f, 0)
}

fn encode_plain_at(v: &Value, f: Format, depth: usize) -> Json {
    if depth > MAX_DEPTH {
        return Json::Null;
    }
    let tagged = f == Format::Tagged;
    match v {
        Value::Null(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) if tagged => json!({ "@int": i.to_string() }),
        Value::Int(i) => Json::from(*i),
        Value::Long(i) if tagged => json!({ "@long": i.to_string() }),
        Value::Long(i) => Json::from(*i),
        Value::Double(d) if tagged => json!({ "@double": java_double(*d) }),
        Value::Double(d) => serde_json::Number::from_f64(*d)
            .map_or_else(|| Json::from(java_double(*d)), Json::Number),
        Value::Str(s) => Json::from(&**s),
        Value::Id(i) => Json::from(i.to_string()),
        Value::Time(t) => time(*t, f),
        Value::Date(d) if tagged => json!({ "@date": &**d }),
        Value::Date(d) => Json::from(&**d),
        Value::Bytes(b) => {
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            if tagged {
                json!({ "@bytes": s })
            } else {
                Json::from(s)
            }
        }
        Value::Array(a) => {
            Json::Array(a.iter().map(|x| encode_plain_at(x, f, depth + 1)).collect())
        }
        Value::Object(o) => wrap_object(
            o.iter().map(|(k, x)| (k.clone(), encode_plain_at(x, f, depth + 1))).collect(),
            f,
        ),
        Value::Doc(d) => encode_ref(d, f),
        Value::Set(_) => Json::from("[set]"),
        Value::Module(m) => module(m, f),
        Value::Func(func) => Json::from(match &**func {
            Func::Lambda { .. } => "[function <lambda>]".to_owned(),
            Func::Method { name, .. } => format!("[function {name}()]"),
            Func::Global(name) => format!("[function {name}()]"),
        }),
    }
}

impl Interp<'_> {
    /// Materialises a query result (or an `abort` value) in the given format.
    pub fn materialize(&mut self, v: &Value, f: Format) -> Result<Json> {
        self.mat(v, f, 0, 0)
    }

    fn mat(&mut self, v: &Value, f: Format, depth: usize, sets: usize) -> Result<Json> {
        self.tick(1)?;
        if depth > MAX_DEPTH {
            return Err(crate::error::QueryError::new(
                crate::error::Code::ValueTooLarge,
                format!("Value too large: nesting exceeds {MAX_DEPTH} levels."),
            ));
        }
        Ok(match v {
            Value::Doc(d) => self.full_doc(d, f)?,
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for x in a.iter() {
                    out.push(self.mat(x, f, depth + 1, sets)?);
                }
                Json::Array(out)
            }
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, x) in o.iter() {
                    m.insert(k.clone(), self.mat(x, f, depth + 1, sets)?);
                }
                wrap_object(m, f)
            }
            Value::Set(s) => {
                let (items, after) = self.set_paginate(s, 0, s.page_size)?;
                if sets >= MAX_SET_DEPTH {
                    let (_, after) = (items, after);
                    return Ok(json!({ "@set": after.unwrap_or_default() }));
                }
                let mut data = Vec::with_capacity(items.len());
                for x in &items {
                    data.push(self.mat(x, f, depth + 1, sets + 1)?);
                }
                let mut m = Map::new();
                m.insert("data".into(), Json::Array(data));
                if let Some(a) = after {
                    m.insert("after".into(), Json::from(a));
                }
                match f {
                    Format::Simple => Json::Object(m),
                    Format::Tagged => json!({ "@set": m }),
                }
            }
            other => encode_plain(other, f),
        })
    }

    fn full_doc(&mut self, d: &DocRef, f: Format) -> Result<Json> {
        let live = match self.read(d)? {
            DocRead::Live(l) if !d.is_deleted_marker() => l,
            DocRead::Denied => return Ok(encode_null_doc(d, Missing::Denied, f)),
            DocRead::Deleted | DocRead::Live(_) => {
                return Ok(encode_null_doc(d, Missing::Deleted, f))
            }
            DocRead::NotFound => {
                let why = if d.is_deleted_marker() { Missing::Deleted } else { Missing::NotFound };
                return Ok(encode_null_doc(d, why, f));
            }
        };
        let mut m = Map::new();
        match &d.key {
            DocKey::Id(i) => {
                m.insert("id".into(), Json::from(i.to_string()));
            }
            DocKey::Name(n) => {
                m.insert("name".into(), Json::from(n.to_string()));
            }
        }
        m.insert("coll".into(), module(&d.coll, f));
        m.insert("ts".into(), time(live.ts, f));
        if let Some(t) = live.ttl {
            m.insert("ttl".into(), time(t, f));
        }
        let fields: &Object = &live.fields;
        for (k, x) in fields {
            if k == "name" && matches!(d.key, DocKey::Name(_)) {
                continue;
            }
            m.insert(k.clone(), encode_plain(x, f));
        }
        if let Some(Overlay::Extra(o)) = d.overlay.as_deref() {
            for (k, x) in o {
                m.insert(k.clone(), encode_plain(x, f));
            }
        }
        Ok(match f {
            Format::Simple => Json::Object(m),
            Format::Tagged => json!({ "@doc": m }),
        })
    }
}
