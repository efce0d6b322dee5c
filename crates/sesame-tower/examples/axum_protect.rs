//! Example: an axum service whose `GET /me` needs a Sesame secret (in-process engine on memory).
//! Not a deployment recipe: a real service keeps its engine on `PgStore`, or uses remote mode.
use std::sync::Arc;

use axum::{routing::get, Router};
use sesame_auth::{AuthConfig, Engine};
use sesame_store::MemoryStore;
use sesame_tower::{Authenticated, SesameAuthLayer};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let store = Arc::new(MemoryStore::new());
    let engine = Arc::new(Engine::new(store, AuthConfig::default()).expect("engine config"));
    let me = |Authenticated(who): Authenticated| async move { format!("{:?}\n", who.identity()) };
    let app = Router::new()
        .route("/me", get(me)) // 401 + WWW-Authenticate: Bearer without a valid secret
        .route_layer(SesameAuthLayer::new(engine))
        .route("/healthz", get(|| async { "ok\n" })); // added after the layer: public
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}
