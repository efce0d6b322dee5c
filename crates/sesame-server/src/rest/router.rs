//! REST routing: path → [`Route`], then `(route, method)` → [`Op`], the one operation a
//! request names. Every arm names its method: no method falls through to another operation.
//!
//! Paths are split on `/` and each segment percent-decoded; a segment that is not UTF-8 is an
//! `invalid_request`. No handler logic lives here.

use std::borrow::Cow;

use http::Method;

use crate::error::ApiError;

/// The most segments a route has (`/collections/{coll}/documents/{id}/credential`).
const MAX_SEGMENTS: usize = 5;

/// A matched route with its path parameters (still unparsed strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`
    Healthz,
    /// `/readyz`
    Readyz,
    /// `/openapi.json`
    OpenApi,
    /// `/collections`
    Collections,
    /// `/collections/{name}`
    Collection(String),
    /// `/collections/{coll}/documents`
    Documents(String),
    /// `/collections/{coll}/documents/{id}`
    Document(String, String),
    /// `/collections/{coll}/documents/{id}/credential`
    DocumentCredential(String, String),
    /// `/collections/{coll}/documents/{id}/tokens`
    DocumentTokens(String, String),
    /// `/credentials`
    Credentials,
    /// `/credentials/{id}`
    Credential(String),
    /// `/credentials/{id}/login`
    CredentialLogin(String),
    /// `/credentials/{id}/verify`
    CredentialVerify(String),
    /// `/login`
    Login,
    /// `/tokens`
    Tokens,
    /// `/tokens/self`
    TokenSelf,
    /// `/tokens/{id}`
    Token(String),
    /// `/identity`
    Identity,
    /// `/keys`
    Keys,
    /// `/keys/{id}`
    Key(String),
    /// `/roles`
    Roles,
    /// `/roles/{name}`
    Role(String),
    /// `/audit`
    Audit,
}

impl Route {
    /// Matches a path (without query string).
    pub fn parse(path: &str) -> Result<Route, ApiError> {
        let Some(rest) = path.strip_prefix('/') else { return Err(ApiError::RouteNotFound) };
        // At most `MAX_SEGMENTS` segments, decoded on the stack: a segment without `%` is
        // borrowed, so matching a route allocates only for the parameters it keeps.
        let mut segs: [Cow<'_, str>; MAX_SEGMENTS] = Default::default();
        let mut n = 0;
        // A path without `%` decodes to itself (a URI's path is ASCII).
        let encoded = rest.contains('%');
        for seg in rest.split('/') {
            let decoded = if encoded {
                percent_encoding::percent_decode_str(seg).decode_utf8().map_err(|_| {
                    ApiError::InvalidRequest(
                        "the path is not valid UTF-8 after percent-decoding".into(),
                    )
                })?
            } else {
                Cow::Borrowed(seg)
            };
            if let Some(slot) = segs.get_mut(n) {
                *slot = decoded;
            }
            n += 1;
        }
        if n > MAX_SEGMENTS {
            return Err(ApiError::RouteNotFound);
        }
        let mut strs: [&str; MAX_SEGMENTS] = [""; MAX_SEGMENTS];
        for (d, s) in strs.iter_mut().zip(&segs[..n]) {
            *d = s;
        }
        let s = &strs[..n];
        let o = |x: &str| x.to_owned();
        let r = match s {
            ["healthz"] => Route::Healthz,
            ["readyz"] => Route::Readyz,
            ["openapi.json"] => Route::OpenApi,
            ["collections"] => Route::Collections,
            ["collections", c] if !c.is_empty() => Route::Collection(o(c)),
            ["collections", c, "documents"] => Route::Documents(o(c)),
            ["collections", c, "documents", id] if !id.is_empty() => Route::Document(o(c), o(id)),
            ["collections", c, "documents", id, "credential"] => {
                Route::DocumentCredential(o(c), o(id))
            }
            ["collections", c, "documents", id, "tokens"] => Route::DocumentTokens(o(c), o(id)),
            ["credentials"] => Route::Credentials,
            ["credentials", id] if !id.is_empty() => Route::Credential(o(id)),
            ["credentials", id, "login"] => Route::CredentialLogin(o(id)),
            ["credentials", id, "verify"] => Route::CredentialVerify(o(id)),
            ["login"] => Route::Login,
            ["tokens"] => Route::Tokens,
            ["tokens", "self"] => Route::TokenSelf,
            ["tokens", id] if !id.is_empty() => Route::Token(o(id)),
            ["identity"] => Route::Identity,
            ["keys"] => Route::Keys,
            ["keys", id] if !id.is_empty() => Route::Key(o(id)),
            ["roles"] => Route::Roles,
            ["roles", n] if !n.is_empty() => Route::Role(o(n)),
            ["audit"] => Route::Audit,
            _ => return Err(ApiError::RouteNotFound),
        };
        Ok(r)
    }

    /// The methods this route answers, as an `Allow` header value.
    pub fn allow(&self) -> &'static str {
        match self {
            Route::Healthz
            | Route::Readyz
            | Route::OpenApi
            | Route::Identity
            | Route::DocumentCredential(..)
            | Route::Audit => "GET",
            Route::Collections | Route::Documents(_) | Route::Keys | Route::Roles => "GET, POST",
            Route::Collection(_)
            | Route::Token(_)
            | Route::Key(_)
            | Route::TokenSelf
            | Route::DocumentTokens(..) => "GET, DELETE",
            Route::Document(..) | Route::Role(_) => "GET, PATCH, PUT, DELETE",
            Route::Credential(_) => "GET, PATCH, DELETE",
            Route::Credentials
            | Route::CredentialLogin(_)
            | Route::CredentialVerify(_)
            | Route::Login
            | Route::Tokens => "POST",
        }
    }

