//! The [`DocumentStore`], [`AuthStore`] and [`Store`] impls of [`PgStore`], and [`PgTx`], its
//! transactions. Both run the same operations (`documents.rs`, `auth.rs`, `roles.rs`) on a
//! [`Db`].
//!
//! A `PgStore` call runs on a pooled connection: a single statement as is, a multi-statement
//! write (documents with their entries, definition changes, password changes) inside one
//! READ COMMITTED transaction, where row locks order it with concurrent writes. A `PgTx` is one
//! connection in `BEGIN ISOLATION LEVEL SERIALIZABLE`: Postgres' SSI makes any interleaving of
//! transactions equivalent to some serial order or fails one with 40001 (or 40P01 on deadlock),
//! which `error.rs` maps to `Contention` for `run_in_transaction` to retry. SERIALIZABLE rather
//! than REPEATABLE READ plus explicit locks because a query language reads sets (index ranges)
//! and writes based on them: predicate locks cover phantoms that row locks cannot.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sesame_model::{
    Collection, CollectionName, Credential, DocId, DocRef, Document, Fields, Json, Key,
    PasswordHash, RoleDef, RoleName, SecretDigest, Timestamp, Token,
};
use sesame_store::{
    AuthStore, Cursor, DocumentStore, Page, Revoke, Store, StoreError, StoreTx, StoredCredential,
    VerifiedWith,
};

use crate::db::{Db, TxGuard};
use crate::{lanes, rows, PgStore};

/// Runs `$body` with `$db` bound to a pooled connection's [`Db`].
macro_rules! pooled {
    ($self:ident, |$db:ident| $body:expr) => {{
        let conn = $self.client().await?;
        let $db = Db(&conn);
        $body.await
    }};
}

/// Runs `$body` with `$db` inside one READ COMMITTED transaction: committed after `Ok`,
/// rolled back after `Err` (or if the future is dropped).
macro_rules! atomic {
    ($self:ident, |$db:ident| $body:expr) => {{
        let tx = TxGuard::begin($self.client().await?, "BEGIN").await?;
        let r = {
            let $db = tx.db();
            $body.await
        };
        tx.finish(r).await
    }};
}

/// Runs `$body` with `$db` inside this transaction.
macro_rules! in_tx {
    ($self:ident, |$db:ident| $body:expr) => {{
        let $db = $self.tx.db();
        $body.await
    }};
}

