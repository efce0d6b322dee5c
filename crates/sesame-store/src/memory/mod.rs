//! [`MemoryStore`]: the in-memory backend, with transactions. Nothing persists across restarts.
//!
//! Data sits in one immutable [`State`] of persistent maps behind an `ArcSwap`. Readers load the
//! current state for a few map lookups (never across an `.await`; the hot path
//! `token_by_digest` is one of them) without a lock: no counter shared between threads is
//! written per read, so readers on different cores do not contend. Every write of documents,
//! collections, credentials, tokens or keys first takes the store's one *writer* lock (a
//! `tokio::sync::Mutex`), works on an O(1) copy of the state and publishes the copy only if it
//! fully succeeded: so each write is all-or-nothing.
//!
//! A transaction ([`MemoryStore::begin`]) holds the writer lock from begin to commit or drop and
//! works on its own copy, swapped in at commit: transactions are serialized (isolation is
//! serializable, trivially; `Contention` never happens), readers never see half of one, and a
//! dropped one leaves nothing. Audit events and throttling counters are outside (their own lock):
//! not transactional, never blocked by a transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use sesame_model::{
    AuditEvent, Collection, CollectionName, Credential, DocId, DocRef, Document, Fields, Json, Key,
    PasswordHash, RoleDef, RoleName, SecretDigest, Timestamp, Token,
};

use crate::{
    constraint, AuditFilter, AuditStore, AuthStore, Cursor, DocumentStore, LoginFailures, Page,
    Reservation, Revoke, Store, StoreError, StoreTx, StoredCredential, ThrottleKey, ThrottlePolicy,
    ThrottleStore, VerifiedWith,
};

mod state;

use state::State;

/// An in-memory [`Store`], safe to share between tasks and threads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: ArcSwap<State>,
    writer: Arc<tokio::sync::Mutex<()>>,
    last_txn_ts: Mutex<i64>,
    aux: RwLock<Aux>,
}

/// Audit and throttling: not transactional, so outside [`State`] and the writer lock.
#[derive(Debug, Default)]
struct Aux {
    failures: HashMap<ThrottleKey, LoginFailures>,
    audit: BTreeMap<DocId, AuditEvent>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.inner.state.load())
    }

    async fn write<T: Send>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        let _writer = self.inner.writer.lock().await;
        let mut copy = State::clone(&self.inner.state.load());
        let out = f(&mut copy)?;
        self.inner.state.store(Arc::new(copy));
        Ok(out)
    }
}

/// A transaction of a [`MemoryStore`]: its own copy of the state, under the writer lock.
struct MemoryTx {
    inner: Arc<Inner>,
    /// `None` for a read-only transaction: it writes nothing, so it needs no writer lock.
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    state: Mutex<State>,
    ts: Timestamp,
}

impl std::fmt::Debug for MemoryTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTx").field("ts", &self.ts).finish_non_exhaustive()
    }
}

impl MemoryTx {
    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.state.lock())
    }

    async fn write<T: Send>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        if self._writer.is_none() {
            return Err(StoreError::Other("a write in a read-only transaction".into()));
        }
        let mut state = self.state.lock();
        let mut copy = state.clone();
        let out = f(&mut copy)?;
        *state = copy;
        Ok(out)
    }
}

