//! Conformance cases: concurrency of credentials, tokens and logins, throttling, metadata
//! and the audit trail.

use super::*;
/// 32 concurrent credential creations for one document: exactly one wins, 31 conflict.
pub async fn concurrent_credential_creations_have_one_winner(store: Arc<dyn Store>) {
    let f = Arc::new(Fixture::new(store));
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let f = f.clone();
        let r = d.doc_ref();
        tasks.push(tokio::spawn(async move {
            f.store.create_credential(&f.cred(&r, Some(&format!("hash-{i}")))).await
        }));
    }
    let (mut ok, mut conflicts) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict { constraint }) => {
                assert_eq!(constraint, crate::constraint::CREDENTIAL_DOCUMENT);
                conflicts += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 31));
    f.store.credential_by_document(&d.doc_ref()).await.unwrap();
}

/// Two concurrent deletions of one token: exactly one reports that it existed.
pub async fn concurrent_token_deletions_have_one_winner(store: Arc<dyn Store>) {
    let f = Arc::new(Fixture::new(store));
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    for _ in 0..10 {
        let (t, _) = f.add_token(&d.doc_ref(), None).await;
        let (s1, s2) = (f.store.clone(), f.store.clone());
        let a = tokio::spawn(async move { s1.delete_token(t.id).await.unwrap() });
        let b = tokio::spawn(async move { s2.delete_token(t.id).await.unwrap() });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(a ^ b, "exactly one deletion wins: {a} {b}");
    }
}

