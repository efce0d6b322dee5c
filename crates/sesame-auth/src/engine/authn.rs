//! Authentication: bearer secret → [`Principal`] (one digest lookup, expiry at use time), the
//! coarse last-use bookkeeping off the request path, and readiness. No privilege checks here:
//! they need a principal first.

use super::*;

impl Engine {
    /// Records that `t` was used, off the request's path and at most about once a minute per
    /// token: skipped while its `last_used` is recent, deduplicated within this process, and
    /// conditional in the store so that several instances write at most once per minute too.
    pub(super) fn touch_later(&self, t: &Token, now: Timestamp) {
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
    ///
    /// A key secret may carry a **scope** after a colon (Fauna's scoped secrets):
    /// `secret:@doc/<Coll>/<id>` (an admin or server key acting as that identity document,
    /// which must exist), `secret:@role/<name>` (an admin key acting with that user-defined
    /// role, which must exist) or `secret:<built-in role>` (an admin key acting with a built-in
    /// role). A scope on a token, a scope the key may not take, an unknown document or role and
    /// a scope that does not parse (database paths included: Sesame has no child databases)
    /// are all `unauthorized` — never the unscoped key's rights. Scoped authentications are
    /// audited (`scoped_secret_used`/`scoped_secret_refused`, folded per key and scope per
    /// minute).
    pub async fn authenticate(&self, secret: &Secret) -> Result<Principal, AuthError> {
        let digest = secret.digest();
        if let Some(admin) = &self.admin_digest {
            if admin.ct_eq(&digest) {
                return Ok(Principal::Key { key_id: None, role: Role::Admin });
            }
        }
        if let Some((base, scope)) = secret.expose().split_once(':') {
            // Boxed: the scoped path's state would otherwise enlarge every authentication's.
            return Box::pin(self.authenticate_scoped(&Secret::from(base), scope)).await;
        }
        self.authenticate_plain(secret, &digest).await
    }

    async fn authenticate_plain(
        &self,
        secret: &Secret,
        digest: &SecretDigest,
    ) -> Result<Principal, AuthError> {
        let unauthorized = |e: StoreError| match e {
            StoreError::NotFound => AuthError::Unauthorized,
            e => AuthError::from(e),
        };
        let now = self.clock.now();
        match secret.kind() {
            Some(SecretKind::Token) => {
                let t = match self.store.token_by_digest_now(digest) {
                    Some(t) => t,
                    None => self.store.token_by_digest(digest).await,
                }
                .map_err(unauthorized)?;
                if t.ttl.is_some_and(|ttl| ttl <= now) {
                    return Err(AuthError::Unauthorized);
                }
                self.touch_later(&t, now);
                Ok(Principal::Token(t))
            }
            Some(SecretKind::Key) => {
                let k = self.store.key_by_digest(digest).await.map_err(unauthorized)?;
                if k.ttl.is_some_and(|ttl| ttl <= now) {
                    return Err(AuthError::Unauthorized);
                }
                Ok(Principal::Key { key_id: Some(k.id), role: k.role })
            }
            None => Err(AuthError::Unauthorized),
        }
    }

    async fn authenticate_scoped(
        &self,
        base: &Secret,
        scope: &str,
    ) -> Result<Principal, AuthError> {
        let digest = base.digest();
        let admin_secret = self.admin_digest.as_ref().is_some_and(|a| a.ct_eq(&digest));
        let key = if admin_secret {
            Principal::Key { key_id: None, role: Role::Admin }
        } else {
            self.authenticate_plain(base, &digest).await?
        };
        let refuse = |why: &'static str| {
            self.audit_scope(AuditKind::ScopedSecretRefused, &key, scope, why, None);
            AuthError::Unauthorized
        };
        let (key_id, role) = match &key {
            Principal::Key { key_id, role } => (*key_id, role.clone()),
            _ => return Err(refuse("scope_on_token")),
        };
        let (is_admin, is_server) = (role == Role::Admin, role == Role::Server);
        if let Some(rest) = scope.strip_prefix("@doc/") {
            if !(is_admin || is_server) {
                return Err(refuse("scope_not_allowed"));
            }
            let Some((coll, id)) = rest.split_once('/') else {
                return Err(refuse("malformed_scope"));
            };
            let (Ok(coll), Ok(id)) = (coll.parse::<CollectionName>(), id.parse::<DocId>()) else {
                return Err(refuse("malformed_scope"));
            };
            let document = DocRef::new(coll, id);
            match self.store.get_document(&document).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => return Err(refuse("unknown_document")),
                Err(e) => return Err(e.into()),
            }
            let p = Principal::Identity { key_id, document: document.clone() };
            self.audit_scope(AuditKind::ScopedSecretUsed, &key, scope, "identity", Some(document));
            return Ok(p);
        }
        if !is_admin {
            return Err(refuse("scope_not_allowed"));
        }
        let role = if let Some(name) = scope.strip_prefix("@role/") {
            let Ok(name) = name.parse::<sesame_model::RoleName>() else {
                return Err(refuse("malformed_scope"));
            };
            match self.store.get_role(&name).await {
                Ok(_) => Role::User(name),
                Err(StoreError::NotFound) => return Err(refuse("unknown_role")),
                Err(e) => return Err(e.into()),
            }
        } else {
            match scope.parse::<Role>() {
                Ok(r) if r.is_builtin() => r,
                _ => return Err(refuse("malformed_scope")),
            }
        };
        self.audit_scope(AuditKind::ScopedSecretUsed, &key, scope, "role", None);
        Ok(Principal::Key { key_id, role })
    }

    /// Audits a scoped authentication, at most once per (key, scope, outcome) a minute.
    fn audit_scope(
        &self,
        kind: AuditKind,
        key: &Principal,
        scope: &str,
        why: &'static str,
        identity: Option<DocRef>,
    ) {
        let shown: String = scope.chars().take(160).collect();
        let fold = format!("{}|{}|{}", actor_name(key), kind.as_str(), shown);
        if !self.first_in_window(fold, "scope") {
            return;
        }
        let mut e = self.event(kind, Some(key));
        e.reason = Some(format!("{why}: {}", shown.escape_debug()));
        e.identity = identity;
        if let Principal::Key { key_id, .. } = key {
            e.key = *key_id;
        }
        self.emit_detached(e);
    }

    /// Whether the store answers (readiness).
    pub async fn ready(&self) -> Result<(), AuthError> {
        self.store.ping().await.map_err(AuthError::from)
    }
}
