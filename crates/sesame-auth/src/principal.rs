//! Who is calling ([`Principal`]) and what they may do ([`Principal::may`]).
//!
//! This is the only place privileges are decided. Every engine operation names the [`Access`]
//! it needs before touching the store; the server never checks privileges itself.
//!
//! | principal | may |
//! |---|---|
//! | `admin` key (or the configured admin secret) | everything |
//! | `server` key | read/write documents, credentials, tokens; log in; read collections; not keys, not collection schema, not the audit trail |
//! | `server-readonly` key | the reads of `server` (not `verify`: a password check writes throttling state and can delay an account) |
//! | token | read its own token and the other tokens of its identity; delete them (log out); read its identity document and its credential |

use sesame_model::{ClientInfo, CollectionName, DocId, DocRef, Role, Token};

/// Who is calling, and from where: the context every engine operation takes, whatever the
/// surface (REST, the query protocol, an embedding program).
///
/// An application acting as itself in-process uses [`Caller::key`] (e.g. `Role::Server`):
/// a key principal with no stored key behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// What the surface saw of the client: its address (for per-address limits and session
    /// metadata) and user agent. Empty for in-process callers.
    pub client: ClientInfo,
}

impl Caller {
    /// A caller seen at `client`.
    pub fn new(principal: Principal, client: ClientInfo) -> Self {
        Caller { principal, client }
    }

    /// An in-process caller with a built-in role and no stored key (the intended way for an
    /// embedding application to act as itself).
    pub fn key(role: Role) -> Self {
        Caller::from(Principal::Key { key_id: None, role })
    }
}

impl From<Principal> for Caller {
    fn from(principal: Principal) -> Self {
        Caller { principal, client: ClientInfo::default() }
    }
}

/// What an access is about: one identity's document, or any document (for checks made before
/// the document is known, which only depend on the principal's role).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'a> {
    /// This document (or its credential, or its tokens).
    Document(&'a DocRef),
    /// Whichever document: only a role that may act on every document passes.
    Any,
}

impl<'a> From<&'a DocRef> for Target<'a> {
    fn from(d: &'a DocRef) -> Self {
        Target::Document(d)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// A key, acting with its role and no identity. `key_id` is `None` for the operator's
    /// configured admin secret.
    Key {
        /// The key's id, if stored.
        key_id: Option<DocId>,
        /// Its role.
        role: Role,
    },
    /// A token, acting as its identity document.
    Token(Token),
}

impl Principal {
    /// The identity document, for token principals.
    pub fn identity(&self) -> Option<&DocRef> {
        match self {
            Principal::Token(t) => Some(&t.document),
            Principal::Key { .. } => None,
        }
    }

    /// The role, for key principals.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Key { role, .. } => Some(*role),
            Principal::Token(_) => None,
        }
    }

    /// Whether this principal may perform `access`.
    pub fn may(&self, access: &Access<'_>) -> bool {
        use Access::*;
        match self {
            Principal::Key { role: Role::Admin, .. } => true,
            Principal::Key { role: Role::Server, .. } => {
                !matches!(access, WriteSchema | ReadKeys | WriteKeys | ReadAudit)
            }
            Principal::Key { role: Role::ServerReadonly, .. } => matches!(
                access,
                ReadSchema | ReadDocument(_) | ListDocuments(_) | ReadCredential(_) | ReadToken(_)
            ),
            Principal::Key { .. } => false,
            Principal::Token(t) => match access {
                ReadDocument(d) | ReadCredential(d) | ReadToken(d) | DeleteToken(d) => {
                    matches!(d, Target::Document(d) if **d == t.document)
                }
                _ => false,
            },
        }
    }
}

/// An access an operation needs. Resources carry the identity document they belong to, so that
/// token principals can be limited to their own.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Access<'a> {
    /// Read or list collections.
    ReadSchema,
    /// Create or delete collections.
    WriteSchema,
    /// Read one document.
    ReadDocument(Target<'a>),
    /// List or search a collection's documents.
    ListDocuments(&'a CollectionName),
    /// Create, update, replace or delete documents in a collection.
    WriteDocument(&'a CollectionName),
    /// Read the credential of this document.
    ReadCredential(Target<'a>),
    /// Create, change or delete credentials.
    WriteCredential,
    /// Check a password without logging in.
    Verify,
    /// Create tokens: `login` and `Token.create`.
    CreateToken,
    /// Read tokens (or list them) of this identity document.
    ReadToken(Target<'a>),
    /// Delete tokens of this identity document.
    DeleteToken(Target<'a>),
    /// Read or list keys.
    ReadKeys,
    /// Create or delete keys.
    WriteKeys,
    /// Read the audit trail.
    ReadAudit,
}

impl Access<'_> {
    /// A stable name, for audit events.
    pub fn name(&self) -> &'static str {
        match self {
            Access::ReadSchema => "read_schema",
            Access::WriteSchema => "write_schema",
            Access::ReadDocument(_) => "read_document",
            Access::ListDocuments(_) => "list_documents",
            Access::WriteDocument(_) => "write_document",
            Access::ReadCredential(_) => "read_credential",
            Access::WriteCredential => "write_credential",
            Access::Verify => "verify",
            Access::CreateToken => "create_token",
            Access::ReadToken(_) => "read_token",
            Access::DeleteToken(_) => "delete_token",
            Access::ReadKeys => "read_keys",
            Access::WriteKeys => "write_keys",
            Access::ReadAudit => "read_audit",
        }
    }

    /// The document the access is about, if one.
    pub fn document(&self) -> Option<&DocRef> {
        match self {
            Access::ReadDocument(Target::Document(d))
            | Access::ReadCredential(Target::Document(d))
            | Access::ReadToken(Target::Document(d))
            | Access::DeleteToken(Target::Document(d)) => Some(d),
            _ => None,
        }
    }
}
