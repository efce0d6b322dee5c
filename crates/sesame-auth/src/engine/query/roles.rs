//! `Role` documents in the transaction host: create, read by name, list, update/replace
//! (renames included), delete, all admin-only; and their validation at write time — the shape
//! (`RoleDef::parse`), each predicate parsing as exactly one lambda of its action's arity, and
//! resources that Sesame can enforce. Whether named collections exist is checked when the
//! transaction ends ([`EngineHost::check_written_roles`]), so a role may be created before its
//! collection in one query. Not the evaluation of roles (`rights.rs`).

use sesame_fql::{
    Code, ConstraintFailure, DocRead, DocRef as FqlRef, LiveDoc, Object, Page, QueryError,
};
use sesame_model::{CollectionName, RoleDef, RoleFault, RoleName};
use sesame_store::{constraint, StoreError};

use super::convert::{object_from_json, object_to_json, store_error, R};
use super::host::EngineHost;
use crate::Access;

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// Built-in collections a privilege may name (besides user collections).
const NATIVE_RESOURCES: &[&str] = &["Credential", "Token"];

fn failure(f: RoleFault) -> ConstraintFailure {
    ConstraintFailure { paths: vec![f.path], message: f.message }
}

/// Checks a role body: its shape, its predicates (exactly one lambda each, of the right arity)
/// and its resources' kinds. Every fault is reported; `msg` is the error's message.
pub(crate) fn validate_role(
    body: &serde_json::Map<String, serde_json::Value>,
    ts: sesame_model::Timestamp,
) -> Result<RoleDef, Vec<RoleFault>> {
    let role = RoleDef::parse(body, ts)?;
    let mut faults = Vec::new();
    for (path, (min, max), src) in role.predicates() {
        match sesame_fql::lambda_arity(src) {
            Ok((lo, hi)) if hi >= min && lo <= max => {}
            Ok((n, _)) => faults.push(RoleFault {
                path,
                message: if min == max {
                    format!("Invalid predicate: expected a lambda of {min} argument(s), found {n}.")
                } else {
                    format!(
                        "Invalid predicate: expected a lambda of {min} to {max} arguments, found {n}."
                    )
                },
            }),
            Err(e) => faults.push(RoleFault {
                path,
                message: format!("Invalid predicate: {}", first_line(&e)),
            }),
        }
    }
    if let Some(ms) = &role.membership {
        for (i, m) in ms.indexed() {
            if m.resource.parse::<CollectionName>().is_err() {
                faults.push(RoleFault {
                    path: path("membership", i, "resource"),
                    message: format!(
                        "Membership must name a user collection, not `{}`.",
                        shown(&m.resource)
                    ),
                });
            }
        }
    }
    if let Some(ps) = &role.privileges {
        for (i, p) in ps.indexed() {
            let native = NATIVE_RESOURCES.contains(&p.resource.as_str());
            if !native && p.resource.parse::<CollectionName>().is_err() {
                faults.push(RoleFault {
                    path: path("privileges", i, "resource"),
                    message: format!(
                        "Privileges may name a user collection, `Credential` or `Token`, not `{}`.",
                        shown(&p.resource)
                    ),
                });
            }
        }
    }
    if faults.is_empty() {
        Ok(role)
    } else {
        Err(faults)
    }
}

fn shown(s: &str) -> String {
    s.chars().take(64).collect::<String>().escape_debug().to_string()
}

fn first_line(e: &QueryError) -> String {
    let m = e.diagnostics.first().map_or(e.message.as_str(), |d| d.message.as_str());
    m.lines().next().unwrap_or("").chars().take(200).collect()
}

fn path(top: &str, i: Option<usize>, field: &str) -> Vec<serde_json::Value> {
    let mut p = vec![serde_json::Value::from(top)];
    if let Some(i) = i {
        p.push(serde_json::Value::from(i));
    }
    p.push(serde_json::Value::from(field));
    p
}

