//! Conformance cases: transactions (atomicity, isolation, timestamps) and retries on contention.

use std::time::Duration;

use super::*;
use crate::{run_in_transaction, StoreTx};

/// Nothing done in a transaction is visible outside before commit; commit shows all of it;
/// a rollback, a drop, or a failed step followed by rollback leaves nothing.
pub async fn transaction_commit_is_atomic_and_rollback_leaves_nothing(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f.coll("Customer").await;
    let tx = store.begin(now()).await.unwrap();
    let d =
        Document { id: f.id(), coll: c.clone(), ts: tx.txn_ts(), fields: fields(json!({"n": 1})) };
    tx.create_document(&d).await.unwrap();
    let cred = f.cred(&d.doc_ref(), Some("$argon2id$x"));
    tx.create_credential(&cred).await.unwrap();
    let t = f.token(&d.doc_ref(), None);
    let dg = digest(t.id.get());
    tx.create_token(&t, &dg, None).await.unwrap();
    assert_eq!(tx.get_document(&d.doc_ref()).await.unwrap(), d, "a transaction sees its writes");
    assert_not_found(store.get_document(&d.doc_ref()).await);
    assert_not_found(store.token_by_digest(&dg).await);
    tx.commit().await.unwrap();
    assert_eq!(store.get_document(&d.doc_ref()).await.unwrap(), d);
    assert_eq!(store.credential_by_id(cred.credential.id).await.unwrap(), cred);
    assert_eq!(store.token_by_digest(&dg).await.unwrap(), t);

    // A failed step: everything before it goes too.
    let tx = store.begin(now()).await.unwrap();
    let e = Document { id: f.id(), coll: c.clone(), ts: tx.txn_ts(), fields: fields(json!({})) };
    tx.create_document(&e).await.unwrap();
    tx.update_document(&d.doc_ref(), &fields(json!({"n": 2})), tx.txn_ts()).await.unwrap();
    let orphan = Document { id: f.id(), coll: name("Nope"), ts: now(), fields: fields(json!({})) };
    assert_not_found(tx.create_document(&orphan).await);
    tx.rollback().await.unwrap();
    assert_not_found(store.get_document(&e.doc_ref()).await);
    assert_eq!(store.get_document(&d.doc_ref()).await.unwrap().fields, d.fields);

    // Dropped without commit.
    let tx = store.begin(now()).await.unwrap();
    tx.delete_document(&d.doc_ref()).await.unwrap();
    tx.create_collection(&Collection::new(name("Later"), now())).await.unwrap();
    drop(tx);
    assert_eq!(store.get_document(&d.doc_ref()).await.unwrap(), d);
    assert_not_found(store.get_collection(&name("Later")).await);
    // The store is usable afterwards (the drop released whatever the transaction held).
    tokio::time::timeout(Duration::from_secs(10), f.doc(&c, json!({"after": true})))
        .await
        .expect("a dropped transaction releases the store");
}

/// Transaction timestamps are the one given, or later than the previous one's.
pub async fn transaction_timestamps_are_monotonic(store: Arc<dyn Store>) {
    let t1 = store.begin(now()).await.unwrap();
    let a = t1.txn_ts();
    t1.commit().await.unwrap();
    let t2 = store.begin(now()).await.unwrap();
    let b = t2.txn_ts();
    t2.commit().await.unwrap();
    assert!(a >= now() && b > a, "{a:?} then {b:?}");
    let later = now().plus_seconds(60);
    let t3 = store.begin(later).await.unwrap();
    assert_eq!(t3.txn_ts(), later);
}

/// Concurrent read-modify-write transactions on one document, through `run_in_transaction`:
/// every increment counts (conflicts are retried, never lost).
pub async fn conflicting_transactions_are_retried_and_all_count(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f.coll("Counter").await;
    let d = f.doc(&c, json!({"n": 0})).await.doc_ref();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, d) = (store.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            run_in_transaction(&*store, now(), 50, move |tx: &dyn StoreTx| {
                let d = d.clone();
                Box::pin(async move {
                    let n = tx.get_document(&d).await?.fields.get("n").and_then(|v| v.as_i64());
                    // Hold the read across a pause so the transactions overlap.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let patch = fields(json!({"n": n.unwrap_or(0) + 1}));
                    tx.update_document(&d, &patch, tx.txn_ts()).await
                })
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.get_document(&d).await.unwrap().fields.get("n"), Some(&json!(4)));
    assert_eq!(StoreError::Contention("x".into()).code(), "contention");
}
