//! Tokens: create without a password (`Token.create`), the caller's own token and identity,
//! log out, read, list and revoke tokens, sweep expired ones.

use super::*;

impl Engine {
    /// Creates a token for `document` without a password (`Token.create`), for identities
    /// authenticated elsewhere. Privileged: admin and server keys.
    pub async fn create_token(
        &self,
        c: &Caller,
        document: DocRef,
        ttl: Option<Ttl>,
        data: Option<Data>,
    ) -> Result<NewToken, AuthError> {
        let (p, client) = (&c.principal, &c.client);
        self.check(p, Access::CreateToken)?;
        let ttl = self.resolve_ttl(ttl)?;
        let t = self.issue_token(document, ttl, data, TokenOrigin::Create, client, None).await?;
        let mut e = self.event(AuditKind::TokenCreated, Some(p));
        (e.token, e.identity, e.client_addr) =
            (Some(t.token.id), Some(t.token.document.clone()), client.addr);
        self.emit(e).await;
        Ok(t)
    }

    /// The caller's own token (`Query.token()`); `None` for keys.
    pub fn current_token<'c>(&self, c: &'c Caller) -> Option<&'c Token> {
        match &c.principal {
            Principal::Token(t) => Some(t),
            Principal::Key { .. } | Principal::Identity { .. } => None,
        }
    }

    /// The caller's identity document (`Query.identity()`); `None` for keys.
    pub async fn identity(&self, c: &Caller) -> Result<Option<Document>, AuthError> {
        let p = &c.principal;
        match p.identity() {
            Some(doc) => self.get_document(c, doc).await.map(Some),
            None => Ok(None),
        }
    }

    /// Logs out: deletes the caller's own token (`Query.token()!.delete()`). The same secret is
    /// `unauthorized` from then on. `invalid_argument` for keys, which have no token.
    pub async fn logout(&self, c: &Caller) -> Result<(), AuthError> {
        let p = &c.principal;
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
    pub async fn get_token(&self, c: &Caller, id: DocId) -> Result<Token, AuthError> {
        let p = &c.principal;
        if p.identity().is_none() && !p.has_roles() {
            self.check_key(p, Access::ReadToken(Target::Any))?;
        }
        let t = self
            .store
            .token_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Token", id)))?;
        if p.has_roles() && !p.may(&Access::ReadToken(Target::Document(&t.document))) {
            return self.in_host(c, false, move |h| h.act_get_token(id)).await;
        }
        self.check_hidden(
            p,
            Access::ReadToken(Target::Document(&t.document)),
            item_not_found("Token", id),
        )?;
        Ok(t)
    }

    /// A document's tokens: its sessions (`Token.byDocument(doc)`).
    pub async fn tokens_of_document(
        &self,
        c: &Caller,
        document: &DocRef,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<Token>, AuthError> {
        let p = &c.principal;
        self.check(p, Access::ReadToken(Target::Document(document)))?;
        let size = self.page_size(size)?;
        Ok(self.store.tokens_by_document(document, after, size).await?)
    }

    /// Revokes a token by id.
    pub async fn delete_token(&self, c: &Caller, id: DocId) -> Result<(), AuthError> {
        let p = &c.principal;
        if p.identity().is_none() && !p.has_roles() {
            self.check_key(p, Access::DeleteToken(Target::Any))?;
        }
        let t = self
            .store
            .token_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Token", id)))?;
        if p.has_roles() && !p.may(&Access::DeleteToken(Target::Document(&t.document))) {
            return self.in_host(c, true, move |h| h.act_delete_token(id)).await;
        }
        self.check_hidden(
            p,
            Access::DeleteToken(Target::Document(&t.document)),
            item_not_found("Token", id),
        )?;
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
        c: &Caller,
        document: &DocRef,
    ) -> Result<u64, AuthError> {
        let p = &c.principal;
        self.check(p, Access::DeleteToken(Target::Document(document)))?;
        let n = self.store.delete_tokens_of_document(document, None).await?;
        let mut e = self.event(AuditKind::TokensRevoked, Some(p));
        (e.identity, e.count) = (Some(document.clone()), Some(n));
        self.emit(e).await;
        Ok(n)
    }

    /// How many tokens have not expired (for metrics; may scan the token table).
    pub async fn active_token_count(&self) -> Result<u64, AuthError> {
        Ok(self.store.count_active_tokens(self.clock.now()).await?)
    }

    /// Deletes up to `batch` expired tokens; how many. Expiry is enforced at use time anyway;
    /// this only reclaims space.
    pub async fn sweep_expired_tokens(&self, batch: usize) -> Result<u64, AuthError> {
        Ok(self.store.delete_expired_tokens(self.clock.now(), batch.max(1)).await?)
    }
}
