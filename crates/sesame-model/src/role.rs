//! User-defined roles as stored and echoed: [`RoleName`], [`RoleDef`] (membership and
//! privileges, one object or an array, kept in the shape they were given), [`Action`] and
//! [`ActionRule`]. Shape checks only: whether a predicate parses as a lambda of the right arity is
//! the engine's business (it needs the query language), and so is evaluating roles.

use std::fmt;
use std::str::FromStr;

use crate::{Data, Json, ModelError, Timestamp};

/// The built-in roles' names, which user-defined roles may not take (compared
/// case-insensitively).
pub const BUILTIN_ROLE_NAMES: &[&str] = &["admin", "server", "server-readonly", "client"];

/// How many membership entries, and how many privilege entries, one role may hold.
pub const MAX_ROLE_ENTRIES: usize = 64;

/// How long a predicate's source may be, in bytes.
pub const MAX_PREDICATE_LEN: usize = 4096;

/// A user-defined role's name: 1 to 64 ASCII letters, digits or `_`, a letter or `_` first; not
/// a built-in role's name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RoleName {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        let shown = || s.chars().take(64).collect::<String>().escape_debug().to_string();
        let first_ok = matches!(s.bytes().next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
        if !first_ok
            || s.len() > 64
            || s == "_"
            || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(ModelError::InvalidRole(format!(
                "`{}`: a role name is 1 to 64 ASCII letters, digits or `_`, not starting with a \
                 digit",
                shown()
            )));
        }
        if BUILTIN_ROLE_NAMES.iter().any(|b| b.eq_ignore_ascii_case(s)) {
            return Err(ModelError::InvalidRole(format!("`{s}` is a built-in role")));
        }
        Ok(RoleName(s.to_owned()))
    }
}

impl TryFrom<&str> for RoleName {
    type Error = ModelError;
    fn try_from(s: &str) -> Result<Self, ModelError> {
        s.parse()
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleName({})", self.0)
    }
}

/// An action a privilege grants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    /// Read a document (predicate: `doc => …`).
    Read,
    /// Update or replace a document (predicate: `(old, new) => …`).
    Write,
    /// Create a document (predicate: `doc => …`, the new document).
    Create,
    /// Create a document with a chosen id (predicate: `doc => …` or `(doc, id) => …`).
    CreateWithId,
    /// Delete a document (predicate: `doc => …`).
    Delete,
    /// Call a function. Sesame has no user-defined functions: accepted for Fauna roles, grants
    /// nothing.
    Call,
    /// Fauna's history reads: accepted, grants nothing (Sesame keeps no history).
    HistoryRead,
    /// Fauna's history writes: accepted, grants nothing.
    HistoryWrite,
    /// Fauna's unrestricted reads: accepted, grants nothing.
    UnrestrictedRead,
}

impl Action {
    /// Every action, in the order they are documented.
    pub const ALL: &'static [Action] = &[
        Action::Read,
        Action::Write,
        Action::Create,
        Action::CreateWithId,
        Action::Delete,
        Action::Call,
        Action::HistoryRead,
        Action::HistoryWrite,
        Action::UnrestrictedRead,
    ];

    /// The action's name in a role document.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Create => "create",
            Action::CreateWithId => "create_with_id",
            Action::Delete => "delete",
            Action::Call => "call",
            Action::HistoryRead => "history_read",
            Action::HistoryWrite => "history_write",
            Action::UnrestrictedRead => "unrestricted_read",
        }
    }

    /// How many arguments a predicate for this action takes (smallest, largest).
    pub fn arity(self) -> (usize, usize) {
        match self {
            Action::Write => (2, 2),
            Action::CreateWithId => (1, 2),
            Action::HistoryWrite => (4, 4),
            _ => (1, 1),
        }
    }
}

impl FromStr for Action {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Action::ALL.iter().copied().find(|a| a.as_str() == s).ok_or(())
    }
}

/// What a privilege says of one action: allowed, denied, or decided by a predicate.
#[derive(Clone, PartialEq, Debug)]
pub enum ActionRule {
    /// `true` or `false`.
    Allow(bool),
    /// The source of an FQL lambda; `true` from it allows, anything else denies.
    Predicate(String),
}

impl ActionRule {
    fn to_json(&self) -> Json {
        match self {
            ActionRule::Allow(b) => Json::Bool(*b),
            ActionRule::Predicate(s) => Json::String(s.clone()),
        }
    }
}

