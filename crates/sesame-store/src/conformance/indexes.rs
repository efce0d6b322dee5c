//! Conformance cases: indexes (maintenance, backfill, ordering), scans and their cursors, and
//! unique constraints.

use serde_json::Value;
use sesame_model::{FieldPath, IndexDef, IndexValue, UniqueConstraint};

use super::*;
use crate::{Cursor, Page};

fn path(s: &str) -> FieldPath {
    s.parse().unwrap()
}

fn index(n: &str, terms: &[&str], values: &[(&str, bool)]) -> IndexDef {
    IndexDef::new(
        n.parse().unwrap(),
        terms.iter().map(|t| path(t)).collect(),
        values.iter().map(|(p, desc)| IndexValue { path: path(p), desc: *desc }).collect(),
    )
    .unwrap()
}

fn unique(fields: &[&str]) -> UniqueConstraint {
    UniqueConstraint::new(fields.iter().map(|f| path(f)).collect()).unwrap()
}

impl Fixture {
    async fn defined(&self, n: &str, f: impl FnOnce(Collection) -> Collection) -> CollectionName {
        let c = f(Collection::new(name(n), now()));
        self.store.create_collection(&c).await.unwrap();
        c.name
    }

    /// Every document of the scan, following cursors `limit` at a time (through their string
    /// form).
    async fn scan_all(
        &self,
        c: &CollectionName,
        idx: &str,
        terms: &[Value],
        limit: usize,
    ) -> Vec<DocId> {
        let (mut out, mut after) = (Vec::new(), None::<Cursor>);
        loop {
            let page = self.store.scan_index(c, idx, terms, after.as_ref(), limit).await.unwrap();
            assert!(page.data.len() <= limit);
            out.extend(page.data.iter().map(|d| d.id));
            match page.after {
                Some(cur) => after = Some(cur.to_string().parse().unwrap()),
                None => return out,
            }
        }
    }
}

/// Index entries are added, moved and removed with every document write, including the
/// cascade of a collection delete; missing or `null` terms are not indexed.
pub async fn index_entries_follow_every_write(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f
        .defined("Customer", |c| {
            c.with_index(index("byEmail", &["email"], &[("lastName", false)]))
                .unwrap()
                .with_index(index("byCity", &[".address.city"], &[]))
                .unwrap()
        })
        .await;
    let a = f.doc(&c, json!({"email": "a@x", "lastName": "B", "address": {"city": "Oslo"}})).await;
    let b = f.doc(&c, json!({"email": "a@x", "lastName": "A"})).await;
    let none = f.doc(&c, json!({"lastName": "C", "address": {"city": null}})).await;
    assert_eq!(f.scan_all(&c, "byEmail", &[json!("a@x")], 10).await, vec![b.id, a.id]);
    assert_eq!(f.scan_all(&c, "byCity", &[json!("Oslo")], 10).await, vec![a.id]);
    assert!(f.scan_all(&c, "byEmail", &[json!(null)], 10).await.is_empty());
    assert!(f.scan_all(&c, "byEmail", &[json!("a@x"), json!(1)], 10).await.is_empty());

    store.update_document(&b.doc_ref(), &fields(json!({"email": "b@x"})), now()).await.unwrap();
    assert_eq!(f.scan_all(&c, "byEmail", &[json!("a@x")], 10).await, vec![a.id]);
    assert_eq!(f.scan_all(&c, "byEmail", &[json!("b@x")], 10).await, vec![b.id]);
    store.update_document(&none.doc_ref(), &fields(json!({"email": "a@x"})), now()).await.unwrap();
    assert_eq!(f.scan_all(&c, "byEmail", &[json!("a@x")], 10).await, vec![a.id, none.id]);

    store
        .replace_document(&a.doc_ref(), &fields(json!({"email": "b@x", "lastName": "Z"})), now())
        .await
        .unwrap();
    assert_eq!(f.scan_all(&c, "byEmail", &[json!("b@x")], 10).await, vec![b.id, a.id]);
    assert!(f.scan_all(&c, "byCity", &[json!("Oslo")], 10).await.is_empty());

    store.delete_document(&b.doc_ref()).await.unwrap();
    assert_eq!(f.scan_all(&c, "byEmail", &[json!("b@x")], 10).await, vec![a.id]);
    let page = store.scan_index(&c, "byEmail", &[json!("b@x")], None, 10).await.unwrap();
    assert_eq!(page.data[0].fields, fields(json!({"email": "b@x", "lastName": "Z"})));

    store.delete_collection(&c).await.unwrap();
    let c =
        f.defined("Customer", |c| c.with_index(index("byEmail", &["email"], &[])).unwrap()).await;
    assert!(f.scan_all(&c, "byEmail", &[json!("b@x")], 10).await.is_empty());
    assert_not_found(store.scan_index(&c, "nope", &[json!(1)], None, 1).await);
    assert_not_found(store.scan_index(&name("Nope"), "byEmail", &[json!(1)], None, 1).await);
}

