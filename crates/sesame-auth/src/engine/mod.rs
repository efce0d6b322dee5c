//! [`Engine`]: every authentication and data operation, with its privilege check.
//!
//! This file holds the engine's state, construction and the helpers every operation shares
//! (privilege checks, page sizes, password bounds, id retries). The operations live beside it
//! by concern: `authn` (secret → principal), `documents`, `credentials`, `login` (and `verify`),
//! `tokens`, `keys`, `throttle` (keys, reservations, bounds) and `audit` (the trail).
//!
//! Each public method takes the caller's [`Principal`], checks the [`Access`] it needs, then
//! makes the store calls. It is the layer both surfaces (REST today, Fauna's query protocol
//! later) call into; neither re-implements a rule. It knows nothing about HTTP or SQL.

use std::sync::Arc;

use sesame_model::{
    AuditEvent, AuditKind, ClientInfo, Collection, CollectionName, Credential, Data, DocId, DocRef,
    Document, Fields, IdGenerator, Key, Password, Role, Secret, SecretDigest, SecretKind,
    Timestamp, Token, TokenOrigin, Ttl, SECRET_RANDOM_BYTES,
};
use sesame_store::{
    constraint, AuditFilter, Page, Reservation, Revoke, Store, StoreError, StoredCredential,
    ThrottleKey, VerifiedWith,
};

use crate::{
    Access, AuthConfig, AuthError, Caller, Clock, HashStats, Hasher, Principal, SystemClock, Target,
};

mod audit;
mod authn;
mod credentials;
mod documents;
mod keys;
mod login;
mod maintenance;
mod query;
mod roles;
mod throttle;
mod tokens;

use audit::actor_name;
pub use maintenance::MaintenanceReport;
pub use query::{QueryAnswer, QueryOptions, FILTER_SCAN_BOUND, MAX_QUERY_TIME};
use throttle::{canonical_fields, credential_key, throttle_key};

/// A token just created, with its secret. The secret exists only here: show it once.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token.
    pub token: Token,
    /// Its bearer secret.
    pub secret: Secret,
}

/// A key just created, with its secret. The secret exists only here: show it once.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The key.
    pub key: Key,
    /// Its bearer secret.
    pub secret: Secret,
}

/// The authentication engine: every operation of Sesame, over any [`Store`]. Share it behind an
/// `Arc`.
///
/// # Calling it
///
/// Every operation takes a [`Caller`]: who is asking. A request carrying a bearer secret gets
/// one from [`Engine::authenticate`] (or [`crate::bearer`] for the header, then `authenticate`);
/// an application acting as itself in-process uses **`Caller::key(Role::Server)`** (documents,
/// credentials, tokens, logins; not keys or collection schema), or `Caller::key(Role::Admin)`
/// for setup such as creating collections. Those principals have no stored key behind them, so
/// there is nothing to leak or revoke. Types used in signatures are re-exported by
/// [`crate::prelude`].
///
/// # Runtime
///
/// The engine needs a **Tokio runtime** (multi-threaded or current-thread): it spawns tasks for
/// the hasher's bookkeeping, for `last_used` touches of tokens and for audit writes, and
/// [`Engine::spawn_maintenance`] runs housekeeping on an interval. Calling its async methods
/// outside a runtime panics. Password hashing itself runs on the engine's own threads.
///
/// # Housekeeping
///
/// Expired tokens, stale throttling rows and audit events past their retention are deleted
/// only by [`Engine::run_maintenance`]; call [`Engine::spawn_maintenance`] once after building
/// the engine (the `sesame` server does, every `--sweep-interval-secs`).
///
/// # Debug builds
///
/// Argon2 in an unoptimised build hashes about 15× slower, so logins in `cargo test` and
/// `cargo run` are slow unless the consuming workspace optimises it (profile overrides of
/// dependencies do not carry over from Sesame's workspace). Put this in **your** `Cargo.toml`:
///
/// ```toml
/// [profile.dev.package.argon2]
/// opt-level = 3
/// [profile.dev.package.blake2]
/// opt-level = 3
/// ```
///
/// # Sharing
///
/// `Engine` is a handle: cloning it is cheap and every clone is the same engine (its state
/// lives behind one `Arc`).
#[derive(Debug, Clone)]
pub struct Engine(Arc<EngineState>);

impl std::ops::Deref for Engine {
    type Target = EngineState;
    fn deref(&self) -> &EngineState {
        &self.0
    }
}

/// The engine's state, behind the [`Engine`] handle. Its fields are private.
#[derive(Debug)]
pub struct EngineState {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AuthConfig,
    hasher: Hasher,
    ids: IdGenerator,
    admin_digest: Option<SecretDigest>,
    touching: Arc<std::sync::Mutex<std::collections::HashSet<DocId>>>,
    /// The end of the delay window whose first refusal was audited, per throttling key.
    throttle_audited: std::sync::Mutex<std::collections::HashMap<ThrottleKey, Timestamp>>,
    /// The per-address bucket (`throttle.rs`), if configured.
    address_limiter: Option<throttle::AddressLimiter>,
    /// Password checks in flight per throttling key, in this process.
    in_flight: Arc<std::sync::Mutex<std::collections::HashMap<ThrottleKey, u32>>>,
    /// When a `permission_denied` event was last audited, per (actor, access).
    denied_audited: std::sync::Mutex<std::collections::HashMap<(String, &'static str), Timestamp>>,
}

/// How long one (actor, access) pair's `permission_denied` events are folded into one.
const DENIED_AUDIT_WINDOW_US: i64 = 60_000_000;

/// The granularity of a token's `last_used`: one minute.
pub const TOUCH_GAP_US: i64 = 60_000_000;

/// How many times a create retries after an id collision (ids from several instances may
/// collide, rarely; the store's uniqueness catches it).
const ID_RETRIES: usize = 3;

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AuthError::Internal(e.to_string().into()))?;
    Ok(b)
}