impl EngineHost<'_> {
    fn role_def(
        &mut self,
        json: &serde_json::Map<String, serde_json::Value>,
        msg: &str,
    ) -> R<RoleDef> {
        validate_role(json, self.tx.txn_ts())
            .map_err(|f| QueryError::constraint(msg, f.into_iter().map(failure).collect()))
    }

    fn duplicate(msg: &str, name: &RoleName) -> QueryError {
        QueryError::constraint(
            msg,
            vec![ConstraintFailure::field(
                "name",
                format!("A Role already exists with the name `{name}`"),
            )],
        )
    }

    pub(super) fn read_role(&mut self, name: &str) -> R<DocRead> {
        let Ok(n) = name.parse::<RoleName>() else { return Ok(DocRead::NotFound) };
        let tx = self.tx;
        match self.wait(tx.get_role(&n)) {
            Ok(r) => {
                if !self.may(Access::ReadRoles) {
                    return Ok(DocRead::Denied);
                }
                Ok(DocRead::Live(LiveDoc {
                    ts: r.ts,
                    ttl: None,
                    fields: object_from_json(&r.body_json())?,
                }))
            }
            Err(StoreError::NotFound) => Ok(DocRead::NotFound),
            Err(e) => Err(store_error(e, String::new)),
        }
    }

    pub(crate) fn role_create(&mut self, def: Object) -> R<FqlRef> {
        let json = object_to_json(&def)?;
        self.role_insert(&json)
    }

    /// Creates a role from its body as JSON (the form REST receives and the store keeps).
    pub(crate) fn role_insert(
        &mut self,
        json: &serde_json::Map<String, serde_json::Value>,
    ) -> R<FqlRef> {
        const MSG: &str = "Failed to create Role.";
        self.writing()?;
        self.check(Access::WriteRoles)?;
        let role = self.role_def(json, MSG)?;
        let tx = self.tx;
        match self.wait(tx.create_role(&role)) {
            Ok(()) => {}
            Err(StoreError::Conflict { constraint: c }) if c == constraint::ROLE_NAME => {
                return Err(Self::duplicate(MSG, &role.name))
            }
            Err(e) => return Err(store_error(e, String::new)),
        }
        self.roles = None;
        self.roles_written.push(role.name.clone());
        let n = role.name.to_string();
        self.audit(sesame_model::AuditKind::RoleCreated, |e| e.reason = Some(n));
        Ok(FqlRef::named("Role", role.name.as_str()))
    }

    pub(crate) fn role_update(&mut self, d: &FqlRef, patch: Object, replace: bool) -> R<RoleName> {
        self.role_change(d, &|old| {
            let mut body = if replace { Object::new() } else { object_from_json(old)? };
            sesame_fql::deep_merge(&mut body, &patch);
            object_to_json(&body)
        })
    }

    /// Changes the role `d` names to the body `new` computes from its current one (JSON, the
    /// form the store keeps); a body without `name` keeps the name.
    pub(crate) fn role_change(
        &mut self,
        d: &FqlRef,
        new: &dyn Fn(&JsonMap) -> R<JsonMap>,
    ) -> R<RoleName> {
        const MSG: &str = "Failed to update Role.";
        self.writing()?;
        self.check(Access::WriteRoles)?;
        let missing = || sesame_fql::eval::doc_missing(d);
        let name: RoleName = d.key_str().parse().map_err(|_| missing())?;
        let tx = self.tx;
        let old =
            self.wait(tx.get_role(&name)).map_err(|e| store_error(e, || missing().message))?;
        let mut body = new(&old.body_json())?;
        if !body.contains_key("name") {
            body.insert("name".into(), serde_json::Value::from(name.as_str()));
        }
        let role = self.role_def(&body, MSG)?;
        match self.wait(tx.replace_role(&name, &role)) {
            Ok(()) => {}
            Err(StoreError::Conflict { constraint: c }) if c == constraint::ROLE_NAME => {
                return Err(Self::duplicate(MSG, &role.name))
            }
            Err(e) => return Err(store_error(e, || missing().message)),
        }
        self.roles = None;
        self.roles_written.push(role.name.clone());
        let n = role.name.to_string();
        self.audit(sesame_model::AuditKind::RoleUpdated, |e| e.reason = Some(n));
        Ok(role.name)
    }

    pub(crate) fn role_delete(&mut self, name: &str) -> R<()> {
        self.writing()?;
        self.check(Access::WriteRoles)?;
        let missing = || sesame_fql::eval::doc_missing(&FqlRef::named("Role", name));
        let n: RoleName = name.parse().map_err(|_| missing())?;
        let tx = self.tx;
        if !self.wait(tx.delete_role(&n)).map_err(|e| store_error(e, String::new))? {
            return Err(missing());
        }
        self.roles = None;
        self.audit(sesame_model::AuditKind::RoleDeleted, |e| e.reason = Some(n.to_string()));
        Ok(())
    }

    pub(super) fn role_page(&mut self, after: Option<&str>, limit: usize) -> R<Page> {
        self.check(Access::ReadRoles)?;
        let after = after
            .map(|a| {
                a.parse::<RoleName>()
                    .map_err(|_| QueryError::new(Code::InvalidCursor, "The cursor is invalid."))
            })
            .transpose()?;
        let tx = self.tx;
        let p = self
            .wait(tx.list_roles(after.as_ref(), limit))
            .map_err(|e| store_error(e, String::new))?;
        Ok(Page {
            refs: p.data.iter().map(|r| FqlRef::named("Role", r.name.as_str())).collect(),
            after: p.after.map(|a| a.to_string()),
        })
    }

    /// At the end of a transaction that wrote roles: every collection they name exists
    /// (`invalid_schema` otherwise, and nothing is written).
    pub(crate) fn check_written_roles(&mut self) -> R<()> {
        let names = std::mem::take(&mut self.roles_written);
        for name in names {
            let tx = self.tx;
            let role = match self.wait(tx.get_role(&name)) {
                Ok(r) => r,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(store_error(e, String::new)),
            };
            let mut named: Vec<String> = role.member_collections();
            for p in role.privileges.iter().flat_map(|p| p.iter()) {
                if !NATIVE_RESOURCES.contains(&p.resource.as_str()) {
                    named.push(p.resource.clone());
                }
            }
            for coll in named {
                if self.collection(&coll)?.is_none() {
                    return Err(QueryError::new(
                        Code::InvalidSchema,
                        format!(
                            "Invalid database schema update.\n    error: Role `{}` refers to \
                             collection `{}`, which does not exist.",
                            role.name, coll
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A role as stored, for the other surfaces' answers.
    pub(crate) fn get_role_def(&mut self, name: &RoleName) -> Result<RoleDef, crate::AuthError> {
        let tx = self.tx;
        self.wait(tx.get_role(name)).map_err(crate::AuthError::from)
    }
}
