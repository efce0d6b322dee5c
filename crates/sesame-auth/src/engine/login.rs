//! Logging in and `verify`: resolve the credential, reserve the attempt (`throttle.rs`), hash,
//! and issue a token only while the credential still has the hash that was verified.

use super::*;

impl Engine {
    /// Logs in with credential `id` (`credential.login(password, ttl)`): a new token with its
    /// secret. A wrong password, a missing credential and a credential without a password all
    /// give `invalid_secret` after the same hashing work.
    pub async fn login(
        &self,
        c: &Caller,
        credential: DocId,
        password: &Password,
        ttl: Option<Ttl>,
    ) -> Result<NewToken, AuthError> {
        let p = &c.principal;
        self.check(p, Access::CreateToken)?;
        let ttl = self.resolve_ttl(ttl)?;
        self.check_login_password(password)?;
        let stored = match self.store.credential_by_id(credential).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Keyed by the id tried, whether or not it exists.
        self.finish_login(c, credential_key(credential), stored, password, ttl).await
    }

    /// Logs in as `document` with its credential.
    pub async fn login_by_document(
        &self,
        c: &Caller,
        document: &DocRef,
        password: &Password,
        ttl: Option<Ttl>,
    ) -> Result<NewToken, AuthError> {
        let p = &c.principal;
        self.check(p, Access::CreateToken)?;
        let ttl = self.resolve_ttl(ttl)?;
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
        self.finish_login(c, key, stored, password, ttl).await
    }

    /// Logs in as the one document of `coll` whose fields equal `matching` (e.g. an e-mail
    /// address). No match, several matches, an unknown collection and a wrong password are
    /// indistinguishable: the same error after the same hashing work.
    pub async fn login_by_match(
        &self,
        c: &Caller,
        coll: &CollectionName,
        matching: &Fields,
        password: &Password,
        ttl: Option<Ttl>,
    ) -> Result<NewToken, AuthError> {
        let p = &c.principal;
        self.check(p, Access::CreateToken)?;
        let ttl = self.resolve_ttl(ttl)?;
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
        self.finish_login(c, key, stored, password, ttl).await
    }

    pub(super) async fn finish_login(
        &self,
        c: &Caller,
        key: ThrottleKey,
        stored: Option<StoredCredential>,
        password: &Password,
        ttl: Option<Timestamp>,
    ) -> Result<NewToken, AuthError> {
        let (p, client) = (&c.principal, &c.client);
        let mut e = self.event(AuditKind::LoginFailed, Some(p));
        e.client_addr = client.addr;
        if let Some(c) = &stored {
            e.credential = Some(c.credential.id);
            e.identity = Some(c.credential.document.clone());
        }
        // Reserved (and counted as a failure) before any hashing; cleared on success.
        let _slot = match self.reserve(c, &key).await {
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
    pub(super) async fn lost_race(&self, mut e: AuditEvent) -> AuthError {
        metrics::counter!("sesame_logins_total", "outcome" => "credential_changed").increment(1);
        e.reason = Some("credential_changed".into());
        self.emit(e).await;
        AuthError::InvalidSecret
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn issue_token(
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
        c: &Caller,
        credential: DocId,
        password: &Password,
    ) -> Result<bool, AuthError> {
        let p = &c.principal;
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
        let _slot = match self.reserve(c, &key).await {
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
}
