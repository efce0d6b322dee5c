//! User-defined roles against hostile data, from an independent review: each test once failed
//! (the comment above it says how) and pins the fix — stored values that look like tags, write
//! predicates and what is stored, deadlines across many predicates, credential privileges over
//! REST.

use serde_json::Value as Json;

use super::roles::{fql, fql_ok};
use super::*;

fn obj(v: Json) -> serde_json::Map<String, Json> {
    v.as_object().unwrap().clone()
}

/// Jane (a `Customer`) logged in, with `role` created first; `Item` exists.
async fn jane_with(role: Json) -> (World, Caller, DocRef) {
    let w = world();
    let (jane, cred) = w.jane().await;
    w.engine.create_collection(&w.admin, coll("Item")).await.unwrap();
    w.engine.create_role(&w.admin, obj(role)).await.unwrap();
    let t = w.engine.login(&Caller::key(Role::Server), cred, &pw("sekret"), None).await.unwrap();
    let me = w.caller(&t.secret).await;
    (w, me, jane)
}

// Was bug 1 (REST role API): a role body whose `data` holds a value that looks like a tagged FQL
// value (`{"@int": "nope"}`, `{"@time": "x"}`) is decoded as tagged JSON by
// `engine/roles.rs::body_object` -> `convert::object_from_json`, whose error is
// `Code::InternalError`, mapped by `query_to_auth` to `AuthError::Internal`: HTTP 500 on
// `POST /roles`, `PATCH /roles/{name}`, `PUT /roles/{name}`. Must be a 4xx with a stable code.
#[tokio::test]
async fn a_rest_role_body_with_tag_like_data_is_not_a_500() {
    let w = world();
    w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap();
    for data in
        [json!({"x": {"@int": "nope"}}), json!({"@time": "not a time"}), json!({"x": {"@ref": 5}})]
    {
        let body = json!({"name": "r", "membership": {"resource": "Customer"}, "data": data});
        let e = w.engine.create_role(&w.admin, obj(body)).await.err();
        let status = e.as_ref().map_or(200, |e| e.http_status());
        assert!(
            (400..500).contains(&status) || status == 200,
            "POST /roles with data {data}: {status} {e:?}"
        );
    }
    let ok = json!({"name": "ok", "membership": {"resource": "Customer"}});
    w.engine.create_role(&w.admin, obj(ok)).await.unwrap();
    let patch = json!({"data": {"when": {"@time": "yesterday"}}});
    let e = w.engine.update_role(&w.admin, "ok", obj(patch), false).await.err();
    let status = e.as_ref().map_or(200, |e| e.http_status());
    assert!((400..500).contains(&status) || status == 200, "PATCH /roles/ok: {status} {e:?}");
}

// Was bug 2 (REST documents for role holders): `acting.rs::pin` decodes every stored document as
// tagged JSON and fails the whole request with `AuthError::Internal` (500) when a field merely
// looks like a tag. REST stores such fields verbatim (`Fields::parse` allows `@` keys), and a
// role with `create: true` lets a customer store one herself. Then:
//   * `GET /documents/Item/{id}` of that document is 500 for every role holder, even with
//     `read: true` (the admin and server keys read it fine);
//   * every filtered list (`read` by predicate) whose page scans it is 500 for EVERY role holder
//     — one customer breaks everyone's listing (denial of service by a low-privileged user).
#[tokio::test]
async fn tag_like_fields_do_not_break_role_holders_reads_and_lists() {
    let role = json!({
        "name": "customer",
        "membership": {"resource": "Customer"},
        "privileges": [
            {"resource": "Item", "actions": {"create": true, "read": "i => i.owner == Query.identity()"}},
        ]
    });
    let (w, jane, jane_doc) = jane_with(role).await;
    let (john_doc, john_cred) = w.person(&coll("Customer"), "John", "Roe", "sekret2").await;
    let t =
        w.engine.login(&Caller::key(Role::Server), john_cred, &pw("sekret2"), None).await.unwrap();
    let john = w.caller(&t.secret).await;
    let owner =
        |d: &DocRef| json!({"@ref": {"id": d.id.to_string(), "coll": {"@mod": "Customer"}}});
    // John's own item, listed fine.
    w.engine
        .create_document(&w.admin, coll("Item"), fields(json!({"owner": owner(&john_doc), "n": 1})))
        .await
        .unwrap();
    let before = w.engine.find_documents(&john, &coll("Item"), &Fields::new(), None, None).await;
    assert_eq!(before.unwrap().data.len(), 1);
    // Jane posts one document with a tag-like field over REST (`create: true`).
    let poisoned = w
        .engine
        .create_document(
            &jane,
            coll("Item"),
            fields(json!({"owner": owner(&jane_doc), "x": {"@int": "boom"}})),
        )
        .await
        .expect("a create: true role may create any shape");
    // The admin reads it over REST like any other document.
    w.engine.get_document(&w.admin, &poisoned.doc_ref()).await.unwrap();
    // John's listing of his own items must keep working.
    let after = w.engine.find_documents(&john, &coll("Item"), &Fields::new(), None, None).await;
    assert!(after.is_ok(), "John's list after Jane's post: {:?}", after.err());
    // And Jane reading her own document must not be a 500.
    let got = w.engine.get_document(&jane, &poisoned.doc_ref()).await;
    assert!(
        got.as_ref().map_or_else(|e| e.http_status() < 500, |_| true),
        "Jane's GET of her own document: {:?}",
        got.err()
    );
}

