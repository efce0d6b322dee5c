//! [`EngineHost`]: the query language's [`Host`] implemented by the engine over one store
//! transaction (documents, scans and schema here; credentials, logins, tokens and keys in
//! `passwords.rs`, roles in `roles.rs` and `rights.rs`). Every read and write of a query goes
//! through the transaction; every privilege is checked with the same [`Access`] table as the
//! REST surface; passwords go through the engine's hasher and throttle. The evaluator
//! (sesame-fql) decides nothing about rights.
//!
//! The evaluator is synchronous and runs on a query thread; store and hasher calls are async,
//! so each is driven with the runtime handle's `block_on` (never on a runtime worker).

use std::collections::HashMap;

use sesame_fql::{
    Code, DocKey, DocRead, DocRef as FqlRef, Host, IndexInfo, LiveDoc, Object, Page, QueryError,
    Scan, Value,
};
use sesame_model::{
    Action, AuditKind, Collection, CollectionName, Data, DocId, Document, Fields, Secret,
    SecretKind, Timestamp, Token, TokenOrigin, SECRET_RANDOM_BYTES,
};
use sesame_store::{constraint, Cursor, StoreError, StoreTx, VerifiedWith};

use super::convert::{
    auth_error, caller, cf, collection_def, collection_fields, doc_ref, fql_ref, object_from_json,
    object_to_json, store_error, R,
};
use super::rights::{pinned, Rule};
use crate::engine::{random_bytes, Engine, NewToken};
use crate::{Access, AuthError, Caller, Target};

/// One query's host: the engine, the caller, the open transaction.
pub(crate) struct EngineHost<'a> {
    pub(super) engine: &'a Engine,
    pub(super) rt: &'a tokio::runtime::Handle,
    pub(super) caller: &'a Caller,
    pub(super) tx: &'a dyn StoreTx,
    /// Collections as of the query's start (and those it created).
    pub(super) schema: HashMap<String, Option<Collection>>,
    /// Audit events to write once the transaction commits.
    pub(super) on_commit: Vec<sesame_model::AuditEvent>,
    /// Whether a store operation failed with contention (the query is retried).
    pub(super) contention: bool,
    /// A first, read-only attempt (no writer lock on the memory store): the first write stops
    /// it, before any effect, and the query runs again in a write transaction.
    pub(super) read_only: bool,
    /// The read-only attempt met a write.
    pub(super) wants_write: bool,
    /// The caller's user-defined roles, once resolved (`rights.rs`).
    pub(super) roles: Option<std::rc::Rc<Vec<sesame_model::RoleDef>>>,
    /// Inside a role predicate: reads are unrestricted (writes are refused by the evaluator).
    pub(super) in_predicate: u32,
    /// Roles this transaction wrote: their resources must exist when it ends.
    pub(super) roles_written: Vec<sesame_model::RoleName>,
    /// Documents read so far by scans filtered by a read predicate (bounded per query).
    pub(super) filter_scanned: usize,
    /// When the request's time is up: role predicates stop there too.
    pub(super) deadline: Option<std::time::Instant>,
}

fn denied_read(coll: &str) -> QueryError {
    QueryError::new(
        Code::PermissionDenied,
        format!("Insufficient privileges to read from collection {coll}."),
    )
}

pub(super) fn id_of(d: &FqlRef) -> R<DocId> {
    match d.key {
        DocKey::Id(i) => DocId::from_i64(i).map_err(|_| sesame_fql::eval::doc_missing(d)),
        DocKey::Name(_) => Err(sesame_fql::eval::doc_missing(d)),
    }
}

