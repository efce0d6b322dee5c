//! Engine tests over `MemoryStore`: the seed tutorial, expiry, and every security rule and
//! privilege boundary, each written so that it fails when the rule is removed.

use std::sync::Arc;

use serde_json::json;
use sesame_model::{
    CollectionName, DocRef, Fields, Password, Role, Secret, SecretKind, Timestamp, Ttl,
};
use sesame_store::{MemoryStore, Store};

use crate::*;

mod audit;
mod privileges;
mod query;
mod roles;
mod roles_hostile;
mod security;
mod throttle;

fn t0() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-28T10:00:00Z").unwrap()
}

struct World {
    engine: Engine,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    admin: Caller,
}

fn world_with(config: AuthConfig) -> World {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = Engine::with_clock(store.clone(), config, clock.clone()).unwrap();
    World { engine, clock, store, admin: Caller::key(Role::Admin) }
}

fn world() -> World {
    world_with(AuthConfig::insecure_fast_for_tests())
}

fn pw(s: &str) -> Password {
    Password::new(s.into())
}

fn coll(s: &str) -> CollectionName {
    s.parse().unwrap()
}

fn fields(v: serde_json::Value) -> Fields {
    Fields::parse_value(v).unwrap()
}

impl World {
    /// A `Customer` named Jane Doe with password `sekret`: (document, credential id).
    async fn jane(&self) -> (DocRef, sesame_model::DocId) {
        let c = match self.engine.create_collection(&self.admin, coll("Customer")).await {
            Ok(c) => c.name,
            Err(_) => coll("Customer"),
        };
        self.person(&c, "Jane", "Doe", "sekret").await
    }

    async fn person(
        &self,
        c: &CollectionName,
        first: &str,
        last: &str,
        password: &str,
    ) -> (DocRef, sesame_model::DocId) {
        let d = self
            .engine
            .create_document(
                &self.admin,
                c.clone(),
                fields(json!({"firstName": first, "lastName": last})),
            )
            .await
            .unwrap();
        let cred = self
            .engine
            .create_credential(&self.admin, d.doc_ref(), Some(pw(password)), None)
            .await
            .unwrap();
        (d.doc_ref(), cred.id)
    }

    async fn key(&self, role: Role) -> (Caller, Secret) {
        let k = self.engine.create_key(&self.admin, role, None, None).await.unwrap();
        (self.caller(&k.secret).await, k.secret)
    }

    /// The caller behind `secret`.
    async fn caller(&self, secret: &Secret) -> Caller {
        Caller::from(self.engine.authenticate(secret).await.unwrap())
    }

    async fn code_of(&self, secret: &Secret) -> &'static str {
        match self.engine.authenticate(secret).await {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }
}

