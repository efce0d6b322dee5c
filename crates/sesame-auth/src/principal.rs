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
//! | key with a user-defined role | nothing by itself |
//! | a key acting as an identity (`secret:@doc/Coll/id`) | what a token of that identity has, without a token |
//!
//! That table is the baseline. User-defined roles (`Role` documents) add to it: a token (or an
//! identity scope) holds every role whose membership names its identity's collection and whose
//! membership predicate is true, a key with a user-defined role holds that role, and each role's
//! privileges may grant more, by `true` or by a predicate. Roles need the store and the query
//! language, so they are decided in the engine's transaction host (`engine/query/rights.rs`),
//! after this baseline has said no; [`Principal::has_roles`] says whether to look.

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

/// An authenticated caller. New kinds of callers may be added: match with a wildcard arm.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
    /// A key scoped to an identity document (`secret:@doc/Coll/id`): acts as that identity,
    /// with its role memberships and a token's baseline, but with no token.
    Identity {
        /// The key's id (`None` for the operator's configured admin secret).
        key_id: Option<DocId>,
        /// The identity acted as.
        document: DocRef,
    },
}

impl Principal {
    /// The identity document, for token principals.
    pub fn identity(&self) -> Option<&DocRef> {
        match self {
            Principal::Token(t) => Some(&t.document),
            Principal::Identity { document, .. } => Some(document),
            Principal::Key { .. } => None,
        }
    }

    /// The role, for key principals.
    pub fn role(&self) -> Option<&Role> {
        match self {
            Principal::Key { role, .. } => Some(role),
            Principal::Token(_) | Principal::Identity { .. } => None,
        }
    }

    /// Whether user-defined roles may grant this principal more than [`Principal::may`]: tokens,
    /// identity scopes and keys with a user-defined role.
    pub fn has_roles(&self) -> bool {
        matches!(
            self,
            Principal::Token(_)
                | Principal::Identity { .. }
                | Principal::Key { role: Role::User(_), .. }
        )
    }

    /// Whether this principal may perform `access`.
    pub fn may(&self, access: &Access<'_>) -> bool {
        use Access::*;
        match self {
            Principal::Key { role: Role::Admin, .. } => true,
            Principal::Key { role: Role::Server, .. } => !matches!(
                access,
                WriteSchema | ReadKeys | WriteKeys | ReadAudit | ReadRoles | WriteRoles
            ),
            Principal::Key { role: Role::ServerReadonly, .. } => matches!(
                access,
                ReadSchema | ReadDocument(_) | ListDocuments(_) | ReadCredential(_) | ReadToken(_)
            ),
            Principal::Key { .. } => false,
            Principal::Token(_) | Principal::Identity { .. } => {
                let me = self.identity();
                match access {
                    ReadDocument(d) | ReadCredential(d) | ReadToken(d) | DeleteToken(d) => {
                        matches!(d, Target::Document(d) if Some(*d) == me)
                    }
                    _ => false,
                }
            }
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
    /// Read or list user-defined roles.
    ReadRoles,
    /// Create, change or delete user-defined roles.
    WriteRoles,
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
            Access::ReadRoles => "read_roles",
            Access::WriteRoles => "write_roles",
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
