//! User-defined roles in the transaction host: which roles the caller holds (membership,
//! resolved once per transaction), whether they grant an action on a resource (by `true` or by a
//! predicate), and filtered scans that read a bounded number of documents per page.
//!
//! This file only ever *adds* rights to the baseline of [`crate::Principal::may`], which every
//! operation asks first. Every failure here denies: a role that cannot be read, a predicate that
//! does not parse, errs, times out, runs out of steps, tries to write, or returns anything but
//! `true`. Predicates run read-only with the `sesame_fql::PREDICATE_*` bounds and read with
//! unrestricted rights (a predicate that could not read what it decides on would be useless).
//! Not the role documents' validation (`roles.rs`) nor the baseline table (`principal.rs`).

use std::rc::Rc;

use sesame_fql::{Code, DocRef as FqlRef, LiveDoc, Overlay, QueryError, Value};
use sesame_model::{Action, ActionRule, RoleDef};
use sesame_store::StoreError;

use super::convert::R;
use super::host::EngineHost;
use crate::{Access, Principal};

/// The most documents read to serve a caller whose read privilege on a collection is a
/// predicate (collection and index scans, REST lists), documents the predicate refuses
/// included. On REST, per page: a page that reaches it before filling up comes back short, with
/// a cursor to continue from. Over `/query/1`, per query (its sets are walked from their start):
/// a query that would read more fails with `invalid_argument` — use an index whose terms select
/// the caller's documents (e.g. `Order.byCustomer(Query.identity())`) instead of filtering
/// `all()`.
pub const FILTER_SCAN_BOUND: usize = 1024;

/// What the caller's roles say of an action on a resource, before any predicate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// No role names it (or only `false`): denied whatever the document.
    Never,
    /// Some role grants it by predicate: depends on the document.
    Maybe,
    /// Some role grants it with `true`.
    Always,
}

