//! `sesame-tower` protecting a real axum app: in-process (an engine on `MemoryStore`) and
//! remote (a real `sesame_server` on a loopback port), plus a bare tower service.
//!
//! Identities and tokens are made over HTTP through the Sesame server, as an application's
//! users would; the only engine calls here are `Engine::new` and what the layer does. Not here:
//! the server's own API (the `sesame-tests` crate).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use sesame_auth::{AuthConfig, Engine};
use sesame_model::{Secret, SecretKind};
use sesame_server::{serve, App, ServerConfig};
use sesame_store::MemoryStore;
use sesame_tower::{Authenticated, Principal, RemoteConfig, RemoteValidator, SesameAuthLayer};
use tower::ServiceExt as _;

const ADMIN: &str = "tower-test-admin-secret-0123456789";

/// A well-formed token secret that no server issued.
fn unknown_token() -> String {
    Secret::from_random_bytes(SecretKind::Token, &[7; 32]).expose().to_owned()
}

/// A Sesame server on a loopback port, stopped on drop.
struct Sesame {
    addr: SocketAddr,
    engine: Arc<Engine>,
    client: Client<HttpConnector, Full<Bytes>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sesame {
    async fn start() -> Sesame {
        let auth = AuthConfig {
            admin_secret: Some(Secret::new(ADMIN.into())),
            ..AuthConfig::insecure_fast_for_tests()
        };
        let engine = Arc::new(Engine::new(Arc::new(MemoryStore::new()), auth).expect("engine"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Arc::new(App::new(engine.clone(), ServerConfig::default()));
        tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Sesame { addr, engine, client, _stop: stop }
    }

    async fn call(&self, method: Method, path: &str, secret: &str, body: Option<Value>) -> Value {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header(header::AUTHORIZATION, format!("Bearer {secret}"));
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = Full::new(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default());
        let resp = self.client.request(req.body(body).unwrap()).await.expect("sesame answers");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// The seed tutorial up to login: Jane Doe's id and a token secret acting as her.
    async fn jane(&self) -> (String, String) {
        let post =
            |path: &'static str, body: Value| self.call(Method::POST, path, ADMIN, Some(body));
        post("/collections", json!({"name": "Customer"})).await;
        let doc = post("/collections/Customer/documents", json!({"firstName": "Jane"})).await;
        let id = doc["id"].as_str().unwrap().to_owned();
        let cred = self
            .call(
                Method::POST,
                "/credentials",
                ADMIN,
                Some(json!({"document": {"coll": "Customer", "id": id}, "password": "sekret"})),
            )
            .await;
        let login = format!("/credentials/{}/login", cred["id"].as_str().unwrap());
        let token =
            self.call(Method::POST, &login, ADMIN, Some(json!({"password": "sekret"}))).await;
        (id, token["secret"].as_str().unwrap().to_owned())
    }

    async fn logout(&self, token: &str) {
        self.call(Method::DELETE, "/tokens/self", token, None).await;
    }
}

/// The application being protected: `/me` needs a secret, `/open` does not.
fn app(layer: SesameAuthLayer) -> Router {
    async fn me(Authenticated(p): Authenticated) -> Json<Value> {
        Json(match &p {
            Principal::Token(t) => {
                json!({"coll": t.document.coll.as_str(), "id": t.document.id.to_string()})
            }
            Principal::Key { role, .. } => json!({"role": role.as_str()}),
            other => json!({"identity": other.identity().map(|d| d.to_string())}),
        })
    }
    Router::new().route("/me", get(me)).route_layer(layer).route("/open", get(|| async { "open" }))
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    json: Value,
}

async fn get_with(app: &Router, path: &str, authorization: Option<&str>) -> Answer {
    let mut req = Request::get(path);
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.expect("infallible");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn assert_unauthorized(a: &Answer) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.json);
    assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        a.json,
        json!({"error": {"code": "unauthorized", "message": "Access token required"}})
    );
}

#[tokio::test]
async fn in_process_engine_protects_an_axum_route() {
    let sesame = Sesame::start().await;
    let (jane, token) = sesame.jane().await;
    let app = app(SesameAuthLayer::new(sesame.engine.clone()));

    // No secret, another scheme, garbage, a well-formed unknown secret: all the same 401.
    for auth in [
        None,
        Some(format!("Basic {token}")),
        Some("Bearer".to_owned()),
        Some("Bearer snt_not-a-real-secret".to_owned()),
    ] {
        assert_unauthorized(&get_with(&app, "/me", auth.as_deref()).await);
    }
    // Routes outside the layer stay open; unknown routes stay 404.
    assert_eq!(get_with(&app, "/open", None).await.status, StatusCode::OK);
    assert_eq!(get_with(&app, "/nope", None).await.status, StatusCode::NOT_FOUND);

    // The token acts as Jane; the admin secret as admin (in-process accepts keys too).
    let me = get_with(&app, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json, json!({"coll": "Customer", "id": jane}));
    let admin = get_with(&app, "/me", Some(&format!("bearer {ADMIN}"))).await;
    assert_eq!(admin.json, json!({"role": "admin"}));

    // Logging out on the server is seen at once: no cache in-process.
    sesame.logout(&token).await;
    assert_unauthorized(&get_with(&app, "/me", Some(&format!("Bearer {token}"))).await);
}

#[tokio::test]
async fn remote_mode_validates_against_a_sesame_server_and_caches_for_the_ttl() {
    let sesame = Sesame::start().await;
    let (jane, token) = sesame.jane().await;
    let base = format!("http://{}", sesame.addr);
    let remote = |ttl: Duration| {
        let cfg = RemoteConfig { cache_ttl: ttl, ..RemoteConfig::new(base.clone()) };
        RemoteValidator::new(cfg).expect("valid base URL")
    };
    let cached = Arc::new(remote(Duration::from_secs(300)));
    let short = Arc::new(remote(Duration::from_millis(300)));
    let uncached = Arc::new(remote(Duration::ZERO));
    let bearer = format!("Bearer {token}");

    let secret = Secret::new(token.clone());
    for v in [&cached, &short, &uncached] {
        match v.authenticate(&secret).await.expect("valid token") {
            Principal::Token(t) => assert_eq!(t.document.id.to_string(), jane),
            p => panic!("expected a token principal, got {p:?}"),
        }
    }
    let app_cached = app(SesameAuthLayer::remote(remote(Duration::from_secs(300))));
    let me = get_with(&app_cached, "/me", Some(&bearer)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(me.json, json!({"coll": "Customer", "id": jane}));

    // A second check within the TTL does not ask the server.
    assert_eq!(cached.requests_sent(), 1);
    cached.authenticate(&secret).await.expect("cached");
    assert_eq!(cached.requests_sent(), 1);

    // Keys and malformed secrets are refused without a request; unknown tokens after one.
    for s in [ADMIN.to_owned(), "snk_whatever".into(), "snt_malformed".into(), unknown_token()] {
        assert_eq!(
            uncached.authenticate(&Secret::new(s)).await,
            Err(sesame_tower::Rejection::Unauthorized)
        );
    }
    assert_eq!(
        uncached.requests_sent(),
        2,
        "one request for the first check, one for the unknown token"
    );
    assert_unauthorized(&get_with(&app_cached, "/me", None).await);

    // After logout: the TTL is the revocation delay.
    sesame.logout(&token).await;
    assert!(cached.authenticate(&secret).await.is_ok(), "still cached, as documented");
    assert_eq!(
        uncached.authenticate(&secret).await,
        Err(sesame_tower::Rejection::Unauthorized),
        "no cache: revoked at once"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        short.authenticate(&secret).await,
        Err(sesame_tower::Rejection::Unauthorized),
        "revoked once the TTL has passed"
    );
}

#[tokio::test]
async fn remote_mode_answers_503_when_the_server_is_down() {
    // A port that was just free: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = RemoteConfig {
        timeout: Duration::from_secs(2),
        ..RemoteConfig::new(format!("http://{addr}"))
    };
    let app = app(SesameAuthLayer::remote(RemoteValidator::new(cfg).unwrap()));
    let a = get_with(&app, "/me", Some(&format!("Bearer {}", unknown_token()))).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.headers[header::RETRY_AFTER], "1");
    assert_eq!(a.json["error"]["code"], "unavailable");
}

#[tokio::test]
async fn a_bare_tower_service_gets_the_principal_in_its_extensions() {
    let sesame = Sesame::start().await;
    let svc = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let who = match req.extensions().get::<Principal>() {
            Some(Principal::Key { role, .. }) => role.as_str().to_owned(),
            other => format!("{other:?}"),
        };
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(who))))
    });
    let svc = tower::ServiceBuilder::new()
        .layer(SesameAuthLayer::new(sesame.engine.clone()))
        .service(svc);
    let req = Request::get("/").header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
    let resp = svc.oneshot(req.body(Full::default()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "admin");
}

#[tokio::test]
async fn the_extractor_without_the_layer_fails_closed() {
    let app = Router::new().route("/me", get(|Authenticated(_): Authenticated| async { "in" }));
    let a = get_with(&app, "/me", Some(&format!("Bearer {ADMIN}"))).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.json["error"]["code"], "internal");
}