#[tokio::test]
async fn seed_tutorial_log_in_and_log_out() {
    let w = world();
    // An admin creates the collection and Jane Doe.
    let customer = w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap().name;
    let jane = w
        .engine
        .create_document(
            &w.admin,
            customer.clone(),
            fields(
                json!({"firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"}),
            ),
        )
        .await
        .unwrap();
    // Credential.create({ document: customer, password: "sekret" })
    let cred = w
        .engine
        .create_credential(&w.admin, jane.doc_ref(), Some(pw("sekret")), None)
        .await
        .unwrap();
    assert_eq!(cred.document, jane.doc_ref());
    // Customer.byName("Jane", "Doe").first()
    let found = w
        .engine
        .find_documents(
            &w.admin,
            &customer,
            &fields(json!({"firstName": "Jane", "lastName": "Doe"})),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(found.data, vec![jane.clone()]);
    // Credentials.byDocument(customer)
    let by_doc = w.engine.credential_by_document(&w.admin, &found.data[0].doc_ref()).await.unwrap();
    assert_eq!(by_doc, cred);
    // credential?.login("sekret"), without and with a ttl.
    let forever = w.engine.login(&w.admin, by_doc.id, &pw("sekret"), None).await.unwrap();
    assert_eq!(forever.token.ttl, None);
    let ttl = t0().plus_seconds(3600);
    let login =
        w.engine.login(&w.admin, by_doc.id, &pw("sekret"), Some(Ttl::At(ttl))).await.unwrap();
    assert_eq!(login.token.document, jane.doc_ref());
    assert_eq!(login.token.ttl, Some(ttl));
    assert_eq!(login.secret.kind(), Some(SecretKind::Token));
    // The token secret acts as Jane: Query.token() and Query.identity().
    let me = w.caller(&login.secret).await;
    assert_eq!(w.engine.current_token(&me), Some(&login.token));
    assert_eq!(w.engine.identity(&me).await.unwrap(), Some(jane.clone()));
    assert_eq!(w.engine.get_token(&me, login.token.id).await.unwrap(), login.token);
    assert_eq!(w.engine.credential_by_document(&me, &jane.doc_ref()).await.unwrap(), cred);
    // Log out: delete the token. The same secret is unauthorized from then on.
    w.engine.logout(&me).await.unwrap();
    assert_eq!(w.code_of(&login.secret).await, "unauthorized");
    // The other session is untouched.
    assert_eq!(w.code_of(&forever.secret).await, "ok");
}

#[tokio::test]
async fn token_ttl_is_enforced_at_use_time_and_swept_later() {
    let w = world();
    let (_, cred) = w.jane().await;
    let t = w
        .engine
        .login(&w.admin, cred, &pw("sekret"), Some(Ttl::At(t0().plus_seconds(60))))
        .await
        .unwrap();
    assert_eq!(w.code_of(&t.secret).await, "ok");
    w.clock.advance_secs(59);
    assert_eq!(w.code_of(&t.secret).await, "ok");
    w.clock.advance_secs(1);
    // ttl == now: expired, although the token is still stored.
    assert_eq!(w.code_of(&t.secret).await, "unauthorized");
    assert!(w.store.token_by_id(t.token.id).await.is_ok());
    assert_eq!(w.engine.sweep_expired_tokens(100).await.unwrap(), 1);
    assert!(w.store.token_by_id(t.token.id).await.is_err());
    // A ttl in the past is accepted (as in Fauna) and gives a token that never works.
    let past = w.engine.login(&w.admin, cred, &pw("sekret"), Some(Ttl::At(t0()))).await.unwrap();
    assert_eq!(w.code_of(&past.secret).await, "unauthorized");
}

#[tokio::test]
async fn key_ttl_is_enforced() {
    let w = world();
    let k = w
        .engine
        .create_key(&w.admin, Role::Server, Some(Ttl::At(t0().plus_seconds(10))), None)
        .await
        .unwrap();
    assert_eq!(w.code_of(&k.secret).await, "ok");
    w.clock.advance_secs(10);
    assert_eq!(w.code_of(&k.secret).await, "unauthorized");
}

#[tokio::test]
async fn every_bad_secret_is_the_same_unauthorized() {
    let w = world();
    let (jane, cred) = w.jane().await;
    let revoked = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    w.engine.delete_token(&w.admin, revoked.token.id).await.unwrap();
    // Expired, and nothing else wrong with it: its identity (John) stays.
    let customer = coll("Customer");
    let (_, john_cred) = w.person(&customer, "John", "Doe", "sekret").await;
    let expired = w
        .engine
        .login(&w.admin, john_cred, &pw("sekret"), Some(Ttl::At(t0().plus_seconds(5))))
        .await
        .unwrap();
    assert_eq!(w.code_of(&expired.secret).await, "ok");
    w.clock.advance_secs(5);
    let orphaned = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    let valid = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    w.engine.delete_document(&w.admin, &jane).await.unwrap();
    let deleted_key = w.engine.create_key(&w.admin, Role::Admin, None, None).await.unwrap();
    w.engine.delete_key(&w.admin, deleted_key.key.id).await.unwrap();
    let body = &valid.secret.expose()[4..];
    let cases = [
        Secret::new(String::new()),
        Secret::new("garbage".into()),
        Secret::new("snt_".into()),
        Secret::new(format!("snt_{}", &body[..42])),
        Secret::new(format!("snk_{body}")), // a token's body with a key's prefix
        Secret::from_random_bytes(SecretKind::Token, &[1; 32]),
        Secret::from_random_bytes(SecretKind::Key, &[1; 32]),
        revoked.secret,
        expired.secret,  // only expired
        orphaned.secret, // identity deleted
        valid.secret,    // identity deleted too
        deleted_key.secret,
    ];
    for s in cases {
        let e = w.engine.authenticate(&s).await.unwrap_err();
        assert!(matches!(e, AuthError::Unauthorized), "{e:?}");
        assert_eq!(e.to_string(), "Access token required");
    }
}

#[tokio::test]
async fn wrong_password_is_invalid_secret_and_creates_no_token() {
    let w = world();
    let (jane, cred) = w.jane().await;
    let e = w.engine.login(&w.admin, cred, &pw("Sekret"), None).await.unwrap_err();
    assert_eq!(e.code(), "invalid_secret");
    assert_eq!(e.to_string(), "Provided secret did not match.");
    assert!(w
        .engine
        .tokens_of_document(&w.admin, &jane, None, None)
        .await
        .unwrap()
        .data
        .is_empty());
    assert!(!w.engine.verify(&w.admin, cred, &pw("nope")).await.unwrap());
    assert!(w.engine.verify(&w.admin, cred, &pw("sekret")).await.unwrap());
}

/// Throttling off, for tests about something else that fail logins on purpose.
pub(crate) fn no_throttle() -> AuthConfig {
    AuthConfig {
        throttle: ThrottleConfig {
            free_failures: 0,
            base_delay_secs: 0,
            max_delay_secs: 0,
            max_failures_per_hour: 0,
            max_concurrent_attempts: 0,
            per_address_per_minute: 0,
            per_address_burst: 0,
        },
        ..AuthConfig::insecure_fast_for_tests()
    }
}

#[tokio::test]
async fn rejected_logins_cost_the_same_hashing_work() {
    let w = world_with(no_throttle());
    let customer = w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap().name;
    let (_, cred) = w.person(&customer, "Jane", "Doe", "sekret").await;
    w.person(&customer, "Twin", "Doe", "a").await;
    w.person(&customer, "Twin", "Doe", "b").await;
    let no_pw_doc = w
        .engine
        .create_document(&w.admin, customer.clone(), fields(json!({"firstName": "Sso"})))
        .await
        .unwrap();
    let no_pw =
        w.engine.create_credential(&w.admin, no_pw_doc.doc_ref(), None, None).await.unwrap();
    let deleted = w.person(&customer, "Gone", "Doe", "sekret").await;
    w.engine.delete_credential(&w.admin, deleted.1).await.unwrap();
    // Warm the dummy hash so its one-off creation is not counted below.
    let _ = w.engine.login(&w.admin, deleted.1, &pw("x"), None).await;

    let by_match = |first: &str| fields(json!({"firstName": first}));
    let e = &w.engine;
    let a = &w.admin;
    let attempts: Vec<(&str, Result<NewToken, AuthError>)> = vec![
        ("wrong password", e.login(a, cred, &pw("wrong"), None).await),
        ("missing credential", e.login(a, deleted.1, &pw("sekret"), None).await),
        ("credential without password", e.login(a, no_pw.id, &pw("sekret"), None).await),
        (
            "unknown identity",
            e.login_by_match(a, &customer, &by_match("Nobody"), &pw("sekret"), None).await,
        ),
        (
            "ambiguous identity",
            e.login_by_match(a, &customer, &by_match("Twin"), &pw("a"), None).await,
        ),
        (
            "unknown collection",
            e.login_by_match(a, &coll("Nope"), &by_match("Jane"), &pw("sekret"), None).await,
        ),
        (
            "wrong password by match",
            e.login_by_match(a, &customer, &by_match("Jane"), &pw("wrong"), None).await,
        ),
        (
            "document without credential",
            e.login_by_document(a, &no_pw_doc.doc_ref(), &pw("x"), None).await,
        ),
    ];
    let mut before = w.engine.hash_stats();
    // Each reject above did exactly one verification and no hashing: recompute by replaying.
    for (what, r) in attempts {
        assert_eq!(r.unwrap_err().code(), "invalid_secret", "{what}");
    }
    // Replay each path one at a time, measuring the work.
    macro_rules! one_verification {
        ($call:expr) => {{
            assert!($call.await.is_err());
            let after = w.engine.hash_stats();
            assert_eq!(after.verifications - before.verifications, 1, stringify!($call));
            assert_eq!(after.hashes, before.hashes);
            before = after;
        }};
    }
    one_verification!(e.login(a, cred, &pw("wrong"), None));
    one_verification!(e.login(a, deleted.1, &pw("sekret"), None));
    one_verification!(e.login(a, no_pw.id, &pw("sekret"), None));
    one_verification!(e.login_by_document(a, &no_pw_doc.doc_ref(), &pw("x"), None));
    for m in ["Nobody", "Twin", "Jane"] {
        let r = e.login_by_match(a, &customer, &by_match(m), &pw("zzz"), None).await;
        assert_eq!(r.unwrap_err().code(), "invalid_secret");
        let after = w.engine.hash_stats();
        assert_eq!(after.verifications - before.verifications, 1, "{m}");
        before = after;
    }
    // An empty password is refused before any lookup or hashing, for known and unknown alike.
    for m in ["Jane", "Nobody"] {
        let r = e.login_by_match(a, &customer, &by_match(m), &pw(""), None).await;
        assert_eq!(r.unwrap_err().code(), "invalid_argument");
        assert_eq!(w.engine.hash_stats(), before, "{m}");
    }
    // A correct login does the same single verification.
    e.login(a, cred, &pw("sekret"), None).await.unwrap();
    assert_eq!(w.engine.hash_stats().verifications - before.verifications, 1);
}

#[tokio::test]
async fn password_length_is_checked_before_hashing() {
    let w = world_with(AuthConfig { min_password_len: 8, ..AuthConfig::insecure_fast_for_tests() });
    let customer = w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap().name;
    let doc = w.engine.create_document(&w.admin, customer, Fields::new()).await.unwrap();
    let before = w.engine.hash_stats();
    for bad in [String::new(), "short".into(), "x".repeat(1025), "x".repeat(1_000_000)] {
        let e = w
            .engine
            .create_credential(&w.admin, doc.doc_ref(), Some(Password::new(bad)), None)
            .await;
        assert_eq!(e.unwrap_err().code(), "invalid_argument");
    }
    assert_eq!(w.engine.hash_stats(), before, "nothing hashed");
    let c = w
        .engine
        .create_credential(&w.admin, doc.doc_ref(), Some(Password::new("é".repeat(512))), None)
        .await
        .unwrap();
    // 1024 bytes is fine; no truncation: a 1023-byte prefix does not match.
    assert!(w.engine.verify(&w.admin, c.id, &Password::new("é".repeat(512))).await.unwrap());
    let mut prefix = "é".repeat(511);
    prefix.push('e');
    assert!(!w.engine.verify(&w.admin, c.id, &Password::new(prefix)).await.unwrap());
    let before = w.engine.hash_stats();
    let e = w.engine.login(&w.admin, c.id, &Password::new("x".repeat(1025)), None).await;
    assert_eq!(e.unwrap_err().code(), "invalid_argument");
    let e = w.engine.login(&w.admin, c.id, &Password::new(String::new()), None).await;
    assert_eq!(e.unwrap_err().code(), "invalid_argument");
    assert_eq!(w.engine.hash_stats(), before, "rejected before any hashing");
}

#[tokio::test]
async fn default_hashing_is_owasp_argon2id() {
    assert_eq!(AuthConfig::default().hash_params, HashParams::OWASP);
    assert_eq!(HashParams::OWASP, HashParams { m_cost_kib: 19_456, t_cost: 2, p_cost: 1 });
    let w = world_with(AuthConfig { hash_concurrency: 1, ..AuthConfig::default() });
    let (_, cred) = w.jane().await;
    let stored = w.store.credential_by_id(cred).await.unwrap();
    let phc = stored.hash.unwrap();
    assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc:?}");
    assert!(!phc.as_str().contains("sekret"));
}

