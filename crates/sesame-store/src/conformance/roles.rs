//! Conformance cases: user-defined roles (stored exactly, unique case-sensitive names, byte-order
//! listing, replace and rename, membership lookup, transactions, concurrent creation). Not the
//! shape checks of a role body (those are `RoleDef::parse`'s, tested in `sesame-model`) nor what
//! a role grants (the engine's).

use serde_json::Value;
use sesame_model::{RoleDef, RoleName};

use super::*;

/// A role from its body, stamped `now()` (plus `secs`).
fn role_at(body: Value, secs: i64) -> RoleDef {
    let o = body.as_object().expect("a role body is an object");
    RoleDef::parse(o, now().plus_seconds(secs)).expect("a valid role body")
}

fn role(body: Value) -> RoleDef {
    role_at(body, 0)
}

fn rname(s: &str) -> RoleName {
    s.parse().unwrap()
}

fn names(roles: &[RoleDef]) -> Vec<String> {
    roles.iter().map(|r| r.name.to_string()).collect()
}

/// Every role, following `after` cursors `limit` at a time.
async fn list_all(store: &dyn Store, limit: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after: Option<RoleName> = None;
    loop {
        let p = store.list_roles(after.as_ref(), limit).await.unwrap();
        assert!(p.data.len() <= limit);
        seen.extend(names(&p.data));
        match p.after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    seen
}

/// A role comes back exactly as created: one object or an array (of one, too) as given,
/// predicates and rules in place, data and `ts` intact; a role with only a name has nothing else.
pub async fn roles_roundtrip_exactly(store: Arc<dyn Store>) {
    let bodies = [
        json!({
            "name": "Manager",
            "membership": {"resource": "Employee", "predicate": "e => e.role == \"boss\""},
            "privileges": [
                {"resource": "Customer", "actions": {
                    "read": true,
                    "write": "(old, new) => old.owner == new.owner",
                    "create": false,
                    "delete": "doc => doc.n < 3 && doc.s != \"'; DROP TABLE roles; --\"",
                }},
                {"resource": "Credential", "actions": {"create_with_id": "(d, id) => true"}},
                {"resource": "Token", "actions": {}},
            ],
            "data": {"note": "Zoë 🦀 \"quoted\" \\ back", "n": [1, 2.5, -3, true, null, {"e": {}}]},
        }),
        json!({
            "name": "one_entry_arrays",
            "membership": [{"resource": "Employee"}],
            "privileges": [{"resource": "Customer", "actions": {"read": true}}],
        }),
        json!({
            "name": "_objects",
            "membership": {"resource": "Customer"},
            "privileges": {"resource": "Order", "actions": {"history_read": false, "call": true}},
            "data": {},
        }),
        json!({"name": "empty_arrays", "membership": [], "privileges": []}),
        json!({"name": "NameOnly"}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let r = role_at(body.clone(), i as i64);
        store.create_role(&r).await.unwrap();
        let back = store.get_role(&r.name).await.unwrap();
        assert_eq!(back, r, "{body}");
        assert_eq!(Value::Object(back.body_json()), *body, "echoed as written");
        assert_eq!(back.ts, now().plus_seconds(i as i64));
    }
    let bare = store.get_role(&rname("NameOnly")).await.unwrap();
    assert_eq!((bare.membership, bare.privileges, bare.data), (None, None, None));
    let listed = store.list_roles(None, 10).await.unwrap();
    assert_eq!(listed.data.len(), bodies.len());
    for r in &listed.data {
        assert_eq!(*r, store.get_role(&r.name).await.unwrap(), "listing reads the same rows");
    }
    assert_not_found(store.get_role(&rname("manager")).await);
    assert_not_found(store.get_role(&rname("Nobody")).await);
}

/// A taken name is a `role_name` conflict that changes nothing; names are case-sensitive.
pub async fn role_names_are_unique_and_case_sensitive(store: Arc<dyn Store>) {
    let first = role(json!({"name": "Viewer", "data": {"v": 1}}));
    store.create_role(&first).await.unwrap();
    let again = role(json!({"name": "Viewer", "data": {"v": 2}}));
    assert_conflict(store.create_role(&again).await, constraint::ROLE_NAME);
    assert_eq!(store.get_role(&first.name).await.unwrap(), first);
    let lower = role(json!({"name": "viewer", "data": {"v": 3}}));
    store.create_role(&lower).await.unwrap();
    assert_eq!(store.get_role(&lower.name).await.unwrap(), lower);
    assert_eq!(store.get_role(&first.name).await.unwrap(), first);
    assert_eq!(list_all(&*store, 10).await, ["Viewer", "viewer"]);
}

/// Roles list in byte order (upper case, then `_`, then lower case), `after` exclusive and
/// needing no role of that name; a page exactly full is the last.
pub async fn roles_list_in_byte_order_and_paginate(store: Arc<dyn Store>) {
    for n in ["b", "aa", "B", "_x", "a", "Z9", "A"] {
        store.create_role(&role(json!({ "name": n }))).await.unwrap();
    }
    let want = ["A", "B", "Z9", "_x", "a", "aa", "b"];
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(list_all(&*store, limit).await, want, "limit {limit}");
    }
    let p1 = store.list_roles(None, 2).await.unwrap();
    assert_eq!(
        (names(&p1.data), p1.after.clone()),
        (vec!["A".into(), "B".into()], Some(rname("B")))
    );
    let p2 = store.list_roles(p1.after.as_ref(), 2).await.unwrap();
    assert_eq!(names(&p2.data), ["Z9", "_x"]);
    let full = store.list_roles(None, 7).await.unwrap();
    assert_eq!((full.data.len(), full.after), (7, None), "an exactly full page is the last page");
    let from_gap = store.list_roles(Some(&rname("Zz")), 2).await.unwrap();
    assert_eq!(names(&from_gap.data), ["_x", "a"], "after a name that is not a role");
    let past_end = store.list_roles(Some(&rname("c")), 2).await.unwrap();
    assert_eq!((past_end.data.len(), past_end.after), (0, None));
    let last = store.list_roles(Some(&rname("aa")), 2).await.unwrap();
    assert_eq!((names(&last.data), last.after), (vec!["b".into()], None));
}

/// Replace rewrites a role in place or under a new name; a rename onto a taken name is a
/// `role_name` conflict that changes neither role; replacing a missing role is `NotFound`.
pub async fn roles_replace_and_rename(store: Arc<dyn Store>) {
    let editor = role(json!({"name": "Editor", "membership": {"resource": "Staff"}}));
    let viewer = role(json!({"name": "Viewer", "membership": [{"resource": "Guest"}]}));
    store.create_role(&editor).await.unwrap();
    store.create_role(&viewer).await.unwrap();

    // In place: everything replaced, nothing merged.
    let edited = role_at(
        json!({
            "name": "Editor",
            "privileges": {"resource": "Post", "actions": {"write": "(a, b) => true"}},
            "data": {"v": 2},
        }),
        1,
    );
    store.replace_role(&editor.name, &edited).await.unwrap();
    assert_eq!(store.get_role(&editor.name).await.unwrap(), edited);
    assert!(store.roles_with_member("Staff").await.unwrap().is_empty(), "membership replaced");

    // Rename.
    let author = role_at(json!({"name": "Author", "membership": {"resource": "Staff"}}), 2);
    store.replace_role(&editor.name, &author).await.unwrap();
    assert_not_found(store.get_role(&editor.name).await);
    assert_eq!(store.get_role(&author.name).await.unwrap(), author);
    assert_eq!(list_all(&*store, 10).await, ["Author", "Viewer"]);
    assert_eq!(names(&store.roles_with_member("Staff").await.unwrap()), ["Author"]);

    // Rename onto a taken name: nothing changes.
    let onto = role_at(json!({"name": "Viewer", "data": {"lost": true}}), 3);
    assert_conflict(store.replace_role(&author.name, &onto).await, constraint::ROLE_NAME);
    assert_eq!(store.get_role(&author.name).await.unwrap(), author);
    assert_eq!(store.get_role(&viewer.name).await.unwrap(), viewer);
    assert_eq!(list_all(&*store, 10).await, ["Author", "Viewer"]);

    // A missing role, whatever the new name.
    let ghost = role(json!({"name": "Ghost"}));
    assert_not_found(store.replace_role(&rname("Ghost"), &ghost).await);
    assert_not_found(store.replace_role(&rname("Ghost"), &onto).await);
    assert_not_found(store.replace_role(&rname("author"), &author).await);
    assert_not_found(store.get_role(&rname("Ghost")).await);
    assert_eq!(store.get_role(&viewer.name).await.unwrap(), viewer);

    // Case-only rename is a rename.
    let lower = role_at(json!({"name": "author"}), 4);
    store.replace_role(&author.name, &lower).await.unwrap();
    assert_eq!(list_all(&*store, 10).await, ["Viewer", "author"]);
}

/// Deleting reports whether the role existed, and takes it out of every lookup.
pub async fn roles_delete_reports_existence(store: Arc<dyn Store>) {
    let r = role(json!({"name": "Temp", "membership": {"resource": "Customer"}}));
    let other = role(json!({"name": "temp", "membership": {"resource": "Customer"}}));
    store.create_role(&r).await.unwrap();
    store.create_role(&other).await.unwrap();
    assert!(store.delete_role(&r.name).await.unwrap());
    assert!(!store.delete_role(&r.name).await.unwrap());
    assert!(!store.delete_role(&rname("Never")).await.unwrap());
    assert_not_found(store.get_role(&r.name).await);
    assert_eq!(store.get_role(&other.name).await.unwrap(), other, "case-sensitive delete");
    assert_eq!(list_all(&*store, 10).await, ["temp"]);
    assert_eq!(names(&store.roles_with_member("Customer").await.unwrap()), ["temp"]);
    // The name is free again.
    store.create_role(&r).await.unwrap();
    assert_eq!(store.get_role(&r.name).await.unwrap(), r);
}

/// `roles_with_member` matches a membership entry's resource exactly (no prefix, no case
/// folding), once per role however many entries name it, ascending by name in byte order; a
/// privilege on the collection does not make a role a member's.
pub async fn roles_with_member_match_exactly_in_order(store: Arc<dyn Store>) {
    let bodies = [
        json!({"name": "zeta", "membership": {"resource": "Customer"}}),
        json!({"name": "Alpha", "membership": [
            {"resource": "Customer", "predicate": "c => c.vip"},
            {"resource": "Manager"},
            {"resource": "Customer"},
        ]}),
        json!({"name": "_mid", "membership": [{"resource": "Customer"}]}),
        json!({"name": "beta", "membership": {"resource": "Customers"}}),
        json!({"name": "Gamma", "membership": {"resource": "customer"}}),
        json!({"name": "delta", "membership": {"resource": "Cust"}}),
        json!({"name": "Eps"}),
        json!({"name": "Priv", "privileges": {"resource": "Customer", "actions": {"read": true}}}),
    ];
    let mut all = Vec::new();
    for b in bodies {
        let r = role(b);
        store.create_role(&r).await.unwrap();
        all.push(r);
    }
    let with = |c: &'static str| {
        let store = store.clone();
        async move { names(&store.roles_with_member(c).await.unwrap()) }
    };
    assert_eq!(with("Customer").await, ["Alpha", "_mid", "zeta"]);
    assert_eq!(with("Manager").await, ["Alpha"]);
    assert_eq!(with("customer").await, ["Gamma"]);
    assert_eq!(with("Customers").await, ["beta"]);
    assert_eq!(with("Cust").await, ["delta"]);
    for none in ["Nobody", "", "Custom", "CUSTOMER", "Customer ", "%", "Cust%"] {
        assert!(with(none).await.is_empty(), "{none:?}");
    }
    // Whole roles, as stored.
    let alpha = store.roles_with_member("Manager").await.unwrap();
    assert_eq!(alpha, [all[1].clone()]);
    // Membership changes are followed.
    let moved = role(json!({"name": "zeta", "membership": {"resource": "Manager"}}));
    store.replace_role(&moved.name, &moved).await.unwrap();
    assert_eq!(with("Customer").await, ["Alpha", "_mid"]);
    assert_eq!(with("Manager").await, ["Alpha", "zeta"]);
    assert!(store.delete_role(&rname("Alpha")).await.unwrap());
    assert_eq!(with("Manager").await, ["zeta"]);
}

