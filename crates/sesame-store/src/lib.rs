//! Sesame's storage contract: the [`Store`] trait, its error type, and [`MemoryStore`].
//!
//! A store persists collections, documents, credentials (with their password hashes), tokens and
//! keys (by secret digest). It is deliberately dumb: no hashing, no privilege checks, no clock
//! (times arrive as arguments), no knowledge of HTTP or SQL. Each method is one atomic domain
//! operation; backends guarantee that atomicity with whatever their medium offers (a lock in
//! memory, a statement or transaction in Postgres).
//!
//! The `conformance` feature exposes [`conformance`]: the suite every backend must pass.

use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;
use sesame_model::{
    AuditEvent, AuditKind, Collection, CollectionName, Credential, DocId, DocRef, Document, Fields,
    Key, PasswordHash, SecretDigest, Timestamp, Token,
};

mod memory;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use memory::MemoryStore;

/// A boxed error source, kept for logs.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong in a store, independent of the backend.
///
/// Codes (see [`StoreError::code`]) are stable and append-only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing addressed does not exist (or not in the collection named).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; `constraint` names it (e.g. `credential_document`).
    #[error("conflict on {constraint}")]
    Conflict {
        /// Which uniqueness rule.
        constraint: String,
    },
    /// The backend cannot be reached or is overloaded; retrying later may work.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else; the source explains it (for logs only).
    #[error("store error")]
    Other(#[source] BoxError),
}

impl StoreError {
    /// Stable snake_case code: `not_found`, `conflict`, `unavailable`, `other`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { .. } => "conflict",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Other(_) => "other",
        }
    }

    /// A conflict on `constraint`.
    pub fn conflict(constraint: &str) -> Self {
        StoreError::Conflict { constraint: constraint.to_owned() }
    }
}

/// Names of the uniqueness rules stores report in [`StoreError::Conflict`].
pub mod constraint {
    /// Two collections with one name.
    pub const COLLECTION_NAME: &str = "collection_name";
    /// Two documents (or credentials, tokens, keys) with one id.
    pub const ID: &str = "id";
    /// A second credential for one document.
    pub const CREDENTIAL_DOCUMENT: &str = "credential_document";
    /// Two tokens or keys with one secret digest.
    pub const SECRET_DIGEST: &str = "secret_digest";
}

/// One page of a listing, in ascending order of its cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C = DocId> {
    /// The items of this page.
    pub data: Vec<T>,
    /// The cursor to pass as `after` for the next page; `None` when this is the last page.
    pub after: Option<C>,
}

impl<T, C> Page<T, C> {
    /// Builds a page from up to `limit + 1` items: the extra item only signals that more follow.
    pub fn from_overfetch(mut items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> C) -> Self {
        if items.len() > limit {
            items.truncate(limit);
            let after = items.last().map(cursor);
            Page { data: items, after }
        } else {
            Page { data: items, after: None }
        }
    }
}

/// Which tokens a password change revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoke {
    /// None (e.g. a re-hash with new parameters).
    Nothing,
    /// Every token of the credential's document except this one (the caller's own session).
    AllExcept(Option<DocId>),
}

/// A credential with its password hash, as stores keep it. Only the engine sees the hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCredential {
    /// The public part.
    pub credential: Credential,
    /// The PHC hash; `None` for a credential that can never log in.
    pub hash: Option<PasswordHash>,
}