/// The document and auth operations, each through one of the macros above.
macro_rules! ops {
    ($ty:ty, $read:ident, $write:ident, $digest:ident) => {
        #[async_trait]
        impl DocumentStore for $ty {
            async fn create_collection(&self, c: &Collection) -> Result<(), StoreError> {
                $read!(self, |db| db.create_collection(c))
            }
            async fn update_collection(&self, c: &Collection) -> Result<(), StoreError> {
                $write!(self, |db| db.update_collection(c))
            }
            async fn get_collection(&self, n: &CollectionName) -> Result<Collection, StoreError> {
                $read!(self, |db| db.get_collection(n))
            }
            async fn list_collections(
                &self,
                after: Option<&CollectionName>,
                n: usize,
            ) -> Result<Page<Collection, CollectionName>, StoreError> {
                $read!(self, |db| db.list_collections(after, n))
            }
            async fn delete_collection(&self, n: &CollectionName) -> Result<(), StoreError> {
                $read!(self, |db| db.delete_collection(n))
            }
            async fn create_document(&self, doc: &Document) -> Result<(), StoreError> {
                $write!(self, |db| db.create_document(doc))
            }
            async fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError> {
                $read!(self, |db| db.get_document(doc))
            }
            async fn find_documents(
                &self,
                coll: &CollectionName,
                filter: &Fields,
                after: Option<DocId>,
                n: usize,
            ) -> Result<Page<Document>, StoreError> {
                $read!(self, |db| db.find_documents(coll, filter, after, n))
            }
            async fn update_document(
                &self,
                doc: &DocRef,
                patch: &Fields,
                t: Timestamp,
            ) -> Result<Document, StoreError> {
                $write!(self, |db| db.update_document(doc, patch, t))
            }
            async fn replace_document(
                &self,
                doc: &DocRef,
                fields: &Fields,
                t: Timestamp,
            ) -> Result<Document, StoreError> {
                $write!(self, |db| db.replace_document(doc, fields, t))
            }
            async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError> {
                $read!(self, |db| db.delete_document(doc))
            }
            async fn scan_index(
                &self,
                coll: &CollectionName,
                index: &str,
                terms: &[Json],
                after: Option<&Cursor>,
                n: usize,
            ) -> Result<Page<Document, Cursor>, StoreError> {
                $read!(self, |db| db.scan_index(coll, index, terms, after, n))
            }
            async fn scan_collection(
                &self,
                coll: &CollectionName,
                after: Option<&Cursor>,
                n: usize,
            ) -> Result<Page<Document, Cursor>, StoreError> {
                $read!(self, |db| db.scan_collection(coll, after, n))
            }
        }

        #[async_trait]
        impl AuthStore for $ty {
            async fn create_credential(&self, c: &StoredCredential) -> Result<(), StoreError> {
                $read!(self, |db| db.create_credential(c))
            }
            async fn credential_by_id(&self, id: DocId) -> Result<StoredCredential, StoreError> {
                $read!(self, |db| db.credential_by_id(id))
            }
            async fn credential_by_document(
                &self,
                doc: &DocRef,
            ) -> Result<StoredCredential, StoreError> {
                $read!(self, |db| db.credential_by_document(doc))
            }
            async fn update_credential_hash(
                &self,
                id: DocId,
                hash: &PasswordHash,
                t: Timestamp,
                revoke: Revoke,
                expect: Option<&PasswordHash>,
            ) -> Result<(Credential, u64), StoreError> {
                $write!(self, |db| db.update_credential_hash(id, hash, t, revoke, expect))
            }
            async fn delete_credential(&self, id: DocId) -> Result<(DocRef, u64), StoreError> {
                $write!(self, |db| db.delete_credential(id))
            }
            async fn create_token(
                &self,
                t: &Token,
                digest: &SecretDigest,
                verified: Option<VerifiedWith<'_>>,
            ) -> Result<(), StoreError> {
                $read!(self, |db| db.create_token(t, digest, verified))
            }
            async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError> {
                $digest!(self, Token, digest, token_by_digest, row_token)
            }
            async fn token_by_id(&self, id: DocId) -> Result<Token, StoreError> {
                $read!(self, |db| db.token_by_id(id))
            }
            async fn tokens_by_document(
                &self,
                doc: &DocRef,
                after: Option<DocId>,
                n: usize,
            ) -> Result<Page<Token>, StoreError> {
                $read!(self, |db| db.tokens_by_document(doc, after, n))
            }
            async fn touch_token(
                &self,
                id: DocId,
                at: Timestamp,
                min_gap_us: i64,
            ) -> Result<bool, StoreError> {
                $read!(self, |db| db.touch_token(id, at, min_gap_us))
            }
            async fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
                $read!(self, |db| db.count_active_tokens(now))
            }
            async fn delete_token(&self, id: DocId) -> Result<bool, StoreError> {
                $read!(self, |db| db.delete_token(id))
            }
            async fn delete_tokens_of_document(
                &self,
                doc: &DocRef,
                except: Option<DocId>,
            ) -> Result<u64, StoreError> {
                $read!(self, |db| db.delete_tokens_of_document(doc, except))
            }
            async fn delete_expired_tokens(
                &self,
                now: Timestamp,
                n: usize,
            ) -> Result<u64, StoreError> {
                $read!(self, |db| db.delete_expired_tokens(now, n))
            }
            async fn create_key(&self, k: &Key, digest: &SecretDigest) -> Result<(), StoreError> {
                $read!(self, |db| db.create_key(k, digest))
            }
            async fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError> {
                $digest!(self, Key, digest, key_by_digest, row_key)
            }
            async fn key_by_id(&self, id: DocId) -> Result<Key, StoreError> {
                $read!(self, |db| db.key_by_id(id))
            }
            async fn list_keys(
                &self,
                after: Option<DocId>,
                n: usize,
            ) -> Result<Page<Key>, StoreError> {
                $read!(self, |db| db.list_keys(after, n))
            }
            async fn delete_key(&self, id: DocId) -> Result<bool, StoreError> {
                $read!(self, |db| db.delete_key(id))
            }
            async fn create_role(&self, role: &RoleDef) -> Result<(), StoreError> {
                $read!(self, |db| db.create_role(role))
            }
            async fn get_role(&self, name: &RoleName) -> Result<RoleDef, StoreError> {
                $read!(self, |db| db.get_role(name))
            }
            async fn list_roles(
                &self,
                after: Option<&RoleName>,
                n: usize,
            ) -> Result<Page<RoleDef, RoleName>, StoreError> {
                $read!(self, |db| db.list_roles(after, n))
            }
            async fn replace_role(
                &self,
                name: &RoleName,
                role: &RoleDef,
            ) -> Result<(), StoreError> {
                $read!(self, |db| db.replace_role(name, role))
            }
            async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError> {
                $read!(self, |db| db.delete_role(name))
            }
            async fn roles_with_member(
                &self,
                collection: &str,
            ) -> Result<Vec<RoleDef>, StoreError> {
                $read!(self, |db| db.roles_with_member(collection))
            }
        }
    };
}

/// The hot-path lookups of the store: through the pipelined lanes, or the pool when every
/// lane is [`lanes::LANE_DEPTH`] deep.
macro_rules! by_lanes {
    ($self:ident, $kind:ident, $digest:ident, $op:ident, $row:ident) => {{
        match $self.lanes.lookup(lanes::Lookup::$kind, &$digest.as_bytes()[..]).await {
            Some(r) => rows::$row(&r?.ok_or(StoreError::NotFound)?),
            None => pooled!($self, |db| db.$op($digest)),
        }
    }};
}

/// The lookups by digest inside a transaction: on its connection.
macro_rules! by_tx {
    ($self:ident, $kind:ident, $digest:ident, $op:ident, $_row:ident) => {{
        $self.tx.db().$op($digest).await
    }};
}

ops!(PgStore, pooled, atomic, by_lanes);
ops!(PgTx, in_tx, in_tx, by_tx);

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        pooled!(self, |db| db.query("SELECT 1", &[])).map(drop)
    }

    async fn begin(&self, ts: Timestamp) -> Result<Box<dyn StoreTx>, StoreError> {
        let want = ts.as_micros();
        let prev = self
            .last_txn_ts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(want.max(last.saturating_add(1)))
            })
            .unwrap_or_else(|v| v);
        let ts = Timestamp::from_micros(want.max(prev.saturating_add(1)))
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let tx = TxGuard::begin(self.client().await?, "BEGIN ISOLATION LEVEL SERIALIZABLE").await?;
        Ok(Box::new(PgTx { tx, ts }))
    }
}

/// A serializable transaction on one pooled connection (see the module docs).
pub(crate) struct PgTx {
    tx: TxGuard,
    ts: Timestamp,
}

impl std::fmt::Debug for PgTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTx").field("ts", &self.ts).finish_non_exhaustive()
    }
}

#[async_trait]
impl StoreTx for PgTx {
    fn txn_ts(&self) -> Timestamp {
        self.ts
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.rollback().await
    }
}