/// `update_collection` backfills an added index from existing documents and drops a removed
/// one's entries; the scan of a removed index is `not_found`.
pub async fn adding_an_index_backfills_and_removing_drops_it(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f.coll("Customer").await;
    let mut want = Vec::new();
    for i in 0..5 {
        let d = f.doc(&c, json!({"team": i % 2, "rank": 10 - i})).await;
        if i % 2 == 0 {
            want.push(d.id);
        }
    }
    want.reverse(); // by rank ascending: i = 4, 2, 0
    let def = store.get_collection(&c).await.unwrap();
    let with = def.clone().with_index(index("byTeam", &["team"], &[("rank", false)])).unwrap();
    store.update_collection(&with).await.unwrap();
    assert_eq!(store.get_collection(&c).await.unwrap().indexes, with.indexes);
    assert_eq!(f.scan_all(&c, "byTeam", &[json!(0)], 2).await, want);
    let late = f.doc(&c, json!({"team": 0, "rank": 0})).await;
    want.insert(0, late.id);
    assert_eq!(f.scan_all(&c, "byTeam", &[json!(0)], 2).await, want);

    // Changing the definition under the same name rebuilds it.
    let desc = def.clone().with_index(index("byTeam", &["team"], &[("rank", true)])).unwrap();
    store.update_collection(&desc).await.unwrap();
    want.reverse();
    assert_eq!(f.scan_all(&c, "byTeam", &[json!(0)], 2).await, want);

    store.update_collection(&def).await.unwrap();
    assert_not_found(store.scan_index(&c, "byTeam", &[json!(0)], None, 10).await);
    store.update_collection(&with).await.unwrap();
    want.reverse();
    assert_eq!(f.scan_all(&c, "byTeam", &[json!(0)], 3).await, want);
    assert_not_found(store.update_collection(&Collection::new(name("Nope"), now())).await);
}

/// Values order entries by the one encoding (null < false < true < numbers < strings < arrays
/// < objects), ascending or descending per value, ties broken by id ascending either way.
pub async fn index_values_order_asc_desc_mixed_types_ties_by_id(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f
        .defined("Thing", |c| {
            c.with_index(index("asc", &[], &[("v", false)]))
                .unwrap()
                .with_index(index("desc", &[], &[("v", true)]))
                .unwrap()
                .with_index(index("pair", &["k"], &[("a", false), ("b", true)]))
                .unwrap()
        })
        .await;
    let ascending = [
        json!(null),
        json!(false),
        json!(true),
        json!(-2.5),
        json!(1),
        json!(1.0),
        json!(9_007_199_254_740_993_i64),
        json!("B"),
        json!("a"),
        json!("ab"),
        json!([]),
        json!([1, "x"]),
        json!({"a": 1}),
    ];
    // Created in a scrambled order; each value twice (the second copy has the larger id), and
    // `null` once as a missing field.
    let mut by_value: Vec<Vec<DocId>> = vec![Vec::new(); ascending.len()];
    for round in 0..2 {
        for i in [7, 0, 12, 3, 9, 1, 11, 5, 2, 10, 4, 8, 6] {
            let v = &ascending[i];
            let doc = if v.is_null() && round == 0 { json!({}) } else { json!({ "v": v }) };
            by_value[i].push(f.doc(&c, doc).await.id);
        }
    }
    let asc: Vec<DocId> = by_value.iter().flatten().copied().collect();
    let desc: Vec<DocId> = by_value.iter().rev().flatten().copied().collect();
    assert_eq!(f.scan_all(&c, "asc", &[], 4).await, asc);
    assert_eq!(f.scan_all(&c, "desc", &[], 5).await, desc);

    let p1 = f.doc(&c, json!({"k": 1, "a": 1, "b": 1})).await.id;
    let p2 = f.doc(&c, json!({"k": 1, "a": 1, "b": 2})).await.id;
    let p3 = f.doc(&c, json!({"k": 1, "a": 0, "b": 0})).await.id;
    let p4 = f.doc(&c, json!({"k": 1, "a": 1, "b": 2})).await.id;
    assert_eq!(f.scan_all(&c, "pair", &[json!(1)], 1).await, vec![p3, p2, p4, p1]);
    assert!(f.scan_all(&c, "pair", &[json!(1.0)], 1).await.is_empty(), "terms are type-strict");
}

