//! [`Engine`]: every authentication and data operation, with its privilege check.
//!
//! Each public method takes the caller's [`Principal`], checks the [`Access`] it needs, then
//! makes the store calls. It is the layer both surfaces (REST today, Fauna's query protocol
//! later) call into; neither re-implements a rule. It knows nothing about HTTP or SQL.

use std::sync::Arc;

use sesame_model::{
    AuditEvent, AuditKind, ClientInfo, Collection, CollectionName, Credential, Data, DocId, DocRef,
    Document, Fields, IdGenerator, Key, Password, Role, Secret, SecretDigest, SecretKind,
    Timestamp, Token, TokenOrigin, SECRET_RANDOM_BYTES,
};
use sesame_store::{
    constraint, AuditFilter, Page, Reservation, Revoke, Store, StoreError, StoredCredential,
    ThrottleKey, VerifiedWith,
};

use crate::{Access, AuthConfig, AuthError, Clock, HashStats, Hasher, Principal, SystemClock};

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

/// The authentication engine. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AuthConfig,
    hasher: Hasher,
    ids: IdGenerator,
    admin_digest: Option<SecretDigest>,
    touching: Arc<std::sync::Mutex<std::collections::HashSet<DocId>>>,
    /// The end of the delay window whose first refusal was audited, per throttling key.
    throttle_audited: std::sync::Mutex<std::collections::HashMap<ThrottleKey, Timestamp>>,
    /// Password checks in flight per throttling key, in this process.
    in_flight: Arc<std::sync::Mutex<std::collections::HashMap<ThrottleKey, u32>>>,
    /// When a `permission_denied` event was last audited, per (actor, access).
    denied_audited: std::sync::Mutex<std::collections::HashMap<(String, &'static str), Timestamp>>,
}

/// One password check in flight for a throttling key; leaving it frees the slot.
struct InFlight {
    map: Arc<std::sync::Mutex<std::collections::HashMap<ThrottleKey, u32>>>,
    key: ThrottleKey,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// How long one (actor, access) pair's `permission_denied` events are folded into one.
const DENIED_AUDIT_WINDOW_US: i64 = 60_000_000;

/// A refused attempt, and whether it is the first refusal of its window.
#[derive(Debug)]
struct Refusal {
    err: AuthError,
    first: bool,
}

impl From<AuthError> for Refusal {
    fn from(err: AuthError) -> Self {
        Refusal { err, first: false }
    }
}

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

/// How an audit event names its actor: ids only, never secrets.
fn actor_name(p: &Principal) -> String {
    match p {
        Principal::Key { key_id: Some(id), .. } => format!("key:{id}"),
        Principal::Key { key_id: None, .. } => "admin_secret".into(),
        Principal::Token(t) => format!("token:{}", t.id),
    }
}

/// The structured log line of an audit event, under its own target.
fn log_event(e: &AuditEvent) {
    tracing::info!(
        target: "sesame::audit",
        event = e.kind.as_str(),
        reason = e.reason.as_deref(),
        actor = e.actor.as_deref(),
        identity = e.identity.as_ref().map(|d| d.to_string()),
        credential = e.credential.map(|i| i.get()),
        token = e.token.map(|i| i.get()),
        key = e.key.map(|i| i.get()),
        client = e.client_addr.map(|a| a.to_string()),
        count = e.count,
        "audit"
    );
}

/// A throttling key: SHA-256 over a kind and its parts, length-prefixed so parts can't collide.
fn throttle_key(kind: &str, parts: &[&[u8]]) -> ThrottleKey {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b"sesame-throttle\0");
    buf.extend_from_slice(kind.as_bytes());
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
        buf.extend_from_slice(p);
    }
    SecretDigest::of_bytes(&buf)
}

fn credential_key(id: DocId) -> ThrottleKey {
    throttle_key("credential", &[&id.get().to_be_bytes()])
}

