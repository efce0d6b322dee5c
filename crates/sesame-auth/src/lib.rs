//! Sesame's authentication engine: Fauna's model of identities, credentials, tokens and keys.
//!
//! [`Engine`] holds an `Arc<dyn Store>`, a [`Clock`] and an [`AuthConfig`]. It hashes passwords
//! (Argon2id, bounded concurrency: [`Hasher`]), mints secrets (256 bits from the OS CSPRNG, stored
//! only as SHA-256 digests), authenticates bearer secrets into a [`Principal`], and checks every
//! operation's privileges ([`Access`]). It knows nothing of HTTP, JSON or SQL; the server and
//! the query-protocol front end are thin layers over it.
//!
//! # Embedding
//!
//! `use sesame_auth::prelude::*;` brings the engine and every type its signatures use (the
//! model's and the store's too), so an application needs only this crate and a store (the
//! in-memory [`MemoryStore`](sesame_store::MemoryStore), or `sesame_postgres::PgStore`). The
//! model and store crates are re-exported whole as [`sesame_model`] and [`sesame_store`]. Read
//! [`Engine`]'s documentation first: it needs a Tokio runtime, says how an application acts as
//! itself (`Caller::key(Role::Server)`), and which profile override keeps debug builds fast.
//! Runnable examples are tests: `crates/sesame-auth/tests/embed_*.rs` and
//! `tests/embedding/postgres.rs` (see the README, "Embedding Sesame").
//!
//! For HTTP services, [`bearer`] reads an `Authorization` header value and
//! [`AuthError::http_status`] maps errors to statuses, without any HTTP types here.

mod clock;
mod config;
mod engine;
mod error;
mod hasher;
mod principal;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AuthConfig, HashParams, ThrottleConfig};
pub use engine::{
    Engine, EngineState, MaintenanceReport, NewKey, NewToken, QueryAnswer, QueryOptions,
    FILTER_SCAN_BOUND, MAX_QUERY_TIME,
};
pub use error::{error_chain, AuthError};
pub use hasher::{HashStats, Hasher, Verified};
pub use principal::{Access, Caller, Principal, Target};
pub use sesame_fql::Format as QueryFormat;
pub use sesame_model;
pub use sesame_store;

use sesame_model::Secret;

/// Everything an embedding application needs to call the engine: the engine, its inputs and
/// outputs, and the model and store types its signatures use.
///
/// ```ignore
/// use sesame_auth::prelude::*;
/// ```
pub mod prelude {
    pub use crate::{
        bearer, error_chain, AuthConfig, AuthError, Caller, Clock, Engine, MaintenanceReport,
        ManualClock, NewKey, NewToken, Principal, SystemClock,
    };
    pub use sesame_model::{
        AuditEvent, AuditKind, ClientInfo, Collection, CollectionName, Credential, Data, DocId,
        DocRef, Document, Fields, Json, Key, Password, Role, Secret, Timestamp, Token, TokenOrigin,
        Ttl,
    };
    pub use sesame_store::{AuditFilter, MemoryStore, Page, Store, StoreError};
}

/// The longest bearer secret accepted (generated ones are 47 characters; the operator's admin
/// secret is at most 512).
pub const MAX_BEARER_LEN: usize = 512;

/// The secret of an `Authorization` header value `Bearer <secret>`: the scheme is matched
/// case-insensitively, surrounding ASCII whitespace is trimmed, and the secret must be 1 to
/// [`MAX_BEARER_LEN`] bytes with no whitespace inside. `None` for anything else (another
/// scheme, a missing or oversized secret), which an HTTP surface answers with `401`.
///
/// It only parses: pass the result to [`Engine::authenticate`]. This is the one parser the
/// server and `sesame-tower` use; refusing *repeated* `Authorization` headers is the caller's
/// job (it sees the header map).
pub fn bearer(header_value: &str) -> Option<Secret> {
    // ASCII whitespace only: header values are ASCII, and a secret never holds anything else.
    let (scheme, secret) = header_value.trim_ascii().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let secret = secret.trim_ascii();
    if secret.is_empty()
        || secret.len() > MAX_BEARER_LEN
        || secret.bytes().any(|b| b.is_ascii_whitespace())
    {
        return None;
    }
    Some(Secret::from(secret))
}

#[cfg(test)]
mod tests;
