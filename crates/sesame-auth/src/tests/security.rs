//! Engine tests for the attack run's findings: the throttle and revocation under concurrent
//! callers, enumeration through throttle keys, `verify`'s audit and privileges, the audit flood,
//! and existence hidden from tokens. Each fails without its fix.

use futures_util::future::join_all;
use sesame_model::{AuditKind, DocId};
use sesame_store::AuditFilter;

use super::*;

fn throttled_world(max_concurrent_attempts: u32) -> World {
    world_with(AuthConfig {
        throttle: ThrottleConfig { max_concurrent_attempts, ..ThrottleConfig::default() },
        ..AuthConfig::insecure_fast_for_tests()
    })
}

async fn audit_of(w: &World, kind: AuditKind) -> Vec<sesame_model::AuditEvent> {
    // Some events are written in the background.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let filter = AuditFilter { kind: Some(kind), ..AuditFilter::default() };
    w.engine.list_audit(&w.admin, &filter, None, Some(1000)).await.unwrap().data
}

/// V1: 20 concurrent wrong passwords on one account hash only the free failures (3); the
/// right password arriving in the same burst gets no token; afterwards the victim waits no
/// longer than the maximum delay, however many bursts came before.
#[tokio::test]
async fn a_burst_of_wrong_passwords_hashes_only_the_free_failures() {
    // The in-process in-flight bound off: this is about the store's reservation.
    let w = throttled_world(0);
    let (jane, cred) = w.jane().await;
    for burst in 0..5 {
        let before = w.engine.hash_stats().verifications;
        let (wrong, right) = (pw("wrong"), pw("sekret"));
        let attempts = (0..20).map(|i| {
            let p = if i == 19 { &right } else { &wrong };
            w.engine.login(&w.admin, cred, p, None)
        });
        let outcomes = join_all(attempts).await;
        let hashed = w.engine.hash_stats().verifications - before;
        let free = if burst == 0 { 3 } else { 1 };
        assert!(hashed <= free, "burst {burst}: {hashed} password checks, at most {free}");
        assert!(outcomes.iter().all(|o| o.is_err()), "burst {burst}: a token was issued");
        w.clock.advance_secs(60);
    }
    let tokens = w.engine.tokens_of_document(&w.admin, &jane, None, None).await.unwrap();
    assert!(tokens.data.is_empty());
    // The victim: at most the maximum delay (60 s), never the rest of an hour.
    let waited = match w.engine.login(&w.admin, cred, &pw("sekret"), None).await {
        Ok(_) => 0,
        Err(AuthError::Throttled { retry_after_secs }) => retry_after_secs,
        Err(e) => panic!("{e:?}"),
    };
    assert!(waited <= 60, "the victim waits {waited} s");
    w.clock.advance_secs(waited as i64);
    w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
}

/// V1: concurrent checks per key are bounded in-process too, whatever the delay schedule.
#[tokio::test]
async fn password_checks_in_flight_are_bounded_per_key() {
    let w = world_with(AuthConfig {
        throttle: ThrottleConfig { max_concurrent_attempts: 2, ..no_throttle().throttle },
        ..AuthConfig::insecure_fast_for_tests()
    });
    let (_, cred) = w.jane().await;
    let before = w.engine.hash_stats().verifications;
    let wrong = pw("wrong");
    let outcomes = join_all((0..20).map(|_| w.engine.login(&w.admin, cred, &wrong, None))).await;
    let hashed = w.engine.hash_stats().verifications - before;
    let refused = outcomes.iter().filter(|o| matches!(o, Err(AuthError::Throttled { .. }))).count();
    assert!(hashed < 20 && refused > 0, "hashed {hashed}, refused {refused}");
    // Sequential attempts are never refused by the bound.
    for _ in 0..5 {
        assert_eq!(
            code(w.engine.login(&w.admin, cred, &pw("wrong"), None).await),
            "invalid_secret"
        );
    }
}

/// V1, `verify`: the same reservation as login.
#[tokio::test]
async fn a_burst_of_verifies_hashes_only_the_free_failures() {
    let w = throttled_world(0);
    let (_, cred) = w.jane().await;
    let before = w.engine.hash_stats().verifications;
    let wrong = pw("wrong");
    join_all((0..20).map(|_| w.engine.verify(&w.admin, cred, &wrong))).await;
    assert!(w.engine.hash_stats().verifications - before <= 3);
}