    /// The operation `method` names on this route; `method_not_allowed` (with this route's
    /// `Allow`) otherwise. HEAD is not served.
    pub fn op(self, method: &Method) -> Result<Op, ApiError> {
        use Method as M;
        use Route as R;
        Ok(match (self, method) {
            (R::Healthz, &M::GET) => Op::Healthz,
            (R::Readyz, &M::GET) => Op::Readyz,
            (R::OpenApi, &M::GET) => Op::OpenApi,
            (R::Collections, &M::GET) => Op::ListCollections,
            (R::Collections, &M::POST) => Op::CreateCollection,
            (R::Collection(c), &M::GET) => Op::GetCollection(c),
            (R::Collection(c), &M::DELETE) => Op::DeleteCollection(c),
            (R::Documents(c), &M::GET) => Op::FindDocuments(c),
            (R::Documents(c), &M::POST) => Op::CreateDocument(c),
            (R::Document(c, i), &M::GET) => Op::GetDocument(c, i),
            (R::Document(c, i), &M::PATCH) => Op::UpdateDocument(c, i),
            (R::Document(c, i), &M::PUT) => Op::ReplaceDocument(c, i),
            (R::Document(c, i), &M::DELETE) => Op::DeleteDocument(c, i),
            (R::DocumentCredential(c, i), &M::GET) => Op::GetDocumentCredential(c, i),
            (R::DocumentTokens(c, i), &M::GET) => Op::ListDocumentTokens(c, i),
            (R::DocumentTokens(c, i), &M::DELETE) => Op::RevokeDocumentTokens(c, i),
            (R::Credentials, &M::POST) => Op::CreateCredential,
            (R::Credential(i), &M::GET) => Op::GetCredential(i),
            (R::Credential(i), &M::PATCH) => Op::ChangePassword(i),
            (R::Credential(i), &M::DELETE) => Op::DeleteCredential(i),
            (R::CredentialLogin(i), &M::POST) => Op::Login(i),
            (R::CredentialVerify(i), &M::POST) => Op::Verify(i),
            (R::Login, &M::POST) => Op::LoginByMatch,
            (R::Tokens, &M::POST) => Op::CreateToken,
            (R::TokenSelf, &M::GET) => Op::GetTokenSelf,
            (R::TokenSelf, &M::DELETE) => Op::Logout,
            (R::Token(i), &M::GET) => Op::GetToken(i),
            (R::Token(i), &M::DELETE) => Op::RevokeToken(i),
            (R::Identity, &M::GET) => Op::GetIdentity,
            (R::Keys, &M::GET) => Op::ListKeys,
            (R::Keys, &M::POST) => Op::CreateKey,
            (R::Key(i), &M::GET) => Op::GetKey(i),
            (R::Key(i), &M::DELETE) => Op::RevokeKey(i),
            (R::Roles, &M::GET) => Op::ListRoles,
            (R::Roles, &M::POST) => Op::CreateRole,
            (R::Role(n), &M::GET) => Op::GetRole(n),
            (R::Role(n), &M::PATCH) => Op::UpdateRole(n),
            (R::Role(n), &M::PUT) => Op::ReplaceRole(n),
            (R::Role(n), &M::DELETE) => Op::DeleteRole(n),
            (R::Audit, &M::GET) => Op::ListAudit,
            (r, _) => return Err(ApiError::MethodNotAllowed(r.allow())),
        })
    }

