//! The audit trail: every authentication decision becomes an event without secrets, and
//! events expire after the retention period.

use super::*;

#[tokio::test]
async fn every_authentication_decision_is_audited_without_secrets() {
    use sesame_model::AuditKind as K;
    use sesame_store::AuditFilter;
    let w = world();
    let (jane, cred) = w.jane().await;
    let server = w.engine.create_key(&w.admin, Role::Server, None, None).await.unwrap();
    let client = sesame_model::ClientInfo::new(Some("198.51.100.4".parse().unwrap()), None);
    let ok = w
        .engine
        .login(&Caller::new(w.admin.principal.clone(), client.clone()), cred, &pw("sekret"), None)
        .await
        .unwrap();
    let _ = w.engine.login(&w.admin, cred, &pw("wrong-password-1"), None).await;
    let _ = w.engine.login(&w.admin, "12345".parse().unwrap(), &pw("x"), None).await;
    let _ = w.engine.login(&w.admin, cred, &pw("wrong-password-2"), None).await;
    let _ = w.engine.login(&w.admin, cred, &pw("wrong-password-3"), None).await;
    assert_eq!(
        w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap_err().code(),
        "throttled"
    );
    let me = w.caller(&ok.secret).await;
    assert!(w.engine.create_key(&me, Role::Admin, None, None).await.is_err());
    w.engine.logout(&me).await.unwrap();
    let t = w.engine.create_token(&w.admin, jane.clone(), None, None).await.unwrap();
    w.engine.delete_token(&w.admin, t.token.id).await.unwrap();
    w.engine.create_token(&w.admin, jane.clone(), None, None).await.unwrap();
    w.engine.delete_tokens_of_document(&w.admin, &jane).await.unwrap();
    w.clock.advance_secs(2);
    assert!(w.engine.verify(&w.admin, cred, &pw("sekret")).await.unwrap());
    assert!(!w.engine.verify(&w.admin, cred, &pw("wrong-password-4")).await.unwrap());
    w.engine.change_password(&w.admin, cred, &pw("new-password-77"), None).await.unwrap();
    w.engine.delete_key(&w.admin, server.key.id).await.unwrap();
    w.engine.delete_credential(&w.admin, cred).await.unwrap();
    let role = json!({"name": "r", "membership": {"resource": "Customer"}});
    w.engine.create_role(&w.admin, role.as_object().unwrap().clone()).await.unwrap();
    let patch = json!({"data": {"x": 1}});
    w.engine.update_role(&w.admin, "r", patch.as_object().unwrap().clone(), false).await.unwrap();
    w.engine.delete_role(&w.admin, "r").await.unwrap();
    let admin_key = w.engine.create_key(&w.admin, Role::Admin, None, None).await.unwrap();
    let scoped = Secret::new(format!("{}:@doc/Customer/{}", admin_key.secret.expose(), jane.id));
    w.engine.authenticate(&scoped).await.unwrap();
    let scoped = Secret::new(format!("{}:@role/nobody", admin_key.secret.expose()));
    assert!(w.engine.authenticate(&scoped).await.is_err());
    // The permission_denied and scope events are written in the background.
    let mut events = Vec::new();
    for _ in 0..200 {
        events = w
            .engine
            .list_audit(&w.admin, &AuditFilter::default(), None, Some(1000))
            .await
            .unwrap()
            .data;
        if [K::PermissionDenied, K::ScopedSecretUsed, K::ScopedSecretRefused]
            .iter()
            .all(|k| events.iter().any(|e| e.kind == *k))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let kinds: std::collections::HashSet<K> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        events.iter().filter(|e| e.kind == K::LoginThrottled).count(),
        1,
        "one audit event per throttled window, not one per refused attempt"
    );
    for k in K::ALL {
        assert!(kinds.contains(k), "no {k:?} event in {events:#?}");
    }
    let failed: Vec<_> = events.iter().filter(|e| e.kind == K::LoginFailed).collect();
    assert!(failed.iter().any(
        |e| e.reason.as_deref() == Some("wrong_password") && e.identity.as_ref() == Some(&jane)
    ));
    assert!(failed
        .iter()
        .any(|e| e.reason.as_deref() == Some("unknown_identity") && e.identity.is_none()));
    let success = events.iter().find(|e| e.kind == K::LoginSucceeded).unwrap();
    assert_eq!((success.token, success.client_addr), (Some(ok.token.id), client.addr));
    assert_eq!(success.actor.as_deref(), Some("admin_secret"));
    let denied = events.iter().find(|e| e.kind == K::PermissionDenied).unwrap();
    assert_eq!(denied.actor, Some(format!("token:{}", ok.token.id)));
    assert_eq!(denied.reason.as_deref(), Some("write_keys"));
    let dump = format!("{events:?}");
    for secret in [
        ok.secret.expose(),
        t.secret.expose(),
        server.secret.expose(),
        "sekret",
        "wrong-password-1",
        "new-password-77",
    ] {
        assert!(!dump.contains(secret), "an audit event holds `{secret}`");
    }
    // Filters, and who may read the trail.
    let janes = w
        .engine
        .list_audit(
            &w.admin,
            &AuditFilter { identity: Some(jane.clone()), ..Default::default() },
            None,
            None,
        )
        .await
        .unwrap();
    assert!(
        !janes.data.is_empty() && janes.data.iter().all(|e| e.identity.as_ref() == Some(&jane))
    );
    let (server2, _) = w.key(Role::Server).await;
    assert_eq!(
        w.engine
            .list_audit(&server2, &AuditFilter::default(), None, None)
            .await
            .unwrap_err()
            .code(),
        "permission_denied"
    );
}

#[tokio::test]
async fn audit_events_expire_after_the_retention_period() {
    let w = world_with(AuthConfig {
        audit_retention_days: Some(30),
        ..AuthConfig::insecure_fast_for_tests()
    });
    w.jane().await;
    let count = || async {
        w.engine
            .list_audit(&w.admin, &Default::default(), None, Some(1000))
            .await
            .unwrap()
            .data
            .len()
    };
    let n = count().await;
    assert!(n > 0);
    w.clock.advance_secs(29 * 86_400);
    assert_eq!(w.engine.sweep_audit(100).await.unwrap(), 0);
    w.clock.advance_secs(2 * 86_400);
    assert_eq!(w.engine.sweep_audit(100).await.unwrap(), n as u64);
    assert_eq!(count().await, 0);
}
