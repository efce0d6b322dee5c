//! REST request decoding: bodies, path and query-string parameters, into domain types.
//!
//! Request bodies are parsed strictly: duplicate keys anywhere, unknown fields, wrong types and
//! nesting deeper than serde_json's limit are `invalid_request`, naming the field. Responses
//! are `rest/repr.rs`; rules on the values (bounds, defaults) are the engine's.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use sesame_model::{CollectionName, Data, DocId, DocRef, Fields, Password, Timestamp, Ttl};

use crate::error::ApiError;

// ----- strict JSON ----------------------------------------------------------------------------

/// A JSON value whose objects had no duplicate keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(Strict(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if m.insert(k.clone(), v).is_some() {
                let k: String = k.chars().take(64).collect();
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{}`",
                    k.escape_debug()
                )));
            }
        }
        Ok(Value::Object(m))
    }
}

/// Parses a body as strict JSON (empty body = error).
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::InvalidRequest("No request body provided.".into()));
    }
    serde_json::from_slice::<Strict>(body)
        .map(|s| s.0)
        .map_err(|e| ApiError::InvalidRequest(format!("Invalid request body: {e}")))
}

/// Parses a body into a typed request (unknown fields rejected by the type).
pub fn parse<T: de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let v = parse_json(body)?;
    serde_json::from_value(v)
        .map_err(|e| ApiError::InvalidRequest(format!("Invalid request body: {e}")))
}

// ----- request types --------------------------------------------------------------------------

/// `{"coll": "Customer", "id": "123"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocRefIn {
    coll: String,
    id: String,
}

impl DocRefIn {
    /// Checks it.
    pub fn parse(self) -> Result<DocRef, ApiError> {
        Ok(DocRef::new(self.coll.parse()?, self.id.parse()?))
    }
}

/// A ttl: an RFC 3339 time, or a number of seconds from now (the engine bounds it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TtlIn {
    /// An absolute time.
    At(String),
    /// Seconds from now.
    In(i64),
}

/// Decodes an optional ttl (the time's syntax only; its bounds are the engine's).
pub fn ttl(t: Option<TtlIn>) -> Result<Option<Ttl>, ApiError> {
    Ok(match t {
        None => None,
        Some(TtlIn::At(s)) => Some(Ttl::At(Timestamp::parse_rfc3339(&s)?)),
        Some(TtlIn::In(secs)) => Some(Ttl::In(secs)),
    })
}

/// Checks optional `data`.
pub fn data(v: Option<Value>) -> Result<Option<Data>, ApiError> {
    Ok(v.filter(|v| !v.is_null()).map(Data::parse_value).transpose()?)
}

/// `POST /collections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// The name.
    pub name: String,
}

/// `POST /credentials`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// The identity document.
    pub document: DocRefIn,
    /// Its password (optional: without one the credential cannot log in).
    pub password: Option<String>,
    /// Metadata.
    pub data: Option<Value>,
}

/// `PATCH /credentials/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The new password.
    pub password: String,
    /// Whether to revoke the identity's other tokens (default: yes).
    pub revoke_tokens: Option<bool>,
}

/// `POST /credentials/{id}/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The password.
    pub password: String,
    /// When the token expires.
    pub ttl: Option<TtlIn>,
}

/// `POST /credentials/{id}/verify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The password.
    pub password: String,
}

/// `POST /login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginByMatch {
    /// The identity collection.
    pub collection: String,
    /// Fields that identify exactly one document.
    #[serde(rename = "match")]
    pub matching: Value,
    /// The password.
    pub password: String,
    /// When the token expires.
    pub ttl: Option<TtlIn>,
}

/// `POST /tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The identity document.
    pub document: DocRefIn,
    /// When the token expires.
    pub ttl: Option<TtlIn>,
    /// Metadata.
    pub data: Option<Value>,
}

/// `POST /keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// `admin`, `server`, `server-readonly`, `client` or a user-defined role's name.
    pub role: String,
    /// When the key expires.
    pub ttl: Option<TtlIn>,
    /// Metadata.
    pub data: Option<Value>,
}

/// A body that must be one JSON object (a role's definition or patch).
pub fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match parse::<Value>(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::InvalidRequest("the body must be a JSON object".into())),
    }
}

