//! Keys: create (for a caller or for the operator), list, read, revoke, and the "is there an
//! admin key" question the CLI asks at start-up.

use super::*;

impl Engine {
    /// Creates a key with a built-in role (admin).
    pub async fn create_key(
        &self,
        c: &Caller,
        role: Role,
        ttl: Option<Ttl>,
        data: Option<Data>,
    ) -> Result<NewKey, AuthError> {
        let p = &c.principal;
        self.check(p, Access::WriteKeys)?;
        let ttl = self.resolve_ttl(ttl)?;
        self.known_role(&role).await?;
        self.mint_key_by(Some(&actor_name(p)), role, ttl, data).await
    }

    /// Creates a key without a principal: for the operator's `sesame key create`, which has
    /// direct access to the store anyway. Not reachable over the network.
    pub async fn mint_key(
        &self,
        role: Role,
        ttl: Option<Ttl>,
        data: Option<Data>,
    ) -> Result<NewKey, AuthError> {
        let ttl = self.resolve_ttl(ttl)?;
        self.known_role(&role).await?;
        self.mint_key_by(None, role, ttl, data).await
    }

    /// A user-defined role on a new key must exist (`constraint_failure` on `role`). A role
    /// deleted later leaves its keys granting nothing.
    async fn known_role(&self, role: &Role) -> Result<(), AuthError> {
        let Role::User(name) = role else { return Ok(()) };
        match self.store.get_role(name).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => Err(AuthError::InvalidDefinition {
                message: "Failed to create Key.".into(),
                failures: vec![sesame_model::RoleFault {
                    path: vec!["role".into()],
                    message: format!("Field refers to an unknown role name `{name}`."),
                }],
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn mint_key_by(
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
                let k = Key { id, role: role.clone(), ts, ttl, data: data.clone() };
                async move { self.store.create_key(&k, &digest).await.map(|()| k) }
            })
            .await?;
        let mut e = self.event(AuditKind::KeyCreated, None);
        e.actor = Some(actor.unwrap_or("operator").to_owned());
        (e.key, e.reason) = (Some(key.id), Some(key.role.as_str().to_owned()));
        self.emit(e).await;
        Ok(NewKey { key, secret })
    }

    /// Lists keys (admin).
    pub async fn list_keys(
        &self,
        c: &Caller,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<Key>, AuthError> {
        let p = &c.principal;
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
    pub async fn get_key(&self, c: &Caller, id: DocId) -> Result<Key, AuthError> {
        let p = &c.principal;
        self.check(p, Access::ReadKeys)?;
        self.store
            .key_by_id(id)
            .await
            .map_err(|e| AuthError::from_store(e, item_not_found("Key", id)))
    }

    /// Revokes a key (admin).
    pub async fn delete_key(&self, c: &Caller, id: DocId) -> Result<(), AuthError> {
        let p = &c.principal;
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
