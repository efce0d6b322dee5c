//! Fauna's protocol (`POST /query/1`) over real HTTP: the seed tutorial as a driver sends it
//! (templates with interpolated values, HTTP/1.1 and h2c without a content type), the protocol's
//! headers and error shapes, one transaction per query, and every limit against hostile queries
//! (each a clear 4xx, the server still serving afterwards).

use http::StatusCode;
use serde_json::{json, Value};
use sesame_tests::{TestServer, ADMIN};

const TAGGED: &[(&str, &str)] = &[("x-format", "tagged")];

fn fql(parts: Value) -> Value {
    json!({ "query": { "fql": parts }, "arguments": {} })
}

async fn q(s: &TestServer, secret: &str, text: &str) -> sesame_tests::Resp {
    s.query(false, Some(secret), &[], &json!({ "query": text })).await
}

async fn servers() -> Vec<TestServer> {
    let mut v = vec![TestServer::memory().await];
    v.extend(TestServer::postgres().await);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_as_drivers_send_it() {
    for s in servers().await {
        for h2 in [false, true] {
            let coll = if h2 { "CustomerH2" } else { "Customer" };
            let admin = Some(ADMIN);
            let r = s
                .query(h2, admin, TAGGED, &fql(json!([format!(
                    "Collection.create({{ name: \"{coll}\", indexes: {{ byName: {{ terms: [{{ field: \".firstName\" }}, {{ field: \".lastName\" }}] }} }} }})"
                )])))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            let r = s
                .query(h2, admin, TAGGED, &fql(json!([format!("{coll}.create({{ firstName: "),
                    {"value": "Jane"}, ", lastName: ", {"value": "Doe"}, ", email: ", {"value": "jane.doe@example.com"}, " })"])))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            let doc = &r.json["data"]["@doc"];
            let id = doc["id"].as_str().unwrap().to_owned();
            assert_eq!(doc["coll"], json!({"@mod": coll}));
            assert!(doc["ts"]["@time"].is_string());
            let customer = json!({"value": {"@ref": {"id": id, "coll": {"@mod": coll}}}});
            let r = s
                .query(h2, admin, TAGGED, &fql(json!(["Credential.create({ document: ", customer, ", password: ", {"value": "sekret"}, " })"])))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            assert!(r.json["data"]["@doc"].get("password").is_none(), "never a password");
            // A second credential: constraint_failure, 400.
            let r = s
                .query(h2, admin, TAGGED, &fql(json!(["Credential.create({ document: ", customer, ", password: ", {"value": "other"}, " })"])))
                .await;
            assert_eq!(
                (r.status, r.json["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("constraint_failure"))
            );
            // Wrong password.
            let r = s
                .query(h2, admin, TAGGED, &fql(json!(["Credential.byDocument(", customer, ")!.login(", {"value": "wrong"}, ")"])))
                .await;
            assert_eq!(
                (r.status, r.json["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_secret"))
            );
            // Login with a ttl, as Python sends a datetime.
            let r = s
                .query(h2, admin, TAGGED, &fql(json!(["Credential.byDocument(", customer, ")!.login(", {"value": "sekret"}, ", ",
                    {"value": {"@time": "2099-11-28T11:34:03.249742+00:00"}}, ")"])))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            let token = r.json["data"]["@doc"].clone();
            assert_eq!(token["coll"], json!({"@mod": "Token"}));
            assert_eq!(token["document"]["@ref"]["id"], json!(id), "the identity as a ref");
            let secret = token["secret"].as_str().unwrap().to_owned();
            let me = Some(secret.as_str());
            let r = s.query(h2, me, TAGGED, &fql(json!(["Query.token()"]))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            assert_eq!(r.json["data"]["@doc"]["id"], token["id"]);
            assert!(r.json["data"]["@doc"].get("secret").is_none(), "the secret is shown once");
            let r = s.query(h2, me, TAGGED, &fql(json!(["Query.identity()"]))).await;
            assert_eq!(r.json["data"]["@doc"]["id"], json!(id), "{}", r.json);
            // An unprivileged write.
            let r = s
                .query(
                    h2,
                    me,
                    TAGGED,
                    &fql(json!([format!("{coll}.create({{ firstName: \"Eve\" }})")])),
                )
                .await;
            assert_eq!(
                (r.status, r.json["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("permission_denied"))
            );
            // Log out, then the same secret is unauthorized.
            let r = s.query(h2, me, TAGGED, &fql(json!(["Query.token()!.delete()"]))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
            assert_eq!(r.json["data"]["@ref"]["exists"], json!(false));
            let r = s.query(h2, me, TAGGED, &fql(json!(["Query.token()"]))).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                r.json,
                json!({"error": {"code": "unauthorized", "message": "Access token required"}})
            );
            assert_eq!(r.headers["www-authenticate"], "Bearer");
        }
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_formats_tags_and_txn_ts() {
    let s = TestServer::memory().await;
    let a = Some(ADMIN);
    let body = json!({"query": "1 + 1"});
    let r = s.query(false, a, &[], &body).await;
    assert_eq!(r.json["data"], json!(2), "simple by default");
    assert_eq!(r.headers["content-type"], "application/json;charset=utf-8");
    let t1 = r.json["txn_ts"].as_i64().unwrap();
    let r = s.query(false, a, TAGGED, &body).await;
    assert_eq!(r.json["data"], json!({"@int": "2"}));
    assert!(r.json["txn_ts"].as_i64().unwrap() > t1, "txn_ts grows");
    for k in ["compute_ops", "read_ops", "write_ops", "query_time_ms", "contention_retries"] {
        assert!(r.json["stats"][k].is_u64(), "stats.{k}");
    }
    assert!(r.json.get("query_tags").is_none());
    let r = s.query(false, a, &[("x-query-tags", "app=shop,env=test")], &body).await;
    assert_eq!(r.json["query_tags"], "app=shop,env=test");
    for (h, v) in [
        ("x-format", "decorated-nope"),
        ("x-query-tags", "a=b,a=c"),
        ("x-query-tags", "bad key=x"),
        ("x-query-timeout-ms", "0"),
        ("x-query-timeout-ms", "soon"),
        ("x-last-txn-ts", "yesterday"),
        ("x-max-contention-retries", "99"),
        ("x-typecheck", "maybe"),
    ] {
        let r = s.query(false, a, &[(h, v)], &body).await;
        assert_eq!(
            (r.status, r.json["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{h}: {v}"
        );
    }
    for (h, v) in [
        ("x-typecheck", "true"),
        ("x-linearized", "false"),
        ("x-last-txn-ts", "1"),
        ("x-max-contention-retries", "3"),
    ] {
        assert_eq!(s.query(false, a, &[(h, v)], &body).await.status, StatusCode::OK, "{h}");
    }
    // Other methods, no secret, a bad secret.
    let r = s.call(http::Method::GET, "/query/1", a, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(s.query(false, None, &[], &body).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.query(false, Some("snt_nope"), &[], &body).await.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

/// A query that aborts or fails writes nothing: one transaction per query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_query_writes_nothing() {
    for s in servers().await {
        let a = ADMIN;
        assert_eq!(q(&s, a, "Collection.create({ name: \"Thing\" })").await.status, 200);
        let r = q(&s, a, "Thing.create({ n: 1 })\nThing.create({ n: 2 })\nabort(\"no\")").await;
        assert_eq!((r.status.as_u16(), r.json["error"]["code"].as_str()), (400, Some("abort")));
        assert_eq!(r.json["error"]["abort"], "no");
        let r = q(&s, a, "Thing.create({ n: 3 })\nThing.byId(\"1\")!.update({ n: 4 })").await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.json);
        assert_eq!(q(&s, a, "Thing.all().count()").await.json["data"], json!(0));
        s.stop().await;
    }
}

/// Every limit against hostile input gives a clear 4xx and leaves the server serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_queries_are_refused_and_the_server_keeps_serving() {
    let s = TestServer::memory().await;
    let a = ADMIN;
    let huge_text = "1 + ".repeat(100_000) + "1";
    let deep_parens = "(".repeat(10_000) + "1" + &")".repeat(10_000);
    let deep_json = "[".repeat(5_000) + &"]".repeat(5_000);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("query text over the limit", json!({"query": huge_text}), 400, "invalid_query"),
        ("parse depth", json!({"query": deep_parens}), 400, "invalid_query"),
        ("call depth", json!({"query": "let f = (g) => g(g)\nf(f)"}), 400, "stack_overflow"),
        (
            "evaluation steps",
            json!({"query": "Set.sequence(0, 16000).map(x => Set.sequence(0, 1000).count()).toArray()"}),
            440,
            "time_out",
        ),
        (
            "a huge string",
            json!({"query": "let f = (g, s, n) => if (n == 0) s else g(g, s + s, n - 1)\nf(f, \"aaaaaaaaaaaaaaaa\", 30)"}),
            400,
            "value_too_large",
        ),
    ];
    for (what, body, status, code) in cases {
        let r = s.query(false, Some(a), &[], &body).await;
        assert_eq!(
            (r.status.as_u16(), r.json["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {}",
            r.json
        );
    }
    // JSON nesting in the body.
    let r = s
        .send(
            false,
            http::Method::POST,
            "/query/1",
            Some(a),
            Some(format!("{{\"query\": {deep_json}}}").into()),
            true,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{}",
        r.json
    );
    // A body over the limit.
    // Over the 1 MiB limit but under the 2 MiB the server drains, so the client sees the 413.
    let big = json!({"query": "1", "pad": "x".repeat(1536 * 1024)});
    assert_eq!(s.query(false, Some(a), &[], &big).await.status.as_u16(), 413);
    // Writes per query.
    assert_eq!(q(&s, a, "Collection.create({ name: \"W\" })").await.status, 200);
    let r = q(&s, a, "Set.sequence(0, 1500).forEach(i => W.create({ i: i }))").await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.json);
    assert_eq!(q(&s, a, "W.all().count()").await.json["data"], json!(0), "and nothing written");
    // Password checks per query.
    q(&s, a, "Collection.create({ name: \"U\" })").await;
    q(
        &s,
        a,
        "let u = U.create({ n: 1 })\nCredential.create({ document: u, password: \"sekret\" })",
    )
    .await;
    let r = q(&s, a, "let c = Credential.byDocument(U.all().first()!)!\nSet.sequence(0, 50).map(_ => c.verify(\"x\")).toArray()").await;
    assert_eq!(
        (r.status.as_u16(), r.json["error"]["code"].as_str()),
        (400, Some("invalid_secret")),
        "{}",
        r.json
    );
    // Wall time: a client deadline.
    let r = s
        .query(false, Some(a), &[("x-query-timeout-ms", "50")], &json!({"query": "Set.sequence(0, 16000).map(x => Set.sequence(0, 60).count()).toArray()"}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json["error"]["code"].as_str()),
        (440, Some("time_out")),
        "{}",
        r.json
    );
    // Still serving.
    assert_eq!(q(&s, a, "1 + 1").await.json["data"], json!(2));
    assert!(s.healthy().await);
    s.stop().await;
}
