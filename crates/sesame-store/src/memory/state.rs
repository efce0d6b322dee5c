//! The memory backend's data: one [`State`] of persistent maps (`imbl`), so a copy is O(1) and
//! every write works on a copy that replaces the original only if the whole write succeeded.
//!
//! Every document, collection, credential, token and key operation is a plain method here, used
//! alike by the store and by its transactions. No locking here (see `memory/mod.rs`); audit and
//! throttling state live outside (they are not transactional).

use std::ops::Bound;

use imbl::{HashMap, OrdMap, OrdSet};
use sesame_model::{
    Collection, CollectionName, Credential, DocId, DocRef, Document, Fields, Json, Key,
    PasswordHash, RoleDef, RoleName, SecretDigest, Timestamp, Token,
};

use crate::encoding::{index_entries, terms_key, unique_entries};
use crate::{constraint, Cursor, Page, Revoke, StoreError, StoredCredential, VerifiedWith};

/// (collection, index, terms key, sort key, document): an index entry, in scan order.
type EntryKey = (CollectionName, String, [u8; 32], Vec<u8>, DocId);
/// (collection, constraint, values key) → the document holding those values.
type UniqueKey = (CollectionName, String, [u8; 32]);

/// A map keyed by secret digests. They are SHA-256 outputs of server-generated secrets, so
/// already uniform: their leading bytes are the hash, with no SipHash round per lookup (the
/// token lookup runs on every authenticated request). Only lookups take a client's digest;
/// what is inserted comes from secrets the server generated, so keys cannot be chosen to
/// collide.
type DigestMap<V> = imbl::GenericHashMap<
    SecretDigest,
    V,
    std::hash::BuildHasherDefault<DigestHasher>,
    imbl::shared_ptr::DefaultSharedPtr,
>;

/// The hasher of [`DigestMap`]: folds in the first 8 bytes of each write.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct State {
    collections: OrdMap<CollectionName, Collection>,
    docs: HashMap<DocId, Document>,
    docs_by_coll: HashMap<CollectionName, OrdSet<DocId>>,
    creds: HashMap<DocId, StoredCredential>,
    cred_by_doc: HashMap<DocId, DocId>,
    tokens: HashMap<DocId, (Token, SecretDigest)>,
    token_by_digest: DigestMap<DocId>,
    tokens_by_doc: HashMap<DocId, OrdSet<DocId>>,
    tokens_by_ttl: OrdSet<(Timestamp, DocId)>,
    keys: OrdMap<DocId, (Key, SecretDigest)>,
    key_by_digest: DigestMap<DocId>,
    entries: OrdSet<EntryKey>,
    uniques: OrdMap<UniqueKey, DocId>,
    roles: OrdMap<String, RoleDef>,
}

fn min_id() -> DocId {
    DocId::new(1).expect("1 is a valid id")
}

fn after_bound(after: Option<DocId>) -> (Bound<DocId>, Bound<DocId>) {
    (after.map_or(Bound::Unbounded, Bound::Excluded), Bound::Unbounded)
}

impl State {
    fn doc(&self, r: &DocRef) -> Result<&Document, StoreError> {
        self.docs.get(&r.id).filter(|d| d.coll == r.coll).ok_or(StoreError::NotFound)
    }

    fn coll(&self, name: &CollectionName) -> Result<&Collection, StoreError> {
        self.collections.get(name).ok_or(StoreError::NotFound)
    }

    // ----- index maintenance -----------------------------------------------------------------

    fn put_entries(&mut self, def: &Collection, doc: &Document) -> Result<(), StoreError> {
        for u in unique_entries(def, &doc.fields) {
            let k = (doc.coll.clone(), u.constraint, u.key);
            if self.uniques.get(&k).is_some_and(|other| *other != doc.id) {
                return Err(StoreError::Conflict {
                    constraint: constraint::unique(&def.name, &k.1),
                });
            }
            self.uniques.insert(k, doc.id);
        }
        for e in index_entries(def, &doc.fields) {
            self.entries.insert((doc.coll.clone(), e.index, e.terms_key, e.sort_key, doc.id));
        }
        Ok(())
    }

    fn drop_entries(&mut self, def: &Collection, doc: &Document) {
        for u in unique_entries(def, &doc.fields) {
            let k = (doc.coll.clone(), u.constraint, u.key);
            if self.uniques.get(&k) == Some(&doc.id) {
                self.uniques.remove(&k);
            }
        }
        for e in index_entries(def, &doc.fields) {
            self.entries.remove(&(doc.coll.clone(), e.index, e.terms_key, e.sort_key, doc.id));
        }
    }