/// The storage contract.
///
/// # Contract
/// - **Atomicity**: every method is all-or-nothing, also under concurrent calls from many tasks
///   and, for shared backends, many processes. Deleting a document removes its credential and
///   tokens in the same step; deleting a collection removes its documents the same way.
/// - **Ids** are chosen by the caller and unique across documents, credentials, tokens and keys
///   of one kind; reusing one is `Conflict { constraint: "id" }`.
/// - **Not found**: `NotFound` when the addressed thing does not exist. A [`DocRef`] whose
///   collection does not match the document's is not found.
/// - **Pagination**: listings are ascending by name (collections) or id (everything else);
///   `after` is exclusive; `limit` is at least 1 (callers clamp it).
/// - **Times** are stored and returned exactly (microseconds). Stores never read a clock.
/// - **Secrets** are never given to a store: only their digests.
/// - **Cloning** an `Arc<dyn Store>` shares the same data.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Checks that the backend answers. Cheap; used by readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a collection. `Conflict{collection_name}` if the name is taken.
    async fn create_collection(&self, coll: &Collection) -> Result<(), StoreError>;
    /// Reads a collection, or `NotFound`.
    async fn get_collection(&self, name: &CollectionName) -> Result<Collection, StoreError>;
    /// Lists collections by name.
    async fn list_collections(
        &self,
        after: Option<&CollectionName>,
        limit: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError>;
    /// Deletes a collection with all its documents and their credentials and tokens.
    /// `NotFound` if it does not exist.
    async fn delete_collection(&self, name: &CollectionName) -> Result<(), StoreError>;

    /// Creates a document. `NotFound` if its collection does not exist; `Conflict{id}` if the id
    /// is taken.
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
    /// Merges `patch` into the document's fields (a `null` removes a field) and sets `ts`.
    /// Returns the new document, or `NotFound`.
    async fn update_document(
        &self,
        doc: &DocRef,
        patch: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError>;
    /// Replaces the document's fields and sets `ts`. Returns the new document, or `NotFound`.
    async fn replace_document(
        &self,
        doc: &DocRef,
        fields: &Fields,
        ts: Timestamp,
    ) -> Result<Document, StoreError>;
    /// Deletes a document with its credential and tokens. `NotFound` if it does not exist.
    async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError>;

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
    /// Returns the credential and how many tokens were deleted, or `NotFound`.
    async fn update_credential_hash(
        &self,
        id: DocId,
        hash: &PasswordHash,
        ts: Timestamp,
        revoke: Revoke,
    ) -> Result<(Credential, u64), StoreError>;
    /// Deletes a credential and every token of its document, atomically; how many tokens were
    /// deleted. `NotFound` if it does not exist.
    async fn delete_credential(&self, id: DocId) -> Result<u64, StoreError>;

    /// Creates a token stored under `digest`. `NotFound` if its document does not exist;
    /// `Conflict{secret_digest}` or `Conflict{id}` on reuse.
    async fn create_token(&self, token: &Token, digest: &SecretDigest) -> Result<(), StoreError>;
    /// The token stored under `digest`, or `NotFound`. Expiry is the caller's business.
    /// This is the hot path of every token-authenticated request.
    async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError>;
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

    /// Records a failed login under `key` at `now`, atomically (concurrent failures all count):
    /// `consecutive` grows by one; `in_window` grows by one, or restarts at 1 with
    /// `window_start = now` when the window that began at `window_start` is `window_us` old.
    /// Returns the record after the update. Shared by every instance using the store.
    async fn record_login_failure(
        &self,
        key: &ThrottleKey,
        now: Timestamp,
        window_us: i64,
    ) -> Result<LoginFailures, StoreError>;
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

/// Which audit events to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Only events about this identity.
    pub identity: Option<DocRef>,
    /// Only events of this kind.
    pub kind: Option<AuditKind>,
    /// Only events at or after this time.
    pub from: Option<Timestamp>,
    /// Only events before this time.
    pub to: Option<Timestamp>,
}

/// What a throttling counter is keyed by: a digest of the credential or of the identifier a
/// client tried (so unknown identities are counted exactly like known ones).
pub type ThrottleKey = SecretDigest;

/// A throttling counter's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    /// Failures since the last success.
    pub consecutive: u32,
    /// When the last failure happened.
    pub last_failure: Timestamp,
    /// When the current counting window began.
    pub window_start: Timestamp,
    /// Failures in the current window.
    pub in_window: u32,
}

#[cfg(all(test, feature = "conformance"))]
mod tests;