impl EngineHost<'_> {
    /// The roles the caller holds, read once per transaction: a key's user-defined role, or
    /// the roles whose membership names the identity's collection and whose membership
    /// predicate (given the identity document) is true.
    pub(super) fn roles(&mut self) -> Rc<Vec<RoleDef>> {
        if let Some(r) = &self.roles {
            return r.clone();
        }
        let tx = self.tx;
        let held: Vec<RoleDef> = match self.p().clone() {
            Principal::Key { role: sesame_model::Role::User(name), .. } => {
                match self.wait(tx.get_role(&name)) {
                    Ok(r) => vec![r],
                    Err(StoreError::NotFound) => Vec::new(),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read a key's role");
                        Vec::new()
                    }
                }
            }
            p => match p.identity() {
                Some(me) => {
                    let candidates = match self.wait(tx.roles_with_member(me.coll.as_str())) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not read roles");
                            Vec::new()
                        }
                    };
                    let me = FqlRef::id(me.coll.as_str(), me.id.as_i64());
                    let mut held = Vec::new();
                    for role in candidates {
                        let entries: Vec<_> = role
                            .membership
                            .iter()
                            .flat_map(|m| m.iter())
                            .filter(|m| m.resource == *me.coll)
                            .map(|m| m.predicate.clone())
                            .collect();
                        let mut member = false;
                        for pred in entries {
                            member = match pred {
                                None => true,
                                Some(src) => self.predicate(&src, vec![Value::Doc(me.clone())]),
                            };
                            if member {
                                break;
                            }
                        }
                        if member {
                            held.push(role);
                        }
                    }
                    held
                }
                None => Vec::new(),
            },
        };
        let held = Rc::new(held);
        self.roles = Some(held.clone());
        held
    }

    /// Runs one predicate read-only, within its bounds, with unrestricted reads. Only `true`
    /// allows.
    pub(super) fn predicate(&mut self, src: &str, args: Vec<Value>) -> bool {
        if self.out_of_time().is_err() {
            return false;
        }
        self.in_predicate += 1;
        let until = self.deadline;
        let r = sesame_fql::eval_predicate_until(self, src, args, until);
        self.in_predicate -= 1;
        match r {
            Ok(b) => b,
            Err(e) => {
                metrics::counter!("sesame_predicate_failures_total", "code" => e.code.as_str())
                    .increment(1);
                tracing::debug!(code = e.code.as_str(), "a role predicate failed (denied)");
                false
            }
        }
    }

    /// `time_out` once the request's deadline has passed (checked between predicates, so a
    /// scan of many documents cannot outlast it).
    pub(super) fn out_of_time(&self) -> R<()> {
        match self.deadline {
            Some(d) if std::time::Instant::now() >= d => {
                Err(QueryError::new(Code::TimeOut, "Query timed out."))
            }
            _ => Ok(()),
        }
    }

    /// What the caller's roles say of `action` on `resource` without running predicates.
    pub(super) fn rule(&mut self, action: Action, resource: &str) -> Rule {
        if !self.p().has_roles() {
            return Rule::Never;
        }
        let mut rule = Rule::Never;
        for role in self.roles().iter() {
            for p in role.privileges.iter().flat_map(|p| p.iter()) {
                if p.resource != resource {
                    continue;
                }
                match p.rule(action) {
                    Some(ActionRule::Allow(true)) => return Rule::Always,
                    Some(ActionRule::Predicate(_)) => rule = Rule::Maybe,
                    _ => {}
                }
            }
        }
        rule
    }

    /// Whether some role grants `action` on `resource` for these predicate arguments.
    pub(super) fn grants(&mut self, action: Action, resource: &str, args: &[Value]) -> bool {
        if !self.p().has_roles() {
            return false;
        }
        let roles = self.roles();
        for role in roles.iter() {
            for p in role.privileges.iter().flat_map(|p| p.iter()) {
                if p.resource != resource {
                    continue;
                }
                match p.rule(action) {
                    Some(ActionRule::Allow(true)) => return true,
                    Some(ActionRule::Predicate(src)) if self.predicate(src, args.to_vec()) => {
                        return true;
                    }
                    _ => {}
                }
            }
        }
        false
    }

    /// Whether the caller may read a document: inside a predicate always; else the baseline
    /// `access`, else a role's `read` on `resource` given the document `d`.
    pub(super) fn may_read(&mut self, access: Access<'_>, resource: &str, d: FqlRef) -> bool {
        if self.in_predicate > 0 || self.may(access) {
            return true;
        }
        self.grants(Action::Read, resource, &[Value::Doc(d)])
    }

    /// Before a write the baseline refuses: `permission_denied` (audited, as `access`) unless
    /// some role could grant `action` on `resource`.
    pub(super) fn precheck(&mut self, access: Access<'_>, action: Action, resource: &str) -> R<()> {
        if self.rule(action, resource) == Rule::Never {
            self.check(access)?;
        }
        Ok(())
    }

    /// A write the baseline refuses, decided by the roles with the predicate's arguments:
    /// `permission_denied` (audited, as `access`) unless one grants it.
    pub(super) fn check_role(
        &mut self,
        access: Access<'_>,
        action: Action,
        resource: &str,
        args: &[Value],
    ) -> R<()> {
        if self.grants(action, resource, args) {
            return Ok(());
        }
        self.check(access)
    }

    /// One page of a scan the caller may read only by predicate: fetches pages of at most what
    /// is still missing (so every cursor is the store's own), keeps the documents a role's
    /// `read` allows, and stops at `limit` results, at the end, or after
    /// [`FILTER_SCAN_BOUND`] documents read.
    pub(super) fn filtered_page(
        &mut self,
        resource: &str,
        after: Option<String>,
        limit: usize,
        mut fetch: impl FnMut(&mut Self, Option<String>, usize) -> R<(Vec<FqlRef>, Option<String>)>,
    ) -> R<sesame_fql::Page> {
        let mut refs = Vec::new();
        let mut cursor = after;
        loop {
            if self.filter_scanned >= FILTER_SCAN_BOUND {
                return Err(QueryError::new(
                    Code::InvalidArgument,
                    format!(
                        "Reading `{resource}` through a read predicate would read more than \
                         {FILTER_SCAN_BOUND} documents in one query; read it through an index \
                         whose terms select the documents the caller may read."
                    ),
                ));
            }
            let need = (limit - refs.len()).min(FILTER_SCAN_BOUND - self.filter_scanned).max(1);
            let (page, next) = fetch(self, cursor.clone(), need)?;
            self.filter_scanned += page.len();
            for d in page {
                if self.grants(Action::Read, resource, &[Value::Doc(d.clone())]) {
                    refs.push(FqlRef { overlay: None, ..d });
                }
                self.out_of_time()?;
            }
            cursor = next;
            if refs.len() >= limit || cursor.is_none() {
                break;
            }
        }
        Ok(sesame_fql::Page { refs, after: cursor })
    }
}

/// A reference that reads as `live` (the version a predicate is given), not from the store.
pub(super) fn pinned(d: &FqlRef, live: LiveDoc) -> FqlRef {
    FqlRef {
        coll: d.coll.clone(),
        key: d.key.clone(),
        overlay: Some(Rc::new(Overlay::Version(live))),
    }
}
