//! Conformance cases: collections, documents, credentials, tokens and keys, one at a time.

use super::*;

/// `ping` succeeds on a healthy store.
pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

/// Collections: create, read, unique names, not found.
pub async fn collections_roundtrip_and_unique_names(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = Collection::new(name("Customer"), now());
    f.store.create_collection(&c).await.unwrap();
    assert_eq!(f.store.get_collection(&c.name).await.unwrap(), c);
    assert_conflict(f.store.create_collection(&c).await, crate::constraint::COLLECTION_NAME);
    assert_not_found(f.store.get_collection(&name("Manager")).await);
    // Names are case-sensitive.
    f.coll("customer").await;
    assert_not_found(f.store.delete_collection(&name("Nope")).await);
}

/// Collections list in name order, paginated.
pub async fn collections_paginate_by_name(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    for n in ["C", "A", "E", "B", "D"] {
        f.coll(n).await;
    }
    // (Mixed case is `collections_order_by_bytes_with_mixed_case`.)
    let p1 = f.store.list_collections(None, 2).await.unwrap();
    let names = |p: &crate::Page<Collection, CollectionName>| {
        p.data.iter().map(|c| c.name.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(names(&p1), ["A", "B"]);
    let p2 = f.store.list_collections(p1.after.as_ref(), 2).await.unwrap();
    assert_eq!(names(&p2), ["C", "D"]);
    let p3 = f.store.list_collections(p2.after.as_ref(), 2).await.unwrap();
    assert_eq!(names(&p3), ["E"]);
    assert_eq!(p3.after, None);
    let all = f.store.list_collections(None, 5).await.unwrap();
    assert_eq!(all.data.len(), 5);
    assert_eq!(all.after, None, "an exactly full page is the last page");
}

/// Deleting a collection removes its documents, credentials and tokens, and nothing else.
pub async fn collection_delete_cascades(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let a = f.coll("A").await;
    let b = f.coll("B").await;
    let da = f.doc(&a, json!({"n": 1})).await;
    let db = f.doc(&b, json!({"n": 1})).await;
    let ca = f.cred(&da.doc_ref(), Some("h"));
    f.store.create_credential(&ca).await.unwrap();
    let (ta, dga) = f.add_token(&da.doc_ref(), None).await;
    let (tb, _) = f.add_token(&db.doc_ref(), None).await;

    f.store.delete_collection(&a).await.unwrap();
    assert_not_found(f.store.get_collection(&a).await);
    assert_not_found(f.store.get_document(&da.doc_ref()).await);
    assert_not_found(f.store.credential_by_id(ca.credential.id).await);
    assert_not_found(f.store.token_by_digest(&dga).await);
    assert_not_found(f.store.token_by_id(ta.id).await);
    assert_not_found(f.store.find_documents(&a, &Fields::new(), None, 10).await);
    // The other collection is untouched.
    assert_eq!(f.store.get_document(&db.doc_ref()).await.unwrap(), db);
    assert_eq!(f.store.token_by_id(tb.id).await.unwrap(), tb);
    // The name can be reused, empty.
    f.coll("A").await;
    assert!(f.store.find_documents(&a, &Fields::new(), None, 10).await.unwrap().data.is_empty());
}

/// Documents: create, get, update (merge, null removes), replace, delete.
pub async fn documents_crud(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let other = f.coll("Manager").await;
    let d = f.doc(&c, json!({"firstName": "Jane", "lastName": "Doe", "age": 41})).await;
    assert_eq!(f.store.get_document(&d.doc_ref()).await.unwrap(), d);
    // The wrong collection does not find it.
    assert_not_found(f.store.get_document(&DocRef::new(other.clone(), d.id)).await);

    let t1 = now().plus_seconds(1);
    let u = f
        .store
        .update_document(&d.doc_ref(), &fields(json!({"age": null, "email": "j@d.e"})), t1)
        .await
        .unwrap();
    assert_eq!(u.ts, t1);
    assert_eq!(
        serde_json::Value::Object(u.fields.as_map().clone()),
        json!({"firstName": "Jane", "lastName": "Doe", "email": "j@d.e"})
    );
    assert_eq!(f.store.get_document(&d.doc_ref()).await.unwrap(), u);

    let t2 = now().plus_seconds(2);
    let r =
        f.store.replace_document(&d.doc_ref(), &fields(json!({"only": true})), t2).await.unwrap();
    assert_eq!(serde_json::Value::Object(r.fields.as_map().clone()), json!({"only": true}));
    assert_eq!(f.store.get_document(&d.doc_ref()).await.unwrap(), r);

    assert_not_found(f.store.delete_document(&DocRef::new(other, d.id)).await);
    f.store.delete_document(&d.doc_ref()).await.unwrap();
    assert_not_found(f.store.get_document(&d.doc_ref()).await);
    assert_not_found(f.store.delete_document(&d.doc_ref()).await);
    assert_not_found(f.store.update_document(&d.doc_ref(), &Fields::new(), t2).await);
    assert_not_found(f.store.replace_document(&d.doc_ref(), &Fields::new(), t2).await);
}

/// Creating a document needs its collection; ids are unique.
pub async fn document_create_needs_collection_and_unique_id(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let orphan = Document { id: f.id(), coll: name("Missing"), ts: now(), fields: Fields::new() };
    assert_not_found(f.store.create_document(&orphan).await);
    let d = f.doc(&c, json!({})).await;
    let again = Document { fields: fields(json!({"x": 1})), ..d.clone() };
    assert_conflict(f.store.create_document(&again).await, crate::constraint::ID);
    assert_eq!(f.store.get_document(&d.doc_ref()).await.unwrap(), d, "nothing half-written");
}

/// Lookup by top-level fields is exact JSON equality, per collection.
pub async fn find_documents_by_exact_equality(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let m = f.coll("Manager").await;
    let jane = f
        .doc(&c, json!({"firstName": "Jane", "lastName": "Doe", "tags": ["a", "b"], "n": 1}))
        .await;
    let _john =
        f.doc(&c, json!({"firstName": "John", "lastName": "Doe", "tags": ["a"], "n": "1"})).await;
    let _mgr = f.doc(&m, json!({"firstName": "Jane", "lastName": "Doe"})).await;
    let find = |filter: serde_json::Value| {
        let store = f.store.clone();
        let c = c.clone();
        async move {
            let p = store.find_documents(&c, &fields(filter), None, 10).await.unwrap();
            p.data.into_iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(find(json!({"firstName": "Jane", "lastName": "Doe"})).await, [jane.id]);
    assert_eq!(find(json!({"lastName": "Doe"})).await.len(), 2);
    assert_eq!(find(json!({"tags": ["a"]})).await.len(), 1, "arrays compare whole, not as subsets");
    assert_eq!(find(json!({"tags": ["b", "a"]})).await.len(), 0, "array order matters");
    assert_eq!(find(json!({"n": 1})).await, [jane.id], "numbers and strings differ");
    assert_eq!(find(json!({"firstName": "jane"})).await.len(), 0, "case-sensitive");
    assert_eq!(find(json!({"missing": "x"})).await.len(), 0);
    assert_eq!(find(json!({"firstName": "Jane' OR '1'='1"})).await.len(), 0);
    assert_eq!(find(json!({})).await.len(), 2);
    assert_not_found(f.store.find_documents(&name("Nope"), &Fields::new(), None, 10).await);
}

/// Lookup pages through matches in id order.
pub async fn find_documents_paginates(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let mut expected = Vec::new();
    for i in 0..25 {
        let d = f.doc(&c, json!({"group": i % 2, "i": i})).await;
        if i % 2 == 0 {
            expected.push(d.id);
        }
    }
    let filter = fields(json!({"group": 0}));
    let mut got = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let p = f.store.find_documents(&c, &filter, after, 5).await.unwrap();
        assert!(p.data.len() <= 5);
        got.extend(p.data.iter().map(|d| d.id));
        pages += 1;
        match p.after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    assert_eq!(got, expected);
    assert_eq!(pages, 3);
}

/// One credential per document; lookups by id and document; hash updates; deletion.
pub async fn credentials_one_per_document(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let cred = f.cred(&d.doc_ref(), Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
    f.store.create_credential(&cred).await.unwrap();
    assert_eq!(f.store.credential_by_id(cred.credential.id).await.unwrap(), cred);
    assert_eq!(f.store.credential_by_document(&d.doc_ref()).await.unwrap(), cred);
    let second = f.cred(&d.doc_ref(), Some("other"));
    assert_conflict(
        f.store.create_credential(&second).await,
        crate::constraint::CREDENTIAL_DOCUMENT,
    );
    assert_not_found(f.store.credential_by_id(second.credential.id).await);

    let t = now().plus_seconds(5);
    let (updated, revoked) = f
        .store
        .update_credential_hash(
            cred.credential.id,
            &PasswordHash::new("new".into()),
            t,
            Revoke::Nothing,
            None,
        )
        .await
        .unwrap();
    assert_eq!((updated.ts, revoked), (t, 0));
    let back = f.store.credential_by_document(&d.doc_ref()).await.unwrap();
    assert_eq!(back.hash, Some(PasswordHash::new("new".into())));
    assert_eq!(back.credential.ts, t);

    assert_eq!(f.store.delete_credential(cred.credential.id).await.unwrap().1, 0);
    assert_not_found(f.store.credential_by_document(&d.doc_ref()).await);
    assert_not_found(f.store.delete_credential(cred.credential.id).await);
    assert_not_found(
        f.store
            .update_credential_hash(
                cred.credential.id,
                &PasswordHash::new("x".into()),
                t,
                Revoke::AllExcept(None),
                None,
            )
            .await,
    );
    // Once deleted, the document may get a new one.
    f.store.create_credential(&f.cred(&d.doc_ref(), Some("h"))).await.unwrap();
}

/// A credential may have no password hash.
pub async fn credential_without_password(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let mut cred = f.cred(&d.doc_ref(), None);
    cred.credential.data = Some(Data::parse_value(json!({"note": "sso only"})).unwrap());
    f.store.create_credential(&cred).await.unwrap();
    assert_eq!(f.store.credential_by_id(cred.credential.id).await.unwrap(), cred);
}

/// A credential needs its document to exist, in the collection named.
pub async fn credential_needs_existing_document(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let m = f.coll("Manager").await;
    let missing = DocRef::new(c.clone(), f.id());
    assert_not_found(f.store.create_credential(&f.cred(&missing, Some("h"))).await);
    let d = f.doc(&c, json!({})).await;
    let wrong_coll = DocRef::new(m, d.id);
    assert_not_found(f.store.create_credential(&f.cred(&wrong_coll, Some("h"))).await);
    assert_not_found(f.store.credential_by_document(&d.doc_ref()).await);
    assert_not_found(f.store.credential_by_document(&missing).await);
}

/// Tokens: create, by digest (waiting or, where the backend answers at once, not), by id,
/// delete once.
pub async fn tokens_lifecycle(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let ttl = now().plus_seconds(3600);
    let (t, dg) = f.add_token(&d.doc_ref(), Some(ttl)).await;
    assert_eq!(f.store.token_by_digest(&dg).await.unwrap(), t);
    assert_eq!(f.store.token_by_id(t.id).await.unwrap(), t);
    assert_not_found(f.store.token_by_digest(&digest(1)).await);
    if let Some(now) = f.store.token_by_digest_now(&dg) {
        assert_eq!(now.unwrap(), t);
    }
    if let Some(now) = f.store.token_by_digest_now(&digest(1)) {
        assert_not_found(now);
    }
    let missing = DocRef::new(c, f.id());
    assert_not_found(f.store.create_token(&f.token(&missing, None), &digest(2), None).await);

    assert!(f.store.delete_token(t.id).await.unwrap());
    assert!(!f.store.delete_token(t.id).await.unwrap());
    assert_not_found(f.store.token_by_digest(&dg).await);
    if let Some(now) = f.store.token_by_digest_now(&dg) {
        assert_not_found(now);
    }
    assert_not_found(f.store.token_by_id(t.id).await);
}

/// A document's tokens list in id order, paginated; other documents' are not listed.
pub async fn tokens_by_document_paginate(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let a = f.doc(&c, json!({})).await;
    let b = f.doc(&c, json!({})).await;
    let mut expected = Vec::new();
    for _ in 0..7 {
        expected.push(f.add_token(&a.doc_ref(), None).await.0.id);
        f.add_token(&b.doc_ref(), None).await;
    }
    let p1 = f.store.tokens_by_document(&a.doc_ref(), None, 4).await.unwrap();
    let p2 = f.store.tokens_by_document(&a.doc_ref(), p1.after, 4).await.unwrap();
    assert_eq!(p2.after, None);
    let got: Vec<DocId> = p1.data.iter().chain(&p2.data).map(|t| t.id).collect();
    assert_eq!(got, expected);
    let none = f.store.tokens_by_document(&DocRef::new(c, f.id()), None, 4).await.unwrap();
    assert!(none.data.is_empty() && none.after.is_none());
}

/// Log out everywhere, optionally keeping the caller's own token.
pub async fn delete_tokens_of_document_keeps_the_exception(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let a = f.doc(&c, json!({})).await;
    let b = f.doc(&c, json!({})).await;
    let (keep, keep_dg) = f.add_token(&a.doc_ref(), None).await;
    let mut gone = Vec::new();
    for _ in 0..3 {
        gone.push(f.add_token(&a.doc_ref(), None).await);
    }
    let (other, _) = f.add_token(&b.doc_ref(), None).await;
    assert_eq!(f.store.delete_tokens_of_document(&a.doc_ref(), Some(keep.id)).await.unwrap(), 3);
    for (t, dg) in gone {
        assert_not_found(f.store.token_by_digest(&dg).await);
        assert_not_found(f.store.token_by_id(t.id).await);
    }
    assert_eq!(f.store.token_by_digest(&keep_dg).await.unwrap(), keep);
    assert_eq!(f.store.token_by_id(other.id).await.unwrap(), other);
    assert_eq!(f.store.delete_tokens_of_document(&a.doc_ref(), None).await.unwrap(), 1);
    assert_eq!(f.store.delete_tokens_of_document(&a.doc_ref(), None).await.unwrap(), 0);
}

/// The sweep deletes only tokens with `ttl <= now`, at most `limit` per call.
pub async fn expired_tokens_are_swept_in_bounded_batches(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    for i in 0..25 {
        f.add_token(&d.doc_ref(), Some(now().plus_seconds(-i))).await;
    }
    let (at_now, _) = f.add_token(&d.doc_ref(), Some(now().plus_micros(1))).await;
    let mut live = Vec::new();
    for i in 1..=4 {
        live.push(f.add_token(&d.doc_ref(), Some(now().plus_seconds(i))).await.0);
    }
    live.push(f.add_token(&d.doc_ref(), None).await.0);
    // 25 expired at now(), 1 expiring a microsecond later, 5 live.
    assert_eq!(f.store.count_active_tokens(now()).await.unwrap(), 6);
    assert_eq!(f.store.count_active_tokens(now().plus_micros(1)).await.unwrap(), 5);
    assert_eq!(f.store.delete_expired_tokens(now(), 10).await.unwrap(), 10);
    assert_eq!(f.store.delete_expired_tokens(now(), 10).await.unwrap(), 10);
    assert_eq!(f.store.delete_expired_tokens(now(), 10).await.unwrap(), 5);
    assert_eq!(f.store.delete_expired_tokens(now(), 10).await.unwrap(), 0);
    // ttl == now counts as expired.
    assert_eq!(f.store.delete_expired_tokens(now().plus_micros(1), 10).await.unwrap(), 1);
    assert_not_found(f.store.token_by_id(at_now.id).await);
    for t in live {
        assert_eq!(f.store.token_by_id(t.id).await.unwrap(), t);
    }
}

/// Keys: create, by digest, by id, list, delete once.
pub async fn keys_lifecycle(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let mut made = Vec::new();
    for (i, role) in
        [Role::Admin, Role::Server, Role::ServerReadonly, Role::Server].into_iter().enumerate()
    {
        let mut k = f.key(role);
        if i == 1 {
            k.ttl = Some(now().plus_seconds(60));
            k.data = Some(Data::parse_value(json!({"owner": "billing"})).unwrap());
        }
        let dg = digest(k.id.get());
        f.store.create_key(&k, &dg).await.unwrap();
        assert_eq!(f.store.key_by_digest(&dg).await.unwrap(), k);
        assert_eq!(f.store.key_by_id(k.id).await.unwrap(), k);
        assert_conflict(
            f.store.create_key(&Key { id: f.id(), ..k.clone() }, &dg).await,
            crate::constraint::SECRET_DIGEST,
        );
        made.push((k, dg));
    }
    let p1 = f.store.list_keys(None, 3).await.unwrap();
    let p2 = f.store.list_keys(p1.after, 3).await.unwrap();
    let listed: Vec<Key> = p1.data.into_iter().chain(p2.data).collect();
    assert_eq!(listed, made.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>());
    assert_eq!(p2.after, None);
    let (k, dg) = &made[0];
    assert!(f.store.delete_key(k.id).await.unwrap());
    assert!(!f.store.delete_key(k.id).await.unwrap());
    assert_not_found(f.store.key_by_digest(dg).await);
    assert_not_found(f.store.key_by_id(k.id).await);
}

/// A digest identifies at most one token.
pub async fn secret_digests_are_unique(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let (t, dg) = f.add_token(&d.doc_ref(), None).await;
    let dup = f.token(&d.doc_ref(), None);
    assert_conflict(f.store.create_token(&dup, &dg, None).await, crate::constraint::SECRET_DIGEST);
    assert_not_found(f.store.token_by_id(dup.id).await);
    assert_eq!(f.store.token_by_digest(&dg).await.unwrap(), t);
    let same_id = Token { ttl: Some(now()), ..t.clone() };
    assert_conflict(f.store.create_token(&same_id, &digest(9), None).await, crate::constraint::ID);
}

/// Deleting an identity removes its credential and all its tokens at once.
pub async fn document_delete_cascades_to_credential_and_tokens(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({"firstName": "Jane"})).await;
    let keep = f.doc(&c, json!({"firstName": "John"})).await;
    let cred = f.cred(&d.doc_ref(), Some("h"));
    f.store.create_credential(&cred).await.unwrap();
    let tokens: Vec<_> = futures_join(&f, &d.doc_ref(), 3).await;
    let (kt, kdg) = f.add_token(&keep.doc_ref(), None).await;
    f.store.delete_document(&d.doc_ref()).await.unwrap();
    assert_not_found(f.store.credential_by_id(cred.credential.id).await);
    for (t, dg) in tokens {
        assert_not_found(f.store.token_by_digest(&dg).await);
        assert_not_found(f.store.token_by_id(t.id).await);
    }
    assert!(f.store.tokens_by_document(&d.doc_ref(), None, 10).await.unwrap().data.is_empty());
    assert_eq!(f.store.token_by_digest(&kdg).await.unwrap(), kt);
    // Re-creating a document with the same id does not bring old tokens back.
    f.store.create_document(&d).await.unwrap();
    assert!(f.store.tokens_by_document(&d.doc_ref(), None, 10).await.unwrap().data.is_empty());
    assert_not_found(f.store.credential_by_document(&d.doc_ref()).await);
}

async fn futures_join(f: &Fixture, doc: &DocRef, n: usize) -> Vec<(Token, SecretDigest)> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(f.add_token(doc, None).await);
    }
    out
}

/// Times, metadata and unicode come back exactly as written.
pub async fn metadata_roundtrips_exactly(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let v = json!({
        "name": "Zoë 🦀 \"quoted\" \\ back",
        "nested": {"a": [1, 2.5, -3, true, null, {"b": "c"}], "empty": {}},
        "big": 9007199254740993u64,
        "sql": "'; DROP TABLE documents; --",
    });
    let d = f.doc(&c, v.clone()).await;
    let back = f.store.get_document(&d.doc_ref()).await.unwrap();
    assert_eq!(serde_json::Value::Object(back.fields.as_map().clone()), v);
    assert_eq!(back.ts, now());
    let mut t = f.token(&d.doc_ref(), Some(Timestamp::from_micros(1_795_862_043_249_743).unwrap()));
    t.data = Some(Data::parse_value(json!({"device": "phone", "n": [1]})).unwrap());
    t.origin = TokenOrigin::Create;
    let dg = digest(3);
    f.store.create_token(&t, &dg, None).await.unwrap();
    assert_eq!(f.store.token_by_digest(&dg).await.unwrap(), t);
}
