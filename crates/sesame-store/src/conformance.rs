//! The conformance suite: what every [`Store`] backend must do, case by case.
//!
//! Each case is a public async fn taking a fresh, empty store; [`store_conformance!`] expands into
//! one named `#[tokio::test]` per case for a [`Harness`]. The memory backend runs it in this
//! crate's tests and `sesame-postgres` runs it unchanged. Cases may fill the store they are given
//! with anything; never point a harness at data you care about. Not a stable API.
//!
//! [`store_conformance!`]: crate::store_conformance

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use sesame_model::{
    AuditEvent, AuditKind, Collection, CollectionName, Credential, Data, DocId, DocRef, Document,
    Fields, IdGenerator, Key, PasswordHash, Role, SecretDigest, Timestamp, Token, TokenOrigin,
};

use crate::{
    constraint, AuditFilter, Reservation, Revoke, Store, StoreError, StoredCredential,
    ThrottlePolicy, VerifiedWith,
};

/// Makes fresh stores for the suite.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Dropped after the case; cleans up whatever `fresh` made.
    type Guard: Send;
    /// A fresh, empty store, or `None` to skip the case (the harness says why, loudly).
    async fn fresh(&self) -> Option<(Self::Guard, Arc<dyn Store>)>;
}

/// Expands into one `#[tokio::test]` per conformance case, each with a fresh store from the
/// harness expression. The calling crate needs `tokio` with `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! store_conformance {
    ($harness:expr) => {
        $crate::__conformance_cases!($harness;
            ping_answers,
            collections_roundtrip_and_unique_names,
            collections_paginate_by_name,
            collection_delete_cascades,
            documents_crud,
            document_create_needs_collection_and_unique_id,
            find_documents_by_exact_equality,
            find_documents_paginates,
            credentials_one_per_document,
            password_change_revokes_tokens_atomically,
            credential_delete_revokes_all_tokens,
            credential_without_password,
            credential_needs_existing_document,
            tokens_lifecycle,
            tokens_by_document_paginate,
            delete_tokens_of_document_keeps_the_exception,
            expired_tokens_are_swept_in_bounded_batches,
            keys_lifecycle,
            secret_digests_are_unique,
            document_delete_cascades_to_credential_and_tokens,
            metadata_roundtrips_exactly,
            login_failures_count_and_reset,
            reservations_follow_the_delay_schedule,
            concurrent_reservations_grant_only_what_the_schedule_allows,
            concurrent_reservations_across_stores_share_the_count,
            login_token_needs_the_verified_hash,
            rehash_is_conditional_on_the_verified_hash,
            logins_racing_a_password_change_leave_no_token,
            logins_racing_a_credential_delete_leave_no_token,
            numbers_match_exactly_not_numerically,
            collections_order_by_bytes_with_mixed_case,
            audit_trail_appends_filters_and_expires,
            token_session_metadata_roundtrips_and_touches_are_coarse,
            concurrent_credential_creations_have_one_winner,
            concurrent_token_deletions_have_one_winner,
            document_deleted_during_credential_creation_leaves_no_orphan,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let harness = $harness;
                let Some((_guard, store)) =
                    $crate::conformance::Harness::fresh(&harness).await else { return };
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

// ----- helpers ------------------------------------------------------------------------------

fn ids() -> IdGenerator {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).expect("OS random source");
    IdGenerator::new(u16::from_le_bytes(b))
}

fn now() -> Timestamp {
    // A fixed, realistic time; stores never read a clock.
    Timestamp::from_micros(1_795_862_043_249_742).unwrap()
}

fn name(s: &str) -> CollectionName {
    s.parse().unwrap()
}

fn fields(v: serde_json::Value) -> Fields {
    Fields::parse_value(v).unwrap()
}

fn digest(n: u64) -> SecretDigest {
    SecretDigest::of(&format!("conformance-secret-{n}-{}", ids().next(now())))
}

struct Fixture {
    store: Arc<dyn Store>,
    ids: IdGenerator,
}

impl Fixture {
    fn new(store: Arc<dyn Store>) -> Self {
        Fixture { store, ids: ids() }
    }
    fn id(&self) -> DocId {
        self.ids.next(now())
    }
    async fn coll(&self, n: &str) -> CollectionName {
        let c = Collection { name: name(n), ts: now() };
        self.store.create_collection(&c).await.unwrap();
        c.name
    }
    async fn doc(&self, coll: &CollectionName, v: serde_json::Value) -> Document {
        let d = Document { id: self.id(), coll: coll.clone(), ts: now(), fields: fields(v) };
        self.store.create_document(&d).await.unwrap();
        d
    }
    fn cred(&self, doc: &DocRef, hash: Option<&str>) -> StoredCredential {
        StoredCredential {
            credential: Credential { id: self.id(), document: doc.clone(), ts: now(), data: None },
            hash: hash.map(|h| PasswordHash::new(h.into())),
        }
    }
    fn token(&self, doc: &DocRef, ttl: Option<Timestamp>) -> Token {
        Token {
            id: self.id(),
            document: doc.clone(),
            ts: now(),
            ttl,
            data: None,
            origin: TokenOrigin::Login,
            client: Default::default(),
            last_used: None,
        }
    }
    async fn add_token(&self, doc: &DocRef, ttl: Option<Timestamp>) -> (Token, SecretDigest) {
        let t = self.token(doc, ttl);
        let d = digest(t.id.get());
        self.store.create_token(&t, &d, None).await.unwrap();
        (t, d)
    }
    fn key(&self, role: Role) -> Key {
        Key { id: self.id(), role, ts: now(), ttl: None, data: None }
    }
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("expected not_found, got {other:?}"),
    }
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, constraint: &str) {
    match r {
        Err(StoreError::Conflict { constraint: c }) if c == constraint => {}
        other => panic!("expected conflict on {constraint}, got {other:?}"),
    }
}

// ----- cases --------------------------------------------------------------------------------

/// `ping` succeeds on a healthy store.
pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

/// Collections: create, read, unique names, not found.
pub async fn collections_roundtrip_and_unique_names(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = Collection { name: name("Customer"), ts: now() };
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

/// Tokens: create, by digest, by id, delete once.
pub async fn tokens_lifecycle(store: Arc<dyn Store>) {
    let f = Fixture::new(store);
    let c = f.coll("Customer").await;
    let d = f.doc(&c, json!({})).await;
    let ttl = now().plus_seconds(3600);
    let (t, dg) = f.add_token(&d.doc_ref(), Some(ttl)).await;
    assert_eq!(f.store.token_by_digest(&dg).await.unwrap(), t);
    assert_eq!(f.store.token_by_id(t.id).await.unwrap(), t);
    assert_not_found(f.store.token_by_digest(&digest(1)).await);
    let missing = DocRef::new(c, f.id());
    assert_not_found(f.store.create_token(&f.token(&missing, None), &digest(2), None).await);

    assert!(f.store.delete_token(t.id).await.unwrap());
    assert!(!f.store.delete_token(t.id).await.unwrap());
    assert_not_found(f.store.token_by_digest(&dg).await);
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
