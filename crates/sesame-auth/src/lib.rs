//! Sesame's authentication engine: Fauna's model of identities, credentials, tokens and keys.
//!
//! [`Engine`] holds an `Arc<dyn Store>`, a [`Clock`] and an [`AuthConfig`]. It hashes passwords
//! (Argon2id, bounded concurrency: [`Hasher`]), mints secrets (256 bits from the OS CSPRNG, stored
//! only as SHA-256 digests), authenticates bearer secrets into a [`Principal`], and checks every
//! operation's privileges ([`Access`]). It knows nothing of HTTP, JSON or SQL; the server and,
//! later, the query-protocol front end are thin layers over it.

mod clock;
mod config;
mod engine;
mod error;
mod hasher;
mod principal;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AuthConfig, HashParams, ThrottleConfig};
pub use engine::{Engine, NewKey, NewToken, QueryAnswer, QueryOptions, MAX_QUERY_TIME};
pub use error::AuthError;
pub use hasher::{HashStats, Hasher, Verified};
pub use principal::{Access, Caller, Principal, Target};
pub use sesame_fql::Format as QueryFormat;

#[cfg(test)]
mod tests;
