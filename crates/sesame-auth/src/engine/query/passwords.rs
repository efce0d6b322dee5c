//! Credentials, logins, `verify`, tokens and keys in the transaction host: the bodies of those
//! `Host` methods (`host.rs` delegates to them), with the engine's hasher, throttle
//! reservation and verified-hash token insert, and role checks on `Credential`. Not documents,
//! scans or schema (`host.rs`), not role evaluation (`rights.rs`).

use sesame_fql::{Code, DocRef as FqlRef, LiveDoc, Object, QueryError, Value};
use sesame_model::{
    Action, AuditKind, Credential, DocId, Key, Password, Role, Secret, SecretKind, Timestamp,
    TokenOrigin, SECRET_RANDOM_BYTES,
};
use sesame_store::{constraint, Revoke, StoreError, StoredCredential, VerifiedWith};

use super::convert::{auth_error, cf, doc_ref, fql_ref, store_error, R};
use super::host::{id_of, EngineHost};
use super::rights::pinned;
use crate::engine::{credential_key, random_bytes};
use crate::{Access, AuthError};

impl EngineHost<'_> {
    pub(super) fn do_credential_create(
        &mut self,
        document: &FqlRef,
        password: Option<&str>,
        data: Option<Object>,
        id: Option<i64>,
    ) -> R<FqlRef> {
        self.writing()?;
        let baseline = self.may(Access::WriteCredential);
        if !baseline {
            self.precheck(Access::WriteCredential, Action::Create, "Credential")?;
        }
        let doc = doc_ref(document).ok_or_else(|| sesame_fql::eval::doc_missing(document))?;
        let data = Self::data(data)?;
        let hash = match password {
            Some(p) => {
                let p = Password::new(p.to_owned());
                self.engine.check_new_password(&p).map_err(auth_error)?;
                Some(self.rt.block_on(self.engine.hasher.hash(&p)).map_err(auth_error)?)
            }
            None => None,
        };
        let id = match id {
            Some(i) => DocId::from_i64(i).map_err(|_| {
                QueryError::new(Code::InvalidId, format!("Invalid identifier `{i}`."))
            })?,
            None => self.engine.ids.next(self.now()),
        };
        let cred = StoredCredential {
            credential: Credential { id, document: doc.clone(), ts: self.now(), data },
            hash,
        };
        let tx = self.tx;
        match self.wait(tx.create_credential(&cred)) {
            Ok(()) => {
                if !baseline {
                    let me = [Value::Doc(FqlRef::id("Credential", id.as_i64()))];
                    self.check_role(Access::WriteCredential, Action::Create, "Credential", &me)?;
                }
                self.audit(AuditKind::CredentialCreated, |e| {
                    (e.credential, e.identity) = (Some(id), Some(doc))
                });
                Ok(FqlRef::id("Credential", id.as_i64()))
            }
            Err(StoreError::Conflict { constraint: c }) if c == constraint::CREDENTIAL_DOCUMENT => {
                Err(cf("Failed unique constraint.", "document", "Failed unique constraint"))
            }
            Err(StoreError::NotFound) => Err(sesame_fql::eval::doc_missing(document)),
            Err(e) => Err(store_error(e, String::new)),
        }
    }

    pub(super) fn do_credential_update(
        &mut self,
        cred: &FqlRef,
        password: Option<&str>,
        patch: Object,
        _replace: bool,
    ) -> R<()> {
        self.writing()?;
        let id = id_of(cred)?;
        if !self.may(Access::WriteCredential) {
            self.precheck(Access::WriteCredential, Action::Write, "Credential")?;
            let tx = self.tx;
            let c = self
                .wait(tx.credential_by_id(id))
                .map_err(|e| store_error(e, || sesame_fql::eval::doc_missing(cred).message))?;
            let mut f = Object::new();
            f.insert("document".into(), Value::Doc(fql_ref(&c.credential.document)));
            Self::data_obj(&c.credential.data, &mut f)?;
            let plain = FqlRef::id("Credential", id.as_i64());
            let before = LiveDoc { ts: c.credential.ts, ttl: None, fields: f.clone() };
            let after = LiveDoc { ts: self.now(), ttl: None, fields: f };
            let args = [Value::Doc(pinned(&plain, before)), Value::Doc(pinned(&plain, after))];
            self.check_role(Access::WriteCredential, Action::Write, "Credential", &args)?;
        }
        if patch.keys().any(|k| k != "password") {
            return Err(cf(
                "Failed to update Credential.",
                "data",
                "Only the password of a credential can be changed.",
            ));
        }
        let Some(p) = password else { return Ok(()) };
        let p = Password::new(p.to_owned());
        self.engine.check_new_password(&p).map_err(auth_error)?;
        let hash = self.rt.block_on(self.engine.hasher.hash(&p)).map_err(auth_error)?;
        let except = self.engine.current_token(self.caller).map(|t| t.id);
        let tx = self.tx;
        let now = self.now();
        let (c, n) = self
            .wait(tx.update_credential_hash(id, &hash, now, Revoke::AllExcept(except), None))
            .map_err(|e| store_error(e, || sesame_fql::eval::doc_missing(cred).message))?;
        self.audit(AuditKind::PasswordChanged, |e| {
            (e.credential, e.identity, e.count) = (Some(c.id), Some(c.document), Some(n))
        });
        Ok(())
    }

    pub(super) fn do_login(
        &mut self,
        cred: &FqlRef,
        password: &str,
        ttl: Option<Timestamp>,
    ) -> R<(FqlRef, String)> {
        self.writing()?;
        self.check(Access::CreateToken)?;
        let p = Password::new(password.to_owned());
        self.engine.check_login_password(&p).map_err(auth_error)?;
        let id = id_of(cred)?;
        let tx = self.tx;
        let stored = match self.wait(tx.credential_by_id(id)) {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(store_error(e, String::new)),
        };
        let engine = self.engine;
        let mut e = engine.event(AuditKind::LoginFailed, Some(self.p()));
        e.client_addr = self.caller.client.addr;
        if let Some(c) = &stored {
            (e.credential, e.identity) =
                (Some(c.credential.id), Some(c.credential.document.clone()));
        }
        // The same throttle key as the REST route for this credential id.
        let key = credential_key(id);
        let _slot = match self.rt.block_on(engine.reserve(self.caller, &key)) {
            Ok(s) => s,
            Err(r) => {
                if r.first {
                    e.kind = AuditKind::LoginThrottled;
                    self.rt.block_on(engine.emit(e));
                }
                return Err(auth_error(r.err));
            }
        };
        let verified = match &stored {
            None => {
                self.rt.block_on(engine.hasher.verify_dummy(&p)).map_err(auth_error)?;
                None
            }
            Some(c) => {
                let v = self
                    .rt
                    .block_on(engine.hasher.verify(&p, c.hash.as_ref()))
                    .map_err(auth_error)?;
                c.hash.clone().filter(|_| v.ok)
            }
        };
        let (Some(stored), Some(hash)) = (stored, verified) else {
            e.reason = Some("wrong_password".into());
            self.rt.block_on(engine.emit(e));
            return Err(auth_error(AuthError::InvalidSecret));
        };
        let from = VerifiedWith { credential: stored.credential.id, hash: &hash };
        let t = self.new_token(
            stored.credential.document.clone(),
            ttl,
            None,
            TokenOrigin::Login,
            Some(from),
        );
        let t = match t {
            Ok(t) => t,
            Err(err) => {
                e.reason = Some("credential_changed".into());
                self.rt.block_on(engine.emit(e));
                return Err(err);
            }
        };
        let _ = self.rt.block_on(engine.store.clear_login_failures(&key));
        metrics::counter!("sesame_logins_total", "outcome" => "success").increment(1);
        e.kind = AuditKind::LoginSucceeded;
        e.token = Some(t.token.id);
        self.on_commit.push(e);
        Ok((FqlRef::id("Token", t.token.id.as_i64()), t.secret.expose().to_owned()))
    }

    pub(super) fn do_verify(&mut self, cred: &FqlRef, password: &str) -> R<bool> {
        self.writing()?;
        self.check(Access::Verify)?;
        let p = Password::new(password.to_owned());
        self.engine.check_login_password(&p).map_err(auth_error)?;
        let id = id_of(cred)?;
        let tx = self.tx;
        let stored = self
            .wait(tx.credential_by_id(id))
            .map_err(|e| store_error(e, || sesame_fql::eval::doc_missing(cred).message))?;
        let engine = self.engine;
        let key = credential_key(id);
        let mut e = engine.event(AuditKind::VerifyFailed, Some(self.p()));
        (e.credential, e.identity) = (Some(id), Some(stored.credential.document.clone()));
        let _slot = match self.rt.block_on(engine.reserve(self.caller, &key)) {
            Ok(s) => s,
            Err(r) => {
                if r.first {
                    e.reason = Some("throttled".into());
                    self.rt.block_on(engine.emit(e));
                }
                return Err(auth_error(r.err));
            }
        };
        let ok = self
            .rt
            .block_on(engine.hasher.verify(&p, stored.hash.as_ref()))
            .map_err(auth_error)?
            .ok;
        if ok {
            let _ = self.rt.block_on(engine.store.clear_login_failures(&key));
            e.kind = AuditKind::VerifySucceeded;
        } else {
            e.reason = Some("wrong_password".into());
        }
        self.rt.block_on(engine.emit(e));
        Ok(ok)
    }

    pub(super) fn do_token_create(
        &mut self,
        document: &FqlRef,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> R<(FqlRef, String)> {
        self.writing()?;
        self.check(Access::CreateToken)?;
        let doc = doc_ref(document).ok_or_else(|| sesame_fql::eval::doc_missing(document))?;
        let data = Self::data(data)?;
        let t = self.new_token(doc, ttl, data, TokenOrigin::Create, None)?;
        let (tid, ident) = (t.token.id, t.token.document.clone());
        self.audit(AuditKind::TokenCreated, |e| (e.token, e.identity) = (Some(tid), Some(ident)));
        Ok((FqlRef::id("Token", tid.as_i64()), t.secret.expose().to_owned()))
    }

    pub(super) fn do_key_create(
        &mut self,
        role: &str,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> R<(FqlRef, String)> {
        self.writing()?;
        self.check(Access::WriteKeys)?;
        let Ok(role) = role.parse::<Role>() else {
            return Err(cf(
                "Failed to create Key.",
                "role",
                format!("Field refers to an unknown role name `{role}`."),
            ));
        };
        if let Role::User(name) = &role {
            let tx = self.tx;
            match self.wait(tx.get_role(name)) {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    return Err(cf(
                        "Failed to create Key.",
                        "role",
                        format!("Field refers to an unknown role name `{name}`."),
                    ))
                }
                Err(e) => return Err(store_error(e, String::new)),
            }
        }
        let data = Self::data(data)?;
        let secret = Secret::from_random_bytes(
            SecretKind::Key,
            &random_bytes::<SECRET_RANDOM_BYTES>().map_err(auth_error)?,
        );
        let role_name = role.as_str().to_owned();
        let key = Key { id: self.engine.ids.next(self.now()), role, ts: self.now(), ttl, data };
        let tx = self.tx;
        self.wait(tx.create_key(&key, &secret.digest()))
            .map_err(|e| store_error(e, String::new))?;
        let kid = key.id;
        self.audit(AuditKind::KeyCreated, |e| (e.key, e.reason) = (Some(kid), Some(role_name)));
        Ok((FqlRef::id("Key", kid.as_i64()), secret.expose().to_owned()))
    }
}