/// One membership entry: identities of `resource` (a collection) are members, if `predicate`
/// (given the identity document) returns `true`, or always when there is none.
#[derive(Clone, PartialEq, Debug)]
pub struct Membership {
    /// The identities' collection.
    pub resource: String,
    /// A one-argument lambda's source.
    pub predicate: Option<String>,
}

/// One privilege entry: the actions granted on `resource` (a user collection, `Credential` or
/// `Token`), in the order given.
#[derive(Clone, PartialEq, Debug)]
pub struct Privilege {
    /// The collection the actions apply to.
    pub resource: String,
    /// Each action named, with its rule.
    pub actions: Vec<(Action, ActionRule)>,
}

impl Privilege {
    /// The rule for `action`, if the privilege names it.
    pub fn rule(&self, action: Action) -> Option<&ActionRule> {
        self.actions.iter().find(|(a, _)| *a == action).map(|(_, r)| r)
    }
}

/// One object, or an array of them, as the role was written (echoed the same way).
#[derive(Clone, PartialEq, Debug)]
pub enum OneOrMany<T> {
    /// A single object.
    One(T),
    /// An array.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The entries, with their array index (`None` for a single object).
    pub fn indexed(&self) -> Vec<(Option<usize>, &T)> {
        match self {
            OneOrMany::One(t) => vec![(None, t)],
            OneOrMany::Many(v) => v.iter().enumerate().map(|(i, t)| (Some(i), t)).collect(),
        }
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let s: &[T] = match self {
            OneOrMany::One(t) => std::slice::from_ref(t),
            OneOrMany::Many(v) => v,
        };
        s.iter()
    }

    fn to_json(&self, f: impl Fn(&T) -> Json) -> Json {
        match self {
            OneOrMany::One(t) => f(t),
            OneOrMany::Many(v) => Json::Array(v.iter().map(f).collect()),
        }
    }
}

/// A fault in a role's shape: where (a path of field names and array indexes, as in a
/// `constraint_failure`) and what.
#[derive(Clone, PartialEq, Debug)]
pub struct RoleFault {
    /// Field names (strings) and array indexes (numbers).
    pub path: Vec<Json>,
    /// What is wrong.
    pub message: String,
}

impl RoleFault {
    fn new(path: Vec<Json>, message: impl Into<String>) -> Self {
        RoleFault { path, message: message.into() }
    }
}

/// A user-defined role: who is a member and what members may do.
#[derive(Clone, PartialEq, Debug)]
pub struct RoleDef {
    /// Its unique name.
    pub name: RoleName,
    /// Time of its last write.
    pub ts: Timestamp,
    /// Who holds it (tokens of these collections' identities).
    pub membership: Option<OneOrMany<Membership>>,
    /// What it grants.
    pub privileges: Option<OneOrMany<Privilege>>,
    /// User metadata.
    pub data: Option<Data>,
}

fn path(top: &str, i: Option<usize>, rest: &[&str]) -> Vec<Json> {
    let mut p = vec![Json::from(top)];
    if let Some(i) = i {
        p.push(Json::from(i));
    }
    p.extend(rest.iter().map(|s| Json::from(*s)));
    p
}

/// Entry objects with their array index (`None` for a single object).
type Entries<'a> = Vec<(Option<usize>, &'a serde_json::Map<String, Json>)>;

/// Whether `v` was a single object (not an array), and its entry objects.
fn entries<'a>(v: &'a Json, top: &str, faults: &mut Vec<RoleFault>) -> Option<(bool, Entries<'a>)> {
    match v {
        Json::Object(o) => Some((true, vec![(None, o)])),
        Json::Array(a) => {
            if a.len() > MAX_ROLE_ENTRIES {
                faults.push(RoleFault::new(
                    vec![Json::from(top)],
                    format!("At most {MAX_ROLE_ENTRIES} entries are allowed."),
                ));
                return None;
            }
            let mut out = Vec::new();
            for (i, e) in a.iter().enumerate() {
                match e {
                    Json::Object(o) => out.push((Some(i), o)),
                    _ => {
                        faults.push(RoleFault::new(path(top, Some(i), &[]), "Expected an object."))
                    }
                }
            }
            Some((false, out))
        }
        _ => {
            faults.push(RoleFault::new(vec![Json::from(top)], "Expected an object or an array."));
            None
        }
    }
}