/// A document deleted while its credential is being created leaves no orphan credential.
pub async fn document_deleted_during_credential_creation_leaves_no_orphan(store: Arc<dyn Store>) {
    let f = Arc::new(Fixture::new(store));
    let c = f.coll("Customer").await;
    for _ in 0..20 {
        let d = f.doc(&c, json!({})).await;
        let cred = f.cred(&d.doc_ref(), Some("h"));
        let cid = cred.credential.id;
        let (s1, s2) = (f.store.clone(), f.store.clone());
        let r = d.doc_ref();
        let create = tokio::spawn(async move { s1.create_credential(&cred).await });
        let delete = tokio::spawn(async move { s2.delete_document(&r).await });
        let created = create.await.unwrap();
        delete.await.unwrap().unwrap();
        match created {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
        assert_not_found(f.store.credential_by_id(cid).await);
        assert_not_found(f.store.credential_by_document(&d.doc_ref()).await);
    }
}

/// A password change can revoke the document's tokens (except one) in the same step, and
/// touches no other document's tokens.
pub async fn password_change_revokes_tokens_atomically(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let other = f.doc(&c, json!({})).await;
    let cred = f.cred(&d.doc_ref(), Some("old"));
    f.store.create_credential(&cred).await.unwrap();
    let (keep, keep_dg) = f.add_token(&d.doc_ref(), None).await;
    let mut gone = Vec::new();
    for _ in 0..3 {
        gone.push(f.add_token(&d.doc_ref(), None).await.1);
    }
    let (_, other_dg) = f.add_token(&other.doc_ref(), None).await;
    let t = now().plus_seconds(1);
    let (c1, n) = f
        .store
        .update_credential_hash(
            cred.credential.id,
            &PasswordHash::new("new".into()),
            t,
            Revoke::AllExcept(Some(keep.id)),
            None,
        )
        .await
        .unwrap();
    assert_eq!((c1.ts, n), (t, 3));
    for dg in gone {
        assert_not_found(f.store.token_by_digest(&dg).await);
    }
    assert_eq!(f.store.token_by_digest(&keep_dg).await.unwrap(), keep);
    f.store.token_by_digest(&other_dg).await.unwrap();
    let (_, n) = f
        .store
        .update_credential_hash(
            cred.credential.id,
            &PasswordHash::new("newer".into()),
            t,
            Revoke::AllExcept(None),
            None,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_not_found(f.store.token_by_digest(&keep_dg).await);
    assert_eq!(
        f.store.credential_by_id(cred.credential.id).await.unwrap().hash,
        Some(PasswordHash::new("newer".into()))
    );
}

/// Deleting a credential deletes every token of its document in the same step.
pub async fn credential_delete_revokes_all_tokens(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let other = f.doc(&c, json!({})).await;
    let cred = f.cred(&d.doc_ref(), Some("h"));
    f.store.create_credential(&cred).await.unwrap();
    let (_, a) = f.add_token(&d.doc_ref(), None).await;
    let (_, b) = f.add_token(&d.doc_ref(), Some(now().plus_seconds(60))).await;
    let (_, o) = f.add_token(&other.doc_ref(), None).await;
    assert_eq!(
        f.store.delete_credential(cred.credential.id).await.unwrap(),
        (d.doc_ref(), 2),
        "the delete names the credential's document (for the audit trail)"
    );
    assert_not_found(f.store.token_by_digest(&a).await);
    assert_not_found(f.store.token_by_digest(&b).await);
    f.store.token_by_digest(&o).await.unwrap();
    f.store.get_document(&d.doc_ref()).await.unwrap();
}

fn policy() -> ThrottlePolicy {
    ThrottlePolicy {
        free_failures: 3,
        base_delay_us: 1_000_000,
        max_delay_us: 60_000_000,
        max_per_window: 100,
        window_us: 3_600_000_000,
    }
}

fn granted(r: Reservation) -> crate::LoginFailures {
    match r {
        Reservation::Granted(f) => f,
        Reservation::Refused { until } => panic!("refused until {until}"),
    }
}

/// Failure counters: consecutive and windowed counts, reset, stale clean-up.
pub async fn login_failures_count_and_reset(store: Arc<dyn Store>) {
    let s = store;
    let k = SecretDigest::of("throttle-key-a");
    let other = SecretDigest::of("throttle-key-b");
    let off = ThrottlePolicy::OFF;
    assert_eq!(s.login_failures(&k).await.unwrap(), None);
    let f1 = granted(s.reserve_login_attempt(&k, now(), &off).await.unwrap());
    assert_eq!(
        (f1.consecutive, f1.in_window, f1.window_start, f1.last_failure),
        (1, 1, now(), now())
    );
    let t2 = now().plus_seconds(10);
    let f2 = granted(s.reserve_login_attempt(&k, t2, &off).await.unwrap());
    assert_eq!((f2.consecutive, f2.in_window, f2.window_start, f2.last_failure), (2, 2, now(), t2));
    assert_eq!(s.login_failures(&k).await.unwrap(), Some(f2));
    // A new window restarts the windowed count but not the consecutive one.
    let t3 = now().plus_seconds(3600);
    let f3 = granted(s.reserve_login_attempt(&k, t3, &off).await.unwrap());
    assert_eq!((f3.consecutive, f3.in_window, f3.window_start), (3, 1, t3));
    granted(s.reserve_login_attempt(&other, now(), &off).await.unwrap());
    s.clear_login_failures(&k).await.unwrap();
    assert_eq!(s.login_failures(&k).await.unwrap(), None);
    assert!(s.login_failures(&other).await.unwrap().is_some());
    assert_eq!(s.delete_stale_login_failures(now(), 10).await.unwrap(), 0);
    assert_eq!(s.delete_stale_login_failures(now().plus_micros(1), 10).await.unwrap(), 1);
    assert_eq!(s.login_failures(&other).await.unwrap(), None);
}

/// The free attempts are granted, then one per delay window (doubling, capped); refusals
/// change nothing; the hourly cap refuses until the window ends; clearing starts over.
pub async fn reservations_follow_the_delay_schedule(store: Arc<dyn Store>) {
    let s = store;
    let k = SecretDigest::of("throttle-key-schedule");
    let p = policy();
    for _ in 0..3 {
        granted(s.reserve_login_attempt(&k, now(), &p).await.unwrap());
    }
    let r = s.reserve_login_attempt(&k, now().plus_micros(999_999), &p).await.unwrap();
    assert_eq!(r, Reservation::Refused { until: now().plus_seconds(1) });
    assert_eq!(s.login_failures(&k).await.unwrap().unwrap().consecutive, 3, "refusals don't count");
    let t = now().plus_seconds(1);
    assert_eq!(granted(s.reserve_login_attempt(&k, t, &p).await.unwrap()).consecutive, 4);
    // Now 2 s from t.
    let r = s.reserve_login_attempt(&k, t.plus_seconds(1), &p).await.unwrap();
    assert_eq!(r, Reservation::Refused { until: t.plus_seconds(2) });
    granted(s.reserve_login_attempt(&k, t.plus_seconds(2), &p).await.unwrap());
    // The delay is capped: after many failures it is the maximum, never more.
    let mut at = t.plus_seconds(2);
    for _ in 0..10 {
        at = at.plus_seconds(60);
        granted(s.reserve_login_attempt(&k, at, &p).await.unwrap());
    }
    let r = s.reserve_login_attempt(&k, at.plus_seconds(1), &p).await.unwrap();
    assert_eq!(r, Reservation::Refused { until: at.plus_seconds(60) });
    s.clear_login_failures(&k).await.unwrap();
    granted(s.reserve_login_attempt(&k, at.plus_seconds(1), &p).await.unwrap());
    // The cap: with no delays, the 4th attempt of a 3-per-window policy waits for the window.
    let capped = ThrottlePolicy { max_per_window: 3, ..ThrottlePolicy::OFF };
    let k2 = SecretDigest::of("throttle-key-cap");
    for i in 0..3 {
        granted(s.reserve_login_attempt(&k2, now().plus_seconds(i), &capped).await.unwrap());
    }
    let r = s.reserve_login_attempt(&k2, now().plus_seconds(10), &capped).await.unwrap();
    assert_eq!(r, Reservation::Refused { until: now().plus_seconds(3600) });
    let f = granted(s.reserve_login_attempt(&k2, now().plus_seconds(3600), &capped).await.unwrap());
    assert_eq!((f.in_window, f.window_start), (1, now().plus_seconds(3600)));
}

/// 32 concurrent attempts on one key at one instant: exactly the free attempts are granted
/// (the attack that got 19 of 20 hashed), and the record counts exactly those.
pub async fn concurrent_reservations_grant_only_what_the_schedule_allows(store: Arc<dyn Store>) {
    let k = SecretDigest::of("throttle-key-concurrent");
    let p = policy();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.reserve_login_attempt(&k, now().plus_micros(i), &p).await.unwrap()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Reservation::Granted(_)) {
            ok += 1;
        }
    }
    assert_eq!(ok, 3);
    let f = store.login_failures(&k).await.unwrap().unwrap();
    assert_eq!((f.consecutive, f.in_window), (3, 3));
}