fn coll_not_found(c: &CollectionName) -> impl FnOnce() -> String + '_ {
    move || format!("Collection `{c}` does not exist.")
}

fn doc_not_found(d: &DocRef) -> impl FnOnce() -> String + '_ {
    move || format!("Collection `{}` does not contain document with id {}.", d.coll, d.id)
}

fn item_not_found(kind: &'static str, id: DocId) -> impl FnOnce() -> String {
    move || format!("Collection `{kind}` does not contain document with id {id}.")
}

impl Engine {
    /// An engine over `store` with the system clock.
    pub fn new(store: Arc<dyn Store>, config: AuthConfig) -> Result<Self, AuthError> {
        Engine::with_clock(store, config, Arc::new(SystemClock))
    }

    /// An engine with an injected clock (tests of expiry use [`crate::ManualClock`]).
    pub fn with_clock(
        store: Arc<dyn Store>,
        config: AuthConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        if config.min_password_len > config.max_password_len || config.max_password_len == 0 {
            return Err(AuthError::invalid("password length bounds are inverted or zero"));
        }
        let hasher = Hasher::new(config.hash_params, config.hash_concurrency)?;
        let node = u16::from_le_bytes(random_bytes::<2>()?);
        let admin_digest = config.admin_secret.as_ref().map(Secret::digest);
        let address_limiter = throttle::address_limiter(&config.throttle);
        Ok(Engine(Arc::new(EngineState {
            store,
            clock,
            config,
            hasher,
            ids: IdGenerator::new(node),
            admin_digest,
            touching: Default::default(),
            throttle_audited: Default::default(),
            in_flight: Default::default(),
            address_limiter,
            denied_audited: Default::default(),
        })))
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Hashing work done so far.
    pub fn hash_stats(&self) -> HashStats {
        self.hasher.stats()
    }

    /// Hash jobs waiting for a slot.
    pub fn hash_queue_depth(&self) -> u64 {
        self.hasher.queue_depth()
    }

    /// Now, by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn check(&self, p: &Principal, access: Access<'_>) -> Result<(), AuthError> {
        self.check_about(p, &access, access.document())
    }

    /// For keys, whose rights never depend on the document: checked before any lookup (so a
    /// denied key learns nothing about existence), with `access` built on a placeholder.
    fn check_key(&self, p: &Principal, access: Access<'_>) -> Result<(), AuthError> {
        self.check_about(p, &access, None)
    }

    fn check_about(
        &self,
        p: &Principal,
        access: &Access<'_>,
        about: Option<&DocRef>,
    ) -> Result<(), AuthError> {
        if p.may(access) {
            return Ok(());
        }
        self.audit_denied(p, access, about);
        Err(AuthError::PermissionDenied)
    }

    /// Like [`Engine::check`], for an operation on one existing thing addressed by id: a token
    /// denied access to another identity's thing gets the same `document_not_found` as for a
    /// missing one (`what` is that message), so existence is not revealed to it.
    fn check_hidden(
        &self,
        p: &Principal,
        access: Access<'_>,
        what: impl FnOnce() -> String,
    ) -> Result<(), AuthError> {
        match self.check(p, access) {
            Err(AuthError::PermissionDenied) if p.identity().is_some() => {
                Err(AuthError::not_found(what()))
            }
            other => other,
        }
    }

    /// Resolves a caller's ttl against the engine's clock, with the model's bounds.
    fn resolve_ttl(&self, ttl: Option<Ttl>) -> Result<Option<Timestamp>, AuthError> {
        Ok(ttl.map(|t| t.resolve(self.clock.now())).transpose()?)
    }

    fn page_size(&self, size: Option<usize>) -> Result<usize, AuthError> {
        match size {
            None => Ok(self.config.default_page_size),
            Some(n) if (1..=self.config.max_page_size).contains(&n) => Ok(n),
            Some(_) => Err(AuthError::invalid(format!(
                "page size must be between 1 and {}",
                self.config.max_page_size
            ))),
        }
    }

    fn check_new_password(&self, pw: &Password) -> Result<(), AuthError> {
        let (min, max) = (self.config.min_password_len.max(1), self.config.max_password_len);
        if pw.len() < min || pw.len() > max {
            return Err(AuthError::invalid(format!("password must be {min} to {max} bytes long")));
        }
        Ok(())
    }

    /// Login accepts any non-empty password up to the maximum, whatever the current minimum,
    /// so raising the minimum does not lock out existing users. Checked before any hashing.
    fn check_login_password(&self, pw: &Password) -> Result<(), AuthError> {
        if pw.is_empty() || pw.len() > self.config.max_password_len {
            return Err(AuthError::invalid(format!(
                "password must be 1 to {} bytes long",
                self.config.max_password_len
            )));
        }
        Ok(())
    }

    async fn with_fresh_id<T, F, Fut>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: FnMut(DocId) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut tries = 0;
        loop {
            match attempt(self.ids.next(self.clock.now())).await {
                Err(StoreError::Conflict { constraint: c })
                    if c == constraint::ID && tries < ID_RETRIES =>
                {
                    tries += 1;
                }
                other => return other,
            }
        }
    }
}
