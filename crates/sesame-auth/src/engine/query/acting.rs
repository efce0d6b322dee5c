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