/// With no delay schedule every concurrent attempt is counted, none lost.
pub async fn concurrent_reservations_across_stores_share_the_count(store: Arc<dyn Store>) {
    let k = SecretDigest::of("throttle-key-count");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            granted(
                s.reserve_login_attempt(&k, now().plus_micros(i), &ThrottlePolicy::OFF)
                    .await
                    .unwrap(),
            )
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let f = store.login_failures(&k).await.unwrap().unwrap();
    assert_eq!((f.consecutive, f.in_window), (20, 20));
}

/// A login's token is created only while the credential has the hash it was verified against.
pub async fn login_token_needs_the_verified_hash(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let other = f.doc(&c, json!({})).await;
    let cred = f.cred(&d.doc_ref(), Some("old"));
    f.store.create_credential(&cred).await.unwrap();
    let old = PasswordHash::new("old".into());
    let v = VerifiedWith { credential: cred.credential.id, hash: &old };
    f.store.create_token(&f.token(&d.doc_ref(), None), &digest(1), Some(v)).await.unwrap();
    // Another document's token cannot ride on this credential.
    let r = f.store.create_token(&f.token(&other.doc_ref(), None), &digest(2), Some(v)).await;
    assert_conflict(r, constraint::CREDENTIAL_CHANGED);
    let new = PasswordHash::new("new".into());
    f.store
        .update_credential_hash(cred.credential.id, &new, now(), Revoke::Nothing, None)
        .await
        .unwrap();
    let r = f.store.create_token(&f.token(&d.doc_ref(), None), &digest(3), Some(v)).await;
    assert_conflict(r, constraint::CREDENTIAL_CHANGED);
    f.store.delete_credential(cred.credential.id).await.unwrap();
    let v = VerifiedWith { credential: cred.credential.id, hash: &new };
    let r = f.store.create_token(&f.token(&d.doc_ref(), None), &digest(4), Some(v)).await;
    assert_conflict(r, constraint::CREDENTIAL_CHANGED);
    let page = f.store.tokens_by_document(&d.doc_ref(), None, 10).await.unwrap();
    assert!(page.data.is_empty(), "{page:?}");
}

