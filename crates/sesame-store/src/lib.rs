//! Sesame's storage contract: the [`Store`] trait (made of [`DocumentStore`], [`AuthStore`],
//! [`AuditStore`] and [`ThrottleStore`]), transactions ([`StoreTx`], [`run_in_transaction`]),
//! index scans with opaque [`Cursor`]s, the one order-preserving [`encoding`] of JSON values
//! every backend sorts by, its error type, and [`MemoryStore`].
//!
//! A store persists collections (with their indexes and unique constraints), documents (with
//! their index entries), credentials (with their password hashes), tokens and keys (by secret
//! digest). It is deliberately dumb: no hashing, no privilege checks, no clock (times arrive as
//! arguments), no knowledge of HTTP, SQL or a query language. Each method is one atomic domain
//! operation; backends guarantee that atomicity with whatever their medium offers (a lock and
//! persistent maps in memory, a statement or transaction in Postgres).
//!
//! Callers import the traits with one `use sesame_store::prelude::*;`.
//!
//! The `conformance` feature exposes [`conformance`]: the suite every backend must pass.

use std::error::Error as StdError;

use sesame_model::{AuditKind, Credential, DocId, DocRef, PasswordHash, Timestamp};

mod contract;
mod cursor;
pub mod encoding;
mod memory;
mod throttle;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use contract::{
    run_in_transaction, AuditStore, AuthStore, DocumentStore, Store, StoreTx, ThrottleStore,
    TxFuture,
};
pub use cursor::Cursor;
pub use memory::MemoryStore;
pub use throttle::{LoginFailures, Reservation, ThrottleKey, ThrottlePolicy};

/// Every trait of the contract, for one `use sesame_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        run_in_transaction, AuditStore, AuthStore, DocumentStore, Store, StoreTx, ThrottleStore,
    };
}

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
    /// A scan cursor that this scan did not make (another collection, index or terms), or that
    /// is garbled. Never answered with another scan's data.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A transaction lost to a concurrent one (serialization failure or deadlock); running the
    /// whole transaction again may succeed ([`run_in_transaction`] does).
    #[error("transaction contention")]
    Contention(#[source] BoxError),
}

impl StoreError {
    /// Stable snake_case code: `not_found`, `conflict`, `unavailable`, `other`,
    /// `invalid_cursor`, `contention`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { .. } => "conflict",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Other(_) => "other",
            StoreError::InvalidCursor => "invalid_cursor",
            StoreError::Contention(_) => "contention",
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
    /// A user-defined role's name is taken.
    pub const ROLE_NAME: &str = "role_name";
    /// Two tokens or keys with one secret digest.
    pub const SECRET_DIGEST: &str = "secret_digest";
    /// The credential a password was verified against has changed (new hash) or is gone since:
    /// the token or re-hash that depended on it is refused.
    pub const CREDENTIAL_CHANGED: &str = "credential_changed";
    /// The prefix of a user unique constraint's name: `unique:<Coll>.<name>`.
    pub const UNIQUE_PREFIX: &str = "unique:";

    /// The name a conflict on the unique constraint `name` of collection `coll` reports.
    pub fn unique(coll: &sesame_model::CollectionName, name: &str) -> String {
        format!("{UNIQUE_PREFIX}{coll}.{name}")
    }
}

/// The credential (and the exact hash) a password was verified against, for operations that
/// must only take effect while that credential is unchanged: a token issued by a login, a
/// re-hash after a login. See [`AuthStore::create_token`].
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

#[cfg(all(test, feature = "conformance"))]
mod tests;
