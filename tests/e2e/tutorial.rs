//! The seed tutorial ("Log in and log out"), step by step over the REST API.

use http::{Method, StatusCode};
use serde_json::json;
use sesame_tests::{TestServer, ADMIN};

/// Runs the tutorial against `s`, over h2c when `h2`.
async fn tutorial(s: &TestServer, h2: bool) {
    let call = |m: Method, p: &str, secret: Option<&str>, b: Option<serde_json::Value>| {
        let p = p.to_owned();
        let secret = secret.map(str::to_owned);
        async move {
            let r = if h2 {
                s.call_h2(m, &p, secret.as_deref(), b).await
            } else {
                s.call(m, &p, secret.as_deref(), b).await
            };
            let want = if h2 { http::Version::HTTP_2 } else { http::Version::HTTP_11 };
            assert_eq!(r.version, want);
            r
        }
    };
    let admin = Some(ADMIN);
    // The admin creates the Customer collection and Jane Doe.
    let r = call(Method::POST, "/collections", admin, Some(json!({"name": "Customer"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["name"], "Customer");
    let r = call(
        Method::POST,
        "/collections/Customer/documents",
        admin,
        Some(json!({"firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let jane_id = r.str("id");
    assert_eq!(r.json["coll"], "Customer");
    assert!(r.json["ts"].as_str().unwrap().ends_with('Z'));
    // Credential.create({ document: customer, password: "sekret" })
    let r = call(
        Method::POST,
        "/credentials",
        admin,
        Some(json!({"document": {"coll": "Customer", "id": jane_id}, "password": "sekret"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let cred_id = r.str("id");
    assert_eq!(r.json["coll"], "Credential");
    assert_eq!(r.json["document"], json!({"coll": "Customer", "id": jane_id}));
    assert!(!r.raw.windows(6).any(|w| w == b"sekret"), "no password in the response");
    assert!(r.json.get("password").is_none() && r.json.get("hashed_password").is_none());
    // Customer.byName("Jane", "Doe").first()
    let r = call(
        Method::GET,
        "/collections/Customer/documents?firstName=Jane&lastName=Doe",
        admin,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["data"][0]["id"], jane_id.as_str());
    assert_eq!(r.json["after"], serde_json::Value::Null);
    // Credentials.byDocument(customer)
    let r = call(
        Method::GET,
        &format!("/collections/Customer/documents/{jane_id}/credential"),
        admin,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.str("id"), cred_id);
    // credential?.login("sekret")
    let r = call(
        Method::POST,
        &format!("/credentials/{cred_id}/login"),
        admin,
        Some(json!({"password": "sekret", "ttl": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["coll"], "Token");
    assert_eq!(r.json["document"], json!({"coll": "Customer", "id": jane_id}));
    assert_eq!(r.json["ttl"], "2099-01-01T00:00:00Z");
    let token_id = r.str("id");
    let secret = r.str("secret");
    // The token secret acts as Jane.
    let me = Some(secret.as_str());
    let r = call(Method::GET, "/tokens/self", me, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.str("id"), token_id);
    assert!(r.json.get("secret").is_none(), "the secret is shown only once");
    let r = call(Method::GET, "/identity", me, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.str("id"), jane_id);
    assert_eq!(r.json["firstName"], "Jane");
    // Jane may not do admin things.
    let r = call(Method::POST, "/keys", me, Some(json!({"role": "admin"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));
    // Log out: delete the token.
    let r = call(Method::DELETE, "/tokens/self", me, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The same secret is now unauthorized, everywhere.
    for path in ["/tokens/self", "/identity", "/collections"] {
        let r = call(Method::GET, path, me, None).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{path}");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_over_http1_memory() {
    let s = TestServer::memory().await;
    tutorial(&s, false).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_over_h2c_memory() {
    let s = TestServer::memory().await;
    tutorial(&s, true).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_over_http1_postgres() {
    let Some(s) = TestServer::postgres().await else { return };
    tutorial(&s, false).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_over_h2c_postgres() {
    let Some(s) = TestServer::postgres().await else { return };
    tutorial(&s, true).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_match_and_sessions() {
    for s in [Some(TestServer::memory().await), TestServer::postgres().await].into_iter().flatten()
    {
        let admin = Some(ADMIN);
        s.call(Method::POST, "/collections", admin, Some(json!({"name": "User"}))).await;
        let u = s
            .call(
                Method::POST,
                "/collections/User/documents",
                admin,
                Some(json!({"email": "a@b.c"})),
            )
            .await;
        let id = u.str("id");
        s.call(
            Method::POST,
            "/credentials",
            admin,
            Some(json!({"document": {"coll": "User", "id": id}, "password": "pw"})),
        )
        .await;
        let login = |pw: &'static str, email: &'static str| {
            s.call(Method::POST, "/login", admin, Some(json!({"collection": "User", "match": {"email": email}, "password": pw, "ttl": 60})))
        };
        let a = login("pw", "a@b.c").await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
        let wrong = login("nope", "a@b.c").await;
        let unknown = login("pw", "x@y.z").await;
        assert_eq!((wrong.status, wrong.code()), (StatusCode::BAD_REQUEST, "invalid_secret"));
        assert_eq!(
            unknown.json, wrong.json,
            "unknown identities look exactly like wrong passwords"
        );
        let b = login("pw", "a@b.c").await;
        // Jane lists her sessions, then logs out everywhere.
        let mine = Some(a.json["secret"].as_str().unwrap());
        let list = s
            .call(
                Method::GET,
                &format!("/collections/User/documents/{id}/tokens?size=1"),
                mine,
                None,
            )
            .await;
        assert_eq!(list.json["data"].as_array().unwrap().len(), 1);
        let after = list.json["after"].as_str().unwrap().to_owned();
        let rest = s
            .call(
                Method::GET,
                &format!("/collections/User/documents/{id}/tokens?size=1&after={after}"),
                mine,
                None,
            )
            .await;
        assert_eq!(rest.json["data"].as_array().unwrap().len(), 1);
        let r = s
            .call(Method::DELETE, &format!("/collections/User/documents/{id}/tokens"), mine, None)
            .await;
        assert_eq!(r.json, json!({"revoked": 2}));
        for t in [&a, &b] {
            let r = s
                .call(Method::GET, "/tokens/self", Some(t.json["secret"].as_str().unwrap()), None)
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        }
        s.stop().await;
    }
}

/// Two `sesame` instances over one Postgres: a token minted on one works on the other, and a
/// logout on either is `unauthorized` on both at once (nothing caches tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_is_immediate_across_instances() {
    let Some(db) = sesame_postgres::testing::TestDb::new().await else { return };
    let store_b = std::sync::Arc::new(sesame_postgres::PgStore::new(db.config.clone()).unwrap());
    let a = TestServer::start(db.store.clone(), None, Default::default()).await;
    let b = TestServer::start(store_b, None, Default::default()).await;
    let admin = Some(ADMIN);
    a.call(Method::POST, "/collections", admin, Some(json!({"name": "User"}))).await;
    let id = a
        .call(Method::POST, "/collections/User/documents", admin, Some(json!({"n": 1})))
        .await
        .str("id");
    let cred = b
        .call(
            Method::POST,
            "/credentials",
            admin,
            Some(json!({"document": {"coll": "User", "id": id}, "password": "pw"})),
        )
        .await
        .str("id");
    let secret = a
        .call(
            Method::POST,
            &format!("/credentials/{cred}/login"),
            admin,
            Some(json!({"password": "pw"})),
        )
        .await
        .str("secret");
    let me = Some(secret.as_str());
    assert_eq!(b.call(Method::GET, "/tokens/self", me, None).await.status, StatusCode::OK);
    assert_eq!(a.call(Method::GET, "/tokens/self", me, None).await.status, StatusCode::OK);
    assert_eq!(
        b.call(Method::DELETE, "/tokens/self", me, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        a.call(Method::GET, "/tokens/self", me, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        b.call(Method::GET, "/tokens/self", me, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    a.stop().await;
    b.stop().await;
    drop(db);
}

/// Sessions list with what the server saw at login: client address, user agent, last use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_show_client_and_last_use() {
    use bytes::Bytes;
    let s = TestServer::memory().await;
    let (id, cred) = s.identity("User", json!({}), "pw").await;
    // The hyper test client sends no User-Agent; send one by hand.
    let req = http::Request::post(format!("{}/credentials/{cred}/login", s.base()))
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("user-agent", "SesameTest/1.0 (phone)")
        .body(http_body_util::Full::new(Bytes::from(json!({"password": "pw"}).to_string())))
        .unwrap();
    let secret = s.request(req).await.str("secret");
    s.call(Method::GET, "/tokens/self", Some(&secret), None).await;
    let mut listed = serde_json::Value::Null;
    for _ in 0..200 {
        listed = s
            .call(
                Method::GET,
                &format!("/collections/User/documents/{id}/tokens"),
                Some(&secret),
                None,
            )
            .await
            .json;
        if listed["data"][0].get("last_used").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let t = &listed["data"][0];
    assert_eq!(t["user_agent"], "SesameTest/1.0 (phone)");
    assert_eq!(t["client_addr"], "127.0.0.1");
    assert_eq!(t["origin"], "login");
    assert!(t["last_used"].as_str().is_some(), "{listed}");
    s.stop().await;
}