/// The document and auth operations, identical for the store and its transactions: each is one
/// `read` or `write` of a [`State`] method.
macro_rules! state_ops {
    ($ty:ty) => {
        #[async_trait]
        impl DocumentStore for $ty {
            async fn create_collection(&self, coll: &Collection) -> Result<(), StoreError> {
                self.write(|s| s.create_collection(coll)).await
            }
            async fn update_collection(&self, coll: &Collection) -> Result<(), StoreError> {
                self.write(|s| s.update_collection(coll)).await
            }
            async fn get_collection(
                &self,
                name: &CollectionName,
            ) -> Result<Collection, StoreError> {
                self.read(|s| s.get_collection(name))
            }
            async fn list_collections(
                &self,
                after: Option<&CollectionName>,
                limit: usize,
            ) -> Result<Page<Collection, CollectionName>, StoreError> {
                self.read(|s| s.list_collections(after, limit))
            }
            async fn delete_collection(&self, name: &CollectionName) -> Result<(), StoreError> {
                self.write(|s| s.delete_collection(name)).await
            }
            async fn create_document(&self, doc: &Document) -> Result<(), StoreError> {
                self.write(|s| s.create_document(doc)).await
            }
            async fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError> {
                self.read(|s| s.get_document(doc))
            }
            async fn find_documents(
                &self,
                coll: &CollectionName,
                filter: &Fields,
                after: Option<DocId>,
                limit: usize,
            ) -> Result<Page<Document>, StoreError> {
                self.read(|s| s.find_documents(coll, filter, after, limit))
            }
            async fn update_document(
                &self,
                doc: &DocRef,
                patch: &Fields,
                ts: Timestamp,
            ) -> Result<Document, StoreError> {
                self.write(|s| s.update_document(doc, patch, ts)).await
            }
            async fn replace_document(
                &self,
                doc: &DocRef,
                fields: &Fields,
                ts: Timestamp,
            ) -> Result<Document, StoreError> {
                self.write(|s| s.replace_document(doc, fields, ts)).await
            }
            async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError> {
                self.write(|s| s.delete_document(doc)).await
            }
            async fn scan_index(
                &self,
                coll: &CollectionName,
                index: &str,
                terms: &[Json],
                after: Option<&Cursor>,
                limit: usize,
            ) -> Result<Page<Document, Cursor>, StoreError> {
                self.read(|s| s.scan_index(coll, index, terms, after, limit))
            }
            async fn scan_collection(
                &self,
                coll: &CollectionName,
                after: Option<&Cursor>,
                limit: usize,
            ) -> Result<Page<Document, Cursor>, StoreError> {
                self.read(|s| s.scan_collection(coll, after, limit))
            }
        }

        #[async_trait]
        impl AuthStore for $ty {
            async fn create_credential(&self, cred: &StoredCredential) -> Result<(), StoreError> {
                self.write(|s| s.create_credential(cred)).await
            }
            async fn credential_by_id(&self, id: DocId) -> Result<StoredCredential, StoreError> {
                self.read(|s| s.credential_by_id(id))
            }
            async fn credential_by_document(
                &self,
                doc: &DocRef,
            ) -> Result<StoredCredential, StoreError> {
                self.read(|s| s.credential_by_document(doc))
            }
            async fn update_credential_hash(
                &self,
                id: DocId,
                hash: &PasswordHash,
                ts: Timestamp,
                revoke: Revoke,
                expect: Option<&PasswordHash>,
            ) -> Result<(Credential, u64), StoreError> {
                self.write(|s| s.update_credential_hash(id, hash, ts, revoke, expect)).await
            }
            async fn delete_credential(&self, id: DocId) -> Result<(DocRef, u64), StoreError> {
                self.write(|s| s.delete_credential(id)).await
            }
            async fn create_token(
                &self,
                token: &Token,
                digest: &SecretDigest,
                verified: Option<VerifiedWith<'_>>,
            ) -> Result<(), StoreError> {
                self.write(|s| s.create_token(token, digest, verified)).await
            }
            async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError> {
                self.read(|s| s.token_by_digest(digest))
            }
            fn token_by_digest_now(
                &self,
                digest: &SecretDigest,
            ) -> Option<Result<Token, StoreError>> {
                Some(self.read(|s| s.token_by_digest(digest)))
            }
            async fn token_by_id(&self, id: DocId) -> Result<Token, StoreError> {
                self.read(|s| s.token_by_id(id))
            }
            async fn tokens_by_document(
                &self,
                doc: &DocRef,
                after: Option<DocId>,
                limit: usize,
            ) -> Result<Page<Token>, StoreError> {
                self.read(|s| s.tokens_by_document(doc, after, limit))
            }
            async fn touch_token(
                &self,
                id: DocId,
                at: Timestamp,
                min_gap_us: i64,
            ) -> Result<bool, StoreError> {
                self.write(|s| s.touch_token(id, at, min_gap_us)).await
            }
            async fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
                self.read(|s| s.count_active_tokens(now))
            }
            async fn delete_token(&self, id: DocId) -> Result<bool, StoreError> {
                self.write(|s| s.delete_token(id)).await
            }
            async fn delete_tokens_of_document(
                &self,
                doc: &DocRef,
                except: Option<DocId>,
            ) -> Result<u64, StoreError> {
                self.write(|s| s.delete_tokens_of_document(doc, except)).await
            }
            async fn delete_expired_tokens(
                &self,
                now: Timestamp,
                limit: usize,
            ) -> Result<u64, StoreError> {
                self.write(|s| s.delete_expired_tokens(now, limit)).await
            }
            async fn create_key(&self, key: &Key, digest: &SecretDigest) -> Result<(), StoreError> {
                self.write(|s| s.create_key(key, digest)).await
            }
            async fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError> {
                self.read(|s| s.key_by_digest(digest))
            }
            async fn key_by_id(&self, id: DocId) -> Result<Key, StoreError> {
                self.read(|s| s.key_by_id(id))
            }
            async fn list_keys(
                &self,
                after: Option<DocId>,
                limit: usize,
            ) -> Result<Page<Key>, StoreError> {
                self.read(|s| s.list_keys(after, limit))
            }
            async fn delete_key(&self, id: DocId) -> Result<bool, StoreError> {
                self.write(|s| s.delete_key(id)).await
            }
            async fn create_role(&self, role: &RoleDef) -> Result<(), StoreError> {
                self.write(|s| s.create_role(role)).await
            }
            async fn get_role(&self, name: &RoleName) -> Result<RoleDef, StoreError> {
                self.read(|s| s.get_role(name))
            }
            async fn list_roles(
                &self,
                after: Option<&RoleName>,
                limit: usize,
            ) -> Result<Page<RoleDef, RoleName>, StoreError> {
                self.read(|s| s.list_roles(after, limit))
            }
            async fn replace_role(
                &self,
                name: &RoleName,
                role: &RoleDef,
            ) -> Result<(), StoreError> {
                self.write(|s| s.replace_role(name, role)).await
            }
            async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError> {
                self.write(|s| s.delete_role(name)).await
            }
            async fn roles_with_member(
                &self,
                collection: &str,
            ) -> Result<Vec<RoleDef>, StoreError> {
                self.read(|s| s.roles_with_member(collection))
            }
        }
    };
}