#[tokio::test]
async fn outdated_hashes_are_rehashed_on_successful_login() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let admin = Caller::key(Role::Admin);
    let old = Engine::new(store.clone(), AuthConfig::insecure_fast_for_tests()).unwrap();
    let c = old.create_collection(&admin, coll("Customer")).await.unwrap().name;
    let d = old.create_document(&admin, c, Fields::new()).await.unwrap();
    let cred = old.create_credential(&admin, d.doc_ref(), Some(pw("sekret")), None).await.unwrap();
    let old_hash = store.credential_by_id(cred.id).await.unwrap().hash.unwrap();
    assert!(old_hash.as_str().contains("m=8,t=1,p=1"));

    let new_params = HashParams { m_cost_kib: 16, t_cost: 1, p_cost: 1 };
    let new =
        Engine::new(store.clone(), AuthConfig { hash_params: new_params, ..AuthConfig::default() })
            .unwrap();
    // A failed login leaves the hash alone.
    assert!(new.login(&admin, cred.id, &pw("wrong"), None).await.is_err());
    assert_eq!(store.credential_by_id(cred.id).await.unwrap().hash.unwrap(), old_hash);
    new.login(&admin, cred.id, &pw("sekret"), None).await.unwrap();
    let rehashed = store.credential_by_id(cred.id).await.unwrap().hash.unwrap();
    assert!(rehashed.as_str().contains("m=16,t=1,p=1"), "{rehashed:?}");
    // And the password still works, now without another rehash.
    let hashes = new.hash_stats().hashes;
    new.login(&admin, cred.id, &pw("sekret"), None).await.unwrap();
    assert_eq!(new.hash_stats().hashes, hashes);
}

