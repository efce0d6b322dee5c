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

/// An idle keep-alive connection does not hold shutdown up: the server closes it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_keep_alive_connections() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let s = TestServer::memory().await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
        idle.push(c);
    }
    let started = std::time::Instant::now();
    tokio::time::timeout(std::time::Duration::from_secs(5), s.stop())
        .await
        .expect("idle connections closed well before the drain deadline");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    for mut c in idle {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("closed")
            .unwrap_or(0);
        assert_eq!(n, 0, "the server closed the connection");
    }
}

/// A writer that keeps everything logged, for the test below.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let c = Captured::default();
            let w = c.clone();
            // The server's own filter at the broadest level: Sesame at TRACE, and whatever
            // it does to dependencies that log parameters (and `log` records bridged in).
            tracing_subscriber::fmt()
                .with_env_filter(sesame_server::telemetry::filter("trace"))
                .with_writer(move || w.clone())
                .with_ansi(false)
                .try_init()
                .expect("first global subscriber");
            c
        })
        .clone()
}

/// Secrets, passwords and the Authorization header never reach a log line, at any level,
/// over HTTP/1.1 or HTTP/2, on success or failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_secrets_or_passwords() {
    logs_never_contain_secrets(TestServer::memory().await).await;
}

/// The same on Postgres, whose driver logs statement parameters (hashes, match values) at
/// debug level unless the filter pins it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_secrets_or_passwords_on_postgres() {
    let Some(s) = TestServer::postgres().await else { return };
    logs_never_contain_secrets(s).await;
}

async fn logs_never_contain_secrets(s: TestServer) {
    let logs = capture_logs();
    let a = Some(ADMIN);
    let password = "correct-horse-battery-staple";
    let (_, cred) =
        s.identity("User", json!({"email": "private-address@example.org"}), password).await;
    s.call(
        Method::POST,
        "/login",
        a,
        Some(json!({"collection": "User", "match": {"email": "private-address@example.org"},
                    "password": "wrong-match-password"})),
    )
    .await;
    let login = s
        .call(
            Method::POST,
            &format!("/credentials/{cred}/login"),
            a,
            Some(json!({"password": password})),
        )
        .await;
    let secret = login.str("secret");
    let key =
        s.call_h2(Method::POST, "/keys", a, Some(json!({"role": "server"}))).await.str("secret");
    s.call(
        Method::POST,
        &format!("/credentials/{cred}/login"),
        Some(&key),
        Some(json!({"password": "wrong-password-here"})),
    )
    .await;
    s.call(
        Method::PATCH,
        &format!("/credentials/{cred}"),
        a,
        Some(json!({"password": "new-password-9876"})),
    )
    .await;
    s.call_h2(Method::GET, "/tokens/self", Some(&secret), None).await;
    s.call(Method::GET, "/identity", Some(&secret), None).await;
    s.call(Method::DELETE, "/tokens/self", Some(&secret), None).await;
    s.call(Method::GET, "/tokens/self", Some(&secret), None).await;
    s.call(Method::GET, "/collections", Some("snt_not-a-real-secret-but-still-private"), None)
        .await;
    s.stop().await;
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("login_succeeded"), "the capture works, audit lines included");
    assert!(text.contains("served"), "request lines are logged");
    for needle in [
        password,
        "wrong-password-here",
        "new-password-9876",
        secret.as_str(),
        &secret[4..],
        key.as_str(),
        &key[4..],
        ADMIN,
        "not-a-real-secret-but-still-private",
        "$argon2id",
        "wrong-match-password",
        "private-address@example.org",
    ] {
        assert!(!text.contains(needle), "a log line contains `{needle}`");
    }
    assert!(!text.to_ascii_lowercase().contains("authorization: bearer"));
}

/// A request in flight when shutdown starts still gets its answer; new connections are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_requests() {
    use sesame_auth::HashParams;
    // Expensive hashing makes a login take long enough to be caught in flight.
    let auth = sesame_auth::AuthConfig {
        hash_params: HashParams { m_cost_kib: 32 * 1024, t_cost: 6, p_cost: 1 },
        ..sesame_tests::test_auth_config()
    };
    let store = std::sync::Arc::new(sesame_store::MemoryStore::new());
    let mut s = TestServer::start_with(store, None, Default::default(), auth).await;
    let (_, cred) = s.identity("User", json!({}), "pw").await;
    let s2 = std::sync::Arc::new(std::sync::Mutex::new(None::<http::StatusCode>));
    let before = s.engine.hash_stats().verifications;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let req = http::Request::post(format!("{}/credentials/{cred}/login", s.base()))
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(http_body_util::Full::new(bytes::Bytes::from(json!({"password": "pw"}).to_string())))
        .unwrap();
    let out = s2.clone();
    let in_flight = tokio::spawn(async move {
        let r = client.request(req).await.expect("an answer despite the shutdown");
        *out.lock().unwrap() = Some(r.status());
    });
    // Wait until the server is verifying the password, then shut down.
    while s.engine.hash_stats().verifications == before {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    s.shutdown();
    in_flight.await.unwrap();
    assert_eq!(*s2.lock().unwrap(), Some(StatusCode::CREATED));
    s.wait().await;
    assert!(tokio::net::TcpStream::connect(s.addr).await.is_err());
}

