//! `MemHost`: an in-memory [`Host`] for tests (feature `testing`). Collections with indexes and
//! unique constraints, documents, credentials with plain-text password comparison, tokens and
//! keys with secrets, roles with predicates, admin vs key vs token callers, and one
//! transaction per query (rolled back on error).
//!
//! It is not secure and not fast: no hashing, guessable secrets, linear scans. The real host
//! is the auth engine over the store. The `Host` methods are in `host_impl`.

mod host_impl;

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use serde_json::Value as Json;
use sesame_model::Timestamp;

use crate::error::{ConstraintFailure, QueryError};
use crate::host::Caller;
use crate::materialize::Format;
use crate::value::{equal, DocRef, Object, Value};
use crate::Options;

pub(super) type R<T> = Result<T, QueryError>;

/// Names that user collections may not take.
pub(super) const RESERVED_NAMES: &[&str] = crate::RESERVED_COLLECTION_NAMES;
pub(super) const BUILTIN_ROLES: &[&str] = &["admin", "server", "server-readonly", "client"];

#[derive(Debug, Clone)]
pub(super) struct Index {
    pub(super) terms: Vec<Vec<String>>,
    pub(super) values: Vec<(Vec<String>, bool)>,
}

#[derive(Debug, Clone)]
pub(super) struct Coll {
    pub(super) def: Object,
    pub(super) ts: Timestamp,
    pub(super) indexes: IndexMap<String, Index>,
    pub(super) unique: Vec<Vec<Vec<String>>>,
}

#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub(super) fields: Object,
    pub(super) ts: Timestamp,
    pub(super) ttl: Option<Timestamp>,
}

/// The database state (cloned for each query's rollback point).
#[derive(Debug, Clone, Default)]
pub struct Db {
    pub(super) next_id: i64,
    pub(super) colls: IndexMap<String, Coll>,
    pub(super) roles: IndexMap<String, (Object, Timestamp)>,
    pub(super) docs: BTreeMap<(String, i64), Stored>,
    pub(super) passwords: HashMap<i64, String>,
    pub(super) secrets: HashMap<String, (String, i64)>,
}

/// The in-memory host.
#[derive(Debug)]
pub struct MemHost {
    pub db: Db,
    pub now: Timestamp,
    pub(super) caller: Caller,
    pub(super) schema: Vec<String>,
    pub(super) in_predicate: u32,
    /// Limits applied to each query.
    pub limits: crate::Limits,
}

impl Default for MemHost {
    fn default() -> Self {
        MemHost::new()
    }
}