/// V2: logins with the old password racing a password change or a credential delete leave no
/// token that authenticates, in every round.
#[tokio::test]
async fn logins_racing_a_password_change_or_delete_leave_no_valid_token() {
    let w = world_with(no_throttle());
    let customer = w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap().name;
    for round in 0..12 {
        let (_, cred) = w.person(&customer, &format!("P{round}"), "Doe", "old-password").await;
        let old = pw("old-password");
        let logins = join_all((0..6).map(|_| w.engine.login(&w.admin, cred, &old, None)));
        let change = async {
            tokio::task::yield_now().await;
            if round % 2 == 0 {
                w.engine.change_password(&w.admin, cred, &pw("new-password"), None).await.map(drop)
            } else {
                w.engine.delete_credential(&w.admin, cred).await.map(drop)
            }
        };
        let (issued, changed) = tokio::join!(logins, change);
        changed.unwrap();
        for t in issued.into_iter().flatten() {
            assert_eq!(w.code_of(&t.secret).await, "unauthorized", "round {round}");
        }
    }
}

/// W1: the throttle key is what the client named, so a known and an unknown identity answer
/// alike however the identifier is spelled (no 429 here and 400 there).
#[tokio::test]
async fn known_and_unknown_identities_throttle_alike_whatever_the_spelling() {
    let w = world();
    let (_, _) = w.jane().await;
    let customer = coll("Customer");
    let mut seen = Vec::new();
    for first in ["Jane", "Nobody"] {
        let full = fields(json!({"firstName": first, "lastName": "Doe"}));
        let short = fields(json!({"firstName": first}));
        let mut outcomes = Vec::new();
        for m in [&full, &full, &full, &short, &full, &short] {
            let r = w.engine.login_by_match(&w.admin, &customer, m, &pw("wrong"), None).await;
            outcomes.push(code(r));
        }
        seen.push(outcomes);
    }
    assert_eq!(seen[0], seen[1], "known and unknown identities look the same");
    assert_eq!(seen[0][4], "throttled(1)");
}

/// W2: `verify` outcomes are audited; a `server-readonly` key may not call it.
#[tokio::test]
async fn verify_is_audited_and_not_for_readonly_keys() {
    let w = world();
    let (jane, cred) = w.jane().await;
    assert!(!w.engine.verify(&w.admin, cred, &pw("wrong")).await.unwrap());
    assert!(w.engine.verify(&w.admin, cred, &pw("sekret")).await.unwrap());
    let failed = audit_of(&w, AuditKind::VerifyFailed).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].credential, failed[0].identity.as_ref(), failed[0].reason.as_deref()),
        (Some(cred), Some(&jane), Some("wrong_password"))
    );
    assert_eq!(audit_of(&w, AuditKind::VerifySucceeded).await.len(), 1);
    let (readonly, _) = w.key(Role::ServerReadonly).await;
    assert_eq!(code(w.engine.verify(&readonly, cred, &pw("wrong")).await), "permission_denied");
}

/// W3: a caller looping on a forbidden operation writes one audit event per minute.
#[tokio::test]
async fn permission_denied_is_audited_once_per_caller_and_minute() {
    let w = world();
    let (_, cred) = w.jane().await;
    let t = w.engine.login(&w.admin, cred, &pw("sekret"), None).await.unwrap();
    let p = w.caller(&t.secret).await;
    for _ in 0..50 {
        assert_eq!(code(w.engine.list_collections(&p, None, None).await), "permission_denied");
    }
    assert_eq!(audit_of(&w, AuditKind::PermissionDenied).await.len(), 1);
    w.clock.advance_secs(61);
    let p = w.caller(&t.secret).await;
    let _ = w.engine.list_collections(&p, None, None).await;
    assert_eq!(audit_of(&w, AuditKind::PermissionDenied).await.len(), 2);
}