/// Wraps a password string.
pub fn password(s: String) -> Password {
    Password::new(s)
}

/// A document body: a JSON object of user fields.
pub fn fields(v: Value) -> Result<Fields, ApiError> {
    match v {
        Value::Object(_) => Ok(Fields::parse_value(v)?),
        _ => Err(ApiError::InvalidRequest("the body must be a JSON object of fields".into())),
    }
}

// ----- query strings --------------------------------------------------------------------------

/// Pagination and filters from a query string.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// `size`.
    pub size: Option<usize>,
    /// `after`.
    pub after: Option<String>,
    /// Everything else (and `match`): equality filters.
    pub filter: Map<String, Value>,
}

/// Parses `?size=&after=&match=<json>&field=value…`. Filter values from plain parameters are
/// strings; `match` takes a JSON object for other types. `allow_filter` false rejects them.
pub fn list_query(q: Option<&str>, allow_filter: bool) -> Result<ListQuery, ApiError> {
    let mut out = ListQuery::default();
    let Some(q) = q else { return Ok(out) };
    let bad = |m: String| ApiError::InvalidRequest(m);
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        let dup = |k: &str| bad(format!("query parameter `{}` is repeated", k.escape_debug()));
        match k.as_ref() {
            "size" => {
                if out.size.is_some() {
                    return Err(dup("size"));
                }
                out.size =
                    Some(v.parse().map_err(|_| bad("`size` must be a positive integer".into()))?);
            }
            "after" => {
                if out.after.is_some() {
                    return Err(dup("after"));
                }
                out.after = Some(v.into_owned());
            }
            "match" if allow_filter => {
                let Value::Object(m) = parse_json(v.as_bytes())? else {
                    return Err(bad("`match` must be a JSON object".into()));
                };
                for (k, v) in m {
                    if out.filter.insert(k.clone(), v).is_some() {
                        return Err(dup(&k));
                    }
                }
            }
            _ if allow_filter => {
                if out
                    .filter
                    .insert(k.clone().into_owned(), Value::String(v.into_owned()))
                    .is_some()
                {
                    return Err(dup(&k));
                }
            }
            _ => {
                let k: String = k.chars().take(64).collect();
                return Err(bad(format!("unknown query parameter `{}`", k.escape_debug())));
            }
        }
    }
    Ok(out)
}

/// Parses an `after` cursor that is a document id.
pub fn after_id(after: Option<String>) -> Result<Option<DocId>, ApiError> {
    after
        .map(|a| {
            a.parse().map_err(|_| ApiError::InvalidRequest("`after` is not a valid cursor".into()))
        })
        .transpose()
}

/// Parses an `after` cursor that is a collection name.
pub fn after_name(after: Option<String>) -> Result<Option<CollectionName>, ApiError> {
    after
        .map(|a| {
            a.parse().map_err(|_| ApiError::InvalidRequest("`after` is not a valid cursor".into()))
        })
        .transpose()
}

/// `GET /audit?identity=<coll>/<id>&type=<kind>&from=<time>&to=<time>&size=&after=`.
pub fn audit_query(
    q: Option<&str>,
) -> Result<(sesame_store::AuditFilter, Option<DocId>, Option<usize>), ApiError> {
    let mut f = sesame_store::AuditFilter::default();
    let (mut after, mut size) = (None, None);
    let bad = |m: &str| ApiError::InvalidRequest(m.to_owned());
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "identity" => {
                let (c, i) =
                    v.split_once('/').ok_or_else(|| bad("`identity` is <collection>/<id>"))?;
                f.identity = Some(DocRef::new(c.parse()?, i.parse()?));
            }
            "type" => f.kind = Some(v.parse()?),
            "from" => f.from = Some(Timestamp::parse_rfc3339(&v)?),
            "to" => f.to = Some(Timestamp::parse_rfc3339(&v)?),
            "size" => size = Some(v.parse().map_err(|_| bad("`size` must be a positive integer"))?),
            "after" => after = after_id(Some(v.into_owned()))?,
            other => {
                let k: String = other.chars().take(64).collect();
                return Err(bad(&format!("unknown query parameter `{}`", k.escape_debug())));
            }
        }
    }
    Ok((f, after, size))
}
