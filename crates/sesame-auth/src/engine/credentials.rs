//! Credentials: create (hashing the password), read, change the password (revoking sessions
//! in the same store step), delete. Logging in with a credential is `login.rs`.

use super::*;

impl Engine {
    /// Creates the credential of `document` (`Credential.create({ document, password })`).
    /// Without a password the credential can never log in.
    pub async fn create_credential(
        &self,
        c: &Caller,
        document: DocRef,
        password: Option<Password>,
        data: Option<Data>,
    ) -> Result<Credential, AuthError> {
        let p = &c.principal;
        if !p.may(&Access::WriteCredential) && p.has_roles() {
            if let Some(pw) = &password {
                self.check_new_password(pw)?;
            }
            let pw = password.map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned());
            return self
                .in_host(c, true, move |h| {
                    h.act_create_credential(&document, pw.as_deref(), data.clone())
                })
                .await;
        }
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
        c: &Caller,
        document: &DocRef,
    ) -> Result<Credential, AuthError> {
        let p = &c.principal;
        if !p.may(&Access::ReadCredential(Target::Document(document))) && p.has_roles() {
            let d = document.clone();
            return self.in_host(c, false, move |h| h.act_get_credential(Err(d.clone()))).await;
        }
        self.check(p, Access::ReadCredential(Target::Document(document)))?;
        self.store
            .credential_by_document(document)
            .await
            .map(|c| c.credential)
            .map_err(|e| AuthError::from_store(e, || format!("No credential for {document}.")))
    }

    /// A credential by id (`Credential.byId(id)`).
    pub async fn get_credential(&self, c: &Caller, id: DocId) -> Result<Credential, AuthError> {
        let p = &c.principal;
        if p.identity().is_none() && !p.has_roles() {
            // Keys: check before the lookup, so a denied key learns nothing about existence.
            self.check_key(p, Access::ReadCredential(Target::Any))?;
        }
        let cred = self
            .store
            .credential_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", id)))?;
        if p.has_roles()
            && !p.may(&Access::ReadCredential(Target::Document(&cred.credential.document)))
        {
            // A role may grant it, by predicate on the credential.
            return self.in_host(c, false, move |h| h.act_get_credential(Ok(id))).await;
        }
        let c = cred;
        self.check_hidden(
            p,
            Access::ReadCredential(Target::Document(&c.credential.document)),
            item_not_found("Credential", id),
        )?;
        Ok(c.credential)
    }

    /// Sets a new password (`credential.update({ password })`). Unless `keep_tokens`, every
    /// other token of the identity is revoked in the same store step (the caller's own token
    /// survives when the caller is that identity): a stolen session does not outlive a password
    /// reset. Returns the credential and how many tokens were revoked.
    pub async fn change_password(
        &self,
        c: &Caller,
        credential: DocId,
        password: &Password,
        revoke_tokens: Option<bool>,
    ) -> Result<(Credential, u64), AuthError> {
        let p = &c.principal;
        if !p.may(&Access::WriteCredential) && p.has_roles() {
            self.check_new_password(password)?;
            let (pw, revoke) = (password.clone(), revoke_tokens.unwrap_or(true));
            return self
                .in_host(c, true, move |h| h.act_change_password(credential, &pw, revoke))
                .await;
        }
        self.check(p, Access::WriteCredential)?;
        self.check_new_password(password)?;
        self.store
            .credential_by_id(credential)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Credential", credential)))?;
        let hash = self.hasher.hash(password).await?;
        // Unless asked not to, a password change ends every other session of the identity.
        let revoke = if revoke_tokens.unwrap_or(true) {
            Revoke::AllExcept(self.current_token(c).map(|t| t.id))
        } else {
            Revoke::Nothing
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
    pub async fn delete_credential(&self, c: &Caller, credential: DocId) -> Result<u64, AuthError> {
        let p = &c.principal;
        if !p.may(&Access::WriteCredential) && p.has_roles() {
            return self.in_host(c, true, move |h| h.act_delete_credential(credential)).await;
        }
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
}
