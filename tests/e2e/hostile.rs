//! Hostile input: each gets a 4xx with a stable code, the server stays up, nothing is written.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;
use sesame_tests::{TestServer, ADMIN};

/// Counts what the admin can see, to prove that rejected requests wrote nothing.
async fn snapshot(s: &TestServer) -> (usize, usize, usize) {
    let a = Some(ADMIN);
    let colls = s.call(Method::GET, "/collections?size=1000", a, None).await.json["data"]
        .as_array()
        .unwrap()
        .len();
    let docs = s.call(Method::GET, "/collections/Customer/documents?size=1000", a, None).await.json
        ["data"]
        .as_array()
        .unwrap()
        .len();
    let keys = s.call(Method::GET, "/keys?size=1000", a, None).await.json["data"]
        .as_array()
        .unwrap()
        .len();
    (colls, docs, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_rejected_without_writing() {
    for s in [Some(TestServer::memory().await), TestServer::postgres().await].into_iter().flatten()
    {
        hostile_bodies(&s).await;
        s.stop().await;
    }
}

async fn hostile_bodies(s: &TestServer) {
    let a = Some(ADMIN);
    let (_, cred) = s.identity("Customer", json!({"n": "Jane"}), "pw").await;
    let before = snapshot(s).await;
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_obj = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let big_password = format!("{{\"password\":\"{}\"}}", "x".repeat(1_000_000));
    let long_password = format!("{{\"password\":\"{}\"}}", "x".repeat(2000));
    let docs = "/collections/Customer/documents";
    let login = format!("/credentials/{cred}/login");
    let cases: Vec<(&str, String, Vec<u8>, StatusCode, &str)> = vec![
        (
            "truncated JSON",
            docs.into(),
            b"{\"a\": [1, 2".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("empty body", docs.into(), Vec::new(), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "not an object",
            docs.into(),
            b"[1,2,3]".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "trailing garbage",
            docs.into(),
            b"{} {}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("deep arrays", docs.into(), deep.into_bytes(), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "deep objects",
            docs.into(),
            deep_obj.into_bytes(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "huge number",
            docs.into(),
            b"{\"n\": 1e999}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "duplicate keys",
            docs.into(),
            b"{\"a\": 1, \"a\": 2}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "nested duplicate keys",
            docs.into(),
            b"{\"a\": {\"b\": 1, \"b\": 1}}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "NUL in a value",
            docs.into(),
            b"{\"a\": \"x\\u0000y\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "NUL in a key",
            docs.into(),
            b"{\"a\\u0000\": 1}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "raw NUL byte",
            docs.into(),
            b"{\"a\": \"x\0y\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "invalid UTF-8",
            docs.into(),
            b"{\"a\": \"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "reserved field",
            docs.into(),
            b"{\"id\": \"1\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "overlong field name",
            docs.into(),
            format!("{{\"{}\": 1}}", "k".repeat(300)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "1 MB password",
            login.clone(),
            big_password.into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_size_exceeded",
        ),
        (
            "2 KB password",
            login.clone(),
            long_password.into_bytes(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "password not a string",
            login.clone(),
            b"{\"password\": 12}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "ttl garbage",
            login.clone(),
            b"{\"password\": \"pw\", \"ttl\": \"soon\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "ttl negative",
            login.clone(),
            b"{\"password\": \"pw\", \"ttl\": -5}".to_vec(),
            StatusCode::BAD_REQUEST,
            // The bound is the engine's (the same on every surface), hence its code.
            "invalid_argument",
        ),
        (
            "SQL in a collection name",
            "/collections".into(),
            br#"{"name": "x'; DROP TABLE documents; --"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
        (
            "key with unknown role",
            "/keys".into(),
            br#"{"role": "root"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "constraint_failure",
        ),
        (
            "key with a role name that is not a name",
            "/keys".into(),
            br#"{"role": "root!"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
        ),
    ];
    for (what, path, body, status, code) in cases {
        let r = s.send(false, Method::POST, &path, a, Some(Bytes::from(body)), true).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{what}: {}",
            String::from_utf8_lossy(&r.raw)
        );
        assert!(s.healthy().await, "{what}: server down");
    }
    // SQL metacharacters in paths and query values are just data.
    let r = s
        .call(Method::GET, "/collections/x'%3B%20DROP%20TABLE%20documents%3B--/documents", a, None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_argument"));
    let r = s
        .call(Method::GET, "/collections/Customer/documents?n=Jane'%20OR%20'1'%3D'1", a, None)
        .await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 0);
    let r = s.call(Method::GET, "/collections/Customer/documents?size=0", a, None).await;
    assert_eq!(r.code(), "invalid_argument");
    let r = s.call(Method::GET, "/collections/Customer/documents?size=abc", a, None).await;
    assert_eq!(r.code(), "invalid_request");
    let r = s.call(Method::GET, "/collections/Customer/documents?after=zzz", a, None).await;
    assert_eq!(r.code(), "invalid_request");
    // Secrets with the right prefix and a wrong body.
    for bad in [
        "snt_",
        "snt_AAAA",
        "snk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        &format!("snt_{}", "A".repeat(5000)),
    ] {
        let r = s.call(Method::GET, "/tokens/self", Some(bad), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    assert_eq!(snapshot(s).await, before, "nothing was written");
    assert!(s.healthy().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_on_the_wire() {
    let s = TestServer::memory().await;
    let auth = format!("Authorization: Bearer {ADMIN}\r\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid UTF-8 in the path", b"GET /collections/%FF%FE HTTP/1.1\r\nHost: x\r\n".to_vec()),
        ("raw bytes in the path", b"GET /collections/\xff HTTP/1.1\r\nHost: x\r\n".to_vec()),
        (
            "invalid UTF-8 in Authorization",
            b"GET /collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n".to_vec(),
        ),
        (
            "64 KiB header",
            format!("GET /collections HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n", "a".repeat(64 * 1024))
                .into_bytes(),
        ),
        (
            "64 KiB Authorization",
            format!(
                "GET /collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n",
                "a".repeat(64 * 1024)
            )
            .into_bytes(),
        ),
        ("NUL in the path", b"GET /collections/\0 HTTP/1.1\r\nHost: x\r\n".to_vec()),
        ("garbage request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n".to_vec()),
    ];
    for (what, mut bytes) in cases {
        if !what.contains("Authorization") {
            bytes.extend_from_slice(auth.as_bytes());
        }
        bytes.extend_from_slice(b"Connection: close\r\n\r\n");
        let status = s.raw(&bytes).await;
        assert!(status.is_some_and(|c| (400..500).contains(&c)), "{what}: got {status:?}");
        assert!(s.healthy().await, "{what}: server down");
    }
    s.stop().await;
}

/// Two `Authorization` headers are a malformed request (400), never "take the first": a proxy
/// and the server could otherwise disagree on who is calling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_authorization_headers_are_refused() {
    let s = TestServer::memory().await;
    let req = format!(
        "GET /collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Authorization: Bearer snt_someone-else\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(s.raw(req.as_bytes()).await, Some(400));
    let one = format!(
        "GET /collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(s.raw(one.as_bytes()).await, Some(200));
    s.stop().await;
}

/// A method a route does not list never reaches another operation of that route: a document
/// survives every other method sent to its path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_methods_never_reach_a_destructive_operation() {
    let s = TestServer::memory().await;
    let a = Some(ADMIN);
    let (doc, cred) = s.identity("User", json!({"n": 1}), "pw").await;
    for (path, method) in [
        (format!("/collections/User/documents/{doc}"), Method::POST),
        (format!("/collections/User/documents/{doc}"), Method::OPTIONS),
        (format!("/credentials/{cred}"), Method::PUT),
        (format!("/credentials/{cred}"), Method::POST),
        ("/collections/User".to_owned(), Method::PATCH),
        (format!("/collections/User/documents/{doc}/tokens"), Method::POST),
    ] {
        let r = s.call(method.clone(), &path, a, None).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(r.headers.contains_key("allow"));
    }
    let r = s.call(Method::GET, &format!("/collections/User/documents/{doc}"), a, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.call(Method::GET, &format!("/credentials/{cred}"), a, None).await.status, 200);
    s.stop().await;
}