    /// A stable name for metrics (bounded cardinality: no ids).
    pub fn name(&self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::OpenApi => "openapi",
            Route::Collections => "collections",
            Route::Collection(_) => "collection",
            Route::Documents(_) => "documents",
            Route::Document(..) => "document",
            Route::DocumentCredential(..) => "document_credential",
            Route::DocumentTokens(..) => "document_tokens",
            Route::Credentials => "credentials",
            Route::Credential(_) => "credential",
            Route::CredentialLogin(_) => "credential_login",
            Route::CredentialVerify(_) => "credential_verify",
            Route::Login => "login",
            Route::Tokens => "tokens",
            Route::TokenSelf => "token_self",
            Route::Token(_) => "token",
            Route::Identity => "identity",
            Route::Keys => "keys",
            Route::Key(_) => "key",
            Route::Roles => "roles",
            Route::Role(_) => "role",
            Route::Audit => "audit",
        }
    }

    /// Whether this route needs no authentication.
    pub fn is_public(&self) -> bool {
        matches!(self, Route::Healthz | Route::Readyz | Route::OpenApi)
    }

    /// The path template this route matches, as OpenAPI writes it (`/credentials/{id}/login`).
    pub fn template(&self) -> &'static str {
        match self {
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::OpenApi => "/openapi.json",
            Route::Collections => "/collections",
            Route::Collection(_) => "/collections/{name}",
            Route::Documents(_) => "/collections/{coll}/documents",
            Route::Document(..) => "/collections/{coll}/documents/{id}",
            Route::DocumentCredential(..) => "/collections/{coll}/documents/{id}/credential",
            Route::DocumentTokens(..) => "/collections/{coll}/documents/{id}/tokens",
            Route::Credentials => "/credentials",
            Route::Credential(_) => "/credentials/{id}",
            Route::CredentialLogin(_) => "/credentials/{id}/login",
            Route::CredentialVerify(_) => "/credentials/{id}/verify",
            Route::Login => "/login",
            Route::Tokens => "/tokens",
            Route::TokenSelf => "/tokens/self",
            Route::Token(_) => "/tokens/{id}",
            Route::Identity => "/identity",
            Route::Keys => "/keys",
            Route::Key(_) => "/keys/{id}",
            Route::Roles => "/roles",
            Route::Role(_) => "/roles/{name}",
            Route::Audit => "/audit",
        }
    }
}

/// One REST operation, with its path parameters (still unparsed strings).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    Healthz,
    Readyz,
    OpenApi,
    ListCollections,
    CreateCollection,
    GetCollection(String),
    DeleteCollection(String),
    FindDocuments(String),
    CreateDocument(String),
    GetDocument(String, String),
    UpdateDocument(String, String),
    ReplaceDocument(String, String),
    DeleteDocument(String, String),
    GetDocumentCredential(String, String),
    ListDocumentTokens(String, String),
    RevokeDocumentTokens(String, String),
    CreateCredential,
    GetCredential(String),
    ChangePassword(String),
    DeleteCredential(String),
    Login(String),
    Verify(String),
    LoginByMatch,
    CreateToken,
    GetTokenSelf,
    Logout,
    GetToken(String),
    RevokeToken(String),
    GetIdentity,
    ListKeys,
    CreateKey,
    GetKey(String),
    RevokeKey(String),
    ListRoles,
    CreateRole,
    GetRole(String),
    UpdateRole(String),
    ReplaceRole(String),
    DeleteRole(String),
    ListAudit,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Allow` and the operation table agree: every listed method has an operation, every other
    /// method is refused.
    #[test]
    fn allow_headers_match_the_operation_table() {
        let paths = [
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/collections",
            "/collections/C",
            "/collections/C/documents",
            "/collections/C/documents/1",
            "/collections/C/documents/1/credential",
            "/collections/C/documents/1/tokens",
            "/credentials",
            "/credentials/1",
            "/credentials/1/login",
            "/credentials/1/verify",
            "/login",
            "/tokens",
            "/tokens/self",
            "/tokens/1",
            "/identity",
            "/keys",
            "/keys/1",
            "/roles",
            "/roles/customer",
            "/audit",
        ];
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::CONNECT,
        ];
        for path in paths {
            let route = Route::parse(path).unwrap();
            let allow: Vec<&str> = route.allow().split(", ").collect();
            for m in &methods {
                let routed = route.clone().op(m).is_ok();
                assert_eq!(routed, allow.contains(&m.as_str()), "{m} {path}");
            }
        }
    }
}
