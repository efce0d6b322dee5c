//! The store conformance suite, unchanged, against Postgres.

use std::sync::Arc;

use async_trait::async_trait;
use sesame_postgres::testing::TestDb;
use sesame_store::conformance::Harness;
use sesame_store::Store;

struct Pg;

#[async_trait]
impl Harness for Pg {
    type Guard = TestDb;
    async fn fresh(&self) -> Option<(TestDb, Arc<dyn Store>)> {
        let db = TestDb::new().await?;
        let store: Arc<dyn Store> = db.store.clone();
        Some((db, store))
    }
}

sesame_store::store_conformance!(Pg);
