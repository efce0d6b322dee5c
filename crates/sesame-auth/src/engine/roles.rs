//! User-defined roles as engine operations for REST and embedding programs: create, read,
//! list, update/replace (rename included), delete — admin only. Writes run in the transaction
//! host, so validation (`query/roles.rs`) and audit are the ones `/query/1` uses. Not the
//! evaluation of roles (`query/rights.rs`).

use sesame_model::{RoleDef, RoleName};

use super::*;
use crate::engine::query::query_to_auth;

/// A host error for REST: a taken name is a conflict (409, like a taken collection name);
/// other faults keep their paths.
fn role_error(e: sesame_fql::QueryError) -> AuthError {
    match e.constraint_failures.as_slice() {
        [f] if f.message.starts_with("A Role already exists") => {
            AuthError::ConstraintFailure { message: f.message.clone() }
        }
        _ => query_to_auth(e),
    }
}

fn role_not_found(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("Role `{name}` not found.")
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// `patch` merged into `into` the way documents are updated: objects merge key by key, `null`
/// removes, anything else replaces.
fn merge_json(into: &mut JsonMap, patch: &JsonMap) {
    for (k, v) in patch {
        match (into.get_mut(k), v) {
            (_, serde_json::Value::Null) => {
                into.remove(k);
            }
            (Some(serde_json::Value::Object(a)), serde_json::Value::Object(b)) => merge_json(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

impl Engine {
    /// Creates a role from its body `{name, membership?, privileges?, data?}` (admin).
    /// Invalid shapes and predicates are `constraint_failure` with one entry per fault; a
    /// taken name is `constraint_failure` on `name`; collections it names must exist.
    pub async fn create_role(
        &self,
        c: &Caller,
        body: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RoleDef, AuthError> {
        self.check(&c.principal, Access::WriteRoles)?;
        self.in_host(c, true, move |h| {
            let r = h.role_insert(&body).map_err(role_error)?;
            let name: RoleName = r.key_str().parse()?;
            h.get_role_def(&name)
        })
        .await
    }

    /// A role by name (admin).
    pub async fn get_role(&self, c: &Caller, name: &str) -> Result<RoleDef, AuthError> {
        self.check(&c.principal, Access::ReadRoles)?;
        let n: RoleName = name.parse().map_err(|_| AuthError::not_found(role_not_found(name)()))?;
        self.store.get_role(&n).await.map_err(|e| AuthError::from_store(e, role_not_found(name)))
    }

    /// Roles by name (admin).
    pub async fn list_roles(
        &self,
        c: &Caller,
        after: Option<&RoleName>,
        size: Option<usize>,
    ) -> Result<Page<RoleDef, RoleName>, AuthError> {
        self.check(&c.principal, Access::ReadRoles)?;
        let size = self.page_size(size)?;
        Ok(self.store.list_roles(after, size).await?)
    }

    /// Merges `patch` into a role (`replace`: replaces its body; a missing `name` keeps the
    /// name). A new `name` renames it (admin).
    pub async fn update_role(
        &self,
        c: &Caller,
        name: &str,
        patch: serde_json::Map<String, serde_json::Value>,
        replace: bool,
    ) -> Result<RoleDef, AuthError> {
        self.check(&c.principal, Access::WriteRoles)?;
        let name = name.to_owned();
        self.in_host(c, true, move |h| {
            let d = sesame_fql::DocRef::named("Role", &name);
            let change = |old: &JsonMap| {
                let mut body = if replace { JsonMap::new() } else { old.clone() };
                merge_json(&mut body, &patch);
                Ok(body)
            };
            let new = h.role_change(&d, &change).map_err(|e| match e.code {
                sesame_fql::Code::DocumentNotFound => AuthError::not_found(role_not_found(&name)()),
                _ => role_error(e),
            })?;
            h.get_role_def(&new)
        })
        .await
    }

    /// Deletes a role (admin). Keys naming it stay and grant nothing.
    pub async fn delete_role(&self, c: &Caller, name: &str) -> Result<(), AuthError> {
        self.check(&c.principal, Access::WriteRoles)?;
        let name = name.to_owned();
        self.in_host(c, true, move |h| {
            h.role_delete(&name).map_err(|e| match e.code {
                sesame_fql::Code::DocumentNotFound => AuthError::not_found(role_not_found(&name)()),
                _ => query_to_auth(e),
            })
        })
        .await
    }
}