/// A resource names a collection: 1 to 64 ASCII letters, digits or `_` (which collection, and
/// whether it exists, is checked by the engine).
fn is_resource_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn predicate_src(v: &Json, p: Vec<Json>, faults: &mut Vec<RoleFault>) -> Option<String> {
    match v {
        Json::String(s) if s.len() > MAX_PREDICATE_LEN => {
            faults.push(RoleFault::new(
                p,
                format!("A predicate may be at most {MAX_PREDICATE_LEN} bytes."),
            ));
            None
        }
        Json::String(s) if s.contains('\0') => {
            faults.push(RoleFault::new(p, "A predicate may not contain NUL characters."));
            None
        }
        Json::String(s) => Some(s.clone()),
        _ => {
            faults.push(RoleFault::new(p, "Expected a predicate (a string holding a lambda)."));
            None
        }
    }
}

impl RoleDef {
    /// Parses a role body `{name, membership?, privileges?, data?}` (the shape `Role.create` and
    /// `POST /roles` take), stamped `ts`. Every fault is reported, each with its path.
    pub fn parse(
        body: &serde_json::Map<String, Json>,
        ts: Timestamp,
    ) -> Result<Self, Vec<RoleFault>> {
        let mut faults = Vec::new();
        for k in body.keys() {
            if !matches!(k.as_str(), "name" | "membership" | "privileges" | "data") {
                faults.push(RoleFault::new(
                    vec![Json::from(k.as_str())],
                    "Unexpected field provided.",
                ));
            }
        }
        let name = match body.get("name") {
            Some(Json::String(s)) => match s.parse::<RoleName>() {
                Ok(n) => Some(n),
                Err(e) => {
                    let msg = match e {
                        ModelError::InvalidRole(m) => m,
                        e => e.to_string(),
                    };
                    faults.push(RoleFault::new(
                        vec![Json::from("name")],
                        format!("Invalid name {msg}."),
                    ));
                    None
                }
            },
            Some(_) => {
                faults.push(RoleFault::new(vec![Json::from("name")], "Expected a string."));
                None
            }
            None => {
                faults.push(RoleFault::new(vec![Json::from("name")], "Missing required field."));
                None
            }
        };
        let membership = match body.get("membership") {
            None | Some(Json::Null) => None,
            Some(v) => entries(v, "membership", &mut faults).map(|(one, es)| {
                let mut out = Vec::new();
                for (i, o) in es {
                    for k in o.keys() {
                        if !matches!(k.as_str(), "resource" | "predicate") {
                            faults.push(RoleFault::new(
                                path("membership", i, &[k]),
                                "Unexpected field provided.",
                            ));
                        }
                    }
                    let resource = match o.get("resource") {
                        Some(Json::String(s)) if is_resource_name(s) => s.clone(),
                        _ => {
                            faults.push(RoleFault::new(
                                path("membership", i, &["resource"]),
                                "Expected the name of a collection.",
                            ));
                            String::new()
                        }
                    };
                    let predicate = match o.get("predicate") {
                        None | Some(Json::Null) => None,
                        Some(v) => {
                            predicate_src(v, path("membership", i, &["predicate"]), &mut faults)
                        }
                    };
                    out.push(Membership { resource, predicate });
                }
                match (one, out.len()) {
                    (true, 1) => OneOrMany::One(out.remove(0)),
                    _ => OneOrMany::Many(out),
                }
            }),
        };
        let privileges = match body.get("privileges") {
            None | Some(Json::Null) => None,
            Some(v) => entries(v, "privileges", &mut faults).map(|(one, es)| {
                let mut out = Vec::new();
                for (i, o) in es {
                    for k in o.keys() {
                        if !matches!(k.as_str(), "resource" | "actions") {
                            faults.push(RoleFault::new(
                                path("privileges", i, &[k]),
                                "Unexpected field provided.",
                            ));
                        }
                    }
                    let resource = match o.get("resource") {
                        Some(Json::String(s)) if is_resource_name(s) => s.clone(),
                        _ => {
                            faults.push(RoleFault::new(
                                path("privileges", i, &["resource"]),
                                "Expected the name of a collection.",
                            ));
                            String::new()
                        }
                    };
                    let mut actions = Vec::new();
                    match o.get("actions") {
                        None | Some(Json::Null) => {}
                        Some(Json::Object(a)) => {
                            for (k, v) in a {
                                let p = path("privileges", i, &["actions", k]);
                                let Ok(action) = k.parse::<Action>() else {
                                    faults.push(RoleFault::new(
                                        p,
                                        format!(
                                            "Unknown action `{}`.",
                                            k.chars().take(40).collect::<String>()
                                        ),
                                    ));
                                    continue;
                                };
                                match v {
                                    Json::Bool(b) => actions.push((action, ActionRule::Allow(*b))),
                                    Json::Null => {}
                                    v => {
                                        if let Some(s) = predicate_src(v, p, &mut faults) {
                                            actions.push((action, ActionRule::Predicate(s)));
                                        }
                                    }
                                }
                            }
                        }
                        Some(_) => faults.push(RoleFault::new(
                            path("privileges", i, &["actions"]),
                            "Expected an object.",
                        )),
                    }
                    out.push(Privilege { resource, actions });
                }
                match (one, out.len()) {
                    (true, 1) => OneOrMany::One(out.remove(0)),
                    _ => OneOrMany::Many(out),
                }
            }),
        };
        let data = match body.get("data") {
            None | Some(Json::Null) => None,
            Some(v) => match Data::parse_value(v.clone()) {
                Ok(d) => Some(d),
                Err(e) => {
                    faults.push(RoleFault::new(vec![Json::from("data")], e.to_string()));
                    None
                }
            },
        };
        match name {
            Some(name) if faults.is_empty() => {
                Ok(RoleDef { name, ts, membership, privileges, data })
            }
            _ => Err(faults),
        }
    }