/// Role writes in a transaction are seen by it, not outside before commit; a rollback (or a
/// drop) leaves nothing, a commit keeps all of it.
pub async fn roles_follow_transactions(store: Arc<dyn Store>) {
    let kept = role(json!({"name": "Kept", "membership": {"resource": "Customer"}}));
    store.create_role(&kept).await.unwrap();

    let tx = store.begin(now()).await.unwrap();
    let r = role(json!({"name": "InTx", "membership": {"resource": "Customer"}}));
    tx.create_role(&r).await.unwrap();
    assert_eq!(tx.get_role(&r.name).await.unwrap(), r, "a transaction sees its writes");
    assert_eq!(names(&tx.list_roles(None, 10).await.unwrap().data), ["InTx", "Kept"]);
    assert_eq!(names(&tx.roles_with_member("Customer").await.unwrap()), ["InTx", "Kept"]);
    let renamed = role(json!({"name": "Renamed"}));
    tx.replace_role(&kept.name, &renamed).await.unwrap();
    assert_not_found(store.get_role(&r.name).await);
    assert_eq!(store.get_role(&kept.name).await.unwrap(), kept, "not visible before commit");
    assert_eq!(names(&store.roles_with_member("Customer").await.unwrap()), ["Kept"]);
    tx.rollback().await.unwrap();
    assert_not_found(store.get_role(&r.name).await);
    assert_not_found(store.get_role(&renamed.name).await);
    assert_eq!(store.get_role(&kept.name).await.unwrap(), kept);
    assert_eq!(list_all(&*store, 10).await, ["Kept"]);

    // A failed step (a taken name) then rollback: nothing of the transaction stays.
    let tx = store.begin(now()).await.unwrap();
    tx.create_role(&r).await.unwrap();
    assert_conflict(tx.create_role(&kept).await, constraint::ROLE_NAME);
    tx.rollback().await.unwrap();
    assert_not_found(store.get_role(&r.name).await);

    // Dropped without commit.
    let tx = store.begin(now()).await.unwrap();
    tx.create_role(&r).await.unwrap();
    assert!(tx.delete_role(&kept.name).await.unwrap());
    drop(tx);
    assert_not_found(store.get_role(&r.name).await);
    assert_eq!(store.get_role(&kept.name).await.unwrap(), kept);

    // Committed.
    let tx = store.begin(now()).await.unwrap();
    let at_tx = role_at(json!({"name": "InTx", "data": {"n": 1}}), 0);
    tx.create_role(&at_tx).await.unwrap();
    tx.replace_role(&kept.name, &renamed).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_role(&at_tx.name).await.unwrap(), at_tx);
    assert_eq!(store.get_role(&renamed.name).await.unwrap(), renamed);
    assert_not_found(store.get_role(&kept.name).await);
    assert_eq!(list_all(&*store, 10).await, ["InTx", "Renamed"]);
    // The store is usable afterwards.
    store.create_role(&kept).await.unwrap();
}

/// 16 concurrent creations of one name: exactly one wins, 15 conflict on `role_name`, and the
/// stored role is the winner's.
pub async fn concurrent_role_creations_have_one_winner(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = role(json!({"name": "Contested", "data": {"i": i}}));
            (store.create_role(&r).await, r)
        }));
    }
    let (mut winners, mut conflicts) = (Vec::new(), 0);
    for t in tasks {
        match t.await.unwrap() {
            (Ok(()), r) => winners.push(r),
            (Err(StoreError::Conflict { constraint }), _) => {
                assert_eq!(constraint, crate::constraint::ROLE_NAME);
                conflicts += 1;
            }
            (Err(e), _) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((winners.len(), conflicts), (1, 15));
    assert_eq!(store.get_role(&rname("Contested")).await.unwrap(), winners[0]);
    assert_eq!(list_all(&*store, 10).await, ["Contested"]);
}
