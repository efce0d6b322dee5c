//! Row mapping: the column lists, and every conversion from a Postgres row to a model value.
//!
//! Every read goes through [`get`] (`Row::try_get`): a missing column or a type mismatch is a
//! `StoreError::Other` naming the column, never a panic. No SQL is executed here.

use std::fmt;

use sesame_model::{
    AuditEvent, ClientInfo, Collection, CollectionName, Credential, Data, DocId, DocRef, Document,
    FieldPath, Fields, IndexDef, IndexValue, Json, Key, PasswordHash, Role, RoleDef, Timestamp,
    Token, UniqueConstraint,
};
use sesame_store::{LoginFailures, StoreError, StoredCredential};
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

// Column lists as macros, so every statement is a `&'static str` built at compile time.
macro_rules! token_cols {
    () => {
        "id, document_coll, document_id, ts, ttl, origin, data, client_addr, user_agent, last_used"
    };
}
macro_rules! key_cols {
    () => {
        "id, role, ts, ttl, data"
    };
}
macro_rules! cred_cols {
    () => {
        "id, document_coll, document_id, ts, password_hash, data"
    };
}
macro_rules! audit_cols {
    () => {
        "id, ts, kind, reason, actor, identity_coll, identity_id, credential_id, token_id, key_id, \
         client_addr, count"
    };
}
macro_rules! role_cols {
    () => {
        "name, ts, membership, privileges, data"
    };
}
pub(crate) use {audit_cols, cred_cols, key_cols, role_cols, token_cols};

pub(crate) fn corrupt(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Other(format!("unreadable {what} row: {e}").into())
}

/// One column of a row, or an error naming it.
pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, col: &str) -> Result<T, StoreError> {
    r.try_get(col).map_err(|e| corrupt(col, e))
}

pub(crate) fn ts(v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_micros(v).map_err(|e| corrupt("time", e))
}

fn opt_ts(v: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    v.map(ts).transpose()
}

pub(crate) fn id(v: i64) -> Result<DocId, StoreError> {
    DocId::from_i64(v).map_err(|e| corrupt("id", e))
}

pub(crate) fn coll_name(v: &str) -> Result<CollectionName, StoreError> {
    v.parse().map_err(|e| corrupt("collection", e))
}

fn data(v: Option<Json>) -> Result<Option<Data>, StoreError> {
    v.map(|j| Data::parse_value(j).map_err(|e| corrupt("data", e))).transpose()
}

pub(crate) fn data_json(d: &Option<Data>) -> Option<Json> {
    d.as_ref().map(Data::to_json)
}

pub(crate) fn fields_json(f: &Fields) -> Json {
    Json::Object(f.as_map().clone())
}

pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n.saturating_add(1)).unwrap_or(i64::MAX)
}

pub(crate) fn row_doc(coll: &CollectionName, r: &Row) -> Result<Document, StoreError> {
    Ok(Document {
        id: id(get(r, "id")?)?,
        coll: coll.clone(),
        ts: ts(get(r, "ts")?)?,
        fields: Fields::parse_value(get(r, "fields")?).map_err(|e| corrupt("document", e))?,
    })
}

pub(crate) fn row_token(r: &Row) -> Result<Token, StoreError> {
    Ok(Token {
        id: id(get(r, "id")?)?,
        document: DocRef::new(coll_name(get(r, "document_coll")?)?, id(get(r, "document_id")?)?),
        ts: ts(get(r, "ts")?)?,
        ttl: opt_ts(get(r, "ttl")?)?,
        data: data(get(r, "data")?)?,
        origin: get::<&str>(r, "origin")?.parse().map_err(|e| corrupt("token", e))?,
        client: ClientInfo {
            addr: get::<Option<&str>>(r, "client_addr")?
                .map(|a| a.parse().map_err(|e| corrupt("token", e)))
                .transpose()?,
            user_agent: get(r, "user_agent")?,
        },
        last_used: opt_ts(get(r, "last_used")?)?,
    })
}

pub(crate) fn row_key(r: &Row) -> Result<Key, StoreError> {
    Ok(Key {
        id: id(get(r, "id")?)?,
        role: get::<&str>(r, "role")?.parse::<Role>().map_err(|e| corrupt("key", e))?,
        ts: ts(get(r, "ts")?)?,
        ttl: opt_ts(get(r, "ttl")?)?,
        data: data(get(r, "data")?)?,
    })
}

/// A role's `membership`, `privileges` and `data` columns, as written (`None`: absent).
pub(crate) fn role_json(r: &RoleDef) -> [Option<Json>; 3] {
    let mut body = r.body_json();
    ["membership", "privileges", "data"].map(|k| body.remove(k))
}

/// Rebuilds a role from its row through [`RoleDef::parse`], the same checks a new role passes:
/// a row that fails them is corrupt.
pub(crate) fn row_role(r: &Row) -> Result<RoleDef, StoreError> {
    let mut body = serde_json::Map::new();
    body.insert("name".into(), Json::String(get(r, "name")?));
    for col in ["membership", "privileges", "data"] {
        if let Some(v) = get::<Option<Json>>(r, col)? {
            body.insert(col.into(), v);
        }
    }
    RoleDef::parse(&body, ts(get(r, "ts")?)?).map_err(|faults| {
        let shown: Vec<String> = faults
            .iter()
            .map(|f| format!("{}: {}", Json::Array(f.path.clone()), f.message))
            .collect();
        corrupt("role", shown.join("; "))
    })
}

