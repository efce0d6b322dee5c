//! The REST wire format: request decoding and response encoding, by hand from domain types.
//!
//! Domain types are not `Serialize`; this module is the only place that decides how a document,
//! credential, token or key looks in JSON (Fauna's shapes: `id` as a string, `coll`, `ts` as
//! RFC 3339). Request bodies are parsed strictly: duplicate keys anywhere, unknown fields, wrong
//! types and nesting deeper than serde_json's limit are `invalid_request`, naming the field.

use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use sesame_auth::{NewKey, NewToken};
use sesame_model::{
    Collection, CollectionName, Credential, Data, DocId, DocRef, Document, Fields, Key, Password,
    Timestamp, Token,
};
use sesame_store::Page;

use crate::error::ApiError;

/// Response body type.
pub type Body = Full<Bytes>;

/// A JSON response from a JSON value.
pub fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    respond(status, v)
}

/// An empty 204 response.
pub fn no_content() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

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

/// A ttl: an RFC 3339 time, or a number of seconds from now (1 second to 100 years).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TtlIn {
    /// An absolute time.
    At(String),
    /// Seconds from now.
    In(i64),
}

impl TtlIn {
    /// Resolves against `now`.
    pub fn resolve(self, now: Timestamp) -> Result<Timestamp, ApiError> {
        match self {
            TtlIn::At(s) => Ok(Timestamp::parse_rfc3339(&s)?),
            TtlIn::In(secs) if (1..=100 * 365 * 86_400).contains(&secs) => {
                Ok(now.plus_seconds(secs))
            }
            TtlIn::In(_) => Err(ApiError::InvalidRequest(
                "`ttl` in seconds must be between 1 and 3153600000".into(),
            )),
        }
    }
}

/// Resolves an optional ttl.
pub fn ttl(t: Option<TtlIn>, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
    t.map(|t| t.resolve(now)).transpose()
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
    /// `admin`, `server` or `server-readonly`.
    pub role: String,
    /// When the key expires.
    pub ttl: Option<TtlIn>,
    /// Metadata.
    pub data: Option<Value>,
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

// ----- representations ------------------------------------------------------------------------
//
// Written with `serde::Serialize` on borrowed views, straight into the response buffer: the
// authenticated hot path (`GET /tokens/self`) then builds no intermediate JSON tree.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// A value that can be written as a response body.
pub trait Repr {
    /// Writes the JSON representation.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
}

/// Adapts a [`Repr`] to `Serialize`.
pub struct Out<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> fmt::Debug for Out<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Out(..)")
    }
}

impl<T: Repr + ?Sized> Serialize for Out<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write(s)
    }
}

/// Serializes a representation into a response.
///
/// A representation that fails to serialize is a bug; it answers 500 `internal` (and is
/// logged), never a success status with a partial or empty body: a new token's secret must
/// not be lost silently.
pub fn respond<T: Repr + ?Sized>(status: StatusCode, v: &T) -> Response<Body> {
    let mut body = Vec::with_capacity(512);
    let status = match serde_json::to_writer(&mut body, &Out(v)) {
        Ok(()) => status,
        Err(e) => {
            tracing::error!(error = %e, "response not serializable");
            body = br#"{"error":{"code":"internal","message":"Internal error."}}"#.to_vec();
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Serializes a `Display` value as a JSON string, written straight into the output.
struct Shown<T>(T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(Serialize)]
struct RefOut<'a> {
    coll: &'a str,
    id: Shown<DocId>,
}

fn ref_out(r: &DocRef) -> RefOut<'_> {
    RefOut { coll: r.coll.as_str(), id: Shown(r.id) }
}

fn data_out(d: &Option<Data>) -> Option<&Map<String, Value>> {
    d.as_ref().map(Data::as_map)
}

impl Repr for Collection {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("name", self.name.as_str())?;
        m.serialize_entry("coll", "Collection")?;
        m.serialize_entry("ts", &Shown(self.ts))?;
        m.end()
    }
}

impl Repr for Document {
    /// `{"id","coll","ts", …fields}`.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3 + self.fields.len()))?;
        m.serialize_entry("id", &Shown(self.id))?;
        m.serialize_entry("coll", self.coll.as_str())?;
        m.serialize_entry("ts", &Shown(self.ts))?;
        for (k, v) in self.fields.as_map() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Repr for Credential {
    /// `{"id","coll":"Credential","ts","document","data"?}` — never a password or hash.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &Shown(self.id))?;
        m.serialize_entry("coll", "Credential")?;
        m.serialize_entry("ts", &Shown(self.ts))?;
        m.serialize_entry("document", &ref_out(&self.document))?;
        if let Some(d) = data_out(&self.data) {
            m.serialize_entry("data", d)?;
        }
        m.end()
    }
}

