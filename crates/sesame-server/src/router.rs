//! Routing: the one table from `(method, path)` to a [`Route`], and each route's methods.
//!
//! Paths are split on `/` and each segment percent-decoded; a segment that is not UTF-8 is an
//! `invalid_request`. No handler logic lives here.

use http::Method;

use crate::error::ApiError;

/// A matched route with its path parameters (still unparsed strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`
    Healthz,
    /// `/readyz`
    Readyz,
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
    /// `/audit`
    Audit,
}

impl Route {
    /// Matches a path (without query string).
    pub fn parse(path: &str) -> Result<Route, ApiError> {
        let Some(rest) = path.strip_prefix('/') else { return Err(ApiError::RouteNotFound) };
        let segs = rest
            .split('/')
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| {
                        ApiError::InvalidRequest(
                            "the path is not valid UTF-8 after percent-decoding".into(),
                        )
                    })
            })
            .collect::<Result<Vec<String>, _>>()?;
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let o = |x: &str| x.to_owned();
        let r = match s.as_slice() {
            ["healthz"] => Route::Healthz,
            ["readyz"] => Route::Readyz,
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
            | Route::Identity
            | Route::DocumentCredential(..)
            | Route::Audit => "GET",
            Route::Collections | Route::Documents(_) | Route::Keys => "GET, POST",
            Route::Collection(_)
            | Route::Token(_)
            | Route::Key(_)
            | Route::TokenSelf
            | Route::DocumentTokens(..) => "GET, DELETE",
            Route::Document(..) => "GET, PATCH, PUT, DELETE",
            Route::Credential(_) => "GET, PATCH, DELETE",
            Route::Credentials
            | Route::CredentialLogin(_)
            | Route::CredentialVerify(_)
            | Route::Login
            | Route::Tokens => "POST",
        }
    }

    /// Whether `method` is allowed here (HEAD is not served).
    pub fn allows(&self, method: &Method) -> bool {
        self.allow().split(", ").any(|m| m == method.as_str())
    }

    /// A stable name for metrics (bounded cardinality: no ids).
    pub fn name(&self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
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
            Route::Audit => "audit",
        }
    }

    /// Whether this route needs no authentication.
    pub fn is_public(&self) -> bool {
        matches!(self, Route::Healthz | Route::Readyz)
    }
}