// Was bug 3 (write predicates decide on a value that is not the one stored): `host.rs::update_doc`
// gives the `write` predicate `new` as the FQL object (`pinned(&plain, after)` with the merged
// fields), but stores `object_to_json(fields)`, which `object_from_json` reads back through the
// tagged-JSON decoder. An object `{ "@int": "1000000" }` is an Object to the predicate and the
// Int 1000000 to every later read. Predicate `(old, new) => old == Query.identity() &&
// !(new.limit > old.limit)` ("a customer may not raise her limit") lets Jane raise it.
#[tokio::test]
async fn a_write_predicate_sees_what_is_stored() {
    let role = json!({
        "name": "customer",
        "membership": {"resource": "Customer"},
        "privileges": {"resource": "Customer", "actions": {
            "read": "c => c == Query.identity()",
            "write": "(old, new) => old == Query.identity() && !(new.limit > old.limit)"
        }}
    });
    let (w, jane, jane_doc) = jane_with(role).await;
    w.engine.update_document(&w.admin, &jane_doc, &fields(json!({"limit": 10}))).await.unwrap();
    // Lowering is fine; raising directly is refused.
    fql_ok(&w, &jane, "Query.identity()!.update({ limit: 5 })").await;
    let (st, _) = fql(&w, &jane, "Query.identity()!.update({ limit: 1000000 })").await;
    assert_eq!(st, 400);
    // Raising through a tag-shaped object: the predicate sees an Object (not > 5) and allows.
    let _ = fql(&w, &jane, "Query.identity()!.update({ limit: { '@int': '1000000' } })").await;
    let limit = fql_ok(&w, &w.admin, &format!("Customer.byId('{}')!.limit", jane_doc.id)).await;
    assert!(
        limit.as_i64().is_none_or(|l| l <= 5),
        "the write predicate allowed a limit the stored document reads as {limit}"
    );
}

// Was bug 4 (the query's time budget is not enforced across predicates): each predicate has its
// own 200 ms / 10 000-step budget (`sesame_fql::eval_predicate` sets a fresh deadline), but
// `rights.rs::filtered_page` runs up to FILTER_SCAN_BOUND (1024) of them inside ONE evaluator
// step without looking at the query's deadline (`X-Query-Timeout-Ms`, `MAX_QUERY_TIME`), and
// REST lists (`acting.rs::act_find_documents`) have no deadline at all. With a slow (hostile or
// merely heavy) read predicate, a 300 ms query runs for seconds and holds a query thread; a
// full 1024-document scan is 1024 × 200 ms ≈ 3.4 minutes, far past the 30 s cap.
#[tokio::test]
async fn a_filtered_scan_stops_at_the_query_deadline() {
    // 32 KiB string copied and measured at each step: runs into the 200 ms predicate deadline.
    let slow = "x => { let a = 'aaaaaaaaaaaaaaaa'; let b = a + a; let c = b + b; let d = c + c; \
                let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; \
                let j = i + i; let k = j + j; let s = k + k; \
                Set.sequence(0, 1000000).every(n => (s + s).length > 0) }";
    let role = json!({
        "name": "customer",
        "membership": {"resource": "Customer"},
        "privileges": {"resource": "Item", "actions": {"read": slow}}
    });
    let (w, jane, _) = jane_with(role).await;
    fql_ok(&w, &w.admin, "Set.sequence(0, 40).forEach(i => Item.create({ i: i }))").await;
    // One predicate alone, for scale.
    let started = std::time::Instant::now();
    let _ = fql(&w, &jane, "Item.all().paginate(1)").await;
    let one = started.elapsed();
    let opts =
        QueryOptions { timeout: Some(std::time::Duration::from_millis(300)), ..Default::default() };
    let started = std::time::Instant::now();
    let a = w.engine.query(&jane, json!({"query": "Item.all().pageSize(16)"}), opts).await;
    let took = started.elapsed();
    eprintln!("paginate(1): {one:?}; 300 ms query: {took:?}, status {}", a.status);
    assert!(
        took < std::time::Duration::from_millis(1500),
        "a query with a 300 ms budget ran {took:?} (status {}, {})",
        a.status,
        a.body["error"]["code"]
    );
}

// GAP 5 (roles are not checked on every operation of both surfaces): a role's privileges on
// `Credential` are honoured over `/query/1` (`host.rs::credential_update`) but the REST
// credential operations (`engine/credentials.rs::change_password`, `create_credential`,
// `delete_credential`, `get_credential`) only ask the baseline `Principal::may`, so the same
// token is refused over REST. Fails closed (not a hole), but issue 11 asks for privileges
// "checked in the engine, for every operation on both surfaces".
#[tokio::test]
async fn credential_privileges_apply_over_rest_too() {
    let role = json!({
        "name": "customer",
        "membership": {"resource": "Customer"},
        "privileges": {"resource": "Credential", "actions": {
            "read": "c => c.document == Query.identity()",
            "write": "(old, new) => old.document == Query.identity()"
        }}
    });
    let (w, jane, _) = jane_with(role).await;
    fql_ok(&w, &jane, "Credential.byDocument(Query.identity())!.update({ password: 'sekret-2' })")
        .await;
    let cred = fql_ok(&w, &jane, "Credential.byDocument(Query.identity())!.id").await;
    let id: sesame_model::DocId = cred.as_str().unwrap().parse().unwrap();
    let rest = w.engine.change_password(&jane, id, &pw("sekret-3"), Some(false)).await;
    assert!(rest.is_ok(), "REST password change by the same role: {:?}", rest.err());
}