    /// Every predicate with its path and the arity it needs (membership predicates take one
    /// argument, the identity document).
    pub fn predicates(&self) -> Vec<(Vec<Json>, (usize, usize), &str)> {
        let mut out = Vec::new();
        if let Some(m) = &self.membership {
            for (i, m) in m.indexed() {
                if let Some(p) = &m.predicate {
                    out.push((path("membership", i, &["predicate"]), (1, 1), p.as_str()));
                }
            }
        }
        if let Some(ps) = &self.privileges {
            for (i, p) in ps.indexed() {
                for (a, r) in &p.actions {
                    if let ActionRule::Predicate(s) = r {
                        out.push((
                            path("privileges", i, &["actions", a.as_str()]),
                            a.arity(),
                            s.as_str(),
                        ));
                    }
                }
            }
        }
        out
    }

    /// Whether a membership entry names `collection`.
    pub fn names_member(&self, collection: &str) -> bool {
        self.membership.as_ref().is_some_and(|m| m.iter().any(|m| m.resource == collection))
    }

    /// The collections membership entries name, each once.
    pub fn member_collections(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in self.membership.iter().flat_map(|m| m.iter()) {
            if !out.contains(&m.resource) {
                out.push(m.resource.clone());
            }
        }
        out
    }

    /// The role's body as written: `{name, membership?, privileges?, data?}` (no `ts`).
    pub fn body_json(&self) -> serde_json::Map<String, Json> {
        let mut o = serde_json::Map::new();
        o.insert("name".into(), Json::from(self.name.as_str()));
        if let Some(m) = &self.membership {
            o.insert(
                "membership".into(),
                m.to_json(|m| {
                    let mut e = serde_json::Map::new();
                    e.insert("resource".into(), Json::from(m.resource.as_str()));
                    if let Some(p) = &m.predicate {
                        e.insert("predicate".into(), Json::from(p.as_str()));
                    }
                    Json::Object(e)
                }),
            );
        }
        if let Some(p) = &self.privileges {
            o.insert(
                "privileges".into(),
                p.to_json(|p| {
                    let mut e = serde_json::Map::new();
                    e.insert("resource".into(), Json::from(p.resource.as_str()));
                    let actions: serde_json::Map<String, Json> = p
                        .actions
                        .iter()
                        .map(|(a, r)| (a.as_str().to_owned(), r.to_json()))
                        .collect();
                    e.insert("actions".into(), Json::Object(actions));
                    Json::Object(e)
                }),
            );
        }
        if let Some(d) = &self.data {
            o.insert("data".into(), d.to_json());
        }
        o
    }
}