/// The engine's maintenance task (what the server spawns every `--sweep-interval-secs`)
/// removes expired tokens (which were already refused at use time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_removes_expired_tokens() {
    let s = TestServer::memory().await;
    let a = Some(ADMIN);
    s.call(Method::POST, "/collections", a, Some(json!({"name": "User"}))).await;
    let id =
        s.call(Method::POST, "/collections/User/documents", a, Some(json!({}))).await.str("id");
    let short = s
        .call(
            Method::POST,
            "/tokens",
            a,
            Some(json!({"document": {"coll": "User", "id": id}, "ttl": 1})),
        )
        .await;
    let long = s
        .call(Method::POST, "/tokens", a, Some(json!({"document": {"coll": "User", "id": id}})))
        .await;
    let short_id: sesame_model::DocId = short.str("id").parse().unwrap();
    let sweeper = s.engine.spawn_maintenance(std::time::Duration::from_millis(100));
    let mut gone = false;
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let r = s.call(Method::GET, &format!("/tokens/{short_id}"), a, None).await;
        if r.status == http::StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
    }
    sweeper.abort();
    assert!(gone, "expired token still stored after 3 s");
    let long_id = long.str("id");
    assert_eq!(s.call(Method::GET, &format!("/tokens/{long_id}"), a, None).await.status, 200);
    s.stop().await;
}

/// `/metrics` on its own listener: requests by route and status, logins by outcome, Argon2
/// queue and durations, throttling, active tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exposed_on_their_own_listener() {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    let handle =
        HANDLE.get_or_init(|| sesame_server::metrics::install().expect("first recorder")).clone();
    let s = TestServer::memory().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sesame_server::metrics::serve_metrics(
        listener,
        handle,
        s.engine.clone(),
        async {
            let _ = rx.await;
        },
    ));
    let a = Some(ADMIN);
    let (_, cred) = s.identity("User", json!({}), "pw").await;
    s.call(Method::POST, &format!("/credentials/{cred}/login"), a, Some(json!({"password": "pw"})))
        .await;
    s.call(Method::POST, &format!("/credentials/{cred}/login"), a, Some(json!({"password": "no"})))
        .await;
    let body = {
        use http_body_util::BodyExt as _;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let r = client
            .request(
                http::Request::get(format!("http://{addr}/metrics"))
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    };
    for needle in [
        "sesame_http_requests_total{route=\"credential_login\",status=\"201\"}",
        "sesame_http_request_duration_seconds_bucket{route=\"collections\"",
        "sesame_logins_total{outcome=\"success\"}",
        "sesame_logins_total{outcome=\"wrong_password\"}",
        "sesame_argon2_seconds_bucket",
        "sesame_argon2_queue_depth",
        "sesame_active_tokens",
    ] {
        assert!(body.contains(needle), "missing {needle} in:\n{body}");
    }
    assert!(!body.contains(ADMIN), "no secrets in metrics");
    let _ = tx.send(());
    s.stop().await;
}

/// `GET /audit`: admins read the trail, filtered and paginated; nobody else may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_is_readable_by_admins_only() {
    for s in [Some(TestServer::memory().await), TestServer::postgres().await].into_iter().flatten()
    {
        let a = Some(ADMIN);
        let (id, cred) = s.identity("User", json!({}), "pw").await;
        let login = s
            .call(
                Method::POST,
                &format!("/credentials/{cred}/login"),
                a,
                Some(json!({"password": "pw"})),
            )
            .await;
        s.call(
            Method::POST,
            &format!("/credentials/{cred}/login"),
            a,
            Some(json!({"password": "bad-guess"})),
        )
        .await;
        let r = s
            .call(Method::GET, &format!("/audit?identity=User/{id}&type=login_failed"), a, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        let events = r.json["data"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{}", r.json);
        assert_eq!(events[0]["type"], "login_failed");
        assert_eq!(events[0]["reason"], "wrong_password");
        assert_eq!(events[0]["identity"], json!({"coll": "User", "id": id}));
        assert_eq!(events[0]["client_addr"], "127.0.0.1");
        let all = s.call(Method::GET, "/audit?size=2", a, None).await;
        assert_eq!(all.json["data"].as_array().unwrap().len(), 2);
        assert!(all.json["after"].is_string());
        assert!(!all.raw.windows(9).any(|w| w == b"bad-guess"));
        let secret = login.str("secret");
        let r = s.call(Method::GET, "/audit", Some(&secret), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "permission_denied"));
        let r = s.call(Method::GET, "/audit?type=nope", a, None).await;
        assert_eq!(r.code(), "invalid_argument");
        s.stop().await;
    }
}