#[tokio::test]
async fn hashing_concurrency_is_bounded() {
    assert_eq!(
        AuthConfig::default().hash_concurrency,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1)
    );
    let hasher =
        Arc::new(Hasher::new(HashParams { m_cost_kib: 4096, t_cost: 3, p_cost: 1 }, 1).unwrap());
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let h = hasher.clone();
            tokio::spawn(async move { h.hash(&Password::new(format!("pw{i}"))).await.unwrap() })
        })
        .collect();
    let mut max_waiting = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tasks.iter().any(|t| !t.is_finished()) && std::time::Instant::now() < deadline {
        max_waiting = max_waiting.max(hasher.queue_depth());
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(max_waiting >= 2, "with one slot, jobs must queue (saw {max_waiting})");
    assert_eq!(hasher.queue_depth(), 0);
}

#[tokio::test]
async fn secrets_are_256_bit_prefixed_and_stored_only_as_digests() {
    let w = world();
    let (_, cred) = w.jane().await;
    let t = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    let k = w.engine.create_key(&w.admin, Role::Server, None, None).await.unwrap();
    assert!(t.secret.expose().starts_with("snt_") && k.secret.expose().starts_with("snk_"));
    assert_eq!(t.secret.expose().len(), 4 + 43, "32 random bytes = 256 bits");
    assert_ne!(
        t.secret.expose(),
        w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap().secret.expose()
    );
    // Stored under the SHA-256 digest; nothing printable carries the secret.
    assert_eq!(w.store.token_by_digest(&t.secret.digest()).await.unwrap(), t.token);
    assert_eq!(w.store.key_by_digest(&k.secret.digest()).await.unwrap(), k.key);
    for dump in [format!("{t:?}"), format!("{k:?}"), format!("{:?}", w.store)] {
        assert!(!dump.contains(&t.secret.expose()[4..]), "secret leaked into Debug");
        assert!(!dump.contains(&k.secret.expose()[4..]), "secret leaked into Debug");
    }
}