fn token_entries<M: SerializeMap>(t: &Token, m: &mut M) -> Result<(), M::Error> {
    m.serialize_entry("id", &Shown(t.id))?;
    m.serialize_entry("coll", "Token")?;
    m.serialize_entry("ts", &Shown(t.ts))?;
    m.serialize_entry("document", &ref_out(&t.document))?;
    if let Some(ttl) = t.ttl {
        m.serialize_entry("ttl", &Shown(ttl))?;
    }
    if let Some(d) = data_out(&t.data) {
        m.serialize_entry("data", d)?;
    }
    m.serialize_entry("origin", t.origin.as_str())?;
    if let Some(a) = t.client.addr {
        m.serialize_entry("client_addr", &Shown(a))?;
    }
    if let Some(ua) = &t.client.user_agent {
        m.serialize_entry("user_agent", ua)?;
    }
    if let Some(u) = t.last_used {
        m.serialize_entry("last_used", &Shown(u))?;
    }
    Ok(())
}

impl Repr for Token {
    /// `{"id","coll":"Token","ts","document","ttl"?,"data"?,"origin"}` — no secret.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        token_entries(self, &mut m)?;
        m.end()
    }
}

impl Repr for NewToken {
    /// A token with its secret: only in the response that creates it.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        token_entries(&self.token, &mut m)?;
        m.serialize_entry("secret", self.secret.expose())?;
        m.end()
    }
}

fn key_entries<M: SerializeMap>(k: &Key, m: &mut M) -> Result<(), M::Error> {
    m.serialize_entry("id", &Shown(k.id))?;
    m.serialize_entry("coll", "Key")?;
    m.serialize_entry("ts", &Shown(k.ts))?;
    m.serialize_entry("role", k.role.as_str())?;
    if let Some(ttl) = k.ttl {
        m.serialize_entry("ttl", &Shown(ttl))?;
    }
    if let Some(d) = data_out(&k.data) {
        m.serialize_entry("data", d)?;
    }
    Ok(())
}

impl Repr for Key {
    /// `{"id","coll":"Key","ts","role","ttl"?,"data"?}` — no secret.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        key_entries(self, &mut m)?;
        m.end()
    }
}

impl Repr for NewKey {
    /// A key with its secret: only in the response that creates it.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        key_entries(&self.key, &mut m)?;
        m.serialize_entry("secret", self.secret.expose())?;
        m.end()
    }
}

impl Repr for Value {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}

impl<T: Repr, C: ToString> Repr for Page<T, C> {
    /// `{"data": [...], "after": cursor|null}`.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Out<'_, T>> = self.data.iter().map(Out).collect();
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("data", &items)?;
        m.serialize_entry("after", &self.after.as_ref().map(ToString::to_string))?;
        m.end()
    }
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

impl Repr for sesame_model::AuditEvent {
    /// `{"id","coll":"Audit","ts","type","reason"?,"actor"?,"identity"?,"credential"?,"token"?,"key"?,"client_addr"?,"count"?}`.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &Shown(self.id))?;
        m.serialize_entry("coll", "Audit")?;
        m.serialize_entry("ts", &Shown(self.ts))?;
        m.serialize_entry("type", self.kind.as_str())?;
        if let Some(r) = &self.reason {
            m.serialize_entry("reason", r)?;
        }
        if let Some(a) = &self.actor {
            m.serialize_entry("actor", a)?;
        }
        if let Some(d) = &self.identity {
            m.serialize_entry("identity", &ref_out(d))?;
        }
        for (k, v) in [("credential", self.credential), ("token", self.token), ("key", self.key)] {
            if let Some(id) = v {
                m.serialize_entry(k, &id.to_string())?;
            }
        }
        if let Some(a) = self.client_addr {
            m.serialize_entry("client_addr", &Shown(a))?;
        }
        if let Some(c) = self.count {
            m.serialize_entry("count", &c)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;

    impl Repr for Broken {
        fn write<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("broken"))
        }
    }

    #[test]
    fn a_representation_that_fails_is_a_500_not_an_empty_success() {
        let r = respond(StatusCode::CREATED, &Broken);
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
