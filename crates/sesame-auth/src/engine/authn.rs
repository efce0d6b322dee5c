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
}