    // ----- removal cascades ------------------------------------------------------------------

    fn remove_token(&mut self, id: DocId) -> bool {
        let Some((token, digest)) = self.tokens.remove(&id) else { return false };
        self.token_by_digest.remove(&digest);
        let doc = token.document.id;
        if let Some(set) = self.tokens_by_doc.get_mut(&doc) {
            set.remove(&id);
            if set.is_empty() {
                self.tokens_by_doc.remove(&doc);
            }
        }
        if let Some(ttl) = token.ttl {
            self.tokens_by_ttl.remove(&(ttl, id));
        }
        true
    }

    fn remove_tokens_of(&mut self, doc: &DocRef, except: Option<DocId>) -> u64 {
        let ids: Vec<DocId> = match self.tokens_by_doc.get(&doc.id) {
            Some(set) => set.iter().copied().filter(|id| Some(*id) != except).collect(),
            None => return 0,
        };
        let mut n = 0;
        for id in ids {
            if self.tokens.get(&id).is_some_and(|(t, _)| t.document == *doc)
                && self.remove_token(id)
            {
                n += 1;
            }
        }
        n
    }

    fn remove_credential(&mut self, id: DocId) -> bool {
        let Some(c) = self.creds.remove(&id) else { return false };
        self.cred_by_doc.remove(&c.credential.document.id);
        true
    }

    fn remove_document(&mut self, def: &Collection, id: DocId) -> bool {
        let Some(doc) = self.docs.remove(&id) else { return false };
        self.drop_entries(def, &doc);
        if let Some(set) = self.docs_by_coll.get_mut(&doc.coll) {
            set.remove(&id);
        }
        if let Some(cid) = self.cred_by_doc.get(&id).copied() {
            self.remove_credential(cid);
        }
        let tokens: Vec<DocId> =
            self.tokens_by_doc.get(&id).map(|s| s.iter().copied().collect()).unwrap_or_default();
        for t in tokens {
            self.remove_token(t);
        }
        true
    }

    // ----- collections -----------------------------------------------------------------------

    pub(super) fn create_collection(&mut self, coll: &Collection) -> Result<(), StoreError> {
        if self.collections.contains_key(&coll.name) {
            return Err(StoreError::conflict(constraint::COLLECTION_NAME));
        }
        self.collections.insert(coll.name.clone(), coll.clone());
        self.docs_by_coll.insert(coll.name.clone(), OrdSet::new());
        Ok(())
    }

    pub(super) fn update_collection(&mut self, new: &Collection) -> Result<(), StoreError> {
        let old = self.coll(&new.name)?.clone();
        let gone = Collection {
            indexes: old.indexes.iter().filter(|i| !new.indexes.contains(i)).cloned().collect(),
            constraints: old
                .constraints
                .iter()
                .filter(|c| !new.constraints.contains(c))
                .cloned()
                .collect(),
            ..old.clone()
        };
        let added = Collection {
            indexes: new.indexes.iter().filter(|i| !old.indexes.contains(i)).cloned().collect(),
            constraints: new
                .constraints
                .iter()
                .filter(|c| !old.constraints.contains(c))
                .cloned()
                .collect(),
            ..old.clone()
        };
        let ids: Vec<DocId> = self
            .docs_by_coll
            .get(&new.name)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let docs: Vec<Document> = ids.iter().filter_map(|id| self.docs.get(id).cloned()).collect();
        for d in &docs {
            self.drop_entries(&gone, d);
        }
        for d in &docs {
            self.put_entries(&added, d)?;
        }
        self.collections.insert(new.name.clone(), new.clone());
        Ok(())
    }

    pub(super) fn get_collection(&self, name: &CollectionName) -> Result<Collection, StoreError> {
        self.coll(name).cloned()
    }

    pub(super) fn list_collections(
        &self,
        after: Option<&CollectionName>,
        limit: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let items: Vec<Collection> = self
            .collections
            .range::<_, CollectionName>((lower, Bound::Unbounded))
            .take(limit + 1)
            .map(|(_, c)| c.clone())
            .collect();
        Ok(Page::from_overfetch(items, limit, |c| c.name.clone()))
    }

    pub(super) fn delete_collection(&mut self, name: &CollectionName) -> Result<(), StoreError> {
        let def = self.coll(name)?.clone();
        let ids = self.docs_by_coll.remove(name).unwrap_or_default();
        for id in ids {
            self.remove_document(&def, id);
        }
        self.collections.remove(name);
        Ok(())
    }