/// W5: a token cannot tell another identity's credential or token from a missing one.
#[tokio::test]
async fn tokens_cannot_tell_another_identitys_things_from_missing_ones() {
    let w = world();
    let (_, jane_cred) = w.jane().await;
    let (_, john_cred) = w.person(&coll("Customer"), "John", "Doe", "sekret").await;
    let jane = w.engine.login(&w.admin, jane_cred, &pw("sekret"), None).await.unwrap();
    let john = w.engine.login(&w.admin, john_cred, &pw("sekret"), None).await.unwrap();
    let p = w.caller(&jane.secret).await;
    let missing = DocId::new(12_345_678).unwrap();
    let said = |r: Result<(), AuthError>, id: DocId| {
        let e = r.unwrap_err();
        format!("{} {}", e.code(), e.to_string().replace(&id.to_string(), "ID"))
    };
    let e = &w.engine;
    assert_eq!(
        said(e.get_credential(&p, john_cred).await.map(drop), john_cred),
        said(e.get_credential(&p, missing).await.map(drop), missing)
    );
    let john_token = john.token.id;
    assert_eq!(
        said(e.get_token(&p, john_token).await.map(drop), john_token),
        said(e.get_token(&p, missing).await.map(drop), missing)
    );
    assert_eq!(
        said(e.delete_token(&p, john_token).await, john_token),
        said(e.delete_token(&p, missing).await, missing)
    );
    assert!(
        said(e.get_token(&p, missing).await.map(drop), missing).starts_with("document_not_found")
    );
    assert_eq!(w.code_of(&john.secret).await, "ok");
}

/// A credential delete is audited with its identity, so `?identity=` finds it.
#[tokio::test]
async fn credential_delete_is_audited_with_its_identity() {
    let w = world();
    let (jane, cred) = w.jane().await;
    w.engine.delete_credential(&w.admin, cred).await.unwrap();
    let filter = AuditFilter {
        identity: Some(jane.clone()),
        kind: Some(AuditKind::CredentialDeleted),
        ..AuditFilter::default()
    };
    let events = w.engine.list_audit(&w.admin, &filter, None, None).await.unwrap().data;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].credential, Some(cred));
}

/// The per-address bucket is the engine's, so every surface's password checks share it
/// (logins by any route and `verify`), keyed by IPv4 address or IPv6 /64.
#[tokio::test]
async fn password_checks_are_limited_per_client_address_on_every_route() {
    let w = world_with(AuthConfig {
        throttle: ThrottleConfig {
            per_address_per_minute: 1,
            per_address_burst: 3,
            ..no_throttle().throttle
        },
        ..AuthConfig::insecure_fast_for_tests()
    });
    let (jane, cred) = w.jane().await;
    let from = |ip: &str| {
        Caller::new(
            w.admin.principal.clone(),
            sesame_model::ClientInfo::new(Some(ip.parse().unwrap()), None),
        )
    };
    let a = from("2001:db8:1:2::1");
    let b = from("2001:db8:1:2::ffff"); // same /64
    let customer = coll("Customer");
    let m = fields(json!({"firstName": "Jane"}));
    assert_eq!(code(w.engine.login(&a, cred, &pw("x"), None).await), "invalid_secret");
    assert_eq!(code(w.engine.login_by_document(&b, &jane, &pw("x"), None).await), "invalid_secret");
    assert!(!w.engine.verify(&a, cred, &pw("x")).await.unwrap());
    let r = w.engine.login_by_match(&b, &customer, &m, &pw("sekret"), None).await;
    assert!(matches!(r, Err(AuthError::RateLimited { retry_after_secs: 1..=61 })), "{r:?}");
    // Another block, and in-process callers (no address), are not affected.
    assert_eq!(
        code(w.engine.login(&from("2001:db8:1:3::1"), cred, &pw("sekret"), None).await),
        "ok"
    );
    assert_eq!(code(w.engine.login(&w.admin, cred, &pw("sekret"), None).await), "ok");
}

/// Ttl bounds are the engine's: the same on every surface.
#[tokio::test]
async fn ttl_bounds_are_decided_by_the_engine() {
    let w = world();
    let (jane, cred) = w.jane().await;
    let too_long = Some(Ttl::In(Ttl::MAX_SECONDS + 1));
    assert_eq!(
        code(w.engine.login(&w.admin, cred, &pw("sekret"), too_long).await),
        "invalid_argument"
    );
    assert_eq!(
        code(w.engine.create_token(&w.admin, jane.clone(), Some(Ttl::In(0)), None).await),
        "invalid_argument"
    );
    assert_eq!(
        code(w.engine.create_key(&w.admin, Role::Server, Some(Ttl::In(-5)), None).await),
        "invalid_argument"
    );
    let t = w.engine.create_token(&w.admin, jane, Some(Ttl::In(60)), None).await.unwrap();
    assert_eq!(t.token.ttl, Some(t0().plus_seconds(60)));
}