#[tokio::test]
async fn configured_admin_secret_is_admin() {
    let admin_secret = Secret::new("operator-chosen-admin-secret-0123456789".into());
    let w = world_with(AuthConfig {
        admin_secret: Some(admin_secret.clone()),
        ..AuthConfig::insecure_fast_for_tests()
    });
    let p = w.caller(&admin_secret).await;
    assert_eq!(p.principal, Principal::Key { key_id: None, role: Role::Admin });
    let near = Secret::new("operator-chosen-admin-secret-012345678".into());
    assert_eq!(w.code_of(&near).await, "unauthorized");
}

#[tokio::test]
async fn credentials_are_unique_and_need_a_document() {
    let w = world();
    let (jane, _) = w.jane().await;
    let e =
        w.engine.create_credential(&w.admin, jane.clone(), Some(pw("x")), None).await.unwrap_err();
    assert_eq!(e.code(), "constraint_failure");
    let missing = DocRef::new(coll("Customer"), "1".parse().unwrap());
    let e = w.engine.create_credential(&w.admin, missing, Some(pw("x")), None).await.unwrap_err();
    assert_eq!(e.code(), "document_not_found");
}

#[tokio::test]
async fn deleting_the_identity_or_logging_out_everywhere_revokes_tokens() {
    let w = world();
    let (jane, cred) = w.jane().await;
    let a = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    let b = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    // Jane lists her sessions and logs out everywhere with her own token.
    let me = w.caller(&a.secret).await;
    assert_eq!(w.engine.tokens_of_document(&me, &jane, None, None).await.unwrap().data.len(), 2);
    assert_eq!(w.engine.delete_tokens_of_document(&me, &jane).await.unwrap(), 2);
    assert_eq!(w.code_of(&a.secret).await, "unauthorized");
    assert_eq!(w.code_of(&b.secret).await, "unauthorized");
    let c = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    w.engine.delete_document(&w.admin, &jane).await.unwrap();
    assert_eq!(w.code_of(&c.secret).await, "unauthorized");
    let e = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap_err();
    assert_eq!(e.code(), "invalid_secret");
}

