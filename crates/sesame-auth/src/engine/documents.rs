//! Collections and documents: create, read, find, update, replace, delete, each behind its
//! privilege check. Not credentials or tokens (their own files), not SQL.

use super::*;

impl Engine {
    /// Creates a collection (admin).
    pub async fn create_collection(
        &self,
        c: &Caller,
        name: CollectionName,
    ) -> Result<Collection, AuthError> {
        let p = &c.principal;
        self.check(p, Access::WriteSchema)?;
        let c = Collection::new(name, self.clock.now());
        self.store.create_collection(&c).await.map_err(|e| match e {
            StoreError::Conflict { .. } => AuthError::ConstraintFailure {
                message: format!("Collection `{}` already exists.", c.name),
            },
            e => AuthError::from(e),
        })?;
        Ok(c)
    }

    /// Reads a collection.
    pub async fn get_collection(
        &self,
        c: &Caller,
        name: &CollectionName,
    ) -> Result<Collection, AuthError> {
        let p = &c.principal;
        self.check(p, Access::ReadSchema)?;
        self.store
            .get_collection(name)
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(name)))
    }

    /// Lists collections by name.
    pub async fn list_collections(
        &self,
        c: &Caller,
        after: Option<&CollectionName>,
        size: Option<usize>,
    ) -> Result<Page<Collection, CollectionName>, AuthError> {
        let p = &c.principal;
        self.check(p, Access::ReadSchema)?;
        let size = self.page_size(size)?;
        Ok(self.store.list_collections(after, size).await?)
    }

    /// Deletes a collection with everything in it (admin).
    pub async fn delete_collection(
        &self,
        c: &Caller,
        name: &CollectionName,
    ) -> Result<(), AuthError> {
        let p = &c.principal;
        self.check(p, Access::WriteSchema)?;
        self.store
            .delete_collection(name)
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(name)))
    }

    /// Creates a document (`Customer.create({...})`). Top-level nulls are dropped.
    pub async fn create_document(
        &self,
        c: &Caller,
        coll: CollectionName,
        fields: Fields,
    ) -> Result<Document, AuthError> {
        let p = &c.principal;
        let fields = fields.without_nulls();
        if !p.may(&Access::WriteDocument(&coll)) && p.has_roles() {
            return self.in_host(c, true, move |h| h.act_create_document(&coll, &fields)).await;
        }
        self.check(p, Access::WriteDocument(&coll))?;
        let ts = self.clock.now();
        let doc = self
            .with_fresh_id(|id| {
                let d = Document { id, coll: coll.clone(), ts, fields: fields.clone() };
                async move { self.store.create_document(&d).await.map(|()| d) }
            })
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(&coll)))?;
        Ok(doc)
    }

    /// Reads a document (`Customer.byId(id)`).
    pub async fn get_document(&self, c: &Caller, doc: &DocRef) -> Result<Document, AuthError> {
        let p = &c.principal;
        if !p.may(&Access::ReadDocument(Target::Document(doc))) && p.has_roles() {
            let doc = doc.clone();
            return self.in_host(c, false, move |h| h.act_get_document(&doc)).await;
        }
        self.check(p, Access::ReadDocument(Target::Document(doc)))?;
        self.store.get_document(doc).await.map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    /// Documents whose top-level fields equal `filter`'s (`Customer.byName("Jane", "Doe")`).
    pub async fn find_documents(
        &self,
        c: &Caller,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<Document>, AuthError> {
        let p = &c.principal;
        let by_roles = !p.may(&Access::ListDocuments(coll)) && p.has_roles();
        if !by_roles {
            self.check(p, Access::ListDocuments(coll))?;
        }
        let size = self.page_size(size)?;
        if filter.as_map().values().any(|v| v.is_null()) {
            return Err(AuthError::invalid("a filter value may not be null"));
        }
        if by_roles {
            let (coll, filter) = (coll.clone(), filter.clone());
            return self
                .in_host(c, false, move |h| h.act_find_documents(&coll, &filter, after, size))
                .await;
        }
        self.store
            .find_documents(coll, filter, after, size)
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(coll)))
    }

    /// Merges `patch` into a document (`doc.update({...})`); `null` removes a field.
    pub async fn update_document(
        &self,
        c: &Caller,
        doc: &DocRef,
        patch: &Fields,
    ) -> Result<Document, AuthError> {
        let p = &c.principal;
        if !p.may(&Access::WriteDocument(&doc.coll)) && p.has_roles() {
            let (doc, patch) = (doc.clone(), patch.clone());
            return self
                .in_host(c, true, move |h| {
                    h.act_write_document(&doc, &|old: &Fields| {
                        let mut f = old.clone();
                        f.merge(&patch);
                        f
                    })
                })
                .await;
        }
        self.check(p, Access::WriteDocument(&doc.coll))?;
        self.store
            .update_document(doc, patch, self.clock.now())
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    /// Replaces a document's fields (`doc.replace({...})`).
    pub async fn replace_document(
        &self,
        c: &Caller,
        doc: &DocRef,
        fields: Fields,
    ) -> Result<Document, AuthError> {
        let p = &c.principal;
        if !p.may(&Access::WriteDocument(&doc.coll)) && p.has_roles() {
            let (doc, fields) = (doc.clone(), fields.without_nulls());
            return self
                .in_host(c, true, move |h| h.act_write_document(&doc, &|_: &Fields| fields.clone()))
                .await;
        }
        self.check(p, Access::WriteDocument(&doc.coll))?;
        self.store
            .replace_document(doc, &fields.without_nulls(), self.clock.now())
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    /// Deletes a document, its credential and its tokens (`doc.delete()`).
    pub async fn delete_document(&self, c: &Caller, doc: &DocRef) -> Result<(), AuthError> {
        let p = &c.principal;
        if !p.may(&Access::WriteDocument(&doc.coll)) && p.has_roles() {
            let doc = doc.clone();
            return self.in_host(c, true, move |h| h.act_delete_document(&doc)).await;
        }
        self.check(p, Access::WriteDocument(&doc.coll))?;
        self.store
            .delete_document(doc)
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }
}
