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
    /// The credential a password was verified against has changed (new hash) or is gone since:
    /// the token or re-hash that depended on it is refused.
    pub const CREDENTIAL_CHANGED: &str = "credential_changed";
}

/// The credential (and the exact hash) a password was verified against, for operations that
/// must only take effect while that credential is unchanged: a token issued by a login, a
/// re-hash after a login. See [`Store::create_token`].
#[derive(Debug, Clone, Copy)]
pub struct VerifiedWith<'a> {
    /// The credential's id.
    pub credential: DocId,
    /// The hash the password was checked against.
    pub hash: &'a PasswordHash,
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
    /// With `expect`, only if the current hash is exactly `expect` (`Conflict{credential_changed}`
    /// otherwise): a re-hash after a login can never overwrite a concurrent password change.
    /// Returns the credential and how many tokens were deleted, or `NotFound`.
    ///
    /// **Ordering with [`Store::create_token`]**: a token created with `verified` against the
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
    /// The same ordering with [`Store::create_token`] as [`Store::update_credential_hash`].
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

    /// Reserves one password attempt under `key` at `now`, before any hashing, in one atomic
    /// step shared by every instance using the store: if `policy` says `key` is in a delay
    /// window (or at its cap) the attempt is [`Reservation::Refused`] and nothing changes;
    /// otherwise it is counted as a failure up front (`consecutive` + 1, `last_failure = now`,
    /// `in_window` + 1 or restarted at 1 when the window is `policy.window_us` old) and
    /// [`Reservation::Granted`]. A successful attempt then clears the record
    /// ([`Store::clear_login_failures`]). Of N concurrent reservations on a fresh key, exactly
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

/// The delay schedule that [`Store::reserve_login_attempt`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay (0 = no delay schedule).
    pub free_failures: u32,
    /// The first delay, in µs; it doubles with every further failure (0 = no delay schedule).
    pub base_delay_us: i64,
    /// The largest delay, in µs.
    pub max_delay_us: i64,
    /// Failures allowed per window (0 = no cap).
    pub max_per_window: u32,
    /// The counting window, in µs.
    pub window_us: i64,
}

impl ThrottlePolicy {
    /// A policy that never refuses (attempts are still counted).
    pub const OFF: ThrottlePolicy = ThrottlePolicy {
        free_failures: 0,
        base_delay_us: 0,
        max_delay_us: 0,
        max_per_window: 0,
        window_us: 3_600_000_000,
    };

    /// How many doublings of the base delay reach the maximum (so `base << n` never overflows).
    pub fn max_doublings(&self) -> u32 {
        let (base, max) = (self.base_delay_us.max(1), self.max_delay_us.max(1));
        let mut n = 0;
        while n < 62 && base.saturating_mul(1i64 << n) < max {
            n += 1;
        }
        n
    }

    /// Until when a key with record `f` is refused, if it is: the delay after its last failure
    /// once past the free failures, and the end of its window once at the cap.
    pub fn blocked_until(&self, f: &LoginFailures) -> Option<Timestamp> {
        let mut until = None;
        if self.free_failures > 0 && self.base_delay_us > 0 && f.consecutive >= self.free_failures {
            let doublings = (f.consecutive - self.free_failures).min(self.max_doublings());
            let delay = self.base_delay_us.saturating_mul(1i64 << doublings).min(self.max_delay_us);
            until = Some(f.last_failure.plus_micros(delay));
        }
        if self.max_per_window > 0 && f.in_window >= self.max_per_window {
            let end = f.window_start.plus_micros(self.window_us);
            until = Some(until.map_or(end, |u: Timestamp| u.max(end)));
        }
        until
    }
}

/// The answer of [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may hash; the record after counting it.
    Granted(LoginFailures),
    /// The key is throttled until then; nothing was counted.
    Refused {
        /// When an attempt will be considered again.
        until: Timestamp,
    },
}

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