impl EngineHost<'_> {
    /// Called first by every operation that writes (or checks a password, which counts
    /// against a throttle): in the read-only attempt it stops the query, to be run again.
    pub(super) fn writing(&mut self) -> R<()> {
        if self.read_only {
            self.wants_write = true;
            return Err(QueryError::new(Code::InternalError, "retried as a write transaction"));
        }
        Ok(())
    }

    pub(super) fn p(&self) -> &crate::Principal {
        &self.caller.principal
    }

    /// The baseline (`Principal::may`); inside a role predicate every read is allowed.
    pub(super) fn may(&self, access: Access<'_>) -> bool {
        self.in_predicate > 0 || self.p().may(&access)
    }

    /// Checks `access` like every engine operation (audited when refused).
    pub(super) fn check(&self, access: Access<'_>) -> R<()> {
        self.engine.check(self.p(), access).map_err(auth_error)
    }

    pub(super) fn wait<T>(
        &mut self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let r = self.rt.block_on(f);
        if matches!(r, Err(StoreError::Contention(_))) {
            self.contention = true;
        }
        r
    }

    pub(super) fn now(&self) -> Timestamp {
        self.tx.txn_ts()
    }

    pub(super) fn collection(&mut self, name: &str) -> R<Option<Collection>> {
        if let Some(c) = self.schema.get(name) {
            return Ok(c.clone());
        }
        let Ok(n) = name.parse::<CollectionName>() else { return Ok(None) };
        let tx = self.tx;
        let c = match self.wait(tx.get_collection(&n)) {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(store_error(e, String::new)),
        };
        self.schema.insert(name.to_owned(), c.clone());
        Ok(c)
    }

    fn user_coll(&mut self, name: &str) -> R<Collection> {
        self.collection(name)?.ok_or_else(|| {
            QueryError::new(Code::InvalidQuery, format!("Collection `{name}` does not exist."))
        })
    }

    pub(super) fn data(o: Option<Object>) -> R<Option<Data>> {
        let Some(o) = o else { return Ok(None) };
        let m = object_to_json(&o)?;
        Data::parse_value(serde_json::Value::Object(m))
            .map(Some)
            .map_err(|e| QueryError::new(Code::InvalidArgument, e.to_string()))
    }

    fn fields(o: &Object) -> R<Fields> {
        Fields::parse_value(serde_json::Value::Object(object_to_json(o)?))
            .map_err(|e| QueryError::new(Code::InvalidArgument, e.to_string()))
    }

    pub(super) fn data_obj(d: &Option<Data>, into: &mut Object) -> R<()> {
        if let Some(d) = d {
            into.insert("data".into(), Value::object(object_from_json(d.as_map())?));
        }
        Ok(())
    }

    fn token_fields(t: &Token) -> R<Object> {
        let mut f = Object::new();
        f.insert("document".into(), Value::Doc(fql_ref(&t.document)));
        Self::data_obj(&t.data, &mut f)?;
        Ok(f)
    }

    fn unique_error(&self, coll: &Collection, name: &str) -> QueryError {
        let label = coll
            .constraints
            .iter()
            .find(|u| sesame_store::constraint::unique(&coll.name, u.name.as_str()) == name)
            .map(|u| u.fields.iter().map(|p| p.segments().join(".")).collect::<Vec<_>>().join(","))
            .unwrap_or_else(|| "id".into());
        cf("Failed unique constraint.", &label, "Failed unique constraint")
    }

    fn write_error(&self, coll: Option<&Collection>, e: StoreError, d: &FqlRef) -> QueryError {
        match (&e, coll) {
            (StoreError::Conflict { constraint: c }, Some(coll))
                if c.starts_with(constraint::UNIQUE_PREFIX) =>
            {
                self.unique_error(coll, c)
            }
            (StoreError::Conflict { constraint: c }, _) if c == constraint::ID => QueryError::new(
                Code::DocumentIdExists,
                format!(
                    "Collection `{}` already contains document with id {}.",
                    d.coll,
                    d.id_num().unwrap_or(0)
                ),
            ),
            _ => store_error(e, || sesame_fql::eval::doc_missing(d).message),
        }
    }

    pub(super) fn new_token(
        &mut self,
        document: sesame_model::DocRef,
        ttl: Option<Timestamp>,
        data: Option<Data>,
        origin: TokenOrigin,
        verified: Option<VerifiedWith<'_>>,
    ) -> R<NewToken> {
        let secret = Secret::from_random_bytes(
            SecretKind::Token,
            &random_bytes::<SECRET_RANDOM_BYTES>().map_err(auth_error)?,
        );
        let digest = secret.digest();
        let token = Token {
            id: self.engine.ids.next(self.now()),
            document: document.clone(),
            ts: self.now(),
            ttl,
            data,
            origin,
            client: self.caller.client.clone(),
            last_used: None,
        };
        let tx = self.tx;
        match self.wait(tx.create_token(&token, &digest, verified)) {
            Ok(()) => Ok(NewToken { token, secret }),
            Err(StoreError::Conflict { constraint: c }) if c == constraint::CREDENTIAL_CHANGED => {
                Err(auth_error(AuthError::InvalidSecret))
            }
            Err(StoreError::NotFound) => Err(sesame_fql::eval::doc_missing(&fql_ref(&document))),
            Err(e) => Err(store_error(e, String::new)),
        }
    }

    pub(super) fn audit(
        &mut self,
        kind: AuditKind,
        fill: impl FnOnce(&mut sesame_model::AuditEvent),
    ) {
        let mut e = self.engine.event(kind, Some(self.p()));
        e.client_addr = self.caller.client.addr;
        fill(&mut e);
        self.on_commit.push(e);
    }
}

