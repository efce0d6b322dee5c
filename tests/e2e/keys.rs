//! `sesame key create | list | revoke`, the engine side (`sesame_server::cli::keys`), over
//! memory and Postgres: keys are listed without secrets, revoked at once, and the operator is
//! told when no admin key remains. The binary's flag handling is tested in `sesame-server`.

use std::sync::Arc;

use sesame_auth::{AuthConfig, AuthError, Engine};
use sesame_model::{Role, Secret};
use sesame_server::cli::keys;
use sesame_store::{MemoryStore, Store};

async fn list_and_revoke(store: Arc<dyn Store>) {
    let engine = Engine::new(store, AuthConfig::insecure_fast_for_tests()).expect("engine");
    let admin = keys::create(&engine, Role::Admin, None).await.expect("admin key");
    let server = keys::create(&engine, Role::Server, None).await.expect("server key");

    let mut out = Vec::new();
    assert_eq!(keys::list(&engine, &mut out).await.expect("list"), 2);
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("id "), "a header: {out}");
    assert!(lines.iter().any(|l| l.starts_with(&admin.key.id.to_string()) && l.contains("admin")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with(&server.key.id.to_string()) && l.contains("server")));
    for secret in [&admin.secret, &server.secret] {
        assert!(!out.contains(secret.expose()), "secrets are never listed: {out}");
    }

    // Revoking the server key: it stops working at once; an admin key remains.
    let as_secret = |s: &Secret| Secret::new(s.expose().to_owned());
    assert!(engine.authenticate(&as_secret(&server.secret)).await.is_ok());
    assert!(keys::revoke(&engine, &server.key.id.to_string()).await.expect("revoke"));
    assert!(matches!(
        engine.authenticate(&as_secret(&server.secret)).await,
        Err(AuthError::Unauthorized)
    ));
    // Again: not found. Not a number: invalid, and the input is not echoed.
    assert!(matches!(
        keys::revoke(&engine, &server.key.id.to_string()).await,
        Err(AuthError::DocumentNotFound { .. })
    ));
    let e = keys::revoke(&engine, "snk_not-an-id").await.unwrap_err();
    assert!(matches!(e, AuthError::InvalidArgument { .. }) && !e.to_string().contains("snk_"));

    // The last admin key: revoked, and the caller learns none remains.
    assert!(!keys::revoke(&engine, &admin.key.id.to_string()).await.expect("revoke"));
    let mut out = Vec::new();
    assert_eq!(keys::list(&engine, &mut out).await.expect("list"), 0);

    // Both revocations are audited as the operator acting as admin.
    let p = sesame_auth::Caller::key(Role::Admin);
    let audit = engine.list_audit(&p, &Default::default(), None, None).await.expect("audit");
    let revoked = audit.data.iter().filter(|e| e.kind.as_str() == "key_revoked").count();
    assert_eq!(revoked, 2, "{:?}", audit.data);
}

#[tokio::test]
async fn key_list_and_revoke_over_memory() {
    list_and_revoke(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn key_list_and_revoke_over_postgres() {
    let Some(db) = sesame_postgres::testing::TestDb::new().await else { return };
    list_and_revoke(db.store.clone()).await;
}
