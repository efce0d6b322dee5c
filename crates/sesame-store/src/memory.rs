//! [`MemoryStore`]: the in-memory backend. Nothing persists across restarts.
//!
//! All state sits behind one `parking_lot::RwLock`, so every trait method is trivially atomic:
//! reads share the lock, writes hold it exclusively for a few map operations (never across an
//! `.await`). Secondary maps play the role of the database's indexes (digest, document, expiry).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use parking_lot::RwLock;
use sesame_model::{
    AuditEvent, Collection, CollectionName, Credential, DocId, DocRef, Document, Fields, Key,
    PasswordHash, SecretDigest, Timestamp, Token,
};

use crate::{
    constraint, AuditFilter, LoginFailures, Page, Reservation, Revoke, Store, StoreError,
    StoredCredential, ThrottleKey, ThrottlePolicy, VerifiedWith,
};

/// An in-memory [`Store`], safe to share between tasks and threads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    collections: BTreeMap<CollectionName, Collection>,
    docs: HashMap<DocId, Document>,
    docs_by_coll: HashMap<CollectionName, BTreeSet<DocId>>,
    creds: HashMap<DocId, StoredCredential>,
    cred_by_doc: HashMap<DocId, DocId>,
    tokens: HashMap<DocId, (Token, SecretDigest)>,
    token_by_digest: HashMap<SecretDigest, DocId>,
    tokens_by_doc: HashMap<DocId, BTreeSet<DocId>>,
    tokens_by_ttl: BTreeSet<(Timestamp, DocId)>,
    keys: BTreeMap<DocId, (Key, SecretDigest)>,
    key_by_digest: HashMap<SecretDigest, DocId>,
    failures: HashMap<ThrottleKey, LoginFailures>,
    audit: BTreeMap<DocId, AuditEvent>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl State {
    fn doc(&self, r: &DocRef) -> Result<&Document, StoreError> {
        self.docs.get(&r.id).filter(|d| d.coll == r.coll).ok_or(StoreError::NotFound)
    }

    fn remove_token(&mut self, id: DocId) -> bool {
        let Some((token, digest)) = self.tokens.remove(&id) else { return false };
        self.token_by_digest.remove(&digest);
        if let Some(set) = self.tokens_by_doc.get_mut(&token.document.id) {
            set.remove(&id);
            if set.is_empty() {
                self.tokens_by_doc.remove(&token.document.id);
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

    fn remove_document(&mut self, id: DocId) -> bool {
        let Some(doc) = self.docs.remove(&id) else { return false };
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
}

fn first_after<'a, I>(ids: I, after: Option<DocId>) -> impl Iterator<Item = &'a DocId>
where
    I: Iterator<Item = &'a DocId>,
{
    ids.skip_while(move |id| after.is_some_and(|a| **id <= a))
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create_collection(&self, coll: &Collection) -> Result<(), StoreError> {
        let mut s = self.state.write();
        if s.collections.contains_key(&coll.name) {
            return Err(StoreError::conflict(constraint::COLLECTION_NAME));
        }
        s.collections.insert(coll.name.clone(), coll.clone());
        s.docs_by_coll.insert(coll.name.clone(), BTreeSet::new());
        Ok(())
    }

    async fn get_collection(&self, name: &CollectionName) -> Result<Collection, StoreError> {
        self.state.read().collections.get(name).cloned().ok_or(StoreError::NotFound)
    }

    async fn list_collections(
        &self,
        after: Option<&CollectionName>,
        limit: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError> {
        let s = self.state.read();
        let items: Vec<Collection> = s
            .collections
            .values()
            .filter(|c| after.is_none_or(|a| &c.name > a))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(items, limit, |c| c.name.clone()))
    }

    async fn delete_collection(&self, name: &CollectionName) -> Result<(), StoreError> {
        let mut s = self.state.write();
        if s.collections.remove(name).is_none() {
            return Err(StoreError::NotFound);
        }
        let ids = s.docs_by_coll.remove(name).unwrap_or_default();
        for id in ids {
            s.remove_document(id);
        }
        Ok(())
    }

    async fn create_document(&self, doc: &Document) -> Result<(), StoreError> {
        let mut s = self.state.write();
        if !s.collections.contains_key(&doc.coll) {
            return Err(StoreError::NotFound);
        }
        if s.docs.contains_key(&doc.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        s.docs.insert(doc.id, doc.clone());
        s.docs_by_coll.entry(doc.coll.clone()).or_default().insert(doc.id);
        Ok(())
    }

    async fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError> {
        self.state.read().doc(doc).cloned()
    }

    async fn find_documents(
        &self,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Document>, StoreError> {
        let s = self.state.read();
        let ids = s.docs_by_coll.get(coll).ok_or(StoreError::NotFound)?;
        let items: Vec<Document> = first_after(ids.iter(), after)
            .filter_map(|id| s.docs.get(id))
            .filter(|d| d.fields.matches(filter))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(items, limit, |d| d.id))
    }

    async fn update_document(
        &self,
        doc: &DocRef,
        patch: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError> {
        let mut s = self.state.write();
        s.doc(doc)?;
        let d = s.docs.get_mut(&doc.id).ok_or(StoreError::NotFound)?;
        d.fields.merge(patch);
        d.ts = ts;
        Ok(d.clone())
    }

    async fn replace_document(
        &self,
        doc: &DocRef,
        fields: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError> {
        let mut s = self.state.write();
        s.doc(doc)?;
        let d = s.docs.get_mut(&doc.id).ok_or(StoreError::NotFound)?;
        d.fields = fields.clone().without_nulls();
        d.ts = ts;
        Ok(d.clone())
    }

    async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError> {
        let mut s = self.state.write();
        s.doc(doc)?;
        s.remove_document(doc.id);
        Ok(())
    }

    async fn create_credential(&self, cred: &StoredCredential) -> Result<(), StoreError> {
        let mut s = self.state.write();
        let c = &cred.credential;
        s.doc(&c.document)?;
        if s.cred_by_doc.contains_key(&c.document.id) {
            return Err(StoreError::conflict(constraint::CREDENTIAL_DOCUMENT));
        }
        if s.creds.contains_key(&c.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        s.cred_by_doc.insert(c.document.id, c.id);
        s.creds.insert(c.id, cred.clone());
        Ok(())
    }

    async fn credential_by_id(&self, id: DocId) -> Result<StoredCredential, StoreError> {
        self.state.read().creds.get(&id).cloned().ok_or(StoreError::NotFound)
    }

    async fn credential_by_document(&self, doc: &DocRef) -> Result<StoredCredential, StoreError> {
        let s = self.state.read();
        s.doc(doc)?;
        let id = s.cred_by_doc.get(&doc.id).ok_or(StoreError::NotFound)?;
        s.creds.get(id).cloned().ok_or(StoreError::NotFound)
    }

    async fn update_credential_hash(
        &self,
        id: DocId,
        hash: &PasswordHash,
        ts: Timestamp,
        revoke: Revoke,
        expect: Option<&PasswordHash>,
    ) -> Result<(Credential, u64), StoreError> {
        let mut s = self.state.write();
        let c = s.creds.get_mut(&id).ok_or(StoreError::NotFound)?;
        if expect.is_some_and(|e| c.hash.as_ref() != Some(e)) {
            return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
        }
        c.hash = Some(hash.clone());
        c.credential.ts = ts;
        let cred = c.credential.clone();
        let n = match revoke {
            Revoke::Nothing => 0,
            Revoke::AllExcept(except) => s.remove_tokens_of(&cred.document, except),
        };
        Ok((cred, n))
    }

    async fn delete_credential(&self, id: DocId) -> Result<(DocRef, u64), StoreError> {
        let mut s = self.state.write();
        let doc =
            s.creds.get(&id).map(|c| c.credential.document.clone()).ok_or(StoreError::NotFound)?;
        s.remove_credential(id);
        let n = s.remove_tokens_of(&doc, None);
        Ok((doc, n))
    }

    async fn create_token(
        &self,
        token: &Token,
        digest: &SecretDigest,
        verified: Option<VerifiedWith<'_>>,
    ) -> Result<(), StoreError> {
        let mut s = self.state.write();
        s.doc(&token.document)?;
        if let Some(v) = verified {
            let unchanged = s.creds.get(&v.credential).is_some_and(|c| {
                c.hash.as_ref() == Some(v.hash) && c.credential.document == token.document
            });
            if !unchanged {
                return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
            }
        }
        if s.token_by_digest.contains_key(digest) || s.key_by_digest.contains_key(digest) {
            return Err(StoreError::conflict(constraint::SECRET_DIGEST));
        }
        if s.tokens.contains_key(&token.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        s.token_by_digest.insert(*digest, token.id);
        s.tokens_by_doc.entry(token.document.id).or_default().insert(token.id);
        if let Some(ttl) = token.ttl {
            s.tokens_by_ttl.insert((ttl, token.id));
        }
        s.tokens.insert(token.id, (token.clone(), *digest));
        Ok(())
    }

    async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError> {
        let s = self.state.read();
        let id = s.token_by_digest.get(digest).ok_or(StoreError::NotFound)?;
        s.tokens.get(id).map(|(t, _)| t.clone()).ok_or(StoreError::NotFound)
    }

    async fn token_by_id(&self, id: DocId) -> Result<Token, StoreError> {
        self.state.read().tokens.get(&id).map(|(t, _)| t.clone()).ok_or(StoreError::NotFound)
    }

    async fn tokens_by_document(
        &self,
        doc: &DocRef,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Token>, StoreError> {
        let s = self.state.read();
        let items: Vec<Token> = match s.tokens_by_doc.get(&doc.id) {
            Some(ids) => first_after(ids.iter(), after)
                .filter_map(|id| s.tokens.get(id))
                .filter(|(t, _)| t.document == *doc)
                .take(limit + 1)
                .map(|(t, _)| t.clone())
                .collect(),
            None => Vec::new(),
        };
        Ok(Page::from_overfetch(items, limit, |t| t.id))
    }

    async fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        let s = self.state.read();
        let expired =
            s.tokens_by_ttl.range(..(now, DocId::new(i64::MAX as u64).expect("max id"))).count();
        Ok((s.tokens.len() - expired) as u64)
    }

    async fn touch_token(
        &self,
        id: DocId,
        at: Timestamp,
        min_gap_us: i64,
    ) -> Result<bool, StoreError> {
        let mut s = self.state.write();
        let Some((t, _)) = s.tokens.get_mut(&id) else { return Ok(false) };
        if t.last_used.is_some_and(|u| u.as_micros() >= at.as_micros().saturating_sub(min_gap_us)) {
            return Ok(false);
        }
        t.last_used = Some(at);
        Ok(true)
    }

    async fn delete_token(&self, id: DocId) -> Result<bool, StoreError> {
        Ok(self.state.write().remove_token(id))
    }

    async fn delete_tokens_of_document(
        &self,
        doc: &DocRef,
        except: Option<DocId>,
    ) -> Result<u64, StoreError> {
        Ok(self.state.write().remove_tokens_of(doc, except))
    }

    async fn delete_expired_tokens(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let mut s = self.state.write();
        let expired: Vec<DocId> = s
            .tokens_by_ttl
            .iter()
            .take_while(|(ttl, _)| *ttl <= now)
            .take(limit)
            .map(|(_, id)| *id)
            .collect();
        let mut n = 0;
        for id in expired {
            if s.remove_token(id) {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn create_key(&self, key: &Key, digest: &SecretDigest) -> Result<(), StoreError> {
        let mut s = self.state.write();
        if s.key_by_digest.contains_key(digest) || s.token_by_digest.contains_key(digest) {
            return Err(StoreError::conflict(constraint::SECRET_DIGEST));
        }
        if s.keys.contains_key(&key.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        s.key_by_digest.insert(*digest, key.id);
        s.keys.insert(key.id, (key.clone(), *digest));
        Ok(())
    }

    async fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError> {
        let s = self.state.read();
        let id = s.key_by_digest.get(digest).ok_or(StoreError::NotFound)?;
        s.keys.get(id).map(|(k, _)| k.clone()).ok_or(StoreError::NotFound)
    }

    async fn key_by_id(&self, id: DocId) -> Result<Key, StoreError> {
        self.state.read().keys.get(&id).map(|(k, _)| k.clone()).ok_or(StoreError::NotFound)
    }

    async fn list_keys(&self, after: Option<DocId>, limit: usize) -> Result<Page<Key>, StoreError> {
        let s = self.state.read();
        let items: Vec<Key> = s
            .keys
            .range((
                after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                std::ops::Bound::Unbounded,
            ))
            .take(limit + 1)
            .map(|(_, (k, _))| k.clone())
            .collect();
        Ok(Page::from_overfetch(items, limit, |k| k.id))
    }

    async fn delete_key(&self, id: DocId) -> Result<bool, StoreError> {
        let mut s = self.state.write();
        match s.keys.remove(&id) {
            Some((_, digest)) => {
                s.key_by_digest.remove(&digest);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut s = self.state.write();
        if s.audit.contains_key(&event.id) {
            return Err(StoreError::conflict(constraint::ID));
        }
        s.audit.insert(event.id, event.clone());
        Ok(())
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let s = self.state.read();
        let items: Vec<AuditEvent> = s
            .audit
            .range((
                after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                std::ops::Bound::Unbounded,
            ))
            .map(|(_, e)| e)
            .filter(|e| filter.identity.as_ref().is_none_or(|i| e.identity.as_ref() == Some(i)))
            .filter(|e| filter.kind.is_none_or(|k| e.kind == k))
            .filter(|e| filter.from.is_none_or(|f| e.ts >= f))
            .filter(|e| filter.to.is_none_or(|t| e.ts < t))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(items, limit, |e| e.id))
    }

    async fn delete_audit_before(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut s = self.state.write();
        let old: Vec<DocId> =
            s.audit.values().filter(|e| e.ts < before).take(limit).map(|e| e.id).collect();
        for id in &old {
            s.audit.remove(id);
        }
        Ok(old.len() as u64)
    }

    async fn reserve_login_attempt(
        &self,
        key: &ThrottleKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<Reservation, StoreError> {
        // Check and count under one write lock: concurrent attempts cannot both see the old
        // count.
        let mut s = self.state.write();
        if let Some(f) = s.failures.get(key) {
            let mut f = *f;
            if now.as_micros().saturating_sub(f.window_start.as_micros()) >= policy.window_us {
                f.in_window = 0; // the window is over: its cap no longer applies
            }
            if let Some(until) = policy.blocked_until(&f).filter(|u| *u > now) {
                return Ok(Reservation::Refused { until });
            }
        }
        let f = s.failures.entry(*key).or_insert(LoginFailures {
            consecutive: 0,
            last_failure: now,
            window_start: now,
            in_window: 0,
        });
        f.consecutive = f.consecutive.saturating_add(1);
        f.last_failure = now;
        if now.as_micros().saturating_sub(f.window_start.as_micros()) >= policy.window_us {
            f.window_start = now;
            f.in_window = 1;
        } else {
            f.in_window = f.in_window.saturating_add(1);
        }
        Ok(Reservation::Granted(*f))
    }

    async fn login_failures(&self, key: &ThrottleKey) -> Result<Option<LoginFailures>, StoreError> {
        Ok(self.state.read().failures.get(key).copied())
    }

    async fn clear_login_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.state.write().failures.remove(key);
        Ok(())
    }

    async fn delete_stale_login_failures(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut s = self.state.write();
        let stale: Vec<ThrottleKey> = s
            .failures
            .iter()
            .filter(|(_, f)| f.last_failure < before)
            .map(|(k, _)| *k)
            .take(limit)
            .collect();
        for k in &stale {
            s.failures.remove(k);
        }
        Ok(stale.len() as u64)
    }
}