pub(crate) fn row_cred(r: &Row) -> Result<StoredCredential, StoreError> {
    Ok(StoredCredential {
        credential: Credential {
            id: id(get(r, "id")?)?,
            document: DocRef::new(
                coll_name(get(r, "document_coll")?)?,
                id(get(r, "document_id")?)?,
            ),
            ts: ts(get(r, "ts")?)?,
            data: data(get(r, "data")?)?,
        },
        hash: get::<Option<String>>(r, "password_hash")?.map(PasswordHash::new),
    })
}

pub(crate) fn row_audit(r: &Row) -> Result<AuditEvent, StoreError> {
    let opt_id = |c: &str| get::<Option<i64>>(r, c)?.map(id).transpose();
    let identity = match (get::<Option<&str>>(r, "identity_coll")?, opt_id("identity_id")?) {
        (Some(c), Some(i)) => Some(DocRef::new(coll_name(c)?, i)),
        _ => None,
    };
    Ok(AuditEvent {
        id: id(get(r, "id")?)?,
        ts: ts(get(r, "ts")?)?,
        kind: get::<&str>(r, "kind")?.parse().map_err(|e| corrupt("audit", e))?,
        reason: get(r, "reason")?,
        actor: get(r, "actor")?,
        identity,
        credential: opt_id("credential_id")?,
        token: opt_id("token_id")?,
        key: opt_id("key_id")?,
        client_addr: get::<Option<&str>>(r, "client_addr")?
            .map(|a| a.parse().map_err(|e| corrupt("audit", e)))
            .transpose()?,
        count: get::<Option<i64>>(r, "count")?.map(|c| c.max(0) as u64),
    })
}

pub(crate) fn row_failures(r: &Row) -> Result<LoginFailures, StoreError> {
    let count = |v: i32| u32::try_from(v).map_err(|e| corrupt("login_failures", e));
    Ok(LoginFailures {
        consecutive: count(get(r, "consecutive")?)?,
        last_failure: ts(get(r, "last_failure")?)?,
        window_start: ts(get(r, "window_start")?)?,
        in_window: count(get(r, "in_window")?)?,
    })
}

// ----- collection definitions (the `definition` jsonb column) ---------------------------------

fn path_json(p: &FieldPath) -> Json {
    Json::from(p.segments().to_vec())
}

/// A collection's indexes and constraints as stored:
/// `{"indexes": [{"name", "terms": [[seg…]…], "values": [{"path": [seg…], "desc"}…]}…],
///   "constraints": [{"name", "fields": [[seg…]…]}…]}`.
pub(crate) fn definition_json(c: &Collection) -> Json {
    let indexes: Vec<Json> = c
        .indexes
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": i.name.as_str(),
                "terms": i.terms.iter().map(path_json).collect::<Vec<_>>(),
                "values": i.values.iter()
                    .map(|v| serde_json::json!({"path": path_json(&v.path), "desc": v.desc}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let constraints: Vec<Json> = c
        .constraints
        .iter()
        .map(|u| {
            serde_json::json!({
                "name": u.name.as_str(),
                "fields": u.fields.iter().map(path_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({"indexes": indexes, "constraints": constraints})
}

fn bad_def(e: impl fmt::Display) -> StoreError {
    corrupt("collection definition", e)
}

fn parse_path(v: &Json) -> Result<FieldPath, StoreError> {
    let segs: Vec<&str> = v
        .as_array()
        .ok_or_else(|| bad_def("a path is not an array"))?
        .iter()
        .map(|s| s.as_str().ok_or_else(|| bad_def("a path segment is not a string")))
        .collect::<Result<_, _>>()?;
    FieldPath::from_segments(&segs).map_err(bad_def)
}

fn list<'a>(v: &'a Json, key: &str) -> &'a [Json] {
    v.get(key).and_then(Json::as_array).map_or(&[], Vec::as_slice)
}

fn name_of(v: &Json) -> Result<sesame_model::IndexName, StoreError> {
    v.get("name").and_then(Json::as_str).ok_or_else(|| bad_def("no name"))?.parse().map_err(bad_def)
}

/// Rebuilds a collection from its row (`name`, `ts`, `definition`).
pub(crate) fn row_collection(r: &Row) -> Result<Collection, StoreError> {
    let mut c = Collection::new(coll_name(get(r, "name")?)?, ts(get(r, "ts")?)?);
    let def: Json = get(r, "definition")?;
    for i in list(&def, "indexes") {
        let terms = list(i, "terms").iter().map(parse_path).collect::<Result<_, _>>()?;
        let values = list(i, "values")
            .iter()
            .map(|v| {
                Ok(IndexValue {
                    path: parse_path(v.get("path").unwrap_or(&Json::Null))?,
                    desc: v.get("desc").and_then(Json::as_bool).unwrap_or(false),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        c.indexes.push(IndexDef::new(name_of(i)?, terms, values).map_err(bad_def)?);
    }
    for u in list(&def, "constraints") {
        let fields = list(u, "fields").iter().map(parse_path).collect::<Result<_, _>>()?;
        c.constraints.push(UniqueConstraint::named(name_of(u)?, fields).map_err(bad_def)?);
    }
    Ok(c)
}
