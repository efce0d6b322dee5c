//! [`AuthError`]: the engine's one error type, with stable codes and client-safe messages.
//!
//! Codes are snake_case and **append-only**: clients match on them, so a code is never renamed
//! or reused. Messages are safe to show to the caller: they never carry secrets, passwords,
//! hashes, or internal details (those stay in the `source` chain, for logs).

use sesame_model::ModelError;
use sesame_store::{BoxError, StoreError};

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The secret is missing, malformed, unknown, expired or revoked (all alike, on purpose).
    #[error("Access token required")]
    Unauthorized,
    /// The caller is authenticated but may not do this.
    #[error("Insufficient privileges to perform the action.")]
    PermissionDenied,
    /// The password did not match (or the identity or credential does not exist).
    #[error("Provided secret did not match.")]
    InvalidSecret,
    /// A uniqueness rule would be broken (e.g. a second credential for one document).
    #[error("{message}")]
    ConstraintFailure {
        /// What rule.
        message: String,
    },
    /// A definition (a role) is invalid: one entry per fault, each with its path. Nothing was
    /// written.
    #[error("{message}")]
    InvalidDefinition {
        /// What failed, e.g. "Failed to create Role."
        message: String,
        /// Each fault: a path (field names and array indexes) and what is wrong.
        failures: Vec<sesame_model::RoleFault>,
    },
    /// The document, collection, credential, token or key addressed does not exist.
    #[error("{message}")]
    DocumentNotFound {
        /// What was not found.
        message: String,
    },
    /// An argument is malformed or out of range.
    #[error("{message}")]
    InvalidArgument {
        /// What is wrong with it.
        message: String,
    },
    /// The store cannot be reached; the operation may be retried.
    #[error("The store is unavailable; try again later.")]
    Unavailable(#[source] StoreError),
    /// Too many failed logins for this account or identifier; retry after the given seconds.
    /// Says nothing about whether the identity exists.
    #[error("Too many failed attempts; retry in {retry_after_secs} s.")]
    Throttled {
        /// Seconds until an attempt will be considered again.
        retry_after_secs: u64,
    },
    /// Too many password checks from this client address (block); retry after the given
    /// seconds. Code `throttled`, like [`AuthError::Throttled`].
    #[error("Too many login attempts from this address; retry in {retry_after_secs} s.")]
    RateLimited {
        /// Seconds until the address's bucket has room again.
        retry_after_secs: u64,
    },
    /// Something unexpected; details are in the source chain, for logs only.
    #[error("Internal error.")]
    Internal(#[source] BoxError),
}

impl AuthError {
    /// Every code the engine can return, for documentation and tests.
    pub const CODES: &'static [&'static str] = &[
        "unauthorized",
        "permission_denied",
        "invalid_secret",
        "constraint_failure",
        "document_not_found",
        "invalid_argument",
        "unavailable",
        "internal",
        "throttled",
    ];

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthorized => "unauthorized",
            AuthError::PermissionDenied => "permission_denied",
            AuthError::InvalidSecret => "invalid_secret",
            AuthError::ConstraintFailure { .. } | AuthError::InvalidDefinition { .. } => {
                "constraint_failure"
            }
            AuthError::DocumentNotFound { .. } => "document_not_found",
            AuthError::InvalidArgument { .. } => "invalid_argument",
            AuthError::Unavailable(_) => "unavailable",
            AuthError::Internal(_) => "internal",
            AuthError::Throttled { .. } | AuthError::RateLimited { .. } => "throttled",
        }
    }

    /// The HTTP status this code maps to (Sesame's REST table), for any HTTP surface or
    /// embedding service: 401, 403, 400, 409, 404, 503, 429 or 500.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::Unauthorized => 401,
            AuthError::PermissionDenied => 403,
            AuthError::InvalidSecret
            | AuthError::InvalidArgument { .. }
            | AuthError::InvalidDefinition { .. } => 400,
            AuthError::ConstraintFailure { .. } => 409,
            AuthError::DocumentNotFound { .. } => 404,
            AuthError::Unavailable(_) => 503,
            AuthError::Throttled { .. } | AuthError::RateLimited { .. } => 429,
            AuthError::Internal(_) => 500,
        }
    }

    /// An `invalid_argument` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        AuthError::InvalidArgument { message: message.into() }
    }

    /// A `document_not_found` error.
    pub fn not_found(message: impl Into<String>) -> Self {
        AuthError::DocumentNotFound { message: message.into() }
    }

    /// Maps a store error, turning `NotFound` into `document_not_found` with `what` as message.
    pub(crate) fn from_store(e: StoreError, what: impl FnOnce() -> String) -> Self {
        if matches!(e, StoreError::Unavailable(_) | StoreError::Other(_)) {
            metrics::counter!("sesame_store_errors_total", "code" => e.code()).increment(1);
        }
        match e {
            StoreError::NotFound => AuthError::not_found(what()),
            StoreError::Conflict { constraint } => AuthError::ConstraintFailure {
                message: match constraint.as_str() {
                    sesame_store::constraint::COLLECTION_NAME => {
                        "Collection already exists.".into()
                    }
                    _ => "Failed unique constraint.".into(),
                },
            },
            StoreError::Unavailable(_) => AuthError::Unavailable(e),
            other => AuthError::Internal(Box::new(other)),
        }
    }
}

impl From<ModelError> for AuthError {
    fn from(e: ModelError) -> Self {
        AuthError::InvalidArgument { message: e.to_string() }
    }
}

impl From<StoreError> for AuthError {
    /// Store errors without context: `NotFound` becomes a generic `document_not_found`.
    fn from(e: StoreError) -> Self {
        AuthError::from_store(e, || "Not found.".into())
    }
}

/// An error and its `source()` chain on one line, `outer: cause: root cause`, for operators
/// (logs, CLI messages): `migration failed: store unavailable: connection refused`. Causes whose
/// text the outer message already contains are skipped, so errors that embed their source are
/// not repeated.
///
/// Never send this to a client: the chain of an `internal` or `unavailable` [`AuthError`] holds
/// internals (hosts, driver messages) that its `Display` deliberately leaves out.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