/// A re-hash with `expect` never overwrites a hash that changed since.
pub async fn rehash_is_conditional_on_the_verified_hash(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let cred = f.cred(&d.doc_ref(), Some("old"));
    f.store.create_credential(&cred).await.unwrap();
    let id = cred.credential.id;
    let (old, new, rehash) = (
        PasswordHash::new("old".into()),
        PasswordHash::new("new".into()),
        PasswordHash::new("old-rehashed".into()),
    );
    f.store.update_credential_hash(id, &new, now(), Revoke::Nothing, None).await.unwrap();
    let r = f.store.update_credential_hash(id, &rehash, now(), Revoke::Nothing, Some(&old)).await;
    assert_conflict(r, constraint::CREDENTIAL_CHANGED);
    assert_eq!(f.store.credential_by_id(id).await.unwrap().hash, Some(new.clone()));
    f.store.update_credential_hash(id, &rehash, now(), Revoke::Nothing, Some(&new)).await.unwrap();
    assert_eq!(f.store.credential_by_id(id).await.unwrap().hash, Some(rehash));
}

/// Logins (token inserts verified against the old hash) racing a password change that revokes
/// every token: afterwards no token of the document exists, in every round.
pub async fn logins_racing_a_password_change_leave_no_token(store: Arc<dyn Store>) {
    race_logins(store, false).await;
}

/// The same, racing a credential delete.
pub async fn logins_racing_a_credential_delete_leave_no_token(store: Arc<dyn Store>) {
    race_logins(store, true).await;
}

async fn race_logins(store: Arc<dyn Store>, delete: bool) {
    let f = Arc::new(Fixture::new(store));
    let c = f.coll("Customer").await;
    for round in 0..8 {
        let d = f.doc(&c, json!({ "round": round })).await;
        let cred = f.cred(&d.doc_ref(), Some("old"));
        let cid = cred.credential.id;
        f.store.create_credential(&cred).await.unwrap();
        let mut logins = Vec::new();
        for i in 0..12u64 {
            let (f, doc) = (f.clone(), d.doc_ref());
            logins.push(tokio::spawn(async move {
                if i % 3 == 0 {
                    tokio::task::yield_now().await;
                }
                let old = PasswordHash::new("old".into());
                let v = VerifiedWith { credential: cid, hash: &old };
                let r = f.store.create_token(&f.token(&doc, None), &digest(i), Some(v)).await;
                match r {
                    Ok(()) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("{e:?}"),
                }
            }));
        }
        tokio::task::yield_now().await;
        if delete {
            f.store.delete_credential(cid).await.unwrap();
        } else {
            f.store
                .update_credential_hash(
                    cid,
                    &PasswordHash::new("new".into()),
                    now(),
                    Revoke::AllExcept(None),
                    None,
                )
                .await
                .unwrap();
        }
        for l in logins {
            l.await.unwrap();
        }
        let left = f.store.tokens_by_document(&d.doc_ref(), None, 100).await.unwrap();
        assert!(left.data.is_empty(), "round {round}: tokens outlived the change: {left:?}");
    }
}

