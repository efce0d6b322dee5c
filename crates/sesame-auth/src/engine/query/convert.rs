//! Conversions between FQL values and what the store keeps: document fields as JSON (numbers
//! plain; times, dates, bytes and document references as one-key tagged objects, so that both
//! surfaces read the same data), collection definitions, callers, and error mapping. No store
//! calls here.

use serde_json::{Map, Value as Json};
use sesame_fql::{Code, ConstraintFailure, DocKey, DocRef as FqlRef, Object, QueryError, Value};
use sesame_model::{
    Collection, CollectionName, DocId, DocRef, FieldPath, IndexDef, IndexValue, Role,
    UniqueConstraint,
};
use sesame_store::StoreError;

use crate::{AuthError, Principal};

pub(super) type R<T> = Result<T, QueryError>;

/// A constraint failure on one field.
pub(super) fn cf(msg: &str, field: &str, what: impl Into<String>) -> QueryError {
    QueryError::constraint(msg, vec![ConstraintFailure::field(field, what)])
}

/// The query-language view of who is calling.
pub(super) fn caller(p: &Principal) -> sesame_fql::Caller {
    match p {
        Principal::Key { key_id: None, role: Role::Admin } => sesame_fql::Caller::Admin,
        Principal::Key { role, .. } => sesame_fql::Caller::Key { role: role.as_str().to_owned() },
        Principal::Token(t) => sesame_fql::Caller::Token {
            token: t.id.as_i64(),
            identity: FqlRef::id(t.document.coll.as_str(), t.document.id.as_i64()),
        },
        Principal::Identity { document, .. } => sesame_fql::Caller::Identity {
            identity: FqlRef::id(document.coll.as_str(), document.id.as_i64()),
        },
    }
}

/// A store reference from a query reference by id (`None` for names, bad ids or names).
pub(super) fn doc_ref(d: &FqlRef) -> Option<DocRef> {
    let DocKey::Id(id) = d.key else { return None };
    Some(DocRef::new(d.coll.parse().ok()?, DocId::from_i64(id).ok()?))
}

/// A query reference from a store reference.
pub(super) fn fql_ref(d: &DocRef) -> FqlRef {
    FqlRef::id(d.coll.as_str(), d.id.as_i64())
}

/// A stored JSON value as an FQL value. Objects in the storage's tagged forms (`@time`,
/// `@date`, `@bytes`, `@ref`, `@object`, … — what [`to_json`] writes, and what REST clients may
/// write) are decoded; anything else, including a malformed tag a REST client stored, is a plain
/// object with its keys as written. Never fails on content: stored data is not the reader's
/// fault.
pub(super) fn from_json(j: &Json) -> R<Value> {
    match sesame_fql::tagged::decode(j, true) {
        Ok(v) => Ok(v),
        Err(_) => Ok(lenient(j)),
    }
}

fn lenient(j: &Json) -> Value {
    match j {
        Json::Array(a) => Value::array(a.iter().map(lenient).collect()),
        Json::Object(o) => match sesame_fql::tagged::decode(j, true) {
            Ok(v) => v,
            Err(_) => {
                let mut out = Object::with_capacity(o.len());
                for (k, v) in o {
                    out.insert(k.clone(), lenient(v));
                }
                Value::object(out)
            }
        },
        other => sesame_fql::tagged::decode(other, true).unwrap_or(Value::NULL),
    }
}

/// Stored fields as an FQL object.
pub(crate) fn object_from_json(m: &Map<String, Json>) -> R<Object> {
    let mut o = Object::new();
    for (k, v) in m {
        o.insert(k.clone(), from_json(v)?);
    }
    Ok(o)
}

