//! The REST surface's document operations for callers whose rights come from user-defined
//! roles (tokens, identity scopes, keys with a user-defined role), run in the transaction host
//! so that the same rules (`rights.rs`) decide them as over `/query/1`: a read the roles refuse
//! is `document_not_found` (existence is not revealed), lists leave such documents out (at most
//! [`super::FILTER_SCAN_BOUND`] read per page), writes are decided on the document as it is in
//! the transaction and refused with `permission_denied`. REST semantics (merge patches, nulls
//! dropped) are kept. Callers whose baseline suffices never come here.

use sesame_fql::{DocRef as FqlRef, LiveDoc, Value};
use sesame_model::{Action, CollectionName, DocId, DocRef, Document, Fields};
use sesame_store::{constraint, Page, StoreError};

use super::convert::object_from_json;
use super::host::EngineHost;
use super::query_to_auth;
use super::rights::{pinned, Rule, FILTER_SCAN_BOUND};
use crate::{Access, AuthError, Target};

fn doc_not_found(d: &DocRef) -> AuthError {
    AuthError::not_found(format!(
        "Collection `{}` does not contain document with id {}.",
        d.coll, d.id
    ))
}

fn pin(d: &Document) -> Result<FqlRef, AuthError> {
    let fields = object_from_json(d.fields.as_map()).map_err(query_to_auth)?;
    Ok(pinned(&FqlRef::id(d.coll.as_str(), d.id.as_i64()), LiveDoc { ts: d.ts, ttl: None, fields }))
}

impl EngineHost<'_> {
    fn store_err(&mut self, e: StoreError, what: impl FnOnce() -> AuthError) -> AuthError {
        match e {
            StoreError::NotFound => what(),
            e => AuthError::from(e),
        }
    }

    fn collection_or_404(&mut self, coll: &CollectionName) -> Result<(), AuthError> {
        match self.collection(coll.as_str()).map_err(query_to_auth)? {
            Some(_) => Ok(()),
            None => Err(AuthError::not_found(format!("Collection `{coll}` does not exist."))),
        }
    }

    /// `GET` of one document: 404 alike for missing and unreadable.
    pub(crate) fn act_get_document(&mut self, doc: &DocRef) -> Result<Document, AuthError> {
        let tx = self.tx;
        let d = self.wait(tx.get_document(doc)).map_err(|e| match e {
            StoreError::NotFound => doc_not_found(doc),
            e => AuthError::from(e),
        })?;
        let me = pin(&d)?;
        if !self.may_read(Access::ReadDocument(Target::Document(doc)), doc.coll.as_str(), me) {
            return Err(doc_not_found(doc));
        }
        Ok(d)
    }

    /// A list by equality filter: everything when a role reads the collection with `true`,
    /// else filtered by the read predicate, reading at most [`FILTER_SCAN_BOUND`] documents
    /// (a short page then carries a cursor to go on from).
    pub(crate) fn act_find_documents(
        &mut self,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        size: usize,
    ) -> Result<Page<Document>, AuthError> {
        let tx = self.tx;
        let rule = self.rule(Action::Read, coll.as_str());
        if rule == Rule::Never {
            self.check(Access::ListDocuments(coll)).map_err(query_to_auth)?;
        }
        self.collection_or_404(coll)?;
        if rule == Rule::Always {
            return self
                .wait(tx.find_documents(coll, filter, after, size))
                .map_err(AuthError::from);
        }
        let (mut data, mut cursor, mut scanned) = (Vec::new(), after, 0usize);
        loop {
            let need = (size - data.len()).min(FILTER_SCAN_BOUND - scanned).max(1);
            let page = self
                .wait(tx.find_documents(coll, filter, cursor, need))
                .map_err(AuthError::from)?;
            scanned += page.data.len();
            for d in page.data {
                let me = pin(&d)?;
                if self.grants(Action::Read, coll.as_str(), &[Value::Doc(me)]) {
                    data.push(d);
                }
                self.out_of_time().map_err(query_to_auth)?;
            }
            cursor = page.after;
            if data.len() >= size || cursor.is_none() || scanned >= FILTER_SCAN_BOUND {
                break;
            }
        }
        Ok(Page { data, after: cursor })
    }

    /// `POST` of a document: created in the transaction, then decided by the roles' `create`
    /// on it; a refusal writes nothing.
    pub(crate) fn act_create_document(
        &mut self,
        coll: &CollectionName,
        fields: &Fields,
    ) -> Result<Document, AuthError> {
        let access = Access::WriteDocument(coll);
        self.precheck(access, Action::Create, coll.as_str()).map_err(query_to_auth)?;
        self.collection_or_404(coll)?;
        let tx = self.tx;
        let mut tries = 0;
        let doc = loop {
            let id = self.engine.ids.next(self.now());
            let d = Document { id, coll: coll.clone(), ts: self.now(), fields: fields.clone() };
            match self.wait(tx.create_document(&d)) {
                Ok(()) => break d,
                Err(StoreError::Conflict { constraint: c }) if c == constraint::ID && tries < 3 => {
                    tries += 1
                }
                Err(e) => {
                    return Err(self.store_err(e, || {
                        AuthError::not_found(format!("Collection `{coll}` does not exist."))
                    }))
                }
            }
        };
        let me = [Value::Doc(FqlRef::id(coll.as_str(), doc.id.as_i64()))];
        self.check_role(access, Action::Create, coll.as_str(), &me).map_err(query_to_auth)?;
        Ok(doc)
    }

    /// `PATCH`/`PUT` of a document: `new` computes the fields from the current ones; the roles'
    /// `write` decides on (before, after).
    pub(crate) fn act_write_document(
        &mut self,
        doc: &DocRef,
        new: &dyn Fn(&Fields) -> Fields,
    ) -> Result<Document, AuthError> {
        let access = Access::WriteDocument(&doc.coll);
        self.precheck(access, Action::Write, doc.coll.as_str()).map_err(query_to_auth)?;
        let tx = self.tx;
        let old = self.wait(tx.get_document(doc)).map_err(|e| match e {
            StoreError::NotFound => doc_not_found(doc),
            e => AuthError::from(e),
        })?;
        let now = self.now();
        let after =
            Document { id: old.id, coll: old.coll.clone(), ts: now, fields: new(&old.fields) };
        let args = [Value::Doc(pin(&old)?), Value::Doc(pin(&after)?)];
        self.check_role(access, Action::Write, doc.coll.as_str(), &args).map_err(query_to_auth)?;
        self.wait(tx.replace_document(doc, &after.fields, now)).map_err(|e| match e {
            StoreError::NotFound => doc_not_found(doc),
            e => AuthError::from_store(e, String::new),
        })
    }

    /// `DELETE` of a document, decided by the roles' `delete` on it.
    pub(crate) fn act_delete_document(&mut self, doc: &DocRef) -> Result<(), AuthError> {
        let access = Access::WriteDocument(&doc.coll);
        self.precheck(access, Action::Delete, doc.coll.as_str()).map_err(query_to_auth)?;
        let tx = self.tx;
        let old = self.wait(tx.get_document(doc)).map_err(|e| match e {
            StoreError::NotFound => doc_not_found(doc),
            e => AuthError::from(e),
        })?;
        let me = [Value::Doc(pin(&old)?)];
        self.check_role(access, Action::Delete, doc.coll.as_str(), &me).map_err(query_to_auth)?;
        self.wait(tx.delete_document(doc)).map_err(|e| match e {
            StoreError::NotFound => doc_not_found(doc),
            e => AuthError::from(e),
        })
    }
}