#[tokio::test]
async fn logout_is_for_tokens_and_idempotent_in_effect() {
    let w = world();
    let (_, cred) = w.jane().await;
    let t = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    let me = w.caller(&t.secret).await;
    w.engine.logout(&me).await.unwrap();
    assert_eq!(w.code_of(&t.secret).await, "unauthorized");
    assert_eq!(w.engine.logout(&w.admin).await.unwrap_err().code(), "invalid_argument");
}

/// Every privilege boundary, table-driven: (principal, operation, allowed?).
#[test]
fn error_codes_are_pinned() {
    let all = [
        (AuthError::Unauthorized, "unauthorized"),
        (AuthError::PermissionDenied, "permission_denied"),
        (AuthError::InvalidSecret, "invalid_secret"),
        (AuthError::ConstraintFailure { message: String::new() }, "constraint_failure"),
        (AuthError::not_found(""), "document_not_found"),
        (AuthError::invalid(""), "invalid_argument"),
        (AuthError::Unavailable(sesame_store::StoreError::NotFound), "unavailable"),
        (AuthError::Internal("x".into()), "internal"),
        (AuthError::Throttled { retry_after_secs: 1 }, "throttled"),
    ];
    for (e, code) in &all {
        assert_eq!(e.code(), *code);
    }
    assert_eq!(AuthError::CODES, all.iter().map(|(_, c)| *c).collect::<Vec<_>>().as_slice());
}

#[tokio::test]
async fn password_change_revokes_other_sessions_unless_asked_not_to() {
    let w = world();
    let (jane, cred) = w.jane().await;
    let a = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    let b = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    // Keeping tokens is an explicit choice.
    let (_, n) =
        w.engine.change_password(&w.admin, cred, &pw("second"), Some(false)).await.unwrap();
    assert_eq!(n, 0);
    assert_eq!(w.code_of(&a.secret).await, "ok");
    // By default, a password change logs out every session.
    let (_, n) = w.engine.change_password(&w.admin, cred, &pw("third"), None).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(w.code_of(&a.secret).await, "unauthorized");
    assert_eq!(w.code_of(&b.secret).await, "unauthorized");
    // The old password no longer works; the new one does.
    assert_eq!(
        w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap_err().code(),
        "invalid_secret"
    );
    let c = w.engine.login(&w.admin, cred, &pw("third"), None).await.unwrap();
    // Deleting the credential revokes everything too.
    assert_eq!(w.engine.delete_credential(&w.admin, cred).await.unwrap(), 1);
    assert_eq!(w.code_of(&c.secret).await, "unauthorized");
    assert!(w.engine.get_document(&w.admin, &jane).await.is_ok(), "the identity stays");
}

fn code<T>(r: Result<T, AuthError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(AuthError::Throttled { retry_after_secs }) => format!("throttled({retry_after_secs})"),
        Err(e) => e.code().into(),
    }
}

