//! The storage contract, split by concern: [`DocumentStore`], [`AuthStore`], [`AuditStore`],
//! [`ThrottleStore`], the whole [`Store`], and transactions ([`StoreTx`],
//! [`run_in_transaction`]).
//!
//! Declarations and their `# Contract` docs only; the suite in `conformance` is their executable
//! form, and backends live elsewhere (`memory`, `sesame-postgres`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use sesame_model::{
    AuditEvent, Collection, CollectionName, Credential, DocId, DocRef, Document, Fields, Json, Key,
    PasswordHash, RoleDef, RoleName, SecretDigest, Timestamp, Token,
};

use crate::{
    AuditFilter, Cursor, LoginFailures, Page, Reservation, Revoke, StoreError, StoredCredential,
    ThrottleKey, ThrottlePolicy, VerifiedWith,
};

/// Collections (with their indexes and unique constraints), documents, and scans.
///
/// # Contract
/// - **Atomicity**: every method is all-or-nothing, also under concurrent calls. Index entries
///   and unique-constraint entries change in the same atomic step as the document write that
///   causes them (create, update, replace, delete, collection delete and definition change).
/// - **Not found**: a [`DocRef`] whose collection does not match the document's is not found.
/// - **Index entries**: a document is in an index once per index, under the exact JSON values
///   at the index's term paths; a document missing a term (or `null` there) is not in it. Its
///   position is the [`encoding`](crate::encoding) of the values at the value paths (missing =
///   `null`), each ascending or descending, then its id ascending. Both backends order by the
///   same bytes, so they agree by construction.
/// - **Unique constraints**: no two documents of a collection have exactly equal values at all
///   of a constraint's paths (documents missing one are not constrained). A violation is
///   `Conflict{ "unique:<Coll>.<name>" }` ([`constraint::unique`](crate::constraint::unique)).
///   Of concurrent writers of one value exactly one wins.
/// - **Scans** are flat: their cost depends on the page, not on the collection's size. Cursors
///   are opaque ([`Cursor`]), bound to the scan that made them; `after` is exclusive.
/// - **Pagination** of listings: ascending by name (collections) or id; `limit` is at least 1
///   (callers clamp it).
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Creates a collection with its indexes and constraints (it has no documents yet).
    /// `Conflict{collection_name}` if the name is taken.
    async fn create_collection(&self, coll: &Collection) -> Result<(), StoreError>;
    /// Reads a collection, or `NotFound`.
    async fn get_collection(&self, name: &CollectionName) -> Result<Collection, StoreError>;
    /// Lists collections by name.
    async fn list_collections(
        &self,
        after: Option<&CollectionName>,
        limit: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError>;
    /// Replaces the definition (indexes, constraints, `ts`) of the collection named
    /// `coll.name`, in one atomic step: an added (or changed) index is backfilled from the
    /// existing documents, a removed one's entries are dropped; an added unique constraint that
    /// existing documents violate is `Conflict{unique:<Coll>.<name>}` and nothing changes.
    /// `NotFound` if the collection does not exist.
    async fn update_collection(&self, coll: &Collection) -> Result<(), StoreError>;
    /// Deletes a collection with all its documents and their credentials and tokens.
    /// `NotFound` if it does not exist.
    async fn delete_collection(&self, name: &CollectionName) -> Result<(), StoreError>;

    /// Creates a document (and its index entries). `NotFound` if its collection does not exist;
    /// `Conflict{id}` if the id is taken; `Conflict{unique:<Coll>.<name>}` if a unique
    /// constraint is violated.
    async fn create_document(&self, doc: &Document) -> Result<(), StoreError>;
    /// Reads a document, or `NotFound`.
    async fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError>;
    /// Documents of `coll` whose top-level fields equal every field of `filter` (exact JSON
    /// equality of the values), ascending by id after `after`. An empty filter lists all.
    /// `NotFound` if the collection does not exist.
    async fn find_documents(
        &self,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Document>, StoreError>;
    /// Merges `patch` into the document's fields (a `null` removes a field) and sets `ts`;
    /// index entries follow. Returns the new document, or `NotFound`, or a unique conflict.
    async fn update_document(
        &self,
        doc: &DocRef,
        patch: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError>;
    /// Replaces the document's fields and sets `ts`; index entries follow. Returns the new
    /// document, or `NotFound`, or a unique conflict.
    async fn replace_document(
        &self,
        doc: &DocRef,
        fields: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError>;
    /// Deletes a document with its credential, tokens and index entries. `NotFound` if it does
    /// not exist.
    async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError>;

    /// The documents of `coll` in the index `index` whose terms equal `terms` (exact JSON
    /// equality, as [`DocumentStore::find_documents`]; one value per term of the index, in
    /// order), ordered by the index's values (see [`encoding`](crate::encoding)) and then by id,
    /// starting after `after`. A `null` term, or a wrong number of terms, matches nothing.
    /// `NotFound` for an unknown collection or index; `InvalidCursor` for a cursor that was not
    /// made by this scan (other collection, index or terms) or is garbled.
    async fn scan_index(
        &self,
        coll: &CollectionName,
        index: &str,
        terms: &[Json],
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Document, Cursor>, StoreError>;
    /// All documents of `coll` in id order after `after`. `NotFound` for an unknown collection;
    /// `InvalidCursor` for a cursor of another scan or a garbled one.
    async fn scan_collection(
        &self,
        coll: &CollectionName,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Document, Cursor>, StoreError>;
}

/// Credentials (with their password hashes), tokens and keys (by secret digest).
///
/// # Contract
/// - **Atomicity**: every method is all-or-nothing, also under concurrent calls from many tasks
///   and, for shared backends, many processes.
/// - **Ids** are chosen by the caller and unique across documents, credentials, tokens and keys
///   of one kind; reusing one is `Conflict { constraint: "id" }`.
/// - **Secrets** are never given to a store: only their digests.
/// - **Times** are stored and returned exactly (microseconds). Stores never read a clock.
#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Creates a credential. `NotFound` if its document does not exist (also when the document
    /// is deleted concurrently: no orphan may remain); `Conflict{credential_document}` if the
    /// document already has one; `Conflict{id}` if the id is taken.
    async fn create_credential(&self, cred: &StoredCredential) -> Result<(), StoreError>;
    /// Reads a credential by id, or `NotFound`.
    async fn credential_by_id(&self, id: DocId) -> Result<StoredCredential, StoreError>;
    /// Reads a document's credential, or `NotFound`.
    async fn credential_by_document(&self, doc: &DocRef) -> Result<StoredCredential, StoreError>;
    /// Sets a credential's password hash and `ts` and, per `revoke`, deletes tokens of its
    /// document, all in one atomic step (no old session outlives the change by a moment).
    /// With `expect`, only if the current hash is exactly `expect` (`Conflict{credential_changed}`
    /// otherwise): a re-hash after a login can never overwrite a concurrent password change.
    /// Returns the credential and how many tokens were deleted, or `NotFound`.
    ///
    /// **Ordering with [`AuthStore::create_token`]**: a token created with `verified` against the
    /// old hash either commits before this change (and is then among the revoked tokens) or is
    /// refused; it never survives the change.
    async fn update_credential_hash(
        &self,
        id: DocId,
        hash: &PasswordHash,
        ts: Timestamp,
        revoke: Revoke,
        expect: Option<&PasswordHash>,
    ) -> Result<(Credential, u64), StoreError>;
    /// Deletes a credential and every token of its document, atomically; returns the
    /// credential's document and how many tokens were deleted. `NotFound` if it does not exist.
    /// The same ordering with [`AuthStore::create_token`] as [`AuthStore::update_credential_hash`].
    async fn delete_credential(&self, id: DocId) -> Result<(DocRef, u64), StoreError>;

    /// Creates a token stored under `digest`. `NotFound` if its document does not exist;
    /// `Conflict{secret_digest}` or `Conflict{id}` on reuse.
    ///
    /// With `verified` (a login), the token is created only if that credential still exists
    /// with exactly that hash, checked in the same atomic step as the insert
    /// (`Conflict{credential_changed}` otherwise): a login that verified a password against a
    /// hash that a concurrent password change or credential delete replaced cannot leave a
    /// token behind.
    async fn create_token(
        &self,
        token: &Token,
        digest: &SecretDigest,
        verified: Option<VerifiedWith<'_>>,
    ) -> Result<(), StoreError>;
    /// The token stored under `digest`, or `NotFound`. Expiry is the caller's business.
    /// This is the hot path of every token-authenticated request.
    async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError>;
    /// [`AuthStore::token_by_digest`] answered without waiting, by a backend that can (memory):
    /// no future to allocate on the hot path. `None` (the default) means "call
    /// `token_by_digest`"; an answer must be exactly what `token_by_digest` would give.
    fn token_by_digest_now(&self, _digest: &SecretDigest) -> Option<Result<Token, StoreError>> {
        None
    }
    /// Reads a token by id, or `NotFound`.
    async fn token_by_id(&self, id: DocId) -> Result<Token, StoreError>;
    /// A document's tokens, ascending by id. An unknown document has none.
    async fn tokens_by_document(
        &self,
        doc: &DocRef,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<Token>, StoreError>;
    /// Sets a token's `last_used` to `at` unless it is already at or after `at - min_gap_us`
    /// (so concurrent callers on many instances write at most once per gap); whether it wrote.
    async fn touch_token(
        &self,
        id: DocId,
        at: Timestamp,
        min_gap_us: i64,
    ) -> Result<bool, StoreError>;
    /// How many tokens have not expired at `now` (`ttl` unset or later). For metrics: may scan.
    async fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// Deletes a token; whether it existed. Of concurrent deletions of one token exactly one
    /// returns `true`.
    async fn delete_token(&self, id: DocId) -> Result<bool, StoreError>;
    /// Deletes all of a document's tokens except `except`; how many were deleted.
    async fn delete_tokens_of_document(
        &self,
        doc: &DocRef,
        except: Option<DocId>,
    ) -> Result<u64, StoreError>;
    /// Deletes at most `limit` tokens whose `ttl <= now`; how many were deleted. Call again
    /// until it returns less than `limit`.
    async fn delete_expired_tokens(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError>;

    /// Creates a key stored under `digest`. `Conflict{secret_digest}` or `Conflict{id}` on reuse.
    async fn create_key(&self, key: &Key, digest: &SecretDigest) -> Result<(), StoreError>;
    /// The key stored under `digest`, or `NotFound`. Expiry is the caller's business.
    async fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError>;
    /// Reads a key by id, or `NotFound`.
    async fn key_by_id(&self, id: DocId) -> Result<Key, StoreError>;
    /// Lists keys ascending by id.
    async fn list_keys(&self, after: Option<DocId>, limit: usize) -> Result<Page<Key>, StoreError>;
    /// Deletes a key; whether it existed.
    async fn delete_key(&self, id: DocId) -> Result<bool, StoreError>;

    /// Creates a user-defined role, stored exactly (membership and privileges in the shape
    /// given). `Conflict{role_name}` if the name is taken.
    async fn create_role(&self, role: &RoleDef) -> Result<(), StoreError>;
    /// A role by name (exact, case-sensitive), or `NotFound`.
    async fn get_role(&self, name: &RoleName) -> Result<RoleDef, StoreError>;
    /// Roles ascending by name (byte order), after `after` (exclusive).
    async fn list_roles(
        &self,
        after: Option<&RoleName>,
        limit: usize,
    ) -> Result<Page<RoleDef, RoleName>, StoreError>;
    /// Replaces the role named `name` by `role`, which may carry another name (a rename):
    /// `NotFound` if there is no role `name`, `Conflict{role_name}` if the new name is taken.
    async fn replace_role(&self, name: &RoleName, role: &RoleDef) -> Result<(), StoreError>;
    /// Deletes a role; whether it existed. Keys naming it are kept (they then grant nothing).
    async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError>;
    /// Every role with a membership entry naming `collection` (exact), ascending by name.
    async fn roles_with_member(&self, collection: &str) -> Result<Vec<RoleDef>, StoreError>;
}

/// The audit trail: append-only events, listed by filter, deleted only by retention.
///
/// # Contract
/// Events are stored and returned exactly; ids are unique (`Conflict{id}`).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an audit event. Events are never updated; only retention deletes them.
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Audit events matching `filter`, ascending by id after `after`.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Page<AuditEvent>, StoreError>;
    /// Deletes at most `limit` audit events older than `before` (retention); how many.
    async fn delete_audit_before(&self, before: Timestamp, limit: usize)
        -> Result<u64, StoreError>;
}

/// Brute-force throttling state, shared by every instance using the store.
///
/// # Contract
/// See [`ThrottleStore::reserve_login_attempt`]: check and count are one atomic step.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Reserves one password attempt under `key` at `now`, before any hashing, in one atomic
    /// step shared by every instance using the store: if `policy` says `key` is in a delay
    /// window (or at its cap) the attempt is [`Reservation::Refused`] and nothing changes;
    /// otherwise it is counted as a failure up front (`consecutive` + 1, `last_failure = now`,
    /// `in_window` + 1 or restarted at 1 when the window is `policy.window_us` old) and
    /// [`Reservation::Granted`]. A successful attempt then clears the record
    /// ([`ThrottleStore::clear_login_failures`]). Of N concurrent reservations on a fresh key, exactly
    /// as many are granted as the policy allows in sequence.
    async fn reserve_login_attempt(
        &self,
        key: &ThrottleKey,
        now: Timestamp,
        policy: &ThrottlePolicy,
    ) -> Result<Reservation, StoreError>;
    /// The failure record of `key`, if any.
    async fn login_failures(&self, key: &ThrottleKey) -> Result<Option<LoginFailures>, StoreError>;
    /// Forgets `key`'s failures (after a successful login).
    async fn clear_login_failures(&self, key: &ThrottleKey) -> Result<(), StoreError>;
    /// Deletes at most `limit` failure records whose last failure is before `before`; how many.
    async fn delete_stale_login_failures(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError>;
}

/// The storage contract: every concern, plus readiness and transactions.
///
/// # Contract
/// - Each sub-trait's contract holds ([`DocumentStore`], [`AuthStore`], [`AuditStore`],
///   [`ThrottleStore`]). Every method is one atomic domain operation; deleting a document
///   removes its credential, tokens and index entries in the same step; deleting a collection
///   removes its documents the same way.
/// - **Transactions** ([`Store::begin`]): several document, collection, credential, token and
///   key operations as one atomic, isolated step with one timestamp. See [`StoreTx`].
/// - **Cloning** an `Arc<dyn Store>` shares the same data.
#[async_trait]
pub trait Store:
    DocumentStore + AuthStore + AuditStore + ThrottleStore + fmt::Debug + 'static
{
    /// Checks that the backend answers. Cheap; used by readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Starts a transaction whose timestamp ([`StoreTx::txn_ts`]) is `ts`, or just after the
    /// previous transaction's of this store if that is not earlier (so it is monotonic per
    /// store). The caller gives the time: stores never read a clock.
    async fn begin(&self, ts: Timestamp) -> Result<Box<dyn StoreTx>, StoreError>;

    /// Starts a transaction for reading only: the same snapshot semantics as [`Store::begin`],
    /// but a backend may make it cheaper (the memory store takes no writer lock), and a write
    /// through it may fail. By default, [`Store::begin`].
    async fn begin_read(&self, ts: Timestamp) -> Result<Box<dyn StoreTx>, StoreError> {
        self.begin(ts).await
    }
}

/// An open transaction: the [`DocumentStore`] and [`AuthStore`] operations, applied together
/// or not at all.
///
/// # Contract
/// - **Atomicity**: nothing done through the transaction is visible to anyone else before
///   [`StoreTx::commit`] returns `Ok`; then all of it is, at once. Dropping it, calling
///   [`StoreTx::rollback`], or a failed commit leaves nothing.
/// - **Isolation**: serializable. A backend that detects a conflict with a concurrent
///   transaction fails an operation or the commit with [`StoreError::Contention`]; the whole
///   transaction may then be retried ([`run_in_transaction`] does so).
/// - An operation that fails inside a transaction changes nothing (the transaction stays
///   usable on the memory backend; on Postgres a failed statement aborts the transaction, so
///   callers should stop and roll back on any error).
/// - Audit and throttling are deliberately outside: they must persist even when the
///   transaction is rolled back.
/// - While a transaction is open, write through it, not through the store it came from: a
///   backend may serialize writers (the memory store does), and the task would wait for itself.
#[async_trait]
pub trait StoreTx: DocumentStore + AuthStore + fmt::Debug {
    /// The one timestamp of this transaction; writes in it should use it.
    fn txn_ts(&self) -> Timestamp;
    /// Makes everything visible at once. `Contention` if a concurrent transaction won.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Discards everything (dropping the transaction does the same).
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// The future a [`run_in_transaction`] body returns, borrowing the transaction.
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;

/// Runs `body` in a transaction at `ts` and commits it; on [`StoreError::Contention`] (from the
/// body or the commit) runs the whole body again in a fresh transaction, up to `max_attempts`
/// times in all (at least once). Any other error rolls back and is returned.
///
/// The body may run several times: keep its side effects inside the transaction.
///
/// ```ignore
/// let n = run_in_transaction(&*store, now, 5, |tx| Box::pin(async move {
///     let d = tx.get_document(&r).await?; // `r` cloned into the closure
///     tx.update_document(&r, &bump(&d), tx.txn_ts()).await
/// })).await?;
/// ```
pub async fn run_in_transaction<T, F>(
    store: &dyn Store,
    ts: Timestamp,
    max_attempts: u32,
    mut body: F,
) -> Result<T, StoreError>
where
    T: Send,
    F: for<'t> FnMut(&'t dyn StoreTx) -> TxFuture<'t, T> + Send,
{
    let mut attempt = 1;
    loop {
        let tx = store.begin(ts).await?;
        let result = match body(&*tx).await {
            Ok(v) => tx.commit().await.map(|()| v),
            Err(e) => {
                drop(tx.rollback().await);
                Err(e)
            }
        };
        match result {
            Err(StoreError::Contention(_)) if attempt < max_attempts.max(1) => attempt += 1,
            other => return other,
        }
    }
}
