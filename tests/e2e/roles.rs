//! User-defined roles over real HTTP: the `/roles` API (shape echoed, validation with paths,
//! admin only), the shop example over REST (memory and Postgres), freshness across two
//! instances over one Postgres, keys with user-defined roles and scoped secrets.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use sesame_server::ServerConfig;
use sesame_tests::{test_auth_config, TestServer, ADMIN};

const A: Option<&str> = Some(ADMIN);

fn reference(coll: &str, id: &str) -> Value {
    json!({"@ref": {"id": id, "coll": {"@mod": coll}}})
}

async fn login(s: &TestServer, cred: &str) -> String {
    let r = s
        .call(
            Method::POST,
            &format!("/credentials/{cred}/login"),
            A,
            Some(json!({"password": "sekret-pw"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.str("secret")
}

fn customer_role() -> Value {
    json!({
        "name": "customer",
        "membership": {"resource": "Customer"},
        "privileges": [
            {"resource": "Product", "actions": {"read": true}},
            {"resource": "Order", "actions": {
                "read": "o => o.customer == Query.identity()",
                "create": "o => o.customer == Query.identity()"}},
            {"resource": "Customer", "actions": {
                "read": "c => c == Query.identity()",
                "write": "(old, new) => old == Query.identity() && new.email == old.email"}}
        ],
        "data": {"team": "web"}
    })
}

async fn shop_over_rest(s: &TestServer) {
    for c in ["Product", "Order", "Manager", "Report"] {
        let r = s.call(Method::POST, "/collections", A, Some(json!({"name": c}))).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    for (name, price) in [("lamp", 30), ("desk", 120)] {
        s.call(
            Method::POST,
            "/collections/Product/documents",
            A,
            Some(json!({"name": name, "price": price})),
        )
        .await;
    }
    let (jane, jane_cred) = s
        .identity(
            "Customer",
            json!({"firstName": "Jane", "email": "jane@example.com"}),
            "sekret-pw",
        )
        .await;
    let (john, john_cred) = s
        .identity(
            "Customer",
            json!({"firstName": "John", "email": "john@example.com"}),
            "sekret-pw",
        )
        .await;

    // The role API: admin only, validated, echoed as written.
    let (_, server_key) = {
        let k = s.call(Method::POST, "/keys", A, Some(json!({"role": "server"}))).await;
        (k.str("id"), k.str("secret"))
    };
    let r = s.call(Method::POST, "/roles", Some(&server_key), Some(customer_role())).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));
    let bad = json!({"name": "customer", "membership": {"resource": "Customer", "predicate": "(a, b) => true"},
        "privileges": [{"resource": "Order", "actions": {"read": "not a lambda", "write": "x => true"}}]});
    let r = s.call(Method::POST, "/roles", A, Some(bad)).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "constraint_failure"), "{}", r.json);
    let paths: Vec<&Value> = r.json["error"]["constraint_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["paths"][0])
        .collect();
    assert_eq!(
        paths,
        vec![
            &json!(["membership", "predicate"]),
            &json!(["privileges", 0, "actions", "read"]),
            &json!(["privileges", 0, "actions", "write"]),
        ]
    );
    assert_eq!(s.call(Method::GET, "/roles/customer", A, None).await.status, StatusCode::NOT_FOUND);
    let r = s.call(Method::POST, "/roles", A, Some(customer_role())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["coll"], "Role");
    for k in ["name", "membership", "privileges", "data"] {
        assert_eq!(r.json[k], customer_role()[k], "{k} echoed as written");
    }
    let r = s.call(Method::POST, "/roles", A, Some(customer_role())).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "constraint_failure"));
    let r = s.call(Method::GET, "/roles", A, None).await;
    assert_eq!(r.json["data"][0]["name"], "customer");
    let r = s.call(Method::GET, "/roles", Some(&server_key), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Jane and John, each with a token and the `customer` role through membership.
    let jt = login(s, &jane_cred).await;
    let ht = login(s, &john_cred).await;
    let r = s.call(Method::GET, "/collections/Product/documents", Some(&jt), None).await;
    assert_eq!(r.json["data"].as_array().map(Vec::len), Some(2), "{}", r.json);
    let r = s
        .call(
            Method::POST,
            "/collections/Product/documents",
            Some(&jt),
            Some(json!({"name": "free"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));

    let mine = s
        .call(
            Method::POST,
            "/collections/Order/documents",
            Some(&jt),
            Some(json!({"customer": reference("Customer", &jane), "item": "lamp"})),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.json);
    let his = s
        .call(
            Method::POST,
            "/collections/Order/documents",
            Some(&ht),
            Some(json!({"customer": reference("Customer", &john), "item": "desk"})),
        )
        .await;
    assert_eq!(his.status, StatusCode::CREATED);
    let r = s
        .call(
            Method::POST,
            "/collections/Order/documents",
            Some(&jt),
            Some(json!({"customer": reference("Customer", &john), "item": "desk"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));
    let all = s.call(Method::GET, "/collections/Order/documents", A, None).await;
    assert_eq!(
        all.json["data"].as_array().map(Vec::len),
        Some(2),
        "the refused create wrote nothing"
    );

    let r = s.call(Method::GET, "/collections/Order/documents", Some(&jt), None).await;
    let items: Vec<&Value> =
        r.json["data"].as_array().unwrap().iter().map(|o| &o["item"]).collect();
    assert_eq!(items, vec![&json!("lamp")], "Jane sees only her orders");
    let his_id = his.str("id");
    let r = s
        .call(Method::GET, &format!("/collections/Order/documents/{his_id}"), Some(&jt), None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "document_not_found"));
    let missing =
        s.call(Method::GET, "/collections/Order/documents/123456789", Some(&jt), None).await;
    assert_eq!(
        missing.json["error"]["message"].as_str().map(|m| m.replace("123456789", "ID")),
        r.json["error"]["message"].as_str().map(|m| m.replace(&his_id, "ID")),
        "unreadable and missing look alike"
    );

    let r = s
        .call(
            Method::PATCH,
            &format!("/collections/Customer/documents/{jane}"),
            Some(&jt),
            Some(json!({"firstName": "Janet"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = s
        .call(
            Method::PATCH,
            &format!("/collections/Customer/documents/{jane}"),
            Some(&jt),
            Some(json!({"email": "new@example.com"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));
    let r = s
        .call(
            Method::PATCH,
            &format!("/collections/Customer/documents/{john}"),
            Some(&jt),
            Some(json!({"firstName": "X"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.call(Method::GET, &format!("/collections/Customer/documents/{jane}"), A, None).await;
    assert_eq!(
        (r.json["firstName"].as_str(), r.json["email"].as_str()),
        (Some("Janet"), Some("jane@example.com"))
    );

    // The same token over /query/1 sees the same rules.
    let q = s
        .query(false, Some(&jt), &[], &json!({"query": "Order.all().toArray().map(o => o.item)"}))
        .await;
    assert_eq!(q.json["data"], json!(["lamp"]));

    // A manager whose membership predicate reads `active`.
    let (mgr, mgr_cred) = s.identity("Manager", json!({"active": true}), "sekret-pw").await;
    s.call(Method::POST, "/collections/Report/documents", A, Some(json!({"q": 1}))).await;
    let role = json!({"name": "manager", "membership": {"resource": "Manager", "predicate": "m => m.active"},
        "privileges": {"resource": "Report", "actions": {"read": true}}});
    assert_eq!(s.call(Method::POST, "/roles", A, Some(role)).await.status, StatusCode::CREATED);
    let mt = login(s, &mgr_cred).await;
    let r = s.call(Method::GET, "/collections/Report/documents", Some(&mt), None).await;
    assert_eq!(r.json["data"].as_array().map(Vec::len), Some(1));
    s.call(
        Method::PATCH,
        &format!("/collections/Manager/documents/{mgr}"),
        A,
        Some(json!({"active": false})),
    )
    .await;
    let r = s.call(Method::GET, "/collections/Report/documents", Some(&mt), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));

    // Changing and deleting roles.
    let r = s
        .call(
            Method::PATCH,
            "/roles/manager",
            A,
            Some(json!({"membership": {"resource": "Manager", "predicate": null}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        s.call(Method::GET, "/collections/Report/documents", Some(&mt), None).await.status,
        StatusCode::OK
    );
    let r = s.call(Method::PUT, "/roles/manager", A, Some(json!({"name": "boss"}))).await;
    assert_eq!((r.status, r.json["name"].as_str()), (StatusCode::OK, Some("boss")));
    assert!(r.json.get("privileges").is_none(), "a replace drops what it does not name");
    assert_eq!(
        s.call(Method::GET, "/collections/Report/documents", Some(&mt), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.call(Method::DELETE, "/roles/boss", A, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::DELETE, "/roles/boss", A, None).await.status, StatusCode::NOT_FOUND);

    // A key with a user-defined role; an unknown role is refused.
    let r = s.call(Method::POST, "/keys", A, Some(json!({"role": "nobody"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "constraint_failure"));
    let k = s.call(Method::POST, "/keys", A, Some(json!({"role": "customer"}))).await;
    assert_eq!((k.status, k.json["role"].as_str()), (StatusCode::CREATED, Some("customer")));
    let ks = k.str("secret");
    let r = s.call(Method::GET, "/collections/Product/documents", Some(&ks), None).await;
    assert_eq!(r.json["data"].as_array().map(Vec::len), Some(2));
    let r = s.call(Method::GET, "/collections/Order/documents", Some(&ks), None).await;
    assert_eq!(r.json["data"], json!([]), "a key has no identity: `Query.identity()` is null");

    // Scoped secrets: an admin or server key acting as Jane, or as a role.
    let admin_key =
        s.call(Method::POST, "/keys", A, Some(json!({"role": "admin"}))).await.str("secret");
    for key in [&admin_key, &server_key] {
        let scoped = format!("{key}:@doc/Customer/{jane}");
        let r = s.call(Method::GET, "/identity", Some(&scoped), None).await;
        assert_eq!(
            (r.status, r.json["id"].as_str()),
            (StatusCode::OK, Some(jane.as_str())),
            "{}",
            r.json
        );
        let r = s.call(Method::GET, "/collections/Order/documents", Some(&scoped), None).await;
        assert_eq!(
            r.json["data"].as_array().map(Vec::len),
            Some(1),
            "acting as Jane, with her roles"
        );
        let r = s.call(Method::GET, "/keys", Some(&scoped), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "and nothing more");
    }
    let scoped = format!("{admin_key}:@role/customer");
    let r = s.call(Method::GET, "/collections/Product/documents", Some(&scoped), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        s.call(Method::GET, "/keys", Some(&scoped), None).await.status,
        StatusCode::FORBIDDEN
    );
    for bad in [
        format!("{jt}:@doc/Customer/{jane}"),
        format!("{server_key}:@role/customer"),
        format!("{admin_key}:@role/nobody"),
        format!("{admin_key}:db:admin"),
    ] {
        let r = s.call(Method::GET, "/identity", Some(&bad), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:?} must be refused");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_example_over_rest_on_memory() {
    let s = TestServer::memory().await;
    shop_over_rest(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_example_over_rest_on_postgres() {
    let Some(s) = TestServer::postgres().await else { return };
    shop_over_rest(&s).await;
    s.stop().await;
}

/// Two instances over one Postgres: a role change, or a change to the document a membership
/// predicate reads, made on one applies on the other's very next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_apply_on_every_instance_at_once() {
    let Some(db) = sesame_postgres::testing::TestDb::new().await else { return };
    let b_store = std::sync::Arc::new(sesame_postgres::PgStore::new(db.config.clone()).unwrap());
    let a = TestServer::start_with(
        db.store.clone(),
        Some(db),
        ServerConfig::default(),
        test_auth_config(),
    )
    .await;
    let b =
        TestServer::start_with(b_store, None, ServerConfig::default(), test_auth_config()).await;
    a.call(Method::POST, "/collections", A, Some(json!({"name": "Report"}))).await;
    a.call(Method::POST, "/collections/Report/documents", A, Some(json!({"q": 1}))).await;
    let (mgr, cred) = a.identity("Manager", json!({"active": true}), "sekret-pw").await;
    let role = json!({"name": "manager", "membership": {"resource": "Manager", "predicate": "m => m.active"},
        "privileges": {"resource": "Report", "actions": {"read": true}}});
    assert_eq!(a.call(Method::POST, "/roles", A, Some(role)).await.status, StatusCode::CREATED);
    let t = login(&a, &cred).await;
    async fn list(s: &TestServer, t: &str) -> StatusCode {
        s.call(Method::GET, "/collections/Report/documents", Some(t), None).await.status
    }
    async fn fql(s: &TestServer, t: &str) -> StatusCode {
        s.query(false, Some(t), &[], &json!({"query": "Report.all().count()"})).await.status
    }
    for round in 0..3 {
        assert_eq!(list(&b, &t).await, StatusCode::OK, "round {round}");
        assert_eq!(fql(&b, &t).await, StatusCode::OK);
        // The identity document changes on A; B enforces it on its next request.
        a.call(
            Method::PATCH,
            &format!("/collections/Manager/documents/{mgr}"),
            A,
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!(list(&b, &t).await, StatusCode::FORBIDDEN, "round {round}");
        assert_eq!(fql(&b, &t).await, StatusCode::BAD_REQUEST);
        a.call(
            Method::PATCH,
            &format!("/collections/Manager/documents/{mgr}"),
            A,
            Some(json!({"active": true})),
        )
        .await;
        assert_eq!(list(&b, &t).await, StatusCode::OK);
        // The role changes on B; A enforces it on its next request.
        let off = json!({"privileges": {"resource": "Report", "actions": {"read": false}}});
        assert_eq!(
            b.call(Method::PATCH, "/roles/manager", A, Some(off)).await.status,
            StatusCode::OK
        );
        assert_eq!(list(&a, &t).await, StatusCode::FORBIDDEN);
        let on = json!({"privileges": {"resource": "Report", "actions": {"read": true}}});
        assert_eq!(
            b.call(Method::PATCH, "/roles/manager", A, Some(on)).await.status,
            StatusCode::OK
        );
        assert_eq!(list(&a, &t).await, StatusCode::OK);
    }
    b.stop().await;
    a.stop().await;
}

/// Hostile predicates (an endless loop, a huge allocation, a write, a password check) deny on
/// both surfaces, and the server keeps serving everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_predicates_deny_and_the_server_keeps_serving() {
    let s = TestServer::memory().await;
    s.call(Method::POST, "/collections", A, Some(json!({"name": "Item"}))).await;
    let item = s
        .call(Method::POST, "/collections/Item/documents", A, Some(json!({"n": 1})))
        .await
        .str("id");
    let (_, cred) = s.identity("Customer", json!({"firstName": "Jane"}), "sekret-pw").await;
    let hostile = [
        "x => Set.sequence(0, 1000000000).every(i => i >= 0)",
        "x => Set.sequence(0, 1000000000).toArray().length > 0",
        "x => { let a = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'; let b = a + a + a + a + a + a + a + a; let c = b + b + b + b + b + b + b + b; let d = c + c + c + c + c + c + c + c; let e = d + d + d + d + d + d + d + d; e + e + e + e != '' }",
        "x => Item.create({ n: 99 }) != null",
        "x => Credential.byDocument(Query.identity())!.login('sekret-pw') != null",
    ];
    let t = login(&s, &cred).await;
    for (i, src) in hostile.iter().enumerate() {
        let name = format!("hostile{i}");
        let role = json!({"name": name, "membership": {"resource": "Customer"},
            "privileges": {"resource": "Item", "actions": {"read": src, "create": src}}});
        assert_eq!(s.call(Method::POST, "/roles", A, Some(role)).await.status, StatusCode::CREATED);
        let started = std::time::Instant::now();
        let r = s
            .call(Method::GET, &format!("/collections/Item/documents/{item}"), Some(&t), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{src}: {}", r.json);
        let r = s
            .call(Method::POST, "/collections/Item/documents", Some(&t), Some(json!({"n": 2})))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{src}");
        let q = s
            .query(false, Some(&t), &[], &json!({"query": format!("Item.byId('{item}')!.n")}))
            .await;
        assert_eq!(q.status, StatusCode::BAD_REQUEST, "{src}: {}", q.json);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{src} took too long");
        assert!(s.healthy().await);
        assert_eq!(
            s.call(Method::GET, "/tokens/self", Some(&t), None).await.status,
            StatusCode::OK
        );
        assert_eq!(
            s.call(Method::DELETE, &format!("/roles/{name}"), A, None).await.status,
            StatusCode::NO_CONTENT
        );
    }
    let all = s.call(Method::GET, "/collections/Item/documents", A, None).await;
    assert_eq!(all.json["data"].as_array().map(Vec::len), Some(1), "no predicate wrote");
    s.stop().await;
}