fn item_not_found(kind: &str, id: DocId) -> AuthError {
    AuthError::not_found(format!("Collection `{kind}` does not contain document with id {id}."))
}

impl EngineHost<'_> {
    /// `GET` of a credential (by id, or by its document): 404 alike for missing and unreadable.
    pub(crate) fn act_get_credential(
        &mut self,
        by: Result<DocId, DocRef>,
    ) -> Result<sesame_model::Credential, AuthError> {
        let tx = self.tx;
        let missing = |by: &Result<DocId, DocRef>| match by {
            Ok(id) => item_not_found("Credential", *id),
            Err(d) => AuthError::not_found(format!("No credential for {d}.")),
        };
        let found = match &by {
            Ok(id) => self.wait(tx.credential_by_id(*id)),
            Err(d) => self.wait(tx.credential_by_document(d)),
        };
        let c = found
            .map_err(|e| match e {
                StoreError::NotFound => missing(&by),
                e => AuthError::from(e),
            })?
            .credential;
        let me = FqlRef::id("Credential", c.id.as_i64());
        if !self.may_read(Access::ReadCredential(Target::Document(&c.document)), "Credential", me) {
            return Err(missing(&by));
        }
        Ok(c)
    }

    /// `POST /credentials` decided by the roles' `create` on `Credential`.
    pub(crate) fn act_create_credential(
        &mut self,
        document: &DocRef,
        password: Option<&str>,
        data: Option<sesame_model::Data>,
    ) -> Result<sesame_model::Credential, AuthError> {
        use sesame_fql::Host as _;
        let mut o = sesame_fql::Object::new();
        if let Some(d) = &data {
            o = object_from_json(d.as_map()).map_err(query_to_auth)?;
        }
        let doc = FqlRef::id(document.coll.as_str(), document.id.as_i64());
        let data = if data.is_some() { Some(o) } else { None };
        let r = self.credential_create(&doc, password, data, None).map_err(query_to_auth)?;
        let id = r
            .id_num()
            .and_then(|i| DocId::from_i64(i).ok())
            .ok_or(AuthError::Internal("a created credential without an id".into()))?;
        let tx = self.tx;
        Ok(self.wait(tx.credential_by_id(id)).map_err(AuthError::from)?.credential)
    }

    /// `PATCH /credentials/{id}` (a new password) decided by the roles' `write` on
    /// `Credential`; other sessions are revoked unless `revoke` is `Nothing`.
    pub(crate) fn act_change_password(
        &mut self,
        id: DocId,
        password: &sesame_model::Password,
        revoke_others: bool,
    ) -> Result<(sesame_model::Credential, u64), AuthError> {
        let access = Access::WriteCredential;
        self.precheck(access, Action::Write, "Credential").map_err(query_to_auth)?;
        let tx = self.tx;
        let c = self.wait(tx.credential_by_id(id)).map_err(|e| match e {
            StoreError::NotFound => item_not_found("Credential", id),
            e => AuthError::from(e),
        })?;
        let mut f = sesame_fql::Object::new();
        f.insert(
            "document".into(),
            Value::Doc(FqlRef::id(
                c.credential.document.coll.as_str(),
                c.credential.document.id.as_i64(),
            )),
        );
        let plain = FqlRef::id("Credential", id.as_i64());
        let before = LiveDoc { ts: c.credential.ts, ttl: None, fields: f.clone() };
        let after = LiveDoc { ts: self.now(), ttl: None, fields: f };
        let args = [Value::Doc(pinned(&plain, before)), Value::Doc(pinned(&plain, after))];
        self.check_role(access, Action::Write, "Credential", &args).map_err(query_to_auth)?;
        self.engine.check_new_password(password)?;
        let hash = self.rt.block_on(self.engine.hasher.hash(password))?;
        let revoke = if revoke_others {
            sesame_store::Revoke::AllExcept(self.engine.current_token(self.caller).map(|t| t.id))
        } else {
            sesame_store::Revoke::Nothing
        };
        let now = self.now();
        let (c, n) =
            self.wait(tx.update_credential_hash(id, &hash, now, revoke, None)).map_err(|e| {
                AuthError::from_store(e, || {
                    format!("Collection `Credential` does not contain document with id {id}.")
                })
            })?;
        let (cid, doc) = (c.id, c.document.clone());
        self.audit(sesame_model::AuditKind::PasswordChanged, |e| {
            (e.credential, e.identity, e.count) = (Some(cid), Some(doc), Some(n))
        });
        Ok((c, n))
    }

    /// `DELETE` of a token by id, decided by the roles' `delete` on `Token`; a token the caller
    /// may not even read is not found (existence is not revealed).
    pub(crate) fn act_delete_token(&mut self, id: DocId) -> Result<(), AuthError> {
        use sesame_fql::Host as _;
        self.act_get_token(id)?;
        self.delete_doc(&FqlRef::id("Token", id.as_i64())).map_err(|e| match e.code {
            sesame_fql::Code::DocumentNotFound => item_not_found("Token", id),
            _ => query_to_auth(e),
        })
    }

    /// `DELETE /credentials/{id}` decided by the roles' `delete` on `Credential`: the identity's
    /// tokens go with it. How many tokens were revoked.
    pub(crate) fn act_delete_credential(&mut self, id: DocId) -> Result<u64, AuthError> {
        let access = Access::WriteCredential;
        self.precheck(access, Action::Delete, "Credential").map_err(query_to_auth)?;
        let tx = self.tx;
        self.wait(tx.credential_by_id(id)).map_err(|e| match e {
            StoreError::NotFound => item_not_found("Credential", id),
            e => AuthError::from(e),
        })?;
        let me = [Value::Doc(FqlRef::id("Credential", id.as_i64()))];
        self.check_role(access, Action::Delete, "Credential", &me).map_err(query_to_auth)?;
        let (doc, n) = self.wait(tx.delete_credential(id)).map_err(|e| match e {
            StoreError::NotFound => item_not_found("Credential", id),
            e => AuthError::from(e),
        })?;
        self.audit(sesame_model::AuditKind::CredentialDeleted, |e| {
            (e.credential, e.identity, e.count) = (Some(id), Some(doc), Some(n))
        });
        Ok(n)
    }

    /// `GET` of a token by id: 404 alike for missing and unreadable.
    pub(crate) fn act_get_token(&mut self, id: DocId) -> Result<sesame_model::Token, AuthError> {
        let tx = self.tx;
        let t = self.wait(tx.token_by_id(id)).map_err(|e| match e {
            StoreError::NotFound => item_not_found("Token", id),
            e => AuthError::from(e),
        })?;
        let me = FqlRef::id("Token", id.as_i64());
        if !self.may_read(Access::ReadToken(Target::Document(&t.document)), "Token", me) {
            return Err(item_not_found("Token", id));
        }
        Ok(t)
    }
}