state_ops!(MemoryStore);
state_ops!(MemoryTx);

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn begin(&self, ts: Timestamp) -> Result<Box<dyn StoreTx>, StoreError> {
        let writer = self.inner.writer.clone().lock_owned().await;
        let ts = {
            let mut last = self.inner.last_txn_ts.lock();
            let t = ts.as_micros().max(last.saturating_add(1));
            *last = t;
            Timestamp::from_micros(t).map_err(|e| StoreError::Other(Box::new(e)))?
        };
        let state = Mutex::new(State::clone(&self.inner.state.load()));
        Ok(Box::new(MemoryTx { inner: self.inner.clone(), _writer: Some(writer), state, ts }))
    }

    async fn begin_read(&self, ts: Timestamp) -> Result<Box<dyn StoreTx>, StoreError> {
        let ts = {
            let mut last = self.inner.last_txn_ts.lock();
            let t = ts.as_micros().max(last.saturating_add(1));
            *last = t;
            Timestamp::from_micros(t).map_err(|e| StoreError::Other(Box::new(e)))?
        };
        let state = Mutex::new(State::clone(&self.inner.state.load()));
        Ok(Box::new(MemoryTx { inner: self.inner.clone(), _writer: None, state, ts }))
    }
}

#[async_trait]
impl StoreTx for MemoryTx {
    fn txn_ts(&self) -> Timestamp {
        self.ts
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let MemoryTx { inner, _writer, state, .. } = *self;
        if _writer.is_some() {
            inner.state.store(Arc::new(state.into_inner()));
        }
        drop(_writer);
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut s = self.inner.aux.write();
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
        let s = self.inner.aux.read();
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
        let mut s = self.inner.aux.write();
        let old: Vec<DocId> =
            s.audit.values().filter(|e| e.ts < before).take(limit).map(|e| e.id).collect();
        for id in &old {
            s.audit.remove(id);
        }
        Ok(old.len() as u64)
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn reserve_login_attempt(
        &self,
        key: &ThrottleKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<Reservation, StoreError> {
        // Check and count under one write lock: concurrent attempts cannot both see the old
        // count.
        let mut s = self.inner.aux.write();
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
        Ok(self.inner.aux.read().failures.get(key).copied())
    }

    async fn clear_login_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.inner.aux.write().failures.remove(key);
        Ok(())
    }

    async fn delete_stale_login_failures(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut s = self.inner.aux.write();
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