async fn last_used_eventually(w: &World, id: sesame_model::DocId, want: Option<Timestamp>) {
    for _ in 0..500 {
        if w.store.token_by_id(id).await.unwrap().last_used == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    panic!("last_used never became {want:?}");
}

#[tokio::test]
async fn tokens_record_their_client_and_last_use_coarsely() {
    let w = world();
    let (_, cred) = w.jane().await;
    let client = sesame_model::ClientInfo::new(
        Some("192.0.2.7".parse().unwrap()),
        Some("Mozilla/5.0\n\u{7f}é"),
    );
    let t = w
        .engine
        .login(&Caller::new(w.admin.principal.clone(), client.clone()), cred, &pw("sekret"), None)
        .await
        .unwrap();
    assert_eq!(t.token.client.addr, Some("192.0.2.7".parse().unwrap()));
    assert_eq!(
        t.token.client.user_agent.as_deref(),
        Some("Mozilla/5.0"),
        "control and non-ASCII dropped"
    );
    assert_eq!(t.token.last_used, None);
    // The first use records the time, off the request path.
    w.engine.authenticate(&t.secret).await.unwrap();
    last_used_eventually(&w, t.token.id, Some(t0())).await;
    // Uses within the minute write nothing.
    w.clock.advance_secs(59);
    w.engine.authenticate(&t.secret).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(w.store.token_by_id(t.token.id).await.unwrap().last_used, Some(t0()));
    w.clock.advance_secs(2);
    w.engine.authenticate(&t.secret).await.unwrap();
    last_used_eventually(&w, t.token.id, Some(t0().plus_seconds(61))).await;
}

#[test]
fn bearer_parses_the_scheme_case_insensitively_and_bounds_the_secret() {
    let ok = |v: &str| crate::bearer(v).map(|s| s.expose().to_owned());
    assert_eq!(ok("Bearer snt_abc").as_deref(), Some("snt_abc"));
    assert_eq!(ok("bearer snt_abc").as_deref(), Some("snt_abc"));
    assert_eq!(ok("  BEARER   snt_abc  ").as_deref(), Some("snt_abc"));
    let long = "x".repeat(crate::MAX_BEARER_LEN);
    assert_eq!(ok(&format!("Bearer {long}")).as_deref(), Some(long.as_str()));
    for bad in [
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwdw==",
        "Bearersnt_abc",
        "Bearer a b",
        "Token snt_abc",
        &format!("Bearer {long}x"),
    ] {
        assert!(crate::bearer(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn error_chain_shows_causes_once() {
    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }
    let root = E("connection refused", None);
    let mid = E("store unavailable", Some(Box::new(root)));
    let top = E("migration failed", Some(Box::new(mid)));
    assert_eq!(error_chain(&top), "migration failed: store unavailable: connection refused");
    // A message that already embeds its cause does not repeat it.
    let top =
        E("store unavailable: connection refused", Some(Box::new(E("connection refused", None))));
    assert_eq!(error_chain(&top), "store unavailable: connection refused");
    // Client-facing messages stay generic; the chain is for operators only.
    let e = AuthError::Unavailable(sesame_store::StoreError::Unavailable(
        "db.internal:5432 refused".into(),
    ));
    assert!(!e.to_string().contains("db.internal"));
    assert!(error_chain(&e).contains("db.internal:5432 refused"), "{}", error_chain(&e));
}

#[tokio::test]
async fn maintenance_deletes_expired_tokens_in_batches() {
    let w = world();
    let (_, cred) = w.jane().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let t = w
            .engine
            .login(&w.admin, cred, &pw("sekret"), Some(Ttl::At(t0().plus_seconds(60))))
            .await
            .unwrap();
        ids.push(t.token.id);
    }
    let live = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    assert_eq!(w.engine.run_maintenance(2).await.unwrap().expired_tokens, 0);
    w.clock.advance_secs(61);
    // Batches of 2: 2, 2, 1, so the pass loops until a short batch.
    let r = w.engine.run_maintenance(2).await.unwrap();
    assert_eq!(r.expired_tokens, 5, "{r:?}");
    for id in ids {
        assert!(w.store.token_by_id(id).await.is_err());
    }
    assert!(w.store.token_by_id(live.token.id).await.is_ok());
    assert_eq!(w.engine.run_maintenance(2).await.unwrap(), MaintenanceReport::default());
}
