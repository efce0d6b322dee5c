//! Tagged JSON (fauna-auth-model.md §6.5) to values: the decoder for template values and
//! `arguments`, also usable by a host to load stored fields. The encoder is in `materialize`.
//!
//! Decoding never consults the database: `@mod` names are checked when the query runs.

use std::rc::Rc;

use base64::Engine as _;
use serde_json::Value as Json;

use crate::value::{DocRef, Object, Value};

/// Nesting limit for decoded values.
pub const MAX_JSON_DEPTH: usize = 128;

/// Decodes a tagged value. `plain_numbers` accepts bare JSON numbers (simple-format
/// `arguments`); template values reject them ("numbers must be tagged").
/// Errors are plain messages; callers wrap them in `invalid_query` diagnostics.
pub fn decode(j: &Json, plain_numbers: bool) -> Result<Value, String> {
    decode_at(j, plain_numbers, 0)
}

fn tag_str<'a>(v: &'a Json, tag: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("{tag} value must be a string"))
}

fn decode_at(j: &Json, plain: bool, depth: usize) -> Result<Value, String> {
    if depth > MAX_JSON_DEPTH {
        return Err("value exceeds nesting limit".into());
    }
    Ok(match j {
        Json::Null => Value::NULL,
        Json::Bool(b) => Value::Bool(*b),
        Json::String(s) => Value::str(s),
        Json::Number(n) => {
            if !plain {
                return Err("numbers must be tagged".into());
            }
            match n.as_i64() {
                Some(i) => Value::int(i),
                None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
            }
        }
        Json::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a {
                out.push(decode_at(x, plain, depth + 1)?);
            }
            Value::array(out)
        }
        Json::Object(o) => {
            let tagged = o.keys().next().filter(|k| k.starts_with('@'));
            let Some(tag) = tagged else {
                let mut out = Object::with_capacity(o.len());
                for (k, v) in o {
                    if k.starts_with('@') {
                        return Err(format!("invalid tag '{k}'"));
                    }
                    out.insert(k.clone(), decode_at(v, plain, depth + 1)?);
                }
                return Ok(Value::object(out));
            };
            if o.len() != 1 {
                return Err("too many keys in tagged value".into());
            }
            let v = &o[tag.as_str()];
            match tag.as_str() {
                "@int" => {
                    Value::Int(tag_str(v, tag)?.parse().map_err(|_| "invalid @int".to_owned())?)
                }
                "@long" => {
                    Value::Long(tag_str(v, tag)?.parse().map_err(|_| "invalid @long".to_owned())?)
                }
                "@double" => {
                    let s = tag_str(v, tag)?;
                    Value::Double(match s {
                        "Infinity" => f64::INFINITY,
                        "-Infinity" => f64::NEG_INFINITY,
                        "NaN" => f64::NAN,
                        s => s.parse().map_err(|_| "invalid @double".to_owned())?,
                    })
                }
                "@time" => Value::Time(
                    sesame_model::Timestamp::parse_rfc3339(tag_str(v, tag)?)
                        .map_err(|_| "invalid @time".to_owned())?,
                ),
                "@date" => {
                    let s = tag_str(v, tag)?;
                    let ok = s.len() == 10
                        && s.bytes().enumerate().all(|(i, b)| {
                            if i == 4 || i == 7 {
                                b == b'-'
                            } else {
                                b.is_ascii_digit()
                            }
                        });
                    if !ok {
                        return Err("invalid @date".into());
                    }
                    Value::Date(s.into())
                }
                "@bytes" => Value::Bytes(
                    base64::engine::general_purpose::STANDARD
                        .decode(tag_str(v, tag)?)
                        .map_err(|_| "invalid @bytes".to_owned())?
                        .into(),
                ),
                "@mod" => Value::Module(tag_str(v, tag)?.into()),
                "@ref" | "@doc" => {
                    let Json::Object(r) = v else {
                        return Err(format!("{tag} value must be an object"));
                    };
                    let coll = match r.get("coll") {
                        Some(Json::Object(c)) => c.get("@mod").and_then(Json::as_str),
                        Some(Json::String(s)) => Some(s.as_str()),
                        _ => None,
                    }
                    .ok_or_else(|| format!("{tag} field 'coll' must be a module"))?;
                    match (r.get("id"), r.get("name")) {
                        (Some(id), _) => {
                            let id = id
                                .as_str()
                                .and_then(|s| s.parse::<i64>().ok())
                                .or_else(|| id.as_i64())
                                .filter(|i| *i >= 0)
                                .ok_or_else(|| format!("{tag} field 'id' must be an integer"))?;
                            Value::Doc(DocRef {
                                coll: coll.into(),
                                key: crate::value::DocKey::Id(id),
                                overlay: None,
                            })
                        }
                        (None, Some(Json::String(n))) => Value::Doc(DocRef::named(coll, n)),
                        _ => return Err(format!("{tag} must have an 'id' or a 'name'")),
                    }
                }
                "@object" => {
                    let Json::Object(inner) = v else {
                        return Err("@object value must be an object".into());
                    };
                    let mut out = Object::with_capacity(inner.len());
                    for (k, x) in inner {
                        out.insert(k.clone(), decode_at(x, plain, depth + 1)?);
                    }
                    Value::Object(Rc::new(out))
                }
                other => return Err(format!("invalid tag '{other}'")),
            }
        }
    })
}
