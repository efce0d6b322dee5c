//! REST representations: how a collection, document, credential, token, key, page or audit
//! event looks in JSON (Fauna's shapes: `id` as a string, `coll`, `ts` as RFC 3339).
//!
//! Written with `serde::Serialize` on borrowed views, straight into the response buffer: the
//! authenticated hot path (`GET /tokens/self`) then builds no intermediate JSON tree. Domain
//! types are not `Serialize`; this file is the only place that decides their REST shape.

use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use sesame_auth::{NewKey, NewToken};
use sesame_model::{Collection, Credential, Data, DocId, DocRef, Document, Key, Timestamp, Token};
use sesame_store::Page;

use crate::response::{Out, Repr};

/// Serializes a `Display` value as a JSON string, written straight into the output.
struct Shown<T>(T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// An id as a JSON string, its digits written on the stack (no formatting machinery).
struct IdOut(DocId);

impl Serialize for IdOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut v = self.0.get();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        s.serialize_str(std::str::from_utf8(&buf[i..]).unwrap_or_default())
    }
}

/// A time as an RFC 3339 JSON string, written on the stack.
struct TsOut(Timestamp);

impl Serialize for TsOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.with_rfc3339(|t| s.serialize_str(t))
    }
}

#[derive(Serialize)]
struct RefOut<'a> {
    coll: &'a str,
    id: IdOut,
}

fn ref_out(r: &DocRef) -> RefOut<'_> {
    RefOut { coll: r.coll.as_str(), id: IdOut(r.id) }
}

fn data_out(d: &Option<Data>) -> Option<&Map<String, Value>> {
    d.as_ref().map(Data::as_map)
}

impl Repr for Collection {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("name", self.name.as_str())?;
        m.serialize_entry("coll", "Collection")?;
        m.serialize_entry("ts", &TsOut(self.ts))?;
        m.end()
    }
}

impl Repr for Document {
    /// `{"id","coll","ts", …fields}`.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3 + self.fields.len()))?;
        m.serialize_entry("id", &IdOut(self.id))?;
        m.serialize_entry("coll", self.coll.as_str())?;
        m.serialize_entry("ts", &TsOut(self.ts))?;
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
        m.serialize_entry("id", &IdOut(self.id))?;
        m.serialize_entry("coll", "Credential")?;
        m.serialize_entry("ts", &TsOut(self.ts))?;
        m.serialize_entry("document", &ref_out(&self.document))?;
        if let Some(d) = data_out(&self.data) {
            m.serialize_entry("data", d)?;
        }
        m.end()
    }
}

fn token_entries<M: SerializeMap>(t: &Token, m: &mut M) -> Result<(), M::Error> {
    m.serialize_entry("id", &IdOut(t.id))?;
    m.serialize_entry("coll", "Token")?;
    m.serialize_entry("ts", &TsOut(t.ts))?;
    m.serialize_entry("document", &ref_out(&t.document))?;
    if let Some(ttl) = t.ttl {
        m.serialize_entry("ttl", &TsOut(ttl))?;
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
        m.serialize_entry("last_used", &TsOut(u))?;
    }
    Ok(())
}

/// A JSON string: copied as is when nothing in it needs escaping (the usual case), else
/// through `serde_json`.
fn fast_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

fn fast_id(out: &mut Vec<u8>, id: DocId) {
    out.push(b'"');
    out.extend_from_slice(itoa::Buffer::new().format(id.get()).as_bytes());
    out.push(b'"');
}

fn fast_ts(out: &mut Vec<u8>, t: Timestamp) {
    out.push(b'"');
    t.write_rfc3339(out);
    out.push(b'"');
}