    // ----- documents -------------------------------------------------------------------------

    pub(super) fn create_document(&mut self, doc: &Document) -> Result<(), StoreError> {
        let def = self.coll(&doc.coll)?.clone();
        if self.docs.contains_key(&doc.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        self.put_entries(&def, doc)?;
        self.docs.insert(doc.id, doc.clone());
        if let Some(set) = self.docs_by_coll.get_mut(&doc.coll) {
            set.insert(doc.id);
        }
        Ok(())
    }

    pub(super) fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError> {
        self.doc(doc).cloned()
    }

    pub(super) fn find_documents(
        &self,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Document>, StoreError> {
        let ids = self.docs_by_coll.get(coll).ok_or(StoreError::NotFound)?;
        let items: Vec<Document> = ids
            .range(after_bound(after))
            .filter_map(|id| self.docs.get(id))
            .filter(|d| d.fields.matches(filter))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(items, limit, |d| d.id))
    }

    fn rewrite(
        &mut self,
        r: &DocRef,
        ts: Timestamp,
        change: impl FnOnce(&mut Fields),
    ) -> Result<Document, StoreError> {
        let old = self.doc(r)?.clone();
        let def = self.coll(&r.coll)?.clone();
        let mut new = old.clone();
        change(&mut new.fields);
        new.ts = ts;
        self.drop_entries(&def, &old);
        self.put_entries(&def, &new)?;
        self.docs.insert(r.id, new.clone());
        Ok(new)
    }

    pub(super) fn update_document(
        &mut self,
        doc: &DocRef,
        patch: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError> {
        self.rewrite(doc, ts, |f| f.merge(patch))
    }

    pub(super) fn replace_document(
        &mut self,
        doc: &DocRef,
        fields: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError> {
        self.rewrite(doc, ts, |f| *f = fields.clone().without_nulls())
    }

    pub(super) fn delete_document(&mut self, doc: &DocRef) -> Result<(), StoreError> {
        self.doc(doc)?;
        let def = self.coll(&doc.coll)?.clone();
        self.remove_document(&def, doc.id);
        Ok(())
    }

    pub(super) fn scan_index(
        &self,
        coll: &CollectionName,
        index: &str,
        terms: &[Json],
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Document, Cursor>, StoreError> {
        let def = self.coll(coll)?;
        let idx = def.index(index).ok_or(StoreError::NotFound)?;
        let tk = match terms_key(terms) {
            Some(tk) if terms.len() == idx.terms.len() => tk,
            _ => return Ok(Page { data: Vec::new(), after: None }),
        };
        let start = match after {
            Some(c) => {
                let (sk, id) = c.index_position(coll, index, &tk)?;
                Bound::Excluded((coll.clone(), index.to_owned(), tk, sk.to_vec(), id))
            }
            None => Bound::Included((coll.clone(), index.to_owned(), tk, Vec::new(), min_id())),
        };
        let items: Vec<(Document, Vec<u8>)> = self
            .entries
            .range((start, Bound::Unbounded))
            .take_while(|e| e.0 == *coll && e.1 == index && e.2 == tk)
            .take(limit + 1)
            .filter_map(|e| self.docs.get(&e.4).map(|d| (d.clone(), e.3.clone())))
            .collect();
        let page = Page::from_overfetch(items, limit, |(d, sk)| {
            Cursor::for_index(coll, index, &tk, sk, d.id)
        });
        Ok(Page { data: page.data.into_iter().map(|(d, _)| d).collect(), after: page.after })
    }

    pub(super) fn scan_collection(
        &self,
        coll: &CollectionName,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Document, Cursor>, StoreError> {
        let ids = self.docs_by_coll.get(coll).ok_or(StoreError::NotFound)?;
        let after = after.map(|c| c.collection_position(coll)).transpose()?;
        let items: Vec<Document> = ids
            .range(after_bound(after))
            .take(limit + 1)
            .filter_map(|id| self.docs.get(id).cloned())
            .collect();
        Ok(Page::from_overfetch(items, limit, |d| Cursor::for_collection(coll, d.id)))
    }

    // ----- credentials -----------------------------------------------------------------------

    pub(super) fn create_credential(&mut self, cred: &StoredCredential) -> Result<(), StoreError> {
        let c = &cred.credential;
        self.doc(&c.document)?;
        if self.cred_by_doc.contains_key(&c.document.id) {
            return Err(StoreError::conflict(constraint::CREDENTIAL_DOCUMENT));
        }
        if self.creds.contains_key(&c.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        self.cred_by_doc.insert(c.document.id, c.id);
        self.creds.insert(c.id, cred.clone());
        Ok(())
    }

    pub(super) fn credential_by_id(&self, id: DocId) -> Result<StoredCredential, StoreError> {
        self.creds.get(&id).cloned().ok_or(StoreError::NotFound)
    }

    pub(super) fn credential_by_document(
        &self,
        doc: &DocRef,
    ) -> Result<StoredCredential, StoreError> {
        self.doc(doc)?;
        let id = self.cred_by_doc.get(&doc.id).ok_or(StoreError::NotFound)?;
        self.creds.get(id).cloned().ok_or(StoreError::NotFound)
    }

    pub(super) fn update_credential_hash(
        &mut self,
        id: DocId,
        hash: &PasswordHash,
        ts: Timestamp,
        revoke: Revoke,
        expect: Option<&PasswordHash>,
    ) -> Result<(Credential, u64), StoreError> {
        let c = self.creds.get_mut(&id).ok_or(StoreError::NotFound)?;
        if expect.is_some_and(|e| c.hash.as_ref() != Some(e)) {
            return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
        }
        c.hash = Some(hash.clone());
        c.credential.ts = ts;
        let cred = c.credential.clone();
        let n = match revoke {
            Revoke::Nothing => 0,
            Revoke::AllExcept(except) => self.remove_tokens_of(&cred.document, except),
        };
        Ok((cred, n))
    }

    pub(super) fn delete_credential(&mut self, id: DocId) -> Result<(DocRef, u64), StoreError> {
        let doc = self
            .creds
            .get(&id)
            .map(|c| c.credential.document.clone())
            .ok_or(StoreError::NotFound)?;
        self.remove_credential(id);
        let n = self.remove_tokens_of(&doc, None);
        Ok((doc, n))
    }

    // ----- tokens ----------------------------------------------------------------------------

    pub(super) fn create_token(
        &mut self,
        token: &Token,
        digest: &SecretDigest,
        verified: Option<VerifiedWith<'_>>,
    ) -> Result<(), StoreError> {
        self.doc(&token.document)?;
        if let Some(v) = verified {
            let unchanged = self.creds.get(&v.credential).is_some_and(|c| {
                c.hash.as_ref() == Some(v.hash) && c.credential.document == token.document
            });
            if !unchanged {
                return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
            }
        }
        if self.token_by_digest.contains_key(digest) || self.key_by_digest.contains_key(digest) {
            return Err(StoreError::conflict(constraint::SECRET_DIGEST));
        }
        if self.tokens.contains_key(&token.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        self.token_by_digest.insert(*digest, token.id);
        let mut set = self.tokens_by_doc.get(&token.document.id).cloned().unwrap_or_default();
        set.insert(token.id);
        self.tokens_by_doc.insert(token.document.id, set);
        if let Some(ttl) = token.ttl {
            self.tokens_by_ttl.insert((ttl, token.id));
        }
        self.tokens.insert(token.id, (token.clone(), *digest));
        Ok(())
    }

    pub(super) fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError> {
        let id = self.token_by_digest.get(digest).ok_or(StoreError::NotFound)?;
        self.tokens.get(id).map(|(t, _)| t.clone()).ok_or(StoreError::NotFound)
    }

    pub(super) fn token_by_id(&self, id: DocId) -> Result<Token, StoreError> {
        self.tokens.get(&id).map(|(t, _)| t.clone()).ok_or(StoreError::NotFound)
    }

    pub(super) fn tokens_by_document(
        &self,
        doc: &DocRef,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Token>, StoreError> {
        let items: Vec<Token> = match self.tokens_by_doc.get(&doc.id) {
            Some(ids) => ids
                .range(after_bound(after))
                .filter_map(|id| self.tokens.get(id))
                .filter(|(t, _)| t.document == *doc)
                .take(limit + 1)
                .map(|(t, _)| t.clone())
                .collect(),
            None => Vec::new(),
        };
        Ok(Page::from_overfetch(items, limit, |t| t.id))
    }

    pub(super) fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        let max = DocId::new(i64::MAX as u64).expect("max id");
        let expired = self.tokens_by_ttl.range(..(now, max)).count();
        Ok((self.tokens.len() - expired) as u64)
    }

    pub(super) fn touch_token(
        &mut self,
        id: DocId,
        at: Timestamp,
        min_gap_us: i64,
    ) -> Result<bool, StoreError> {
        let Some((t, _)) = self.tokens.get_mut(&id) else { return Ok(false) };
        if t.last_used.is_some_and(|u| u.as_micros() >= at.as_micros().saturating_sub(min_gap_us)) {
            return Ok(false);
        }
        t.last_used = Some(at);
        Ok(true)
    }

    pub(super) fn delete_token(&mut self, id: DocId) -> Result<bool, StoreError> {
        Ok(self.remove_token(id))
    }

    pub(super) fn delete_tokens_of_document(
        &mut self,
        doc: &DocRef,
        except: Option<DocId>,
    ) -> Result<u64, StoreError> {
        Ok(self.remove_tokens_of(doc, except))
    }

    pub(super) fn delete_expired_tokens(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let expired: Vec<DocId> = self
            .tokens_by_ttl
            .iter()
            .take_while(|(ttl, _)| *ttl <= now)
            .take(limit)
            .map(|(_, id)| *id)
            .collect();
        Ok(expired.into_iter().filter(|id| self.remove_token(*id)).count() as u64)
    }

    // ----- keys ------------------------------------------------------------------------------

    pub(super) fn create_key(
        &mut self,
        key: &Key,
        digest: &SecretDigest,
    ) -> Result<(), StoreError> {
        if self.key_by_digest.contains_key(digest) || self.token_by_digest.contains_key(digest) {
            return Err(StoreError::conflict(constraint::SECRET_DIGEST));
        }
        if self.keys.contains_key(&key.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        self.key_by_digest.insert(*digest, key.id);
        self.keys.insert(key.id, (key.clone(), *digest));
        Ok(())
    }

    pub(super) fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError> {
        let id = self.key_by_digest.get(digest).ok_or(StoreError::NotFound)?;
        self.keys.get(id).map(|(k, _)| k.clone()).ok_or(StoreError::NotFound)
    }

    pub(super) fn key_by_id(&self, id: DocId) -> Result<Key, StoreError> {
        self.keys.get(&id).map(|(k, _)| k.clone()).ok_or(StoreError::NotFound)
    }

    pub(super) fn list_keys(
        &self,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Key>, StoreError> {
        let items: Vec<Key> = self
            .keys
            .range(after_bound(after))
            .take(limit + 1)
            .map(|(_, (k, _))| k.clone())
            .collect();
        Ok(Page::from_overfetch(items, limit, |k| k.id))
    }

    pub(super) fn delete_key(&mut self, id: DocId) -> Result<bool, StoreError> {
        match self.keys.remove(&id) {
            Some((_, digest)) => {
                self.key_by_digest.remove(&digest);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    // ----- roles -----------------------------------------------------------------------------

    pub(super) fn create_role(&mut self, role: &RoleDef) -> Result<(), StoreError> {
        if self.roles.contains_key(role.name.as_str()) {
            return Err(StoreError::conflict(constraint::ROLE_NAME));
        }
        self.roles.insert(role.name.as_str().to_owned(), role.clone());
        Ok(())
    }

    pub(super) fn get_role(&self, name: &RoleName) -> Result<RoleDef, StoreError> {
        self.roles.get(name.as_str()).cloned().ok_or(StoreError::NotFound)
    }

    pub(super) fn list_roles(
        &self,
        after: Option<&RoleName>,
        limit: usize,
    ) -> Result<Page<RoleDef, RoleName>, StoreError> {
        let lower = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.as_str().to_owned()));
        let items: Vec<RoleDef> = self
            .roles
            .range::<_, String>((lower, Bound::Unbounded))
            .take(limit + 1)
            .map(|(_, r)| r.clone())
            .collect();
        Ok(Page::from_overfetch(items, limit, |r| r.name.clone()))
    }

    pub(super) fn replace_role(
        &mut self,
        name: &RoleName,
        role: &RoleDef,
    ) -> Result<(), StoreError> {
        if !self.roles.contains_key(name.as_str()) {
            return Err(StoreError::NotFound);
        }
        if role.name != *name && self.roles.contains_key(role.name.as_str()) {
            return Err(StoreError::conflict(constraint::ROLE_NAME));
        }
        self.roles.remove(name.as_str());
        self.roles.insert(role.name.as_str().to_owned(), role.clone());
        Ok(())
    }

    pub(super) fn delete_role(&mut self, name: &RoleName) -> Result<bool, StoreError> {
        Ok(self.roles.remove(name.as_str()).is_some())
    }

    pub(super) fn roles_with_member(&self, collection: &str) -> Result<Vec<RoleDef>, StoreError> {
        Ok(self.roles.values().filter(|r| r.names_member(collection)).cloned().collect())
    }
}