impl Host for EngineHost<'_> {
    fn snapshot_time(&self) -> Timestamp {
        self.now()
    }

    fn caller(&self) -> sesame_fql::Caller {
        caller(self.p())
    }

    fn is_user_collection(&mut self, name: &str) -> bool {
        matches!(self.collection(name), Ok(Some(_)))
    }

    fn index_info(&mut self, coll: &str, index: &str) -> R<Option<IndexInfo>> {
        let Some(c) = self.collection(coll)? else { return Ok(None) };
        let Some(ix) = c.index(index) else { return Ok(None) };
        if !self.may(Access::ListDocuments(&c.name)) && self.rule(Action::Read, coll) == Rule::Never
        {
            return Err(denied_read(coll));
        }
        Ok(Some(IndexInfo { terms: ix.terms.len() }))
    }

    fn read_doc(&mut self, d: &FqlRef) -> R<DocRead> {
        let tx = self.tx;
        if let DocKey::Name(n) = &d.key {
            if &*d.coll == "Role" {
                return self.read_role(n);
            }
            if &*d.coll != "Collection" {
                return Ok(DocRead::NotFound);
            }
            let Some(c) = self.collection(n)? else { return Ok(DocRead::NotFound) };
            if !self.may(Access::ReadSchema) {
                return Ok(DocRead::Denied);
            }
            return Ok(DocRead::Live(LiveDoc {
                ts: c.ts,
                ttl: None,
                fields: collection_fields(&c),
            }));
        }
        let Ok(id) = id_of(d) else { return Ok(DocRead::NotFound) };
        let found = match &*d.coll {
            "Credential" => match self.wait(tx.credential_by_id(id)) {
                Ok(c) => {
                    let access = Access::ReadCredential(Target::Document(&c.credential.document));
                    if !self.may_read(access, "Credential", FqlRef::id("Credential", id.as_i64())) {
                        return Ok(DocRead::Denied);
                    }
                    let mut f = Object::new();
                    f.insert("document".into(), Value::Doc(fql_ref(&c.credential.document)));
                    Self::data_obj(&c.credential.data, &mut f)?;
                    Ok((c.credential.ts, None, f))
                }
                Err(e) => Err(e),
            },
            "Token" => match self.wait(tx.token_by_id(id)) {
                Ok(t) => {
                    let access = Access::ReadToken(Target::Document(&t.document));
                    if !self.may_read(access, "Token", FqlRef::id("Token", id.as_i64())) {
                        return Ok(DocRead::Denied);
                    }
                    Ok((t.ts, t.ttl, Self::token_fields(&t)?))
                }
                Err(e) => Err(e),
            },
            "Key" => match self.wait(tx.key_by_id(id)) {
                Ok(k) => {
                    if !self.may(Access::ReadKeys) {
                        return Ok(DocRead::Denied);
                    }
                    let mut f = Object::new();
                    f.insert("role".into(), Value::str(k.role.as_str()));
                    Self::data_obj(&k.data, &mut f)?;
                    Ok((k.ts, k.ttl, f))
                }
                Err(e) => Err(e),
            },
            _ => {
                let Some(r) = doc_ref(d) else { return Ok(DocRead::NotFound) };
                match self.wait(tx.get_document(&r)) {
                    Ok(doc) => {
                        let fields = object_from_json(doc.fields.as_map())?;
                        let live = LiveDoc { ts: doc.ts, ttl: None, fields: fields.clone() };
                        let me = pinned(&FqlRef::id(&d.coll, id.as_i64()), live);
                        if !self.may_read(Access::ReadDocument(Target::Document(&r)), &d.coll, me) {
                            return Ok(DocRead::Denied);
                        }
                        Ok((doc.ts, None, fields))
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match found {
            Ok((ts, ttl, fields)) => Ok(DocRead::Live(LiveDoc { ts, ttl, fields })),
            Err(StoreError::NotFound) => Ok(DocRead::NotFound),
            Err(e) => Err(store_error(e, String::new)),
        }
    }

    fn create_doc(&mut self, coll: &str, id: Option<i64>, mut fields: Object) -> R<FqlRef> {
        self.writing()?;
        let c = self.user_coll(coll)?;
        let baseline = self.may(Access::WriteDocument(&c.name));
        let action = if id.is_some() { Action::CreateWithId } else { Action::Create };
        if !baseline {
            self.precheck(Access::WriteDocument(&c.name), action, coll)?;
        }
        if let Some(Value::Time(_)) = fields.shift_remove("ttl") {
            return Err(cf("Failed to create document.", "ttl", "Document ttl is not supported"));
        }
        let f = Self::fields(&fields)?;
        let tx = self.tx;
        let explicit = id.is_some();
        let mut attempts = 0;
        loop {
            let id = match id {
                Some(i) => DocId::from_i64(i).map_err(|_| {
                    QueryError::new(Code::InvalidId, format!("Invalid identifier `{i}`."))
                })?,
                None => self.engine.ids.next(self.now()),
            };
            let doc = Document { id, coll: c.name.clone(), ts: self.now(), fields: f.clone() };
            let r = FqlRef::id(coll, id.as_i64());
            match self.wait(tx.create_document(&doc)) {
                Ok(()) => {
                    if !baseline {
                        // Decided on the document as written, in this transaction: a refusal
                        // fails the query, which writes nothing.
                        let args = [Value::Doc(r.clone()), Value::Id(id.as_i64())];
                        self.check_role(Access::WriteDocument(&c.name), action, coll, &args)?;
                    }
                    return Ok(r);
                }
                Err(StoreError::Conflict { constraint: k })
                    if k == constraint::ID && !explicit && attempts < 3 =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(self.write_error(Some(&c), e, &r)),
            }
        }
    }

    fn update_doc(&mut self, d: &FqlRef, patch: Object, replace: bool) -> R<()> {
        self.writing()?;
        if matches!(&*d.coll, "Credential") {
            return self.credential_update(d, None, patch, replace);
        }
        if &*d.coll == "Role" {
            return self.role_update(d, patch, replace).map(|_| ());
        }
        if matches!(&*d.coll, "Token" | "Key" | "Collection") {
            return Err(cf(
                "Failed to update document.",
                "coll",
                format!("Updating {} documents is not supported.", d.coll),
            ));
        }
        let c = self.user_coll(&d.coll)?;
        let r = doc_ref(d).ok_or_else(|| sesame_fql::eval::doc_missing(d))?;
        let baseline = self.may(Access::WriteDocument(&c.name));
        if !baseline {
            self.precheck(Access::WriteDocument(&c.name), Action::Write, &d.coll)?;
        }
        let tx = self.tx;
        let old = match self.wait(tx.get_document(&r)) {
            Ok(doc) => doc,
            Err(e) => return Err(store_error(e, || sesame_fql::eval::doc_missing(d).message)),
        };
        let mut fields =
            if replace { Object::new() } else { object_from_json(old.fields.as_map())? };
        sesame_fql::deep_merge(&mut fields, &patch);
        if let Some(Value::Time(_)) = fields.shift_remove("ttl") {
            return Err(cf("Failed to update document.", "ttl", "Document ttl is not supported"));
        }
        let f = Self::fields(&fields)?;
        let now = self.now();
        if !baseline {
            let plain = FqlRef::id(&d.coll, r.id.as_i64());
            let before =
                LiveDoc { ts: old.ts, ttl: None, fields: object_from_json(old.fields.as_map())? };
            let after = LiveDoc { ts: now, ttl: None, fields: fields.clone() };
            let args = [Value::Doc(pinned(&plain, before)), Value::Doc(pinned(&plain, after))];
            self.check_role(Access::WriteDocument(&c.name), Action::Write, &d.coll, &args)?;
        }
        match self.wait(tx.replace_document(&r, &f, now)) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.write_error(Some(&c), e, d)),
        }
    }

    fn delete_doc(&mut self, d: &FqlRef) -> R<()> {
        self.writing()?;
        let tx = self.tx;
        let missing = || sesame_fql::eval::doc_missing(d).message;
        if let DocKey::Name(n) = &d.key {
            if &*d.coll == "Role" {
                return self.role_delete(n);
            }
            if &*d.coll == "Collection" {
                self.check(Access::WriteSchema)?;
                let name: CollectionName =
                    n.parse().map_err(|_| sesame_fql::eval::doc_missing(d))?;
                self.wait(tx.delete_collection(&name)).map_err(|e| store_error(e, missing))?;
                self.schema.insert(n.to_string(), None);
                return Ok(());
            }
            return Err(sesame_fql::eval::doc_missing(d));
        }
        let id = id_of(d)?;
        match &*d.coll {
            "Token" => {
                let t = self.wait(tx.token_by_id(id)).map_err(|e| store_error(e, missing))?;
                let access = Access::DeleteToken(Target::Document(&t.document));
                if !self.may(access) {
                    let me = [Value::Doc(FqlRef::id("Token", id.as_i64()))];
                    self.check_role(access, Action::Delete, "Token", &me)?;
                }
                if !self.wait(tx.delete_token(id)).map_err(|e| store_error(e, missing))? {
                    return Err(sesame_fql::eval::doc_missing(d));
                }
                let own = self.engine.current_token(self.caller).is_some_and(|o| o.id == id);
                let kind = if own { AuditKind::Logout } else { AuditKind::TokenRevoked };
                let doc = t.document.clone();
                self.audit(kind, |e| (e.token, e.identity) = (Some(id), Some(doc)));
                Ok(())
            }
            "Key" => {
                self.check(Access::WriteKeys)?;
                if !self.wait(tx.delete_key(id)).map_err(|e| store_error(e, missing))? {
                    return Err(sesame_fql::eval::doc_missing(d));
                }
                self.audit(AuditKind::KeyRevoked, |e| e.key = Some(id));
                Ok(())
            }
            "Credential" => {
                if !self.may(Access::WriteCredential) {
                    self.precheck(Access::WriteCredential, Action::Delete, "Credential")?;
                    self.wait(tx.credential_by_id(id)).map_err(|e| store_error(e, missing))?;
                    let me = [Value::Doc(FqlRef::id("Credential", id.as_i64()))];
                    self.check_role(Access::WriteCredential, Action::Delete, "Credential", &me)?;
                }
                let (doc, n) =
                    self.wait(tx.delete_credential(id)).map_err(|e| store_error(e, missing))?;
                self.audit(AuditKind::CredentialDeleted, |e| {
                    (e.credential, e.identity, e.count) = (Some(id), Some(doc), Some(n))
                });
                Ok(())
            }
            _ => {
                let c = self.user_coll(&d.coll)?;
                let r = doc_ref(d).ok_or_else(|| sesame_fql::eval::doc_missing(d))?;
                if !self.may(Access::WriteDocument(&c.name)) {
                    self.precheck(Access::WriteDocument(&c.name), Action::Delete, &d.coll)?;
                    self.wait(tx.get_document(&r)).map_err(|e| store_error(e, missing))?;
                    let me = [Value::Doc(FqlRef::id(&d.coll, r.id.as_i64()))];
                    self.check_role(Access::WriteDocument(&c.name), Action::Delete, &d.coll, &me)?;
                }
                self.wait(tx.delete_document(&r)).map_err(|e| store_error(e, missing))
            }
        }
    }

    fn scan(&mut self, scan: &Scan, after: Option<&str>, limit: usize) -> R<Page> {
        let tx = self.tx;
        let limit = limit.max(1);
        let bad_cursor = || QueryError::new(Code::InvalidCursor, "The cursor is invalid.");
        let cursor = |a: Option<&str>| -> R<Option<Cursor>> {
            a.map(|s| s.parse::<Cursor>().map_err(|_| bad_cursor())).transpose()
        };
        let page = |docs: Vec<Document>, after: Option<Cursor>| Page {
            refs: docs.iter().map(|d| FqlRef::id(d.coll.as_str(), d.id.as_i64())).collect(),
            after: after.map(|c| c.to_string()),
        };
        match scan {
            Scan::All { coll } => match &**coll {
                "Key" => {
                    self.check(Access::ReadKeys)?;
                    let after =
                        after.map(|a| a.parse::<DocId>().map_err(|_| bad_cursor())).transpose()?;
                    let p = self
                        .wait(tx.list_keys(after, limit))
                        .map_err(|e| store_error(e, String::new))?;
                    Ok(Page {
                        refs: p.data.iter().map(|k| FqlRef::id("Key", k.id.as_i64())).collect(),
                        after: p.after.map(|a| a.to_string()),
                    })
                }
                "Role" => self.role_page(after, limit),
                "Credential" | "Token" | "Collection" => Err(QueryError::new(
                    Code::InvalidArgument,
                    format!("Listing every {coll} is not supported."),
                )),
                _ => {
                    let c = self.user_coll(coll)?;
                    let filtered = self.read_filter(&c, coll)?;
                    let fetch = |h: &mut Self, after: Option<String>, n: usize| {
                        let after = cursor(after.as_deref())?;
                        let p = h
                            .wait(tx.scan_collection(&c.name, after.as_ref(), n))
                            .map_err(|e| store_error(e, String::new))?;
                        Ok((pinned_docs(&p.data)?, p.after.map(|c| c.to_string())))
                    };
                    if filtered {
                        return self.filtered_page(coll, after.map(str::to_owned), limit, fetch);
                    }
                    let after = cursor(after)?;
                    let p = self
                        .wait(tx.scan_collection(&c.name, after.as_ref(), limit))
                        .map_err(|e| store_error(e, String::new))?;
                    Ok(page(p.data, p.after))
                }
            },
            Scan::Index { coll, index, terms } => {
                let c = self.user_coll(coll)?;
                let filtered = self.read_filter(&c, coll)?;
                let terms = terms.iter().map(super::convert::to_json).collect::<R<Vec<_>>>()?;
                if filtered {
                    let fetch = |h: &mut Self, after: Option<String>, n: usize| {
                        let after = cursor(after.as_deref())?;
                        let p = h
                            .wait(tx.scan_index(&c.name, index, &terms, after.as_ref(), n))
                            .map_err(|e| store_error(e, String::new))?;
                        Ok((pinned_docs(&p.data)?, p.after.map(|c| c.to_string())))
                    };
                    return self.filtered_page(coll, after.map(str::to_owned), limit, fetch);
                }
                let after = cursor(after)?;
                let p = self
                    .wait(tx.scan_index(&c.name, index, &terms, after.as_ref(), limit))
                    .map_err(|e| store_error(e, String::new))?;
                Ok(page(p.data, p.after))
            }
            Scan::TokensOf(ident) => {
                let Some(r) = doc_ref(ident) else { return Ok(Page::default()) };
                let access = Access::ReadToken(Target::Document(&r));
                if !self.may(access) {
                    match self.rule(Action::Read, "Token") {
                        Rule::Always => {}
                        Rule::Never => self.check(access)?,
                        Rule::Maybe => {
                            let fetch = |h: &mut Self, after: Option<String>, n: usize| {
                                let after = after
                                    .map(|a| a.parse::<DocId>().map_err(|_| bad_cursor()))
                                    .transpose()?;
                                let p = h
                                    .wait(tx.tokens_by_document(&r, after, n))
                                    .map_err(|e| store_error(e, String::new))?;
                                let refs = p
                                    .data
                                    .iter()
                                    .map(|t| FqlRef::id("Token", t.id.as_i64()))
                                    .collect();
                                Ok((refs, p.after.map(|a| a.to_string())))
                            };
                            return self.filtered_page(
                                "Token",
                                after.map(str::to_owned),
                                limit,
                                fetch,
                            );
                        }
                    }
                }
                let after =
                    after.map(|a| a.parse::<DocId>().map_err(|_| bad_cursor())).transpose()?;
                let p = self
                    .wait(tx.tokens_by_document(&r, after, limit))
                    .map_err(|e| store_error(e, String::new))?;
                Ok(Page {
                    refs: p.data.iter().map(|t| FqlRef::id("Token", t.id.as_i64())).collect(),
                    after: p.after.map(|a| a.to_string()),
                })
            }
            Scan::Collections => {
                self.check(Access::ReadSchema)?;
                let after = after
                    .map(|a| a.parse::<CollectionName>().map_err(|_| bad_cursor()))
                    .transpose()?;
                let p = self
                    .wait(tx.list_collections(after.as_ref(), limit))
                    .map_err(|e| store_error(e, String::new))?;
                Ok(Page {
                    refs: p
                        .data
                        .iter()
                        .map(|c| FqlRef::named("Collection", c.name.as_str()))
                        .collect(),
                    after: p.after.map(|a| a.to_string()),
                })
            }
        }
    }

    fn create_collection(&mut self, def: Object) -> R<FqlRef> {
        self.writing()?;
        self.check(Access::WriteSchema)?;
        let c = collection_def(&def, self.now())?;
        let tx = self.tx;
        match self.wait(tx.create_collection(&c)) {
            Ok(()) => {
                self.schema.insert(c.name.as_str().to_owned(), Some(c.clone()));
                Ok(FqlRef::named("Collection", c.name.as_str()))
            }
            Err(StoreError::Conflict { .. }) => Err(cf(
                "Failed to create Collection.",
                "name",
                format!("A Collection already exists with the name `{}`", c.name),
            )),
            Err(e) => Err(store_error(e, String::new)),
        }
    }

    fn create_role(&mut self, def: Object) -> R<FqlRef> {
        self.role_create(def)
    }

    fn credential_create(
        &mut self,
        document: &FqlRef,
        password: Option<&str>,
        data: Option<Object>,
        id: Option<i64>,
    ) -> R<FqlRef> {
        self.do_credential_create(document, password, data, id)
    }

    fn credential_by_document(&mut self, document: &FqlRef) -> R<Option<i64>> {
        let Some(r) = doc_ref(document) else { return Ok(None) };
        let tx = self.tx;
        match self.wait(tx.credential_by_document(&r)) {
            Ok(c) => Ok(Some(c.credential.id.as_i64())),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(store_error(e, String::new)),
        }
    }

    fn credential_update(
        &mut self,
        cred: &FqlRef,
        password: Option<&str>,
        patch: Object,
        _replace: bool,
    ) -> R<()> {
        self.do_credential_update(cred, password, patch, _replace)
    }

    fn login(
        &mut self,
        cred: &FqlRef,
        password: &str,
        ttl: Option<Timestamp>,
    ) -> R<(FqlRef, String)> {
        self.do_login(cred, password, ttl)
    }

    fn verify(&mut self, cred: &FqlRef, password: &str) -> R<bool> {
        self.do_verify(cred, password)
    }

    fn token_create(
        &mut self,
        document: &FqlRef,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> R<(FqlRef, String)> {
        self.do_token_create(document, ttl, data)
    }

    fn key_create(
        &mut self,
        role: &str,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> R<(FqlRef, String)> {
        self.do_key_create(role, ttl, data)
    }
}

/// References to scanned documents that read as the version scanned (a predicate deciding on
/// them reads no further).
fn pinned_docs(docs: &[Document]) -> R<Vec<FqlRef>> {
    docs.iter()
        .map(|d| {
            let live =
                LiveDoc { ts: d.ts, ttl: None, fields: object_from_json(d.fields.as_map())? };
            Ok(pinned(&FqlRef::id(d.coll.as_str(), d.id.as_i64()), live))
        })
        .collect()
}

impl EngineHost<'_> {
    /// Whether a scan of `c` must be filtered by a read predicate (`false`: the caller reads
    /// every document), or `permission_denied` when nothing lets the caller read it.
    fn read_filter(&mut self, c: &Collection, coll: &str) -> R<bool> {
        if self.may(Access::ListDocuments(&c.name)) {
            return Ok(false);
        }
        match self.rule(Action::Read, coll) {
            Rule::Always => Ok(false),
            Rule::Maybe => Ok(true),
            Rule::Never => Err(denied_read(coll)),
        }
    }
}