/// Cursors resume exactly where a page ended (index and collection scans); a cursor of
/// another collection, index or terms, of the other kind of scan, or garbled, is
/// `invalid_cursor`.
pub async fn cursors_round_trip_and_tampering_is_refused(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let idx = |c: Collection| {
        c.with_index(index("byTag", &["tag"], &[]))
            .unwrap()
            .with_index(index("all", &[], &[]))
            .unwrap()
    };
    let c = f.defined("Customer", idx).await;
    let other = f.defined("Other", idx).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(f.doc(&c, json!({"tag": "x"})).await.id);
        f.doc(&other, json!({"tag": "x"})).await;
    }
    assert_eq!(f.scan_all(&c, "byTag", &[json!("x")], 2).await, ids);
    assert_eq!(f.scan_all(&c, "all", &[], 1).await, ids);

    let page = store.scan_index(&c, "byTag", &[json!("x")], None, 2).await.unwrap();
    let cur = page.after.unwrap();
    let next = store.scan_index(&c, "byTag", &[json!("x")], Some(&cur), 2).await.unwrap();
    assert_eq!(next.data.iter().map(|d| d.id).collect::<Vec<_>>(), ids[2..4]);

    let coll_page = store.scan_collection(&c, None, 2).await.unwrap();
    let coll_cur = coll_page.after.clone().unwrap();
    let mut all = coll_page.data.iter().map(|d| d.id).collect::<Vec<_>>();
    let mut after = Some(coll_cur.clone());
    while let Some(a) = after {
        let p = store.scan_collection(&c, Some(&a), 2).await.unwrap();
        all.extend(p.data.iter().map(|d| d.id));
        after = p.after;
    }
    assert_eq!(all, ids);

    let invalid = |r: Result<Page<Document, Cursor>, StoreError>| match r {
        Err(StoreError::InvalidCursor) => {}
        other => panic!("expected invalid_cursor, got {other:?}"),
    };
    invalid(store.scan_index(&other, "byTag", &[json!("x")], Some(&cur), 2).await);
    invalid(store.scan_index(&c, "all", &[], Some(&cur), 2).await);
    invalid(store.scan_index(&c, "byTag", &[json!("y")], Some(&cur), 2).await);
    invalid(store.scan_index(&c, "byTag", &[json!("x")], Some(&coll_cur), 2).await);
    invalid(store.scan_collection(&other, Some(&coll_cur), 2).await);
    invalid(store.scan_collection(&c, Some(&cur), 2).await);
    let s = cur.to_string();
    let garbled = format!("{}{}", &s[..s.len() - 2], if s.ends_with("AA") { "BB" } else { "AA" });
    assert!(matches!(garbled.parse::<Cursor>(), Err(StoreError::InvalidCursor)));
    assert!(matches!("not a cursor".parse::<Cursor>(), Err(StoreError::InvalidCursor)));
    assert_eq!(StoreError::InvalidCursor.code(), "invalid_cursor");
    assert_not_found(store.scan_collection(&name("Nope"), None, 2).await);
}

