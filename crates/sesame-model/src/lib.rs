//! Sesame's domain model: the pure types every other layer speaks.
//!
//! This crate is values and their invariants only. It does no I/O, has no async code, knows
//! nothing about storage, HTTP or hashing policy, and reads no clock or random source of its own:
//! callers pass the time ([`Timestamp`]) and the random bytes ([`Secret::from_random_bytes`]).
//! Every constructor parses ("parse, don't validate"), so a value of these types is always valid.
//!
//! Types are not `Serialize`: the wire formats live in `sesame-server`, which converts by hand.

mod auth;
mod document;
mod error;
mod id;
mod index;
mod name;
mod role;
mod timestamp;

pub use auth::{
    AuditEvent, AuditKind, ClientInfo, Credential, Key, Password, PasswordHash, Role, Secret,
    SecretDigest, SecretKind, Token, TokenOrigin, SECRET_RANDOM_BYTES,
};
pub use document::{
    Data, DocRef, Document, FieldName, Fields, Json, MAX_FIELD_DEPTH, RESERVED_FIELDS,
};
pub use error::ModelError;
pub use id::{DocId, IdGenerator};
pub use index::{
    FieldPath, IndexDef, IndexName, IndexValue, UniqueConstraint, MAX_INDEXES, MAX_INDEX_FIELDS,
    MAX_PATH_DEPTH,
};
pub use name::{Collection, CollectionName, RESERVED_COLLECTION_NAMES};
pub use role::{
    Action, ActionRule, Membership, OneOrMany, Privilege, RoleDef, RoleFault, RoleName,
    BUILTIN_ROLE_NAMES, MAX_PREDICATE_LEN, MAX_ROLE_ENTRIES,
};
pub use timestamp::{Timestamp, Ttl};

#[cfg(test)]
mod tests;