pub(super) fn path_of(field: &str) -> Vec<String> {
    field.trim_start_matches('.').split('.').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

pub(super) fn get_path(o: &Object, path: &[String]) -> Value {
    let mut cur = Value::object(o.clone());
    for p in path {
        cur = match &cur {
            Value::Object(m) => m.get(p).cloned().unwrap_or(Value::NULL),
            _ => Value::NULL,
        };
    }
    cur
}

pub(super) fn cf(msg: &str, field: &str, what: impl Into<String>) -> QueryError {
    QueryError::constraint(msg, vec![ConstraintFailure::field(field, what)])
}

pub(super) use crate::field_names as fields_of;

impl MemHost {
    /// An empty database at 2023-07-26T04:35:40Z, with an admin caller.
    pub fn new() -> MemHost {
        MemHost {
            db: Db { next_id: 371_000_000_000_000_000, ..Db::default() },
            now: Timestamp::from_micros(1_690_346_140_000_000).expect("a constant in range"),
            caller: Caller::Admin,
            schema: Vec::new(),
            in_predicate: 0,
            limits: crate::Limits::default(),
        }
    }

    /// Authenticates a secret (`None` = admin). `None` means 401.
    pub fn authenticate(&self, secret: Option<&str>) -> Option<Caller> {
        let Some(s) = secret else { return Some(Caller::Admin) };
        let (kind, id) = self.db.secrets.get(s)?;
        let doc = self.db.docs.get(&(kind.clone(), *id))?;
        if doc.ttl.is_some_and(|t| t <= self.now) {
            return None;
        }
        match kind.as_str() {
            "Token" => match doc.fields.get("document") {
                Some(Value::Doc(identity))
                    if self
                        .db
                        .docs
                        .contains_key(&(identity.coll.to_string(), identity.id_num()?)) =>
                {
                    Some(Caller::Token { token: *id, identity: identity.clone() })
                }
                _ => None,
            },
            _ => match doc.fields.get("role") {
                Some(Value::Str(r)) => Some(Caller::Key { role: r.to_string() }),
                _ => None,
            },
        }
    }

    /// Runs one query body as `secret` (`None` = admin) in one transaction; returns the HTTP
    /// status and body. An unknown secret gives 401 `unauthorized`.
    pub fn query_body(&mut self, secret: Option<&str>, body: &Json, format: Format) -> (u16, Json) {
        self.now = self.now.plus_micros(1_000);
        let Some(caller) = self.authenticate(secret) else {
            return (
                401,
                serde_json::json!({"error": {"code": "unauthorized", "message": "Access token required"}}),
            );
        };
        self.caller = caller;
        self.schema = self.db.colls.keys().cloned().collect();
        let saved = self.db.clone();
        let opts = Options { format, limits: self.limits.clone() };
        let r = crate::run(self, body, &opts);
        if !r.ok {
            self.db = saved;
        }
        (r.status, r.body)
    }

    /// Runs query text (see [`MemHost::query_body`]).
    pub fn query(&mut self, secret: Option<&str>, fql: &str, format: Format) -> (u16, Json) {
        self.query_body(secret, &serde_json::json!({ "query": fql }), format)
    }

    pub(super) fn fresh_id(&mut self) -> i64 {
        self.db.next_id += 1;
        self.db.next_id
    }

    pub(super) fn predicate(&mut self, src: &str, args: Vec<Value>) -> bool {
        self.in_predicate += 1;
        let r = crate::eval_predicate(self, src, args).unwrap_or(false);
        self.in_predicate -= 1;
        r
    }

    pub(super) fn role_allows(
        &mut self,
        role: &str,
        action: &str,
        coll: &str,
        args: &[Value],
    ) -> bool {
        let Some((def, _)) = self.db.roles.get(role).cloned() else { return false };
        let privs: Vec<Value> = match def.get("privileges") {
            Some(Value::Array(a)) => a.to_vec(),
            Some(o @ Value::Object(_)) => vec![o.clone()],
            _ => Vec::new(),
        };
        for p in privs {
            let Value::Object(p) = &p else { continue };
            if !matches!(p.get("resource"), Some(Value::Str(r)) if &**r == coll) {
                continue;
            }
            let Some(Value::Object(actions)) = p.get("actions") else { continue };
            match actions.get(action) {
                Some(Value::Bool(true)) => return true,
                Some(Value::Str(src)) if args.is_empty() => {
                    let _ = src;
                    return true;
                }
                Some(Value::Str(src)) if self.predicate(&src.clone(), args.to_vec()) => {
                    return true
                }
                _ => {}
            }
        }
        false
    }

    pub(super) fn token_roles(&mut self, identity: &DocRef) -> Vec<String> {
        let roles: Vec<(String, Object)> =
            self.db.roles.iter().map(|(k, (d, _))| (k.clone(), d.clone())).collect();
        let mut out = Vec::new();
        for (name, def) in roles {
            let ms: Vec<Value> = match def.get("membership") {
                Some(Value::Array(a)) => a.to_vec(),
                Some(o @ Value::Object(_)) => vec![o.clone()],
                _ => Vec::new(),
            };
            for m in ms {
                let Value::Object(m) = &m else { continue };
                if !matches!(m.get("resource"), Some(Value::Str(r)) if **r == *identity.coll) {
                    continue;
                }
                let ok = match m.get("predicate") {
                    Some(Value::Str(src)) => {
                        self.predicate(&src.clone(), vec![Value::Doc(identity.clone())])
                    }
                    _ => true,
                };
                if ok {
                    out.push(name.clone());
                    break;
                }
            }
        }
        out
    }

    /// Whether the caller may do `action` on `coll` (with the documents a predicate receives).
    pub(super) fn allowed(&mut self, action: &str, coll: &str, args: &[Value]) -> bool {
        if self.in_predicate > 0 {
            return true;
        }
        match self.caller.clone() {
            Caller::Admin => true,
            Caller::Key { role } => match role.as_str() {
                "admin" | "server" => true,
                "server-readonly" => action == "read",
                "client" => false,
                r => self.role_allows(r, action, coll, args),
            },
            Caller::Token { identity, .. } | Caller::Identity { identity } => {
                if let Some(Value::Doc(d)) = args.first() {
                    let owner = d
                        .id_num()
                        .and_then(|id| self.db.docs.get(&(d.coll.to_string(), id)))
                        .and_then(|s| match s.fields.get("document") {
                            Some(Value::Doc(o)) => Some(o.same(&identity)),
                            _ => None,
                        });
                    if owner == Some(true)
                        && ((coll == "Credential" && action == "read")
                            || (coll == "Token" && (action == "read" || action == "delete")))
                    {
                        return true;
                    }
                }
                for r in self.token_roles(&identity) {
                    if self.role_allows(&r, action, coll, args) {
                        return true;
                    }
                }
                false
            }
        }
    }

    pub(super) fn is_admin(&self) -> bool {
        matches!(&self.caller, Caller::Admin)
            || matches!(&self.caller, Caller::Key { role } if role == "admin")
    }

    pub(super) fn check_unique(&self, coll: &str, id: i64, fields: &Object) -> R<()> {
        let Some(c) = self.db.colls.get(coll) else { return Ok(()) };
        for u in &c.unique {
            let mine: Vec<Value> = u.iter().map(|p| get_path(fields, p)).collect();
            if mine.iter().all(Value::is_null) {
                continue;
            }
            for ((dc, did), d) in &self.db.docs {
                if dc == coll && *did != id {
                    let theirs: Vec<Value> = u.iter().map(|p| get_path(&d.fields, p)).collect();
                    if mine.iter().zip(theirs.iter()).all(|(a, b)| equal(a, b)) {
                        let label = u.iter().map(|p| p.join(".")).collect::<Vec<_>>().join(",");
                        return Err(cf(
                            "Failed unique constraint.",
                            &label,
                            "Failed unique constraint",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn insert(&mut self, coll: &str, id: i64, mut fields: Object) -> R<DocRef> {
        let ttl = match fields.shift_remove("ttl") {
            Some(Value::Time(t)) => Some(t),
            _ => None,
        };
        self.check_unique(coll, id, &fields)?;
        self.db.docs.insert((coll.to_owned(), id), Stored { fields, ts: self.now, ttl });
        Ok(DocRef::id(coll, id))
    }

    pub(super) fn new_secret(&mut self, kind: &str, id: i64) -> String {
        let s = format!("fn{}{id}x{}", &kind[..1], self.now.as_micros());
        self.db.secrets.insert(s.clone(), (kind.to_owned(), id));
        s
    }
}