/// A unique constraint refuses a second document with exactly equal values (on create,
/// update and replace), named `unique:<Coll>.<name>`; deleting or changing the holder frees
/// the value; documents missing the field are not constrained.
pub async fn unique_constraints_conflict_by_name(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f
        .defined("Customer", |c| {
            c.with_constraint(unique(&["email"]))
                .unwrap()
                .with_constraint(unique(&[".name.first", ".name.last"]))
                .unwrap()
        })
        .await;
    let by_email = constraint::unique(&c, "unique_email");
    assert_eq!(by_email, "unique:Customer.unique_email");
    let a = f.doc(&c, json!({"email": "a@x"})).await;
    let dup = Document {
        id: f.id(),
        coll: c.clone(),
        ts: now(),
        fields: fields(json!({"email": "a@x"})),
    };
    assert_conflict(store.create_document(&dup).await, &by_email);
    assert_not_found(store.get_document(&dup.doc_ref()).await);
    f.doc(&c, json!({"email": 1})).await;
    f.doc(&c, json!({"email": 1.0})).await; // type-strict: a different value
    f.doc(&c, json!({})).await;
    f.doc(&c, json!({})).await; // missing: unconstrained
    let b = f.doc(&c, json!({"email": "b@x"})).await;
    assert_conflict(
        store.update_document(&b.doc_ref(), &fields(json!({"email": "a@x"})), now()).await,
        &by_email,
    );
    assert_conflict(
        store.replace_document(&b.doc_ref(), &fields(json!({"email": "a@x"})), now()).await,
        &by_email,
    );
    assert_eq!(store.get_document(&b.doc_ref()).await.unwrap().fields, b.fields);
    store.update_document(&a.doc_ref(), &fields(json!({"email": "c@x"})), now()).await.unwrap();
    store.update_document(&b.doc_ref(), &fields(json!({"email": "a@x"})), now()).await.unwrap();
    store.delete_document(&b.doc_ref()).await.unwrap();
    f.doc(&c, json!({"email": "a@x"})).await;

    let by_name = constraint::unique(&c, "unique_name_first_name_last");
    f.doc(&c, json!({"name": {"first": "A", "last": "B"}})).await;
    f.doc(&c, json!({"name": {"first": "A", "last": "C"}})).await;
    f.doc(&c, json!({"name": {"first": "A"}})).await;
    f.doc(&c, json!({"name": {"first": "A"}})).await;
    let d = Document {
        id: f.id(),
        coll: c.clone(),
        ts: now(),
        fields: fields(json!({"name": {"first": "A", "last": "B"}})),
    };
    assert_conflict(store.create_document(&d).await, &by_name);
}

/// Adding a unique constraint that existing documents violate is a conflict named after it,
/// and changes nothing (not even the indexes added in the same definition).
pub async fn unique_constraint_on_duplicate_data_is_refused(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f.coll("Customer").await;
    f.doc(&c, json!({"email": "a@x"})).await;
    f.doc(&c, json!({"email": "a@x"})).await;
    let before = store.get_collection(&c).await.unwrap();
    let new = before
        .clone()
        .with_index(index("byEmail", &["email"], &[]))
        .unwrap()
        .with_constraint(unique(&["email"]))
        .unwrap();
    assert_conflict(store.update_collection(&new).await, "unique:Customer.unique_email");
    assert_eq!(store.get_collection(&c).await.unwrap(), before);
    assert_not_found(store.scan_index(&c, "byEmail", &[json!("a@x")], None, 1).await);
    let fresh = f.defined("Fresh", |c| c.with_constraint(unique(&["email"])).unwrap()).await;
    f.doc(&fresh, json!({"email": "a@x"})).await;
}

/// Of 32 concurrent writers of one unique value exactly one wins; the others get the
/// constraint's conflict (never `id`, so no caller retries them with fresh ids).
pub async fn concurrent_unique_writers_have_one_winner(store: Arc<dyn Store>) {
    let f = Fixture::new(store.clone());
    let c = f.defined("Customer", |c| c.with_constraint(unique(&["email"])).unwrap()).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (store, d) = (
            store.clone(),
            Document {
                id: f.id(),
                coll: c.clone(),
                ts: now(),
                fields: fields(json!({"email": "same@x"})),
            },
        );
        tasks.push(tokio::spawn(async move { store.create_document(&d).await }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict { constraint }) => {
                assert_eq!(constraint, "unique:Customer.unique_email")
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    let all = store.scan_collection(&c, None, 100).await.unwrap();
    assert_eq!(all.data.len(), 1);
}
