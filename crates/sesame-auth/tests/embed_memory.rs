//! Example (run as a test): the seed tutorial "Log in and log out", in-process, on the
//! in-memory store. Everything comes from `sesame_auth::prelude`; no server, no HTTP.
//!
//! Not a test of the engine's rules (those are in `src/tests`): this is documentation that
//! `cargo test --workspace` compiles and runs, so it cannot rot. The same program on Postgres is
//! `tests/embedding/postgres.rs` at the workspace root.

use std::sync::Arc;

use sesame_auth::prelude::*;

#[tokio::test]
async fn tutorial_in_process_on_memory() -> Result<(), AuthError> {
    // 1. An engine over a store. `AuthConfig::default()` hashes with OWASP's Argon2id
    //    parameters; this example uses cheap ones to run fast.
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(store, AuthConfig::insecure_fast_for_tests())?;

    // 2. The application acts as itself: an in-process key principal, no stored key behind it.
    //    Admin for the schema (collections), server for everything else.
    let admin = Caller::key(Role::Admin);
    let app = Caller::key(Role::Server);
    let customer = engine.create_collection(&admin, "Customer".try_into()?).await?.name;

    // 3. Customer.create({ firstName: "Jane", … }) and Credential.create({ document, password }).
    let fields = Fields::try_from(serde_json::json!({
        "firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"
    }))?;
    let jane = engine.create_document(&app, customer.clone(), fields).await?;
    let credential = engine
        .create_credential(&app, jane.doc_ref(), Some(Password::from("sekret")), None)
        .await?;

    // 4. credential.login("sekret") for one hour: the secret exists only in this value.
    let ttl = Ttl::from(std::time::Duration::from_secs(3600));
    let login = engine.login(&app, credential.id, &Password::from("sekret"), Some(ttl)).await?;
    let secret: Secret = login.secret; // show it to Jane once; store nothing of it

    // 5. A later request presents the secret (e.g. `Authorization: Bearer …`): authenticate it
    //    into Jane's caller. `Query.token()` and `Query.identity()`:
    let header = format!("Bearer {}", secret.expose());
    let presented = sesame_auth::bearer(&header).expect("a well-formed header");
    let as_jane = Caller::from(engine.authenticate(&presented).await?);
    assert_eq!(engine.current_token(&as_jane).map(|t| t.id), Some(login.token.id));
    let me = engine.identity(&as_jane).await?.expect("a token has an identity");
    assert_eq!(me.fields.get("firstName"), Some(&serde_json::json!("Jane")));

    // 6. Log out: the same secret is unauthorized from then on.
    engine.logout(&as_jane).await?;
    let after = engine.authenticate(&presented).await;
    assert!(matches!(after, Err(AuthError::Unauthorized)), "{after:?}");
    assert_eq!(after.unwrap_err().http_status(), 401);

    // 7. A backend can also log in by a unique field, without ids.
    let by_email = Fields::try_from(serde_json::json!({"email": "jane.doe@example.com"}))?;
    let again =
        engine.login_by_match(&app, &customer, &by_email, &Password::from("sekret"), None).await?;
    assert_eq!(again.token.document, jane.doc_ref());
    Ok(())
}