/// The filter's fields in a stable order (the map is ordered by key), for a throttling key.
fn canonical_fields(f: &Fields) -> String {
    let mut out = String::new();
    for (k, v) in f.as_map() {
        out.push_str(&format!("{}:{}={v};", k.len(), k));
    }
    out
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
        Ok(Engine {
            store,
            clock,
            config,
            hasher,
            ids: IdGenerator::new(node),
            admin_digest,
            touching: Default::default(),
            throttle_audited: Default::default(),
            in_flight: Default::default(),
            denied_audited: Default::default(),
        })
    }

    /// The store, for operational tasks (readiness, sweeping).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
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

    /// Audits a refusal: counted in metrics every time, written to the trail at most once per
    /// (actor, access) and minute, so that a caller looping on forbidden requests cannot flood
    /// the trail (the event's `count` is 1; metrics hold the total).
    fn audit_denied(&self, p: &Principal, access: &Access<'_>, about: Option<&DocRef>) {
        metrics::counter!("sesame_permission_denied_total").increment(1);
        let now = self.clock.now();
        let actor = actor_name(p);
        let first = match self.denied_audited.lock() {
            Ok(mut seen) => {
                if seen.len() > 10_000 {
                    seen.retain(|_, t| now.as_micros() - t.as_micros() < DENIED_AUDIT_WINDOW_US);
                }
                match seen.get(&(actor.clone(), access.name())) {
                    Some(t) if now.as_micros() - t.as_micros() < DENIED_AUDIT_WINDOW_US => false,
                    _ => {
                        seen.insert((actor, access.name()), now);
                        true
                    }
                }
            }
            Err(_) => true,
        };
        if !first {
            return;
        }
        let mut e = self.event(AuditKind::PermissionDenied, Some(p));
        e.reason = Some(access.name().to_owned());
        e.identity = about.cloned();
        // `check` is synchronous; the event is written in the background.
        self.emit_detached(e);
    }

    /// A new audit event of `kind` by `actor`, at now; the caller fills in the rest.
    fn event(&self, kind: AuditKind, actor: Option<&Principal>) -> AuditEvent {
        let now = self.clock.now();
        AuditEvent {
            id: self.ids.next(now),
            ts: now,
            kind,
            reason: None,
            actor: actor.map(actor_name),
            identity: None,
            credential: None,
            token: None,
            key: None,
            client_addr: None,
            count: None,
        }
    }

    /// Writes an audit event: a structured log line under `sesame::audit` and a row in the
    /// store. A failed write is logged and counted, and does not undo the action it records.
    async fn emit(&self, e: AuditEvent) {
        log_event(&e);
        if let Err(err) = self.store.append_audit(&e).await {
            tracing::warn!(error = %err, kind = e.kind.as_str(), "audit event not stored");
            metrics::counter!("sesame_audit_write_errors_total").increment(1);
        }
    }

    fn emit_detached(&self, e: AuditEvent) {
        log_event(&e);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.append_audit(&e).await {
                tracing::warn!(error = %err, kind = e.kind.as_str(), "audit event not stored");
                metrics::counter!("sesame_audit_write_errors_total").increment(1);
            }
        });
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

    // ----- authentication ----------------------------------------------------------------

    /// Records that `t` was used, off the request's path and at most about once a minute per
    /// token: skipped while its `last_used` is recent, deduplicated within this process, and
    /// conditional in the store so that several instances write at most once per minute too.
    fn touch_later(&self, t: &Token, now: Timestamp) {
        if t.last_used.is_some_and(|u| now.as_micros() - u.as_micros() < TOUCH_GAP_US) {
            return;
        }
        let Ok(mut touching) = self.touching.lock() else { return };
        if !touching.insert(t.id) {
            return;
        }
        drop(touching);
        let (store, touching, id) = (self.store.clone(), self.touching.clone(), t.id);
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(id, now, TOUCH_GAP_US).await {
                tracing::debug!(token = %id, error = %e, "last-used update failed");
            }
            if let Ok(mut t) = touching.lock() {
                t.remove(&id);
            }
        });
    }

    /// Who is behind `secret`. One store lookup by digest for a well-formed secret, none for a
    /// malformed one. Unknown, malformed, revoked and expired secrets (`ttl <= now`, checked
    /// here, at use time) are all the same `unauthorized`. A token whose identity is deleted
    /// is deleted with it, so it is unknown too.
    pub async fn authenticate(&self, secret: &Secret) -> Result<Principal, AuthError> {
        let digest = secret.digest();
        if let Some(admin) = &self.admin_digest {
            if admin.ct_eq(&digest) {
                return Ok(Principal::Key { key_id: None, role: Role::Admin });
            }
        }
        let unauthorized = |e: StoreError| match e {
            StoreError::NotFound => AuthError::Unauthorized,
            e => AuthError::from(e),
        };
        let now = self.clock.now();
        match secret.kind() {
            Some(SecretKind::Token) => {
                let t = self.store.token_by_digest(&digest).await.map_err(unauthorized)?;
                if t.ttl.is_some_and(|ttl| ttl <= now) {
                    return Err(AuthError::Unauthorized);
                }
                self.touch_later(&t, now);
                Ok(Principal::Token(t))
            }
            Some(SecretKind::Key) => {
                let k = self.store.key_by_digest(&digest).await.map_err(unauthorized)?;
                if k.ttl.is_some_and(|ttl| ttl <= now) {
                    return Err(AuthError::Unauthorized);
                }
                Ok(Principal::Key { key_id: Some(k.id), role: k.role })
            }
            None => Err(AuthError::Unauthorized),
        }
    }

    /// Whether the store answers (readiness).
    pub async fn ready(&self) -> Result<(), AuthError> {
        self.store.ping().await.map_err(AuthError::from)
    }

    // ----- collections -------------------------------------------------------------------

    /// Creates a collection (admin).
    pub async fn create_collection(
        &self,
        p: &Principal,
        name: CollectionName,
    ) -> Result<Collection, AuthError> {
        self.check(p, Access::WriteSchema)?;
        let c = Collection::new(name, self.clock.now());
        self.store.create_collection(&c).await.map_err(|e| match e {
            StoreError::Conflict { .. } => AuthError::ConstraintFailure {
                message: format!("Collection `{}` already exists.", c.name),
            },
            e => AuthError::from(e),
        })?;
        Ok(c)
    }

    /// Reads a collection.
    pub async fn get_collection(
        &self,
        p: &Principal,
        name: &CollectionName,
    ) -> Result<Collection, AuthError> {
        self.check(p, Access::ReadSchema)?;
        self.store
            .get_collection(name)
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(name)))
    }

    /// Lists collections by name.
    pub async fn list_collections(
        &self,
        p: &Principal,
        after: Option<&CollectionName>,
        size: Option<usize>,
    ) -> Result<Page<Collection, CollectionName>, AuthError> {
        self.check(p, Access::ReadSchema)?;
        let size = self.page_size(size)?;
        Ok(self.store.list_collections(after, size).await?)
    }

    /// Deletes a collection with everything in it (admin).
    pub async fn delete_collection(
        &self,
        p: &Principal,
        name: &CollectionName,
    ) -> Result<(), AuthError> {
        self.check(p, Access::WriteSchema)?;
        self.store
            .delete_collection(name)
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(name)))
    }

    // ----- documents ---------------------------------------------------------------------

    /// Creates a document (`Customer.create({...})`). Top-level nulls are dropped.
    pub async fn create_document(
        &self,
        p: &Principal,
        coll: CollectionName,
        fields: Fields,
    ) -> Result<Document, AuthError> {
        self.check(p, Access::WriteDocument(&coll))?;
        let fields = fields.without_nulls();
        let ts = self.clock.now();
        let doc = self
            .with_fresh_id(|id| {
                let d = Document { id, coll: coll.clone(), ts, fields: fields.clone() };
                async move { self.store.create_document(&d).await.map(|()| d) }
            })
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(&coll)))?;
        Ok(doc)
    }

    /// Reads a document (`Customer.byId(id)`).
    pub async fn get_document(&self, p: &Principal, doc: &DocRef) -> Result<Document, AuthError> {
        self.check(p, Access::ReadDocument(doc))?;
        self.store.get_document(doc).await.map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    /// Documents whose top-level fields equal `filter`'s (`Customer.byName("Jane", "Doe")`).
    pub async fn find_documents(
        &self,
        p: &Principal,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<Document>, AuthError> {
        self.check(p, Access::ListDocuments(coll))?;
        let size = self.page_size(size)?;
        if filter.as_map().values().any(|v| v.is_null()) {
            return Err(AuthError::invalid("a filter value may not be null"));
        }
        self.store
            .find_documents(coll, filter, after, size)
            .await
            .map_err(|e| AuthError::from_store(e, coll_not_found(coll)))
    }

    /// Merges `patch` into a document (`doc.update({...})`); `null` removes a field.
    pub async fn update_document(
        &self,
        p: &Principal,
        doc: &DocRef,
        patch: &Fields,
    ) -> Result<Document, AuthError> {
        self.check(p, Access::WriteDocument(&doc.coll))?;
        self.store
            .update_document(doc, patch, self.clock.now())
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    /// Replaces a document's fields (`doc.replace({...})`).
    pub async fn replace_document(
        &self,
        p: &Principal,
        doc: &DocRef,
        fields: Fields,
    ) -> Result<Document, AuthError> {
        self.check(p, Access::WriteDocument(&doc.coll))?;
        self.store
            .replace_document(doc, &fields.without_nulls(), self.clock.now())
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    /// Deletes a document, its credential and its tokens (`doc.delete()`).
    pub async fn delete_document(&self, p: &Principal, doc: &DocRef) -> Result<(), AuthError> {
        self.check(p, Access::WriteDocument(&doc.coll))?;
        self.store
            .delete_document(doc)
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(doc)))
    }

    // ----- credentials -------------------------------------------------------------------

    /// Creates the credential of `document` (`Credential.create({ document, password })`).
    /// Without a password the credential can never log in.
    pub async fn create_credential(
        &self,
        p: &Principal,
        document: DocRef,
        password: Option<Password>,
        data: Option<Data>,
    ) -> Result<Credential, AuthError> {
        self.check(p, Access::WriteCredential)?;
        if let Some(pw) = &password {
            self.check_new_password(pw)?;
        }
        // Fail fast (and hash nothing) when the document is missing or already has one; the
        // store enforces both again atomically.
        match self.store.credential_by_document(&document).await {
            Ok(_) => {
                return Err(AuthError::ConstraintFailure {
                    message: "Failed unique constraint.".into(),
                })
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.store
            .get_document(&document)
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(&document)))?;
        let hash = match &password {
            Some(pw) => Some(self.hasher.hash(pw).await?),
            None => None,
        };
        let ts = self.clock.now();
        let c = self
            .with_fresh_id(|id| {
                let c = StoredCredential {
                    credential: Credential {
                        id,
                        document: document.clone(),
                        ts,
                        data: data.clone(),
                    },
                    hash: hash.clone(),
                };
                async move { self.store.create_credential(&c).await.map(|()| c.credential) }
            })
            .await
            .map_err(|e| AuthError::from_store(e, doc_not_found(&document)))?;
        let mut e = self.event(AuditKind::CredentialCreated, Some(p));
        (e.credential, e.identity) = (Some(c.id), Some(c.document.clone()));
        self.emit(e).await;
        Ok(c)
    }

    /// The credential of `document` (`Credential.byDocument(doc)`).
    pub async fn credential_by_document(
        &self,
        p: &Principal,
        document: &DocRef,
    ) -> Result<Credential, AuthError> {
        self.check(p, Access::ReadCredential(document))?;
        self.store
            .credential_by_document(document)
            .await
            .map(|c| c.credential)
            .map_err(|e| AuthError::from_store(e, || format!("No credential for {document}.")))
    }

    /// A credential by id (`Credential.byId(id)`).
    pub async fn get_credential(&self, p: &Principal, id: DocId) -> Result<Credential, AuthError> {
        if p.identity().is_none() {
            // Keys: check before the lookup, so a denied key learns nothing about existence.
            self.check_key(p, Access::ReadCredential(&self.placeholder_ref()))?;
        }
        let c = self
            .store
            .credential_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", id)))?;
        self.check_hidden(
            p,
            Access::ReadCredential(&c.credential.document),
            item_not_found("Credential", id),
        )?;
        Ok(c.credential)
    }

    fn placeholder_ref(&self) -> DocRef {
        // Keys' rights never depend on the document, so any reference will do.
        DocRef::new("_".repeat(2).parse().expect("valid name"), DocId::new(1).expect("valid id"))
    }

    /// Logs in with credential `id` (`credential.login(password, ttl)`): a new token with its
    /// secret. A wrong password, a missing credential and a credential without a password all
    /// give `invalid_secret` after the same hashing work.
    pub async fn login(
        &self,
        p: &Principal,
        credential: DocId,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        self.login_from(&ClientInfo::default(), p, credential, password, ttl).await
    }

    /// [`Engine::login`], recording what the server saw of the client on the token.
    pub async fn login_from(
        &self,
        client: &ClientInfo,
        p: &Principal,
        credential: DocId,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        self.check(p, Access::CreateToken)?;
        self.check_login_password(password)?;
        let stored = match self.store.credential_by_id(credential).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Keyed by the id tried, whether or not it exists.
        self.finish_login(p, credential_key(credential), stored, password, ttl, client).await
    }

    /// Logs in as `document` with its credential.
    pub async fn login_by_document(
        &self,
        p: &Principal,
        document: &DocRef,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        self.login_by_document_from(&ClientInfo::default(), p, document, password, ttl).await
    }

    /// [`Engine::login_by_document`], recording the client on the token.
    pub async fn login_by_document_from(
        &self,
        client: &ClientInfo,
        p: &Principal,
        document: &DocRef,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        self.check(p, Access::CreateToken)?;
        self.check_login_password(password)?;
        let stored = match self.store.credential_by_document(document).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Keyed by the document named, whether or not it exists or has a credential (W1): a
        // known and an unknown identity are throttled alike.
        let key = throttle_key(
            "document",
            &[document.coll.as_str().as_bytes(), &document.id.get().to_be_bytes()],
        );
        self.finish_login(p, key, stored, password, ttl, client).await
    }

    /// Logs in as the one document of `coll` whose fields equal `matching` (e.g. an e-mail
    /// address). No match, several matches, an unknown collection and a wrong password are
    /// indistinguishable: the same error after the same hashing work.
    pub async fn login_by_match(
        &self,
        p: &Principal,
        coll: &CollectionName,
        matching: &Fields,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        self.login_by_match_from(&ClientInfo::default(), p, coll, matching, password, ttl).await
    }

    /// [`Engine::login_by_match`], recording the client on the token.
    pub async fn login_by_match_from(
        &self,
        client: &ClientInfo,
        p: &Principal,
        coll: &CollectionName,
        matching: &Fields,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        self.check(p, Access::CreateToken)?;
        self.check_login_password(password)?;
        if matching.is_empty() || matching.as_map().values().any(|v| v.is_null()) {
            return Err(AuthError::invalid("`match` needs at least one non-null field"));
        }
        let stored = match self.store.find_documents(coll, matching, None, 2).await {
            Ok(page) if page.data.len() == 1 => {
                match self.store.credential_by_document(&page.data[0].doc_ref()).await {
                    Ok(c) => Some(c),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Keyed by the identifier the client tried, whether or not it names an account (W1):
        // a key that depended on existence would tell it (429 here, 400 there). Matching is
        // exact JSON equality on every backend, so one identifier text names one account.
        let canonical = canonical_fields(matching);
        let key = throttle_key("match", &[coll.as_str().as_bytes(), canonical.as_bytes()]);
        self.finish_login(p, key, stored, password, ttl, client).await
    }

    /// Reserves one password check under `key`, before any hashing (V1). Two gates, both
    /// before the hasher: at most `max_concurrent_attempts` checks in flight per key in this
    /// process, and the store's atomic reservation, which counts the attempt as a failure up
    /// front and refuses it while the key is in its delay window (shared by every instance).
    /// A success then clears the key; a failure is already counted.
    ///
    /// The error says whether this is the first refusal of `key`'s current delay window: only
    /// that one becomes an audit event (the rest are counted in metrics), so that a flood of
    /// refused attempts cannot flood the audit trail.
    async fn reserve(&self, key: &ThrottleKey) -> Result<InFlight, Refusal> {
        let max = self.config.throttle.max_concurrent_attempts;
        {
            let mut m = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = m.entry(*key).or_insert(0);
            if max > 0 && *n >= max {
                metrics::counter!("sesame_logins_total", "outcome" => "throttled").increment(1);
                metrics::counter!("sesame_throttled_total", "by" => "in_flight").increment(1);
                return Err(Refusal {
                    err: AuthError::Throttled { retry_after_secs: 1 },
                    first: false,
                });
            }
            *n += 1;
        }
        let slot = InFlight { map: self.in_flight.clone(), key: *key };
        let now = self.clock.now();
        let policy = self.config.throttle.policy();
        let until = match self.store.reserve_login_attempt(key, now, &policy).await {
            Ok(Reservation::Granted(_)) => return Ok(slot),
            Ok(Reservation::Refused { until }) => until,
            Err(e) => return Err(Refusal::from(AuthError::from(e))),
        };
        let secs = (until.as_micros() - now.as_micros() + 999_999) / 1_000_000;
        metrics::counter!("sesame_logins_total", "outcome" => "throttled").increment(1);
        metrics::counter!("sesame_throttled_total", "by" => "account").increment(1);
        let first = match self.throttle_audited.lock() {
            Ok(mut seen) => {
                if seen.len() > 10_000 {
                    seen.retain(|_, u| *u > now);
                }
                seen.insert(*key, until) != Some(until)
            }
            Err(_) => true,
        };
        Err(Refusal { err: AuthError::Throttled { retry_after_secs: secs.max(1) as u64 }, first })
    }

    /// Audit events (admin only), filtered and paginated.
    pub async fn list_audit(
        &self,
        p: &Principal,
        filter: &AuditFilter,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<AuditEvent>, AuthError> {
        self.check(p, Access::ReadAudit)?;
        let size = self.page_size(size)?;
        Ok(self.store.list_audit(filter, after, size).await?)
    }

    /// Deletes up to `batch` audit events older than the retention period; how many.
    pub async fn sweep_audit(&self, batch: usize) -> Result<u64, AuthError> {
        let Some(days) = self.config.audit_retention_days.filter(|d| *d > 0) else { return Ok(0) };
        let before = self.clock.now().plus_seconds(-(i64::from(days) * 86_400));
        Ok(self.store.delete_audit_before(before, batch.max(1)).await?)
    }

    /// Deletes up to `batch` failure records that no longer throttle anything.
    pub async fn sweep_stale_login_failures(&self, batch: usize) -> Result<u64, AuthError> {
        let horizon = 3600 + self.config.throttle.max_delay_secs.min(86_400) as i64;
        let before = self.clock.now().plus_seconds(-horizon);
        Ok(self.store.delete_stale_login_failures(before, batch.max(1)).await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish_login(
        &self,
        p: &Principal,
        key: ThrottleKey,
        stored: Option<StoredCredential>,
        password: &Password,
        ttl: Option<Timestamp>,
        client: &ClientInfo,
    ) -> Result<NewToken, AuthError> {
        let mut e = self.event(AuditKind::LoginFailed, Some(p));
        e.client_addr = client.addr;
        if let Some(c) = &stored {
            e.credential = Some(c.credential.id);
            e.identity = Some(c.credential.document.clone());
        }
        // Reserved (and counted as a failure) before any hashing; cleared on success.
        let _slot = match self.reserve(&key).await {
            Ok(slot) => slot,
            Err(r) => {
                if r.first {
                    e.kind = AuditKind::LoginThrottled;
                    self.emit(e).await;
                }
                return Err(r.err);
            }
        };
        let Some(stored) = stored else {
            self.hasher.verify_dummy(password).await?;
            metrics::counter!("sesame_logins_total", "outcome" => "unknown_identity").increment(1);
            e.reason = Some("unknown_identity".into());
            self.emit(e).await;
            return Err(AuthError::InvalidSecret);
        };
        let v = self.hasher.verify(password, stored.hash.as_ref()).await?;
        let cred = &stored.credential;
        let (Some(hash), true) = (&stored.hash, v.ok) else {
            metrics::counter!("sesame_logins_total", "outcome" => "wrong_password").increment(1);
            let reason = if stored.hash.is_some() { "wrong_password" } else { "no_password" };
            e.reason = Some(reason.into());
            self.emit(e).await;
            return Err(AuthError::InvalidSecret);
        };
        // From here on every write is conditional on the credential still having the hash
        // the password was verified against (V2): a concurrent password change or credential
        // delete either happens first (this login then fails) or revokes this token.
        let mut verified = hash.clone();
        if v.needs_rehash {
            match self.hasher.hash(password).await {
                Ok(h) => match self
                    .store
                    .update_credential_hash(
                        cred.id,
                        &h,
                        self.clock.now(),
                        Revoke::Nothing,
                        Some(hash),
                    )
                    .await
                {
                    Ok(_) => verified = h,
                    Err(StoreError::Conflict { constraint: c })
                        if c == constraint::CREDENTIAL_CHANGED =>
                    {
                        return Err(self.lost_race(e).await);
                    }
                    Err(err) => {
                        tracing::warn!(credential = %cred.id, error = %err, "re-hash not saved");
                    }
                },
                Err(err) => tracing::warn!(credential = %cred.id, error = %err, "re-hash failed"),
            }
        }
        let from = VerifiedWith { credential: cred.id, hash: &verified };
        let t = match self
            .issue_token(cred.document.clone(), ttl, None, TokenOrigin::Login, client, Some(from))
            .await
        {
            Ok(t) => t,
            Err(AuthError::InvalidSecret) => return Err(self.lost_race(e).await),
            Err(err) => return Err(err),
        };
        self.store.clear_login_failures(&key).await?;
        metrics::counter!("sesame_logins_total", "outcome" => "success").increment(1);
        e.kind = AuditKind::LoginSucceeded;
        e.token = Some(t.token.id);
        self.emit(e).await;
        Ok(t)
    }

    /// A login whose credential changed between the password check and the token insert:
    /// refused like a wrong password (the password it knew is no longer the one).
    async fn lost_race(&self, mut e: AuditEvent) -> AuthError {
        metrics::counter!("sesame_logins_total", "outcome" => "credential_changed").increment(1);
        e.reason = Some("credential_changed".into());
        self.emit(e).await;
        AuthError::InvalidSecret
    }

    #[allow(clippy::too_many_arguments)]
    async fn issue_token(
        &self,
        document: DocRef,
        ttl: Option<Timestamp>,
        data: Option<Data>,
        origin: TokenOrigin,
        client: &ClientInfo,
        verified: Option<VerifiedWith<'_>>,
    ) -> Result<NewToken, AuthError> {
        let secret =
            Secret::from_random_bytes(SecretKind::Token, &random_bytes::<SECRET_RANDOM_BYTES>()?);
        let digest = secret.digest();
        let ts = self.clock.now();
        let token = self
            .with_fresh_id(|id| {
                let t = Token {
                    id,
                    document: document.clone(),
                    ts,
                    ttl,
                    data: data.clone(),
                    origin,
                    client: client.clone(),
                    last_used: None,
                };
                async move { self.store.create_token(&t, &digest, verified).await.map(|()| t) }
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { constraint: c } if c == constraint::CREDENTIAL_CHANGED => {
                    AuthError::InvalidSecret
                }
                e => AuthError::from_store(e, doc_not_found(&document)),
            })?;
        Ok(NewToken { token, secret })
    }

    /// Checks a password without logging in (`credential.verify(password)`). Admin and server
    /// keys only. Throttled and audited exactly like a login by credential id: it is a password
    /// oracle too, on the same key.
    pub async fn verify(
        &self,
        p: &Principal,
        credential: DocId,
        password: &Password,
    ) -> Result<bool, AuthError> {
        self.check(p, Access::Verify)?;
        self.check_login_password(password)?;
        let stored = self
            .store
            .credential_by_id(credential)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", credential)))?;
        let key = credential_key(credential);
        let mut e = self.event(AuditKind::VerifyFailed, Some(p));
        (e.credential, e.identity) = (Some(credential), Some(stored.credential.document.clone()));
        let _slot = match self.reserve(&key).await {
            Ok(slot) => slot,
            Err(r) => {
                if r.first {
                    e.reason = Some("throttled".into());
                    self.emit(e).await;
                }
                return Err(r.err);
            }
        };
        let ok = self.hasher.verify(password, stored.hash.as_ref()).await?.ok;
        if ok {
            self.store.clear_login_failures(&key).await?;
            e.kind = AuditKind::VerifySucceeded;
        } else {
            e.reason =
                Some(if stored.hash.is_some() { "wrong_password" } else { "no_password" }.into());
        }
        self.emit(e).await;
        Ok(ok)
    }

    /// Sets a new password (`credential.update({ password })`). Unless `keep_tokens`, every
    /// other token of the identity is revoked in the same store step (the caller's own token
    /// survives when the caller is that identity): a stolen session does not outlive a password
    /// reset. Returns the credential and how many tokens were revoked.
    pub async fn change_password(
        &self,
        p: &Principal,
        credential: DocId,
        password: &Password,
        keep_tokens: bool,
    ) -> Result<(Credential, u64), AuthError> {
        self.check(p, Access::WriteCredential)?;
        self.check_new_password(password)?;
        self.store
            .credential_by_id(credential)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", credential)))?;
        let hash = self.hasher.hash(password).await?;
        let revoke = if keep_tokens {
            Revoke::Nothing
        } else {
            Revoke::AllExcept(self.current_token(p).map(|t| t.id))
        };
        let (c, revoked) = self
            .store
            .update_credential_hash(credential, &hash, self.clock.now(), revoke, None)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", credential)))?;
        let mut e = self.event(AuditKind::PasswordChanged, Some(p));
        (e.credential, e.identity, e.count) = (Some(c.id), Some(c.document.clone()), Some(revoked));
        self.emit(e).await;
        Ok((c, revoked))
    }

    /// Deletes a credential (`credential.delete()`): its document can no longer log in, and
    /// every token of the document is revoked in the same step. How many tokens were revoked.
    pub async fn delete_credential(
        &self,
        p: &Principal,
        credential: DocId,
    ) -> Result<u64, AuthError> {
        self.check(p, Access::WriteCredential)?;
        let (document, revoked) = self
            .store
            .delete_credential(credential)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", credential)))?;
        let mut e = self.event(AuditKind::CredentialDeleted, Some(p));
        (e.credential, e.identity, e.count) = (Some(credential), Some(document), Some(revoked));
        self.emit(e).await;
        Ok(revoked)
    }

    // ----- tokens ------------------------------------------------------------------------

    /// Creates a token for `document` without a password (`Token.create`), for identities
    /// authenticated elsewhere. Privileged: admin and server keys.
    pub async fn create_token(
        &self,
        p: &Principal,
        document: DocRef,
        ttl: Option<Timestamp>,
        data: Option<Data>,
    ) -> Result<NewToken, AuthError> {
        self.create_token_from(&ClientInfo::default(), p, document, ttl, data).await
    }

    /// [`Engine::create_token`], recording the client on the token.
    pub async fn create_token_from(
        &self,
        client: &ClientInfo,
        p: &Principal,
        document: DocRef,
        ttl: Option<Timestamp>,
        data: Option<Data>,
    ) -> Result<NewToken, AuthError> {
        self.check(p, Access::CreateToken)?;
        let t = self.issue_token(document, ttl, data, TokenOrigin::Create, client, None).await?;
        let mut e = self.event(AuditKind::TokenCreated, Some(p));
        (e.token, e.identity, e.client_addr) =
            (Some(t.token.id), Some(t.token.document.clone()), client.addr);
        self.emit(e).await;
        Ok(t)
    }

    /// The caller's own token (`Query.token()`); `None` for keys.
    pub fn current_token<'p>(&self, p: &'p Principal) -> Option<&'p Token> {
        match p {
            Principal::Token(t) => Some(t),
            Principal::Key { .. } => None,
        }
    }

    /// The caller's identity document (`Query.identity()`); `None` for keys.
    pub async fn identity(&self, p: &Principal) -> Result<Option<Document>, AuthError> {
        match p.identity() {
            Some(doc) => self.get_document(p, doc).await.map(Some),
            None => Ok(None),
        }
    }

    /// Logs out: deletes the caller's own token (`Query.token()!.delete()`). The same secret is
    /// `unauthorized` from then on. `invalid_argument` for keys, which have no token.
    pub async fn logout(&self, p: &Principal) -> Result<(), AuthError> {
        let Principal::Token(t) = p else {
            return Err(AuthError::invalid("a key has no token to log out of"));
        };
        // Already deleted concurrently: the outcome the caller wants, so not an error.
        self.store.delete_token(t.id).await?;
        let mut e = self.event(AuditKind::Logout, Some(p));
        (e.token, e.identity) = (Some(t.id), Some(t.document.clone()));
        self.emit(e).await;
        Ok(())
    }

    /// A token by id (`Token.byId(id)`).
    pub async fn get_token(&self, p: &Principal, id: DocId) -> Result<Token, AuthError> {
        if p.identity().is_none() {
            self.check_key(p, Access::ReadToken(&self.placeholder_ref()))?;
        }
        let t = self
            .store
            .token_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Token", id)))?;
        self.check_hidden(p, Access::ReadToken(&t.document), item_not_found("Token", id))?;
        Ok(t)
    }

    /// A document's tokens: its sessions (`Token.byDocument(doc)`).
    pub async fn tokens_of_document(
        &self,
        p: &Principal,
        document: &DocRef,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<Token>, AuthError> {
        self.check(p, Access::ReadToken(document))?;
        let size = self.page_size(size)?;
        Ok(self.store.tokens_by_document(document, after, size).await?)
    }

    /// Revokes a token by id.
    pub async fn delete_token(&self, p: &Principal, id: DocId) -> Result<(), AuthError> {
        if p.identity().is_none() {
            self.check_key(p, Access::DeleteToken(&self.placeholder_ref()))?;
        }
        let t = self
            .store
            .token_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Token", id)))?;
        self.check_hidden(p, Access::DeleteToken(&t.document), item_not_found("Token", id))?;
        if !self.store.delete_token(id).await? {
            return Err(AuthError::from_store(StoreError::NotFound, item_not_found("Token", id)));
        }
        let mut e = self.event(AuditKind::TokenRevoked, Some(p));
        (e.token, e.identity) = (Some(id), Some(t.document.clone()));
        self.emit(e).await;
        Ok(())
    }

    /// Revokes all of a document's tokens (log out everywhere); how many there were.
    pub async fn delete_tokens_of_document(
        &self,
        p: &Principal,
        document: &DocRef,
    ) -> Result<u64, AuthError> {
        self.check(p, Access::DeleteToken(document))?;
        let n = self.store.delete_tokens_of_document(document, None).await?;
        let mut e = self.event(AuditKind::TokensRevoked, Some(p));
        (e.identity, e.count) = (Some(document.clone()), Some(n));
        self.emit(e).await;
        Ok(n)
    }

    /// Deletes up to `batch` expired tokens; how many. Expiry is enforced at use time anyway;
    /// this only reclaims space.
    pub async fn sweep_expired_tokens(&self, batch: usize) -> Result<u64, AuthError> {
        Ok(self.store.delete_expired_tokens(self.clock.now(), batch.max(1)).await?)
    }

    // ----- keys --------------------------------------------------------------------------

    /// Creates a key with a built-in role (admin).
    pub async fn create_key(
        &self,
        p: &Principal,
        role: Role,
        ttl: Option<Timestamp>,
        data: Option<Data>,
    ) -> Result<NewKey, AuthError> {
        self.check(p, Access::WriteKeys)?;
        self.mint_key_by(Some(&actor_name(p)), role, ttl, data).await
    }

    /// Creates a key without a principal: for the operator's `sesame key create`, which has
    /// direct access to the store anyway. Not reachable over the network.
    pub async fn mint_key(
        &self,
        role: Role,
        ttl: Option<Timestamp>,
        data: Option<Data>,
    ) -> Result<NewKey, AuthError> {
        self.mint_key_by(None, role, ttl, data).await
    }

    async fn mint_key_by(
        &self,
        actor: Option<&str>,
        role: Role,
        ttl: Option<Timestamp>,
        data: Option<Data>,
    ) -> Result<NewKey, AuthError> {
        let secret =
            Secret::from_random_bytes(SecretKind::Key, &random_bytes::<SECRET_RANDOM_BYTES>()?);
        let digest = secret.digest();
        let ts = self.clock.now();
        let key = self
            .with_fresh_id(|id| {
                let k = Key { id, role, ts, ttl, data: data.clone() };
                async move { self.store.create_key(&k, &digest).await.map(|()| k) }
            })
            .await?;
        let mut e = self.event(AuditKind::KeyCreated, None);
        e.actor = Some(actor.unwrap_or("operator").to_owned());
        (e.key, e.reason) = (Some(key.id), Some(role.as_str().to_owned()));
        self.emit(e).await;
        Ok(NewKey { key, secret })
    }

    /// Lists keys (admin).
    pub async fn list_keys(
        &self,
        p: &Principal,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<Key>, AuthError> {
        self.check(p, Access::ReadKeys)?;
        let size = self.page_size(size)?;
        Ok(self.store.list_keys(after, size).await?)
    }

    /// Whether any unexpired admin key exists (the server's start-up check).
    pub async fn has_admin_key(&self) -> Result<bool, AuthError> {
        let now = self.clock.now();
        let mut after = None;
        loop {
            let page = self.store.list_keys(after, 500).await?;
            if page.data.iter().any(|k| k.role == Role::Admin && k.ttl.is_none_or(|t| t > now)) {
                return Ok(true);
            }
            match page.after {
                Some(a) => after = Some(a),
                None => return Ok(false),
            }
        }
    }

    /// A key by id (admin).
    pub async fn get_key(&self, p: &Principal, id: DocId) -> Result<Key, AuthError> {
        self.check(p, Access::ReadKeys)?;
        self.store
            .key_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Key", id)))
    }

    /// Revokes a key (admin).
    pub async fn delete_key(&self, p: &Principal, id: DocId) -> Result<(), AuthError> {
        self.check(p, Access::WriteKeys)?;
        if !self.store.delete_key(id).await? {
            return Err(AuthError::from_store(StoreError::NotFound, item_not_found("Key", id)));
        }
        let mut e = self.event(AuditKind::KeyRevoked, Some(p));
        e.key = Some(id);
        self.emit(e).await;
        Ok(())
    }
}
