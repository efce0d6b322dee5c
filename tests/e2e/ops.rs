//! Operational behaviour: health, request ids, graceful shutdown, many streams on one h2c
//! connection.

use http::{Method, StatusCode};
use serde_json::json;
use sesame_tests::{TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_request_ids() {
    let s = TestServer::memory().await;
    let r = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!({"status": "ok"})));
    let r = s.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let a = s.call(Method::GET, "/healthz", None, None).await.headers["x-request-id"].clone();
    let b = s.call(Method::GET, "/healthz", None, None).await.headers["x-request-id"].clone();
    assert_ne!(a, b);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_over_h2c() {
    let s = std::sync::Arc::new(TestServer::memory().await);
    s.call(Method::POST, "/collections", Some(ADMIN), Some(json!({"name": "C"}))).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.call_h2(Method::POST, "/collections/C/documents", Some(ADMIN), Some(json!({"i": i})))
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let r = s.call(Method::GET, "/collections/C/documents?size=1000", Some(ADMIN), None).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_returns() {
    let s = TestServer::memory().await;
    let addr = s.addr;
    assert!(s.healthy().await);
    tokio::time::timeout(std::time::Duration::from_secs(15), s.stop())
        .await
        .expect("drained in time");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
}