impl Repr for Token {
    /// `{"id","coll":"Token","ts","document","ttl"?,"data"?,"origin"}` — no secret.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        token_entries(self, &mut m)?;
        m.end()
    }

    /// The same bytes as [`Repr::write`], without serde's per-field machinery: the
    /// authenticated hot path (`GET /tokens/self`) answers a token.
    fn write_fast(&self, out: &mut Vec<u8>) -> bool {
        let t = self;
        out.extend_from_slice(b"{\"id\":");
        fast_id(out, t.id);
        out.extend_from_slice(b",\"coll\":\"Token\",\"ts\":");
        fast_ts(out, t.ts);
        out.extend_from_slice(b",\"document\":{\"coll\":");
        fast_str(out, t.document.coll.as_str());
        out.extend_from_slice(b",\"id\":");
        fast_id(out, t.document.id);
        out.push(b'}');
        if let Some(ttl) = t.ttl {
            out.extend_from_slice(b",\"ttl\":");
            fast_ts(out, ttl);
        }
        if let Some(d) = data_out(&t.data) {
            out.extend_from_slice(b",\"data\":");
            if serde_json::to_writer(&mut *out, d).is_err() {
                return false;
            }
        }
        out.extend_from_slice(b",\"origin\":\"");
        out.extend_from_slice(t.origin.as_str().as_bytes());
        out.push(b'"');
        if let Some(a) = t.client.addr {
            out.extend_from_slice(b",\"client_addr\":\"");
            crate::telemetry::push_ip(out, a);
            out.push(b'"');
        }
        if let Some(ua) = &t.client.user_agent {
            out.extend_from_slice(b",\"user_agent\":");
            fast_str(out, ua);
        }
        if let Some(u) = t.last_used {
            out.extend_from_slice(b",\"last_used\":");
            fast_ts(out, u);
        }
        out.push(b'}');
        true
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
    m.serialize_entry("id", &IdOut(k.id))?;
    m.serialize_entry("coll", "Key")?;
    m.serialize_entry("ts", &TsOut(k.ts))?;
    m.serialize_entry("role", k.role.as_str())?;
    if let Some(ttl) = k.ttl {
        m.serialize_entry("ttl", &TsOut(ttl))?;
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

impl Repr for sesame_model::RoleDef {
    /// `{"name","coll":"Role","ts","membership"?,"privileges"?,"data"?}`, membership and
    /// privileges in the shape they were written (predicates as FQL source).
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let body = self.body_json();
        m.serialize_entry("name", self.name.as_str())?;
        m.serialize_entry("coll", "Role")?;
        m.serialize_entry("ts", &TsOut(self.ts))?;
        for k in ["membership", "privileges", "data"] {
            if let Some(v) = body.get(k) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
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

impl Repr for sesame_model::AuditEvent {
    /// `{"id","coll":"Audit","ts","type","reason"?,"actor"?,"identity"?,"credential"?,"token"?,"key"?,"client_addr"?,"count"?}`.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &IdOut(self.id))?;
        m.serialize_entry("coll", "Audit")?;
        m.serialize_entry("ts", &TsOut(self.ts))?;
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
    use sesame_model::{ClientInfo, TokenOrigin};

    use super::*;
    use crate::response::Out;

    /// The hand-written token JSON is byte for byte what serde writes, whatever the token holds.
    #[test]
    fn the_fast_token_json_is_the_serde_json() {
        let mut b = Vec::new();
        for ip in
            ["0.0.0.0", "255.255.255.255", "10.0.12.1", "::1", "2001:db8::1", "::ffff:1.2.3.4"]
        {
            b.clear();
            crate::telemetry::push_ip(&mut b, ip.parse().unwrap());
            assert_eq!(std::str::from_utf8(&b).unwrap(), ip);
        }
        let t0 = Timestamp::parse_rfc3339("2026-11-30T07:52:38.123456Z").unwrap();
        let doc = DocRef::new("Customer".parse().unwrap(), DocId::new(914455579852800001).unwrap());
        let data = |v: Value| Some(Data::parse_value(v).unwrap());
        let cases = [
            (None, None, None, None, TokenOrigin::Login, None),
            (
                Some(Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap()),
                data(
                    serde_json::json!({"a": 1, "b": "q\"uote\\ \u{1} é 🙂", "n": {"x": [1, 2.5, null]}}),
                ),
                Some("198.51.100.4".parse().unwrap()),
                Some("curl/8.4 \"quoted\" \\ \t tab é"),
                TokenOrigin::Create,
                Some(Timestamp::parse_rfc3339("2026-11-30T07:53:00.5Z").unwrap()),
            ),
            (
                None,
                None,
                Some("2001:db8::1".parse().unwrap()),
                Some("plain/1.0"),
                TokenOrigin::Login,
                Some(t0),
            ),
        ];
        for (ttl, data, addr, ua, origin, last_used) in cases {
            let t = Token {
                id: DocId::new(914455579852800003).unwrap(),
                document: doc.clone(),
                ts: t0,
                ttl,
                data,
                origin,
                client: ClientInfo::new(addr, ua),
                last_used,
            };
            let mut fast = Vec::new();
            assert!(t.write_fast(&mut fast));
            let slow = serde_json::to_vec(&Out(&t)).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap());
        }
    }
}
