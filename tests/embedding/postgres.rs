//! Example (run as a test): the seed tutorial "Log in and log out", in-process, on Postgres.
//!
//! The in-memory version is `crates/sesame-auth/tests/embed_memory.rs`; only the store differs.
//! An application builds its store from a URL and migrates it at start-up:
//!
//! ```text
//! let store = PgStore::new(PgConfig::new(std::env::var("DATABASE_URL")?))?;
//! store.migrate().await?;                         // advisory-locked, idempotent
//! let engine = Engine::new(Arc::new(store), AuthConfig::default())?;
//! ```
//!
//! This test does the same on a fresh, isolated schema from `sesame_postgres::testing::TestDb`:
//! without `SESAME_TEST_DATABASE_URL` (or `DATABASE_URL`) it prints `SKIPPED: …` and passes;
//! under `CI` an unreachable database fails it. Not a test of the store (the conformance suite
//! is), documentation that runs.

use std::sync::Arc;

use sesame_auth::prelude::*;
use sesame_postgres::testing::TestDb;
use sesame_postgres::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_in_process_on_postgres() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = TestDb::new().await else { return Ok(()) };
    // What an application does, with the test schema's configuration.
    let store = PgStore::new(db.config.clone())?;
    store.migrate().await?; // already migrated by TestDb: a no-op, as on every restart
    let engine = Engine::new(Arc::new(store), AuthConfig::insecure_fast_for_tests())?;

    let (admin, app) = (Caller::key(Role::Admin), Caller::key(Role::Server));
    let customer = engine.create_collection(&admin, "Customer".try_into()?).await?.name;
    let fields = Fields::try_from(serde_json::json!({
        "firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"
    }))?;
    let jane = engine.create_document(&app, customer.clone(), fields).await?;
    let credential = engine
        .create_credential(&app, jane.doc_ref(), Some(Password::from("sekret")), None)
        .await?;

    let ttl = Ttl::from(std::time::Duration::from_secs(3600));
    let login = engine.login(&app, credential.id, &Password::from("sekret"), Some(ttl)).await?;

    let as_jane = Caller::from(engine.authenticate(&login.secret).await?);
    assert_eq!(engine.current_token(&as_jane).map(|t| t.id), Some(login.token.id));
    let me = engine.identity(&as_jane).await?.expect("a token has an identity");
    assert_eq!(me.doc_ref(), jane.doc_ref());

    engine.logout(&as_jane).await?;
    let after = engine.authenticate(&login.secret).await;
    assert!(matches!(after, Err(AuthError::Unauthorized)), "{after:?}");
    // Revocation is in the database: a second engine (another instance) agrees at once.
    let other = Engine::new(
        Arc::new(PgStore::new(db.config.clone())?),
        AuthConfig::insecure_fast_for_tests(),
    )?;
    assert!(matches!(other.authenticate(&login.secret).await, Err(AuthError::Unauthorized)));
    Ok(())
}
