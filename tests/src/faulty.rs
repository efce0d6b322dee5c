//! [`FaultyStore`]: a store whose every call fails in one way (panics, or is unavailable), to
//! check that the server turns such failures into 500 and 503 and keeps serving.

use async_trait::async_trait;
use sesame_model::{
    AuditEvent, Collection, CollectionName, Credential, DocId, DocRef, Document, Fields, Json, Key,
    PasswordHash, SecretDigest, Timestamp, Token,
};
use sesame_store::{
    AuditFilter, AuditStore, AuthStore, Cursor, DocumentStore, LoginFailures, Page, Reservation,
    Revoke, Store, StoreError, StoreTx, StoredCredential, ThrottleKey, ThrottlePolicy,
    ThrottleStore, VerifiedWith,
};

/// How every call fails.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Every call panics.
    Panic,
    /// Every call returns `Unavailable`.
    Unavailable,
}

/// A store that always fails.
#[derive(Debug)]
pub struct FaultyStore(pub Fault);

impl FaultyStore {
    fn fail<T>(&self) -> Result<T, StoreError> {
        match self.0 {
            Fault::Panic => panic!("FaultyStore: injected panic"),
            Fault::Unavailable => Err(StoreError::Unavailable("injected outage".into())),
        }
    }
}

#[async_trait]
impl DocumentStore for FaultyStore {
    async fn create_collection(&self, _: &Collection) -> Result<(), StoreError> {
        self.fail()
    }
    async fn get_collection(&self, _: &CollectionName) -> Result<Collection, StoreError> {
        self.fail()
    }
    async fn list_collections(
        &self,
        _: Option<&CollectionName>,
        _: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError> {
        self.fail()
    }
    async fn delete_collection(&self, _: &CollectionName) -> Result<(), StoreError> {
        self.fail()
    }
    async fn create_document(&self, _: &Document) -> Result<(), StoreError> {
        self.fail()
    }
    async fn get_document(&self, _: &DocRef) -> Result<Document, StoreError> {
        self.fail()
    }
    async fn find_documents(
        &self,
        _: &CollectionName,
        _: &Fields,
        _: Option<DocId>,
        _: usize,
    ) -> Result<Page<Document>, StoreError> {
        self.fail()
    }
    async fn update_document(
        &self,
        _: &DocRef,
        _: &Fields,
        _: Timestamp,
    ) -> Result<Document, StoreError> {
        self.fail()
    }
    async fn replace_document(
        &self,
        _: &DocRef,
        _: &Fields,
        _: Timestamp,
    ) -> Result<Document, StoreError> {
        self.fail()
    }
    async fn delete_document(&self, _: &DocRef) -> Result<(), StoreError> {
        self.fail()
    }
    async fn update_collection(&self, _: &Collection) -> Result<(), StoreError> {
        self.fail()
    }
    async fn scan_index(
        &self,
        _: &CollectionName,
        _: &str,
        _: &[Json],
        _: Option<&Cursor>,
        _: usize,
    ) -> Result<Page<Document, Cursor>, StoreError> {
        self.fail()
    }
    async fn scan_collection(
        &self,
        _: &CollectionName,
        _: Option<&Cursor>,
        _: usize,
    ) -> Result<Page<Document, Cursor>, StoreError> {
        self.fail()
    }
}

#[async_trait]
impl AuthStore for FaultyStore {
    async fn create_credential(&self, _: &StoredCredential) -> Result<(), StoreError> {
        self.fail()
    }
    async fn credential_by_id(&self, _: DocId) -> Result<StoredCredential, StoreError> {
        self.fail()
    }
    async fn credential_by_document(&self, _: &DocRef) -> Result<StoredCredential, StoreError> {
        self.fail()
    }
    async fn update_credential_hash(
        &self,
        _: DocId,
        _: &PasswordHash,
        _: Timestamp,
        _: Revoke,
        _: Option<&PasswordHash>,
    ) -> Result<(Credential, u64), StoreError> {
        self.fail()
    }
    async fn delete_credential(&self, _: DocId) -> Result<(DocRef, u64), StoreError> {
        self.fail()
    }
    async fn create_token(
        &self,
        _: &Token,
        _: &SecretDigest,
        _: Option<VerifiedWith<'_>>,
    ) -> Result<(), StoreError> {
        self.fail()
    }
    async fn token_by_digest(&self, _: &SecretDigest) -> Result<Token, StoreError> {
        self.fail()
    }
    async fn token_by_id(&self, _: DocId) -> Result<Token, StoreError> {
        self.fail()
    }
    async fn tokens_by_document(
        &self,
        _: &DocRef,
        _: Option<DocId>,
        _: usize,
    ) -> Result<Page<Token>, StoreError> {
        self.fail()
    }
    async fn count_active_tokens(&self, _: Timestamp) -> Result<u64, StoreError> {
        self.fail()
    }
    async fn touch_token(&self, _: DocId, _: Timestamp, _: i64) -> Result<bool, StoreError> {
        self.fail()
    }
    async fn delete_token(&self, _: DocId) -> Result<bool, StoreError> {
        self.fail()
    }
    async fn delete_tokens_of_document(
        &self,
        _: &DocRef,
        _: Option<DocId>,
    ) -> Result<u64, StoreError> {
        self.fail()
    }
    async fn delete_expired_tokens(&self, _: Timestamp, _: usize) -> Result<u64, StoreError> {
        self.fail()
    }
    async fn create_key(&self, _: &Key, _: &SecretDigest) -> Result<(), StoreError> {
        self.fail()
    }
    async fn key_by_digest(&self, _: &SecretDigest) -> Result<Key, StoreError> {
        self.fail()
    }
    async fn key_by_id(&self, _: DocId) -> Result<Key, StoreError> {
        self.fail()
    }
    async fn list_keys(&self, _: Option<DocId>, _: usize) -> Result<Page<Key>, StoreError> {
        self.fail()
    }
    async fn delete_key(&self, _: DocId) -> Result<bool, StoreError> {
        self.fail()
    }
    async fn create_role(&self, _: &sesame_model::RoleDef) -> Result<(), StoreError> {
        self.fail()
    }
    async fn get_role(
        &self,
        _: &sesame_model::RoleName,
    ) -> Result<sesame_model::RoleDef, StoreError> {
        self.fail()
    }
    async fn list_roles(
        &self,
        _: Option<&sesame_model::RoleName>,
        _: usize,
    ) -> Result<Page<sesame_model::RoleDef, sesame_model::RoleName>, StoreError> {
        self.fail()
    }
    async fn replace_role(
        &self,
        _: &sesame_model::RoleName,
        _: &sesame_model::RoleDef,
    ) -> Result<(), StoreError> {
        self.fail()
    }
    async fn delete_role(&self, _: &sesame_model::RoleName) -> Result<bool, StoreError> {
        self.fail()
    }
    async fn roles_with_member(&self, _: &str) -> Result<Vec<sesame_model::RoleDef>, StoreError> {
        self.fail()
    }
}

#[async_trait]
impl AuditStore for FaultyStore {
    async fn append_audit(&self, _: &AuditEvent) -> Result<(), StoreError> {
        self.fail()
    }
    async fn list_audit(
        &self,
        _: &AuditFilter,
        _: Option<DocId>,
        _: usize,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.fail()
    }
    async fn delete_audit_before(&self, _: Timestamp, _: usize) -> Result<u64, StoreError> {
        self.fail()
    }
}

#[async_trait]
impl ThrottleStore for FaultyStore {
    async fn reserve_login_attempt(
        &self,
        _: &ThrottleKey,
        _: Timestamp,
        _: &ThrottlePolicy,
    ) -> Result<Reservation, StoreError> {
        self.fail()
    }
    async fn login_failures(&self, _: &ThrottleKey) -> Result<Option<LoginFailures>, StoreError> {
        self.fail()
    }
    async fn clear_login_failures(&self, _: &ThrottleKey) -> Result<(), StoreError> {
        self.fail()
    }
    async fn delete_stale_login_failures(&self, _: Timestamp, _: usize) -> Result<u64, StoreError> {
        self.fail()
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.fail()
    }
    async fn begin(&self, _: Timestamp) -> Result<Box<dyn StoreTx>, StoreError> {
        self.fail()
    }
}
