//! Example (run as a test): an application acting as itself, managing its users' identities
//! in-process with `Caller::key(Role::Server)`: sign-up, look-up by e-mail, sessions, password
//! change, log out everywhere, account deletion, and periodic housekeeping.
//!
//! Not a test of the engine's rules (those are in `src/tests`); documentation that runs.

use std::sync::Arc;
use std::time::Duration;

use sesame_auth::prelude::*;

/// The application's own account service: an engine plus the principal it acts as.
struct Accounts {
    engine: Arc<Engine>,
    /// The intended in-process principal: a server key with no stored key behind it (documents,
    /// credentials, tokens, logins; not keys or collection schema).
    me: Caller,
    users: CollectionName,
}

impl Accounts {
    async fn new(engine: Arc<Engine>) -> Result<Self, AuthError> {
        let users: CollectionName = "User".try_into()?;
        // Schema changes need admin; done once at start-up (a conflict means it exists).
        match engine.create_collection(&Caller::key(Role::Admin), users.clone()).await {
            Ok(_) | Err(AuthError::ConstraintFailure { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(Accounts { engine, me: Caller::key(Role::Server), users })
    }

    /// Sign-up: a user document and its password credential.
    async fn sign_up(&self, email: &str, password: &str) -> Result<DocRef, AuthError> {
        let fields = Fields::try_from(serde_json::json!({ "email": email }))?;
        let user = self.engine.create_document(&self.me, self.users.clone(), fields).await?;
        self.engine
            .create_credential(&self.me, user.doc_ref(), Some(password.into()), None)
            .await?;
        Ok(user.doc_ref())
    }

    /// Log-in by e-mail: a session secret to hand to the client.
    async fn log_in(&self, email: &str, password: &str) -> Result<NewToken, AuthError> {
        let by_email = Fields::try_from(serde_json::json!({ "email": email }))?;
        let ttl = Some(Duration::from_secs(30 * 86_400).into());
        self.engine.login_by_match(&self.me, &self.users, &by_email, &password.into(), ttl).await
    }

    /// The user's devices: their live sessions.
    async fn sessions(&self, user: &DocRef) -> Result<Vec<Token>, AuthError> {
        Ok(self.engine.tokens_of_document(&self.me, user, None, None).await?.data)
    }

    /// A password reset: every session of the user ends in the same step.
    async fn reset_password(&self, user: &DocRef, new: &str) -> Result<u64, AuthError> {
        let credential = self.engine.credential_by_document(&self.me, user).await?;
        let (_, revoked) =
            self.engine.change_password(&self.me, credential.id, &new.into(), None).await?;
        Ok(revoked)
    }
}

#[tokio::test]
async fn an_application_manages_identities_as_itself() -> Result<(), AuthError> {
    let store = Arc::new(MemoryStore::new());
    let engine = Arc::new(Engine::new(store, AuthConfig::insecure_fast_for_tests())?);
    // Housekeeping (expired tokens, throttling rows, audit retention): once per process.
    let maintenance = engine.spawn_maintenance(Duration::from_secs(60));
    let accounts = Accounts::new(engine.clone()).await?;

    let ada = accounts.sign_up("ada@example.com", "correct horse").await?;
    let phone = accounts.log_in("ada@example.com", "correct horse").await?;
    let laptop = accounts.log_in("ada@example.com", "correct horse").await?;
    assert_eq!(accounts.sessions(&ada).await?.len(), 2);

    // A wrong password and an unknown user are the same error (no account enumeration).
    let wrong = accounts.log_in("ada@example.com", "battery staple").await.unwrap_err();
    let nobody = accounts.log_in("bob@example.com", "correct horse").await.unwrap_err();
    assert_eq!((wrong.code(), nobody.code()), ("invalid_secret", "invalid_secret"));

    // Ada's own session may read her identity, but not act as the application.
    let as_ada = Caller::from(engine.authenticate(&phone.secret).await?);
    assert_eq!(engine.identity(&as_ada).await?.map(|d| d.doc_ref()), Some(ada.clone()));
    let denied = engine.create_document(&as_ada, accounts.users.clone(), Fields::new()).await;
    assert_eq!(denied.unwrap_err().http_status(), 403);

    // A password reset logs out every device.
    assert_eq!(accounts.reset_password(&ada, "new passphrase").await?, 2);
    for old in [&phone.secret, &laptop.secret] {
        assert!(matches!(engine.authenticate(old).await, Err(AuthError::Unauthorized)));
    }
    let fresh = accounts.log_in("ada@example.com", "new passphrase").await?;

    // Deleting the account deletes its credential and sessions with it.
    engine.delete_document(&accounts.me, &ada).await?;
    assert!(matches!(engine.authenticate(&fresh.secret).await, Err(AuthError::Unauthorized)));

    // One housekeeping pass on demand (the spawned task does the same every minute).
    let report = engine.run_maintenance(1000).await?;
    assert_eq!(report.expired_tokens, 0, "{report:?}");
    maintenance.abort();
    Ok(())
}
