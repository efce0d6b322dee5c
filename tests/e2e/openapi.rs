//! `GET /openapi.json`: served without authentication, equal to the document built from the
//! router, and every response of the tutorial (and of the other resources it touches, errors
//! included) validates against the JSON Schema the document gives for its operation and status.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use sesame_server::rest::openapi;
use sesame_tests::{TestServer, ADMIN};

/// Calls `method path` and checks the response body against the document's schema for that
/// operation and status (204s have no body and no schema).
async fn checked(
    s: &TestServer,
    method: Method,
    path: &str,
    secret: Option<&str>,
    body: Option<Value>,
) -> sesame_tests::Resp {
    let r = s.call(method.clone(), path, secret, body).await;
    let status = r.status.as_u16();
    let path_only = path.split('?').next().unwrap();
    if status == 204 {
        assert!(r.raw.is_empty(), "{method} {path}: 204 with a body");
        return r;
    }
    let schema = openapi::response_schema(path_only, &method, status)
        .unwrap_or_else(|| panic!("{method} {path}: no schema for status {status}"));
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{method} {path}: the schema does not compile: {e}"));
    let errors: Vec<String> = validator.iter_errors(&r.json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{method} {path} -> {status}: {}\n{errors:#?}", r.json);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_is_public_and_built_from_the_router() {
    let s = TestServer::memory().await;
    let r = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.json, openapi::document());
    assert_eq!(r.json["openapi"], "3.1.0");
    // Every schema in the document compiles as JSON Schema 2020-12.
    for (name, schema) in r.json["components"]["schemas"].as_object().unwrap() {
        let mut standalone = schema.as_object().unwrap().clone();
        standalone.insert("components".into(), r.json["components"].clone());
        let standalone = Value::Object(standalone);
        assert!(jsonschema::draft202012::new(&standalone).is_ok(), "{name}");
    }
    // The schemas have teeth: a token with a stray field, or an error without a code, fails.
    let token = openapi::response_schema("/tokens/self", &Method::GET, 200).unwrap();
    let token = jsonschema::draft202012::new(&token).unwrap();
    let ok = json!({"id": "1", "coll": "Token", "ts": "2026-01-01T00:00:00Z",
                    "document": {"coll": "C", "id": "2"}, "origin": "login"});
    assert!(token.is_valid(&ok));
    let mut stray = ok.clone();
    stray["secret"] = json!("snt_x");
    assert!(!token.is_valid(&stray), "a token listing must never carry a secret");
    let error = openapi::response_schema("/tokens/self", &Method::GET, 401).unwrap();
    assert!(!jsonschema::draft202012::new(&error)
        .unwrap()
        .is_valid(&json!({"error": {"message": "x"}})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_responses_validate_against_the_document() {
    let s = TestServer::memory().await;
    let a = Some(ADMIN);
    checked(&s, Method::GET, "/healthz", None, None).await;
    checked(&s, Method::GET, "/readyz", None, None).await;
    checked(&s, Method::POST, "/collections", a, Some(json!({"name": "Customer"}))).await;
    checked(&s, Method::GET, "/collections", a, None).await;
    checked(&s, Method::GET, "/collections/Customer", a, None).await;
    let jane = checked(
        &s,
        Method::POST,
        "/collections/Customer/documents",
        a,
        Some(json!({"firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"})),
    )
    .await
    .str("id");
    let doc = format!("/collections/Customer/documents/{jane}");
    let cred = checked(
        &s,
        Method::POST,
        "/credentials",
        a,
        Some(json!({"document": {"coll": "Customer", "id": jane}, "password": "sekret"})),
    )
    .await
    .str("id");
    let found = checked(
        &s,
        Method::GET,
        "/collections/Customer/documents?firstName=Jane&lastName=Doe",
        a,
        None,
    )
    .await;
    assert_eq!(found.json["data"].as_array().unwrap().len(), 1);
    checked(&s, Method::GET, &doc, a, None).await;
    checked(&s, Method::PATCH, &doc, a, Some(json!({"nickname": "JD"}))).await;
    checked(&s, Method::GET, &format!("{doc}/credential"), a, None).await;
    checked(&s, Method::GET, &format!("/credentials/{cred}"), a, None).await;
    checked(
        &s,
        Method::POST,
        &format!("/credentials/{cred}/verify"),
        a,
        Some(json!({"password": "sekret"})),
    )
    .await;
    let login = checked(
        &s,
        Method::POST,
        &format!("/credentials/{cred}/login"),
        a,
        Some(json!({"password": "sekret", "ttl": 3600})),
    )
    .await;
    assert_eq!(login.status, StatusCode::CREATED);
    let token = login.str("secret");
    let t = Some(token.as_str());
    checked(&s, Method::GET, "/tokens/self", t, None).await;
    checked(&s, Method::GET, "/identity", t, None).await;
    checked(&s, Method::GET, &format!("{doc}/tokens"), a, None).await;
    checked(&s, Method::GET, &format!("/tokens/{}", login.str("id")), a, None).await;
    checked(&s, Method::DELETE, "/tokens/self", t, None).await;
    let gone = checked(&s, Method::GET, "/tokens/self", t, None).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    let by_match = checked(
        &s,
        Method::POST,
        "/login",
        a,
        Some(json!({"collection": "Customer", "match": {"email": "jane.doe@example.com"}, "password": "sekret"})),
    )
    .await;
    assert_eq!(by_match.status, StatusCode::CREATED);
    checked(
        &s,
        Method::POST,
        "/tokens",
        a,
        Some(json!({"document": {"coll": "Customer", "id": jane}, "data": {"device": "kiosk"}})),
    )
    .await;
    checked(
        &s,
        Method::PATCH,
        &format!("/credentials/{cred}"),
        a,
        Some(json!({"password": "new-sekret"})),
    )
    .await;
    checked(&s, Method::DELETE, &format!("{doc}/tokens"), a, None).await;
    let key = checked(&s, Method::POST, "/keys", a, Some(json!({"role": "server", "ttl": 60})))
        .await
        .str("id");
    checked(&s, Method::GET, "/keys", a, None).await;
    checked(&s, Method::GET, &format!("/keys/{key}"), a, None).await;
    checked(&s, Method::DELETE, &format!("/keys/{key}"), a, None).await;
    // Errors validate against the `default` response.
    checked(&s, Method::GET, "/collections/Customer/documents/1", a, None).await;
    checked(&s, Method::POST, "/collections", a, Some(json!({"nom": "x"}))).await;
    checked(
        &s,
        Method::POST,
        &format!("/credentials/{cred}/login"),
        a,
        Some(json!({"password": "nope"})),
    )
    .await;
    // The audit trail (written off the request path: wait for the events).
    let mut events = 0;
    for _ in 0..50 {
        let r = checked(&s, Method::GET, "/audit?size=100", a, None).await;
        events = r.json["data"].as_array().unwrap().len();
        if events >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(events >= 5, "{events} audit events");
    checked(&s, Method::DELETE, &doc, a, None).await;
    checked(&s, Method::DELETE, "/collections/Customer", a, None).await;
}