/// Equality lookups compare JSON exactly on every backend: `1` and `1.0` differ (a backend
/// comparing numerically would let `{"acct": 12345.0}` find account 12345).
pub async fn numbers_match_exactly_not_numerically(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Account").await;
    let int = f.doc(&c, json!({"acct": 12345, "nested": {"n": 1}})).await;
    let float = f.doc(&c, json!({"acct": 2.0})).await;
    let find = |filter: serde_json::Value| {
        let store = f.store.clone();
        let c = c.clone();
        async move {
            let p = store.find_documents(&c, &fields(filter), None, 10).await.unwrap();
            p.data.into_iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(find(json!({"acct": 12345})).await, [int.id]);
    assert!(find(json!({"acct": 12345.0})).await.is_empty());
    assert!(find(json!({"nested": {"n": 1.0}})).await.is_empty());
    assert_eq!(find(json!({"nested": {"n": 1}})).await, [int.id]);
    assert_eq!(find(json!({"acct": 2.0})).await, [float.id]);
    assert!(find(json!({"acct": 2})).await.is_empty());
}

/// Collection names order by their bytes (upper case before lower case), in listings and in
/// cursors alike, whatever the database's collation.
pub async fn collections_order_by_bytes_with_mixed_case(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    for n in ["c", "B", "a", "D"] {
        f.coll(n).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let p = f.store.list_collections(after.as_ref(), 1).await.unwrap();
        seen.extend(p.data.iter().map(|c| c.name.to_string()));
        match p.after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, ["B", "D", "a", "c"]);
}

/// Client address and user agent round-trip; `touch_token` writes at most once per gap.
pub async fn token_session_metadata_roundtrips_and_touches_are_coarse(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let mut t = f.token(&d.doc_ref(), None);
    t.client =
        sesame_model::ClientInfo::new(Some("2001:db8::7".parse().unwrap()), Some("curl/8.0"));
    let dg = digest(7);
    f.store.create_token(&t, &dg, None).await.unwrap();
    assert_eq!(f.store.token_by_digest(&dg).await.unwrap(), t);
    let minute = 60_000_000;
    assert!(f.store.touch_token(t.id, now(), minute).await.unwrap());
    assert!(!f.store.touch_token(t.id, now().plus_seconds(59), minute).await.unwrap());
    assert_eq!(f.store.token_by_id(t.id).await.unwrap().last_used, Some(now()));
    assert!(f.store.touch_token(t.id, now().plus_seconds(61), minute).await.unwrap());
    assert_eq!(f.store.token_by_id(t.id).await.unwrap().last_used, Some(now().plus_seconds(61)));
    assert!(!f.store.touch_token(f.id(), now(), minute).await.unwrap(), "unknown token");
    // Concurrent touches in one minute write once.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let s = f.store.clone();
        let id = t.id;
        tasks.push(tokio::spawn(async move {
            s.touch_token(id, now().plus_seconds(200), minute).await.unwrap()
        }));
    }
    let mut wrote = 0;
    for task in tasks {
        wrote += usize::from(task.await.unwrap());
    }
    assert_eq!(wrote, 1);
}

/// The audit trail: append, filter by identity, kind and time, paginate, expire.
pub async fn audit_trail_appends_filters_and_expires(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let jane = DocRef::new(name("Customer"), f.id());
    let john = DocRef::new(name("Customer"), f.id());
    let mut all = Vec::new();
    for i in 0..12 {
        let e = AuditEvent {
            id: f.id(),
            ts: now().plus_seconds(i),
            kind: if i % 3 == 0 { AuditKind::LoginFailed } else { AuditKind::LoginSucceeded },
            reason: (i % 3 == 0).then(|| "wrong_password".to_owned()),
            actor: Some(format!("key:{}", 100 + i)),
            identity: Some(if i % 2 == 0 { jane.clone() } else { john.clone() }),
            credential: Some(f.id()),
            token: (i % 3 != 0).then(|| f.id()),
            key: None,
            client_addr: Some("192.0.2.1".parse().unwrap()),
            count: (i == 5).then_some(3),
        };
        f.store.append_audit(&e).await.unwrap();
        all.push(e);
    }
    assert_conflict(f.store.append_audit(&all[0]).await, crate::constraint::ID);
    let list = |filter: AuditFilter| {
        let store = f.store.clone();
        async move {
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let p = store.list_audit(&filter, after, 5).await.unwrap();
                out.extend(p.data);
                match p.after {
                    Some(a) => after = Some(a),
                    None => return out,
                }
            }
        }
    };
    assert_eq!(list(AuditFilter::default()).await, all, "everything, in order, exactly");
    let janes = list(AuditFilter { identity: Some(jane.clone()), ..Default::default() }).await;
    assert_eq!(janes.len(), 6);
    assert!(janes.iter().all(|e| e.identity.as_ref() == Some(&jane)));
    let failed =
        list(AuditFilter { kind: Some(AuditKind::LoginFailed), ..Default::default() }).await;
    assert_eq!(failed.len(), 4);
    let window = AuditFilter {
        from: Some(now().plus_seconds(3)),
        to: Some(now().plus_seconds(6)),
        ..Default::default()
    };
    assert_eq!(
        list(window).await.iter().map(|e| e.ts).collect::<Vec<_>>(),
        (3..6).map(|i| now().plus_seconds(i)).collect::<Vec<_>>()
    );
    assert_eq!(f.store.delete_audit_before(now().plus_seconds(4), 3).await.unwrap(), 3);
    assert_eq!(f.store.delete_audit_before(now().plus_seconds(4), 3).await.unwrap(), 1);
    assert_eq!(list(AuditFilter::default()).await, all[4..].to_vec());
}
