//! The host boundary: every storage, privilege, hashing and throttling operation the evaluator
//! needs, as one object-safe, synchronous trait (spec §10.5).
//!
//! The evaluator never decides permissions: the host answers `Denied` reads and
//! `permission_denied` errors. All calls of one query happen inside one transaction that the
//! host commits only if the query succeeds. This module holds no implementation (see
//! `testing::MemHost` for an in-memory one).

use std::rc::Rc;

use sesame_model::Timestamp;

use crate::error::QueryError;
use crate::value::{DocRef, Object, Value};

/// Who runs the query.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The server's own admin key or the bootstrap secret: every privilege.
    Admin,
    /// A key with a built-in or user role.
    Key { role: String },
    /// A token (from `login` or `Token.create`) standing for an identity document.
    Token { token: i64, identity: DocRef },
    /// A key scoped to an identity document (`secret:@doc/Coll/id`): `Query.identity()` is the
    /// document, `Query.token()` is null.
    Identity { identity: DocRef },
}

/// A live document as read with the caller's rights.
#[derive(Debug, Clone)]
pub struct LiveDoc {
    /// Time of the last write.
    pub ts: Timestamp,
    /// Expiry, if any.
    pub ttl: Option<Timestamp>,
    /// Fields other than `id`, `coll`, `ts`, `ttl`. Named schema documents include `name`;
    /// credentials include `document` (never the password); tokens `document`; keys `role`.
    pub fields: Object,
}

/// The result of reading a document.
#[derive(Debug, Clone)]
pub enum DocRead {
    Live(LiveDoc),
    NotFound,
    Deleted,
    /// Exists, but the caller may not read it.
    Denied,
}

/// A document source scanned by sets.
#[derive(Debug, Clone)]
pub enum Scan {
    /// All documents of a collection (user or native), ascending by id.
    All { coll: Rc<str> },
    /// An index: documents whose term fields equal `terms`, ordered by the index values
    /// (asc/desc), then id.
    Index { coll: Rc<str>, index: Rc<str>, terms: Vec<Value> },
    /// The tokens of an identity document.
    TokensOf(DocRef),
    /// All collection definitions.
    Collections,
}

/// One page of a scan: references (already filtered by read permission where the spec says
/// so) and an opaque host cursor for the rest, if any.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub refs: Vec<DocRef>,
    pub after: Option<String>,
}

/// What the evaluator needs to know about a user index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexInfo {
    /// Number of terms (the index method takes exactly this many arguments).
    pub terms: usize,
}

/// The operations an FQL query may perform on the database, in the caller's name.
pub trait Host {
    /// The transaction's snapshot time (`Time.now()`), constant within the query.
    fn snapshot_time(&self) -> Timestamp;
    /// The authenticated caller.
    fn caller(&self) -> Caller;
    /// Whether `name` is a user collection (or alias) in the schema as of the query's start.
    fn is_user_collection(&mut self, name: &str) -> bool;
    /// The index `index` of user collection `coll`: `Ok(None)` if there is none,
    /// `permission_denied` ("Insufficient privileges to read from collection C.") if the caller
    /// may not read `coll`.
    fn index_info(&mut self, coll: &str, index: &str) -> Result<Option<IndexInfo>, QueryError>;
    /// Reads a document (user, native or named schema document).
    fn read_doc(&mut self, doc: &DocRef) -> Result<DocRead, QueryError>;
    /// Creates a user document (fields validated by the evaluator: no reserved names, no
    /// `null`s, only persistable values; a `ttl` field holding a Time is the expiry). `id` is
    /// explicit (needs `create_with_id`) or fresh, and fresh ids increase within a collection.
    /// The host checks `create` privileges (predicates get the new document) and unique
    /// constraints. Errors: `permission_denied`, `document_id_exists`, `constraint_failure`.
    fn create_doc(
        &mut self,
        coll: &str,
        id: Option<i64>,
        fields: Object,
    ) -> Result<DocRef, QueryError>;
    /// Updates (deep merge, `null` removes; see [`crate::deep_merge`]) or replaces the user
    /// fields of a document. Native documents (tokens, keys, roles) are handled too.
    fn update_doc(&mut self, doc: &DocRef, patch: Object, replace: bool) -> Result<(), QueryError>;
    /// Deletes a document. Deleting an identity deletes its credential and tokens.
    fn delete_doc(&mut self, doc: &DocRef) -> Result<(), QueryError>;
    /// One page of a scan, after an opaque host cursor, at most `limit` refs. Unreadable
    /// documents are left out, except that an index scan without read permission on its
    /// collection is `permission_denied`. Scans may come from client-supplied cursors, so the
    /// host must check permissions here, not only in `index_info`.
    fn scan(&mut self, scan: &Scan, after: Option<&str>, limit: usize) -> Result<Page, QueryError>;
    /// `Collection.create(def)`: returns the named ref. Errors are `constraint_failure`
    /// "Failed to create Collection." with failures.
    fn create_collection(&mut self, def: Object) -> Result<DocRef, QueryError>;
    /// `Role.create(def)`: the host validates predicates with [`crate::parse_lambda`].
    fn create_role(&mut self, def: Object) -> Result<DocRef, QueryError>;
    /// `Credential.create`: the document is a user document (checked by the evaluator).
    fn credential_create(
        &mut self,
        document: &DocRef,
        password: Option<&str>,
        data: Option<Object>,
        id: Option<i64>,
    ) -> Result<DocRef, QueryError>;
    /// The id of a document's credential, if any. Does not need read permission.
    fn credential_by_document(&mut self, document: &DocRef) -> Result<Option<i64>, QueryError>;
    /// Updates or replaces a credential; a given password is re-hashed, never stored.
    fn credential_update(
        &mut self,
        cred: &DocRef,
        password: Option<&str>,
        patch: Object,
        replace: bool,
    ) -> Result<(), QueryError>;
    /// `cred.login(password, ttl?)`: verifies (throttled, always hashing once) and mints a token.
    /// Returns the token ref and its secret. A mismatch is `invalid_secret`.
    fn login(
        &mut self,
        cred: &DocRef,
        password: &str,
        ttl: Option<Timestamp>,
    ) -> Result<(DocRef, String), QueryError>;
    /// `cred.verify(password)`: no token, no error on mismatch.
    fn verify(&mut self, cred: &DocRef, password: &str) -> Result<bool, QueryError>;
    /// `Token.create`: returns the token ref and its secret.
    fn token_create(
        &mut self,
        document: &DocRef,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> Result<(DocRef, String), QueryError>;
    /// `Key.create` (admin only): returns the key ref and its secret. An unknown role is a
    /// `constraint_failure` on `role`.
    fn key_create(
        &mut self,
        role: &str,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> Result<(DocRef, String), QueryError>;
}
