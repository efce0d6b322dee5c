//! What is acknowledged is durable, and cascades happen in the database itself.

use std::sync::Arc;

use serde_json::json;
use sesame_model::{
    Collection, Credential, DocRef, Document, Fields, IdGenerator, PasswordHash, SecretDigest,
    Timestamp, Token, TokenOrigin,
};
use sesame_postgres::testing::TestDb;
use sesame_postgres::{PgConfig, PgStore};
use sesame_store::prelude::*;
use sesame_store::{StoreError, StoredCredential};

fn now() -> Timestamp {
    Timestamp::from_micros(1_795_862_043_249_742).unwrap()
}

async fn jane_with_token(store: &PgStore) -> (DocRef, Token, SecretDigest) {
    let ids = IdGenerator::new(3);
    let name = "Customer".parse().unwrap();
    store.create_collection(&Collection::new(name, now())).await.unwrap();
    let doc = Document {
        id: ids.next(now()),
        coll: "Customer".parse().unwrap(),
        ts: now(),
        fields: Fields::parse_value(json!({"firstName": "Jane"})).unwrap(),
    };
    store.create_document(&doc).await.unwrap();
    let cred = StoredCredential {
        credential: Credential {
            id: ids.next(now()),
            document: doc.doc_ref(),
            ts: now(),
            data: None,
        },
        hash: Some(PasswordHash::new("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into())),
    };
    store.create_credential(&cred).await.unwrap();
    let token = Token {
        id: ids.next(now()),
        document: doc.doc_ref(),
        ts: now(),
        ttl: None,
        data: None,
        origin: TokenOrigin::Login,
        client: Default::default(),
        last_used: None,
    };
    let digest = SecretDigest::of("durability-test-secret");
    store.create_token(&token, &digest, None).await.unwrap();
    (doc.doc_ref(), token, digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_token_is_found_by_a_fresh_pool() {
    let Some(db) = TestDb::new().await else { return };
    let (_, token, digest) = jane_with_token(&db.store).await;
    let fresh = PgStore::new(db.config.clone()).unwrap();
    assert_eq!(fresh.token_by_digest(&digest).await.unwrap(), token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_delete_cascades_in_the_database() {
    let Some(db) = TestDb::new().await else { return };
    let (doc, _, _) = jane_with_token(&db.store).await;
    // Delete with plain SQL, bypassing PgStore: the schema itself must cascade.
    let url = sesame_postgres::testing::url().unwrap();
    let mut cfg: tokio_postgres::Config = url.parse().unwrap();
    cfg.options(format!("-c search_path={}", db.schema));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let count = |table: &'static str| {
        let client = &client;
        async move {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .unwrap()
                .get(0);
            n
        }
    };
    assert_eq!((count("credentials").await, count("tokens").await), (1, 1));
    client.execute("DELETE FROM documents WHERE id = $1", &[&doc.id.as_i64()]).await.unwrap();
    assert_eq!((count("credentials").await, count("tokens").await), (0, 0));
    // And deleting the collection cascades to documents.
    client
        .execute("INSERT INTO documents (id, coll, ts) VALUES (42, 'Customer', 0)", &[])
        .await
        .unwrap();
    client.execute("DELETE FROM collections WHERE name = 'Customer'", &[]).await.unwrap();
    assert_eq!(count("documents").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable_not_a_hang() {
    // Port 9 (discard) on loopback: nothing listens there.
    let cfg = PgConfig {
        connect_timeout: std::time::Duration::from_secs(1),
        acquire_timeout: std::time::Duration::from_secs(1),
        ..PgConfig::new("postgres://postgres:hunter2@127.0.0.1:9/test")
    };
    assert!(!format!("{cfg:?}").contains("hunter2"), "password redacted");
    let store = Arc::new(PgStore::new(cfg).unwrap());
    let started = std::time::Instant::now();
    let e = store.ping().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let e = store.token_by_digest(&SecretDigest::of("x")).await.unwrap_err();
    assert_eq!(e.code(), "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_never_falls_back_to_plaintext() {
    let Some(db) = TestDb::new().await else { return };
    let url = sesame_postgres::testing::url().unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let require = format!("{url}{sep}sslmode=require");
    let cfg = PgConfig {
        url: require.clone(),
        connect_timeout: std::time::Duration::from_secs(3),
        acquire_timeout: std::time::Duration::from_secs(3),
        ..db.config.clone()
    };
    cfg.check().unwrap();
    // The test server has no TLS, or a certificate no trusted root signed (Debian's snakeoil):
    // either way `require` must fail rather than talk in clear.
    let store = PgStore::new(cfg.clone()).unwrap();
    let e = store.ping().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let e = store.token_by_digest(&SecretDigest::of("x")).await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    // A CA file with no certificate in it is refused before any connection.
    let bad = PgConfig { ca_file: Some("/etc/hostname".into()), ..cfg };
    assert!(bad.check().is_err());
}