/// An FQL value as stored JSON.
pub(super) fn to_json(v: &Value) -> R<Json> {
    Ok(match v {
        Value::Null(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Long(i) | Value::Id(i) => Json::from(*i),
        Value::Double(d) => {
            serde_json::Number::from_f64(*d).map(Json::Number).ok_or_else(|| {
                QueryError::new(Code::InvalidType, "NaN and infinities cannot be stored.")
            })?
        }
        Value::Str(s) => Json::from(&**s),
        Value::Time(t) => serde_json::json!({ "@time": t.to_string() }),
        Value::Date(d) => serde_json::json!({ "@date": &**d }),
        Value::Bytes(b) => {
            use base64::Engine as _;
            serde_json::json!({ "@bytes": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect::<R<_>>()?),
        // An object with a key that looks like a tag is escaped, so it reads back as itself
        // (what a write predicate saw is what is stored).
        Value::Object(o) if o.keys().any(|k| k.starts_with('@')) => {
            serde_json::json!({ "@object": Json::Object(object_to_json(o)?) })
        }
        Value::Object(o) => Json::Object(object_to_json(o)?),
        Value::Doc(d) => match &d.key {
            DocKey::Id(id) => {
                serde_json::json!({ "@ref": { "id": id.to_string(), "coll": { "@mod": &*d.coll } } })
            }
            DocKey::Name(n) => {
                serde_json::json!({ "@ref": { "name": &**n, "coll": { "@mod": &*d.coll } } })
            }
        },
        other => {
            return Err(QueryError::new(
                Code::InvalidType,
                format!("Cannot store a value of type {}.", other.type_name()),
            ))
        }
    })
}

/// An FQL object as stored JSON fields.
pub(super) fn object_to_json(o: &Object) -> R<Map<String, Json>> {
    let mut m = Map::new();
    for (k, v) in o {
        if !v.is_null() {
            m.insert(k.clone(), to_json(v)?);
        }
    }
    Ok(m)
}

/// A store error inside a query.
pub(super) fn store_error(e: StoreError, what: impl FnOnce() -> String) -> QueryError {
    match e {
        StoreError::NotFound => QueryError::new(Code::DocumentNotFound, what()),
        StoreError::Conflict { .. } => {
            cf("Failed unique constraint.", "id", "Failed unique constraint")
        }
        StoreError::InvalidCursor => {
            QueryError::new(Code::InvalidCursor, "The cursor is invalid or expired.")
        }
        StoreError::Contention(_) => {
            QueryError::new(Code::InternalError, "Transaction was aborted due to contention.")
        }
        e => {
            tracing::error!(error = %e, "store error in a query");
            QueryError::new(Code::InternalError, "The store is unavailable; try again later.")
        }
    }
}

/// An engine error inside a query, with the code the drivers expect.
pub(super) fn auth_error(e: AuthError) -> QueryError {
    match e {
        AuthError::PermissionDenied => QueryError::permission_denied(),
        AuthError::InvalidSecret => {
            QueryError::new(Code::InvalidSecret, "Provided secret did not match.")
        }
        // Throttling answers with a 400-class error the drivers do not retry (429 would be
        // `limit_exceeded`, which they retry automatically, hammering the account).
        e @ (AuthError::Throttled { .. } | AuthError::RateLimited { .. }) => {
            QueryError::new(Code::InvalidSecret, e.to_string())
        }
        AuthError::InvalidArgument { message } => QueryError::new(Code::InvalidArgument, message),
        AuthError::DocumentNotFound { message } => QueryError::new(Code::DocumentNotFound, message),
        AuthError::ConstraintFailure { message } => cf(&message, "id", message.clone()),
        AuthError::Unauthorized => QueryError::new(Code::Unauthorized, "Access token required"),
        e => {
            tracing::error!(error = %e, "engine error in a query");
            QueryError::new(Code::InternalError, e.to_string())
        }
    }
}

const CREATE_MSG: &str = "Failed to create Collection.";

fn path(s: &str, what: &str) -> R<FieldPath> {
    s.parse().map_err(|e: sesame_model::ModelError| cf(CREATE_MSG, what, e.to_string()))
}

/// `Collection.create(def)`'s definition as the store's [`Collection`].
pub(super) fn collection_def(def: &Object, now: sesame_model::Timestamp) -> R<Collection> {
    let name = match def.get("name") {
        Some(Value::Str(s)) => s.to_string(),
        _ => return Err(cf(CREATE_MSG, "name", "Missing required field")),
    };
    if sesame_fql::RESERVED_COLLECTION_NAMES.contains(&name.as_str()) {
        return Err(cf(CREATE_MSG, "name", format!("The identifier `{name}` is reserved.")));
    }
    let coll_name: CollectionName = name.parse().map_err(|e: sesame_model::ModelError| {
        let m = e.to_string();
        if m.contains("reserved") {
            cf(CREATE_MSG, "name", format!("The identifier `{name}` is reserved."))
        } else {
            cf(CREATE_MSG, "name", "Invalid identifier.")
        }
    })?;
    for k in ["fields", "computed_fields", "migrations", "wildcard", "check_constraints"] {
        if def.contains_key(k) {
            return Err(cf(CREATE_MSG, k, "Not supported"));
        }
    }
    let mut c = Collection::new(coll_name, now);
    if let Some(ixs) = def.get("indexes") {
        let Value::Object(ixs) = ixs else { return Err(cf(CREATE_MSG, "indexes", "Invalid")) };
        for (iname, ix) in ixs.iter() {
            let Value::Object(ix) = ix else { return Err(cf(CREATE_MSG, "indexes", "Invalid")) };
            let terms = sesame_fql::field_names(ix.get("terms"))
                .iter()
                .map(|f| path(f, "indexes"))
                .collect::<R<_>>()?;
            let mut values = Vec::new();
            if let Some(Value::Array(vs)) = ix.get("values") {
                for v in vs.iter() {
                    let Value::Object(o) = v else { continue };
                    let Some(Value::Str(f)) = o.get("field") else { continue };
                    let desc = matches!(o.get("order"), Some(Value::Str(s)) if &**s == "desc");
                    values.push(IndexValue { path: path(f, "indexes")?, desc });
                }
            }
            let name = iname
                .parse()
                .map_err(|e: sesame_model::ModelError| cf(CREATE_MSG, "indexes", e.to_string()))?;
            let index = IndexDef::new(name, terms, values)
                .map_err(|e| cf(CREATE_MSG, "indexes", e.to_string()))?;
            c = c.with_index(index).map_err(|e| cf(CREATE_MSG, "indexes", e.to_string()))?;
        }
    }
    if let Some(Value::Array(cs)) = def.get("constraints") {
        for x in cs.iter() {
            let Value::Object(x) = x else { return Err(cf(CREATE_MSG, "constraints", "Invalid")) };
            let fields = sesame_fql::field_names(x.get("unique"));
            if fields.is_empty() {
                return Err(cf(CREATE_MSG, "constraints", "Not supported"));
            }
            let paths = fields.iter().map(|f| path(f, "constraints")).collect::<R<Vec<_>>>()?;
            let u = UniqueConstraint::new(paths)
                .map_err(|e| cf(CREATE_MSG, "constraints", e.to_string()))?;
            c = c.with_constraint(u).map_err(|e| cf(CREATE_MSG, "constraints", e.to_string()))?;
        }
    }
    Ok(c)
}

fn field_obj(p: &FieldPath) -> Object {
    let mut s = String::new();
    for seg in p.segments() {
        s.push('.');
        s.push_str(seg);
    }
    let mut o = Object::new();
    o.insert("field".into(), Value::str(s));
    o
}

fn field_json(p: &FieldPath) -> Value {
    Value::object(field_obj(p))
}

/// A collection definition as its `Collection` document's fields.
pub(super) fn collection_fields(c: &Collection) -> Object {
    let mut f = Object::new();
    f.insert("name".into(), Value::str(c.name.as_str()));
    let mut ixs = Object::new();
    for ix in &c.indexes {
        let mut o = Object::new();
        if !ix.terms.is_empty() {
            o.insert("terms".into(), Value::array(ix.terms.iter().map(field_json).collect()));
        }
        if !ix.values.is_empty() {
            let vs = ix
                .values
                .iter()
                .map(|v| {
                    let mut f = field_obj(&v.path);
                    f.insert("order".into(), Value::str(if v.desc { "desc" } else { "asc" }));
                    Value::object(f)
                })
                .collect();
            o.insert("values".into(), Value::array(vs));
        }
        o.insert("queryable".into(), Value::Bool(true));
        o.insert("status".into(), Value::str("complete"));
        ixs.insert(ix.name.as_str().to_owned(), Value::object(o));
    }
    if !ixs.is_empty() {
        f.insert("indexes".into(), Value::object(ixs));
    }
    let cs = c
        .constraints
        .iter()
        .map(|u| {
            let mut o = Object::new();
            o.insert("unique".into(), Value::array(u.fields.iter().map(field_json).collect()));
            o.insert("status".into(), Value::str("active"));
            Value::object(o)
        })
        .collect();
    f.insert("constraints".into(), Value::array(cs));
    f.insert("history_days".into(), Value::Int(0));
    f
}
