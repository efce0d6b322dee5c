//! Support for the end-to-end tests: a real `sesame` server on an ephemeral loopback port, over
//! the memory store or a per-test Postgres schema, and a small HTTP client for HTTP/1.1, h2c
//! (prior knowledge) and raw bytes. No sleeps: the listener is bound before the server starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sesame_auth::{AuthConfig, Engine};
use sesame_model::Secret;
use sesame_postgres::testing::TestDb;
use sesame_server::{serve, App, ServerConfig};
use sesame_store::{MemoryStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub mod faulty;

/// The admin secret every test server is configured with.
pub const ADMIN: &str = "e2e-admin-secret-0123456789abcdef";

/// A running server; stopped (gracefully) on drop.
#[derive(Debug)]
pub struct TestServer {
    /// Its address.
    pub addr: SocketAddr,
    /// Its engine, to inspect state.
    pub engine: Arc<Engine>,
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    h1: Client<HttpConnector, Full<Bytes>>,
    h2: Client<HttpConnector, Full<Bytes>>,
    _db: Option<TestDb>,
}

/// A response, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// The raw body.
    pub raw: Bytes,
    /// The HTTP version it came back with.
    pub version: http::Version,
}

impl Resp {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// A string field of the body.
    pub fn str(&self, k: &str) -> String {
        self.json[k]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{k}` in {}", self.json))
            .to_owned()
    }
}

/// Cheap hashing: these tests are not about hashing cost.
pub fn test_auth_config() -> AuthConfig {
    AuthConfig {
        admin_secret: Some(Secret::new(ADMIN.into())),
        ..AuthConfig::insecure_fast_for_tests()
    }
}

impl TestServer {
    /// A server over an in-memory store.
    pub async fn memory() -> TestServer {
        TestServer::start(Arc::new(MemoryStore::new()), None, ServerConfig::default()).await
    }

    /// A server over a fresh Postgres schema; `None` when Postgres is not configured locally
    /// (under `CI` a missing database fails instead).
    pub async fn postgres() -> Option<TestServer> {
        let db = TestDb::new().await?;
        let store: Arc<dyn Store> = db.store.clone();
        Some(TestServer::start(store, Some(db), ServerConfig::default()).await)
    }

    /// A server over any store.
    pub async fn start(
        store: Arc<dyn Store>,
        db: Option<TestDb>,
        config: ServerConfig,
    ) -> TestServer {
        TestServer::start_with(store, db, config, test_auth_config()).await
    }

    /// A server over any store, with its own engine configuration.
    pub async fn start_with(
        store: Arc<dyn Store>,
        db: Option<TestDb>,
        config: ServerConfig,
        auth: AuthConfig,
    ) -> TestServer {
        let engine = Arc::new(Engine::new(store, auth).expect("engine"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let app = Arc::new(App::new(engine.clone(), config));
        let task = tokio::spawn(serve(listener, app, async {
            let _ = rx.await;
        }));
        let h1 = Client::builder(TokioExecutor::new()).build_http();
        let h2 = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
        TestServer {
            addr,
            engine,
            stop: std::sync::Mutex::new(Some(tx)),
            task: Some(task),
            h1,
            h2,
            _db: db,
        }
    }

    /// `http://addr`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends a request over HTTP/1.1 with a JSON body (if any) and an optional bearer secret.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        secret: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.send(false, method, path, secret, body.map(|b| b.to_string().into()), true).await
    }

    /// Like [`TestServer::call`], over cleartext HTTP/2 with prior knowledge.
    pub async fn call_h2(
        &self,
        method: Method,
        path: &str,
        secret: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.send(true, method, path, secret, body.map(|b| b.to_string().into()), true).await
    }

    /// `POST /query/1` (Fauna's protocol) with `body` and extra headers, as a driver sends it:
    /// over h2c without a content type (`h2`, like the JS driver) or over HTTP/1.1 with one.
    pub async fn query(
        &self,
        h2: bool,
        secret: Option<&str>,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Resp {
        let mut b = Request::builder().method(Method::POST).uri(format!("{}/query/1", self.base()));
        if let Some(s) = secret {
            b = b.header("authorization", format!("Bearer {s}"));
        }
        if !h2 {
            b = b.header("content-type", "application/json;charset=utf-8");
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Full::new(Bytes::from(body.to_string()))).expect("request");
        self.send_request(h2, req).await
    }

    /// Full control: raw body bytes, and whether to send `content-type: application/json`.
    pub async fn send(
        &self,
        h2: bool,
        method: Method,
        path: &str,
        secret: Option<&str>,
        body: Option<Bytes>,
        json_type: bool,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(format!("{}{path}", self.base()));
        if let Some(s) = secret {
            b = b.header("authorization", format!("Bearer {s}"));
        }
        if json_type && body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let req = b.body(Full::new(body.unwrap_or_default())).expect("request");
        self.send_request(h2, req).await
    }

    /// Sends a request built by hand (any headers) over HTTP/1.1; its URI must be absolute
    /// (`format!("{}/path", s.base())`).
    pub async fn request(&self, req: Request<Full<Bytes>>) -> Resp {
        self.send_request(false, req).await
    }

    async fn send_request(&self, h2: bool, req: Request<Full<Bytes>>) -> Resp {
        let client = if h2 { &self.h2 } else { &self.h1 };
        let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
            .await
            .expect("response within 30 s")
            .expect("response");
        let (parts, body) = resp.into_parts();
        let raw = body.collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status: parts.status, headers: parts.headers, json, raw, version: parts.version }
    }

    /// Writes raw bytes on a fresh connection and returns the status code of the answer
    /// (`None` if the server closed the connection without one).
    pub async fn raw(&self, bytes: &[u8]) -> Option<u16> {
        let mut s = TcpStream::connect(self.addr).await.ok()?;
        s.write_all(bytes).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if got.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
        })
        .await;
        read.ok()?;
        let line = String::from_utf8_lossy(&got);
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// As the admin: creates collection `coll` (if it does not exist yet), a document with
    /// `fields` in it, and the document's credential with `password`. Returns the document's
    /// and the credential's ids.
    pub async fn identity(&self, coll: &str, fields: Value, password: &str) -> (String, String) {
        let a = Some(ADMIN);
        let r = self
            .call(Method::POST, "/collections", a, Some(serde_json::json!({ "name": coll })))
            .await;
        assert!(r.status == StatusCode::CREATED || r.code() == "constraint_failure", "{}", r.json);
        let id = self
            .call(Method::POST, &format!("/collections/{coll}/documents"), a, Some(fields))
            .await
            .str("id");
        let body = serde_json::json!({"document": {"coll": coll, "id": id}, "password": password});
        let cred = self.call(Method::POST, "/credentials", a, Some(body)).await.str("id");
        (id, cred)
    }

    /// Whether `/healthz` still answers 200.
    pub async fn healthy(&self) -> bool {
        self.call(Method::GET, "/healthz", None, None).await.status == StatusCode::OK
    }

    /// Signals shutdown (as SIGTERM would) without waiting.
    pub fn shutdown(&self) {
        if let Some(tx) = self.stop.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        self.shutdown();
        self.wait().await;
    }

    /// Waits for the server task to finish (after [`TestServer::shutdown`]).
    pub async fn wait(&mut self) {
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
