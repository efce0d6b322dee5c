//! Every error code with its status, table-driven; bodies are always `{"error":{"code","message"}}`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;
use sesame_server::ServerConfig;
use sesame_tests::faulty::{Fault, FaultyStore};
use sesame_tests::{Resp, TestServer, ADMIN};

#[track_caller]
fn check(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "body: {}", String::from_utf8_lossy(&r.raw));
    let err = r.json["error"].as_object().expect("an error object");
    assert_eq!(err.len(), 2, "exactly code and message: {}", r.json);
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(r.json.get("data").is_none());
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_code_has_its_status() {
    let s = TestServer::memory().await;
    let a = Some(ADMIN);
    let (jane, cred) = s.identity("Customer", json!({"n": "Jane"}), "pw").await;
    let tok = s
        .call(
            Method::POST,
            &format!("/credentials/{cred}/login"),
            a,
            Some(json!({"password": "pw"})),
        )
        .await
        .str("secret");
    let t = Some(tok.as_str());
    let cases: Vec<(Resp, StatusCode, &str)> = vec![
        (
            s.call(Method::GET, "/collections", None, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            s.call(Method::GET, "/collections", Some("garbage"), None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            s.call(Method::POST, "/keys", t, Some(json!({"role": "admin"}))).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        ),
        (
            s.call(
                Method::POST,
                &format!("/credentials/{cred}/login"),
                a,
                Some(json!({"password": "x"})),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_secret",
        ),
        (
            s.call(Method::GET, "/collections/Customer/documents/1", a, None).await,
            StatusCode::NOT_FOUND,
            "document_not_found",
        ),
        (
            s.call(Method::GET, "/collections/Nope", a, None).await,
            StatusCode::NOT_FOUND,
            "document_not_found",
        ),
        (s.call(Method::GET, "/no/such/route", a, None).await, StatusCode::NOT_FOUND, "not_found"),
        (
            s.call(Method::POST, "/collections", a, Some(json!({"name": "Customer"}))).await,
            StatusCode::CONFLICT,
            "constraint_failure",
        ),
        (
            s.call(
                Method::POST,
                "/credentials",
                a,
                Some(json!({"document": {"coll": "Customer", "id": jane}, "password": "x"})),
            )
            .await,
            StatusCode::CONFLICT,
            "constraint_failure",
        ),
        (
            s.call(Method::POST, "/collections", a, Some(json!({"name": "1bad"}))).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            s.call(Method::GET, "/credentials/abc", a, None).await,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            s.call(Method::POST, "/collections", a, Some(json!({"name": "X", "extra": 1}))).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            s.call(Method::POST, "/collections", a, Some(json!({"name": 5}))).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            s.send(
                false,
                Method::POST,
                "/collections",
                a,
                Some(Bytes::from_static(b"{\"name\":")),
                true,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            s.send(
                false,
                Method::POST,
                "/collections",
                a,
                Some(Bytes::from(vec![b'x'; 70_000])),
                true,
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_size_exceeded",
        ),
        (
            s.call(Method::PUT, "/collections", a, Some(json!({}))).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            s.send(
                false,
                Method::POST,
                "/collections",
                a,
                Some(Bytes::from_static(b"name=x")),
                false,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (r, status, code) in &cases {
        check(r, *status, code);
    }
    // Some codes carry headers.
    assert_eq!(cases[0].0.headers["www-authenticate"], "Bearer");
    assert_eq!(cases[15].0.headers["allow"], "GET, POST");
    // No content type is read as JSON; a wrong one is refused before the body is parsed.
    let mut req = s
        .send(
            false,
            Method::POST,
            "/collections",
            a,
            Some(Bytes::from_static(b"{\"name\":\"Y\"}")),
            false,
        )
        .await;
    assert_eq!(req.status, StatusCode::CREATED, "no content type is read as JSON: {}", req.json);
    req = send_with_type(&s, "text/plain").await;
    check(&req, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    req = send_with_type(&s, "application/json; charset=utf-8").await;
    assert_eq!(req.status, StatusCode::CREATED);
    s.stop().await;
}

async fn send_with_type(s: &TestServer, ct: &str) -> Resp {
    let name = format!("T{}", ct.len());
    let req = http::Request::post(format!("{}/collections", s.base()))
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", ct)
        .body(http_body_util::Full::new(Bytes::from(json!({"name": name}).to_string())))
        .unwrap();
    s.request(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_is_503_and_readiness_fails() {
    let s =
        TestServer::start(Arc::new(FaultyStore(Fault::Unavailable)), None, ServerConfig::default())
            .await;
    let r = s.call(Method::GET, "/collections", Some(ADMIN), None).await;
    check(&r, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(!r.raw.windows(8).any(|w| w == b"injected"), "no internals in the body");
    let r = s.call(Method::GET, "/readyz", None, None).await;
    check(&r, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    // Liveness does not depend on the store.
    assert!(s.healthy().await);
    // A token can't be checked while the store is down: 503, not 401.
    let r = s
        .call(
            Method::GET,
            "/tokens/self",
            Some("snt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
        )
        .await;
    check(&r, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let s =
        TestServer::start(Arc::new(FaultyStore(Fault::Panic)), None, ServerConfig::default()).await;
    for _ in 0..3 {
        let r = s.call(Method::GET, "/collections", Some(ADMIN), None).await;
        check(&r, StatusCode::INTERNAL_SERVER_ERROR, "internal");
        assert!(!r.raw.windows(8).any(|w| w == b"injected"), "no panic text in the body");
        assert!(s.healthy().await);
    }
    s.stop().await;
}
