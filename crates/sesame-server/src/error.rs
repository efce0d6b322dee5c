//! [`ApiError`] and the one function that maps errors to HTTP: [`ApiError::status`].
//!
//! Engine errors keep their stable codes; this crate adds only protocol-level ones
//! (`invalid_request`, `not_found`, `method_not_allowed`, `request_size_exceeded`,
//! `unsupported_media_type`, `request_header_too_large`). The body is always `{"error":{"code","message"}}`. Internal and
//! store errors are logged with their source chain and answered with a generic message.

use http::{header, HeaderValue, Response, StatusCode};
use sesame_auth::AuthError;

use crate::response::{json_response, Body};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// From the engine.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request is malformed: bad JSON, wrong types, unknown fields, bad query or path.
    #[error("{0}")]
    InvalidRequest(String),
    /// No such route.
    #[error("No such route.")]
    RouteNotFound,
    /// The route exists, but not with this method.
    #[error("Method not allowed.")]
    MethodNotAllowed(&'static str),
    /// The body is larger than the configured limit.
    #[error("Request entity is too large (limit {0} bytes).")]
    TooLarge(usize),
    /// The request's headers are larger than the limit.
    #[error("Request headers are too large (limit {0} bytes).")]
    HeadersTooLarge(usize),
    /// The body is not JSON.
    #[error("Content-Type must be application/json.")]
    UnsupportedMediaType,
    /// A handler panicked or something else unexpected happened; the source is for the log.
    #[error("Internal error.")]
    Internal(#[source] sesame_store::BoxError),
}

impl ApiError {
    /// Every code the server can answer with (engine codes included).
    pub const CODES: &'static [&'static str] = &[
        "unauthorized",
        "permission_denied",
        "invalid_secret",
        "constraint_failure",
        "document_not_found",
        "invalid_argument",
        "unavailable",
        "internal",
        "invalid_request",
        "not_found",
        "method_not_allowed",
        "request_size_exceeded",
        "unsupported_media_type",
        "request_header_too_large",
        "throttled",
    ];

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) => e.code(),
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooLarge(_) => "request_size_exceeded",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::HeadersTooLarge(_) => "request_header_too_large",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The HTTP status of each error: the only place this mapping exists (engine errors carry
    /// theirs, [`AuthError::http_status`]).
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response: status, `{"error":{"code","message"}}`, and the headers some codes need.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        if status.is_server_error() {
            // Full chain for operators; clients get only the generic message.
            let mut chain = String::new();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&self);
            while let Some(e) = src {
                chain.push_str(": ");
                chain.push_str(&e.to_string());
                src = e.source();
            }
            tracing::error!(code = self.code(), "request failed{chain}");
        }
        let mut body =
            serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let ApiError::Auth(AuthError::InvalidDefinition { failures, .. }) = &self {
            let list: Vec<_> = failures
                .iter()
                .map(|f| serde_json::json!({"paths": [f.path], "message": f.message}))
                .collect();
            body["error"]["constraint_failures"] = serde_json::Value::Array(list);
        }
        let mut resp = json_response(status, &body);
        let h = resp.headers_mut();
        match &self {
            ApiError::Auth(AuthError::Unauthorized) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed(allow) => {
                h.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Auth(AuthError::Unavailable(_)) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Auth(AuthError::Throttled { retry_after_secs: s })
            | ApiError::Auth(AuthError::RateLimited { retry_after_secs: s }) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*s));
            }
            _ => {}
        }
        resp
    }
}

impl From<sesame_model::ModelError> for ApiError {
    fn from(e: sesame_model::ModelError) -> Self {
        ApiError::Auth(AuthError::from(e))
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use sesame_auth::AuthError;

    use super::ApiError;

    /// Every code has its status, its body is exactly `{"error":{"code","message"}}`, and the
    /// server's list of codes covers every engine code (a new engine code can't be forgotten).
    #[test]
    fn codes_statuses_and_bodies_are_pinned() {
        use http_body_util::BodyExt as _;
        for code in AuthError::CODES {
            assert!(ApiError::CODES.contains(code), "engine code `{code}` missing");
        }
        let cases: Vec<(ApiError, StatusCode)> = vec![
            (AuthError::Unauthorized.into(), StatusCode::UNAUTHORIZED),
            (AuthError::PermissionDenied.into(), StatusCode::FORBIDDEN),
            (AuthError::InvalidSecret.into(), StatusCode::BAD_REQUEST),
            (AuthError::ConstraintFailure { message: "m".into() }.into(), StatusCode::CONFLICT),
            (AuthError::not_found("m").into(), StatusCode::NOT_FOUND),
            (AuthError::invalid("m").into(), StatusCode::BAD_REQUEST),
            (
                AuthError::Unavailable(sesame_store::StoreError::NotFound).into(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (AuthError::Internal("secret detail".into()).into(), StatusCode::INTERNAL_SERVER_ERROR),
            (AuthError::Throttled { retry_after_secs: 7 }.into(), StatusCode::TOO_MANY_REQUESTS),
            (ApiError::InvalidRequest("m".into()), StatusCode::BAD_REQUEST),
            (ApiError::RouteNotFound, StatusCode::NOT_FOUND),
            (ApiError::MethodNotAllowed("GET"), StatusCode::METHOD_NOT_ALLOWED),
            (ApiError::TooLarge(1), StatusCode::PAYLOAD_TOO_LARGE),
            (ApiError::UnsupportedMediaType, StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (ApiError::HeadersTooLarge(1), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            (AuthError::RateLimited { retry_after_secs: 3 }.into(), StatusCode::TOO_MANY_REQUESTS),
            (ApiError::Internal("secret detail".into()), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        let mut seen = std::collections::HashSet::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for (e, status) in cases {
            let code = e.code();
            assert!(ApiError::CODES.contains(&code), "`{code}` not listed");
            seen.insert(code);
            let resp = e.into_response();
            assert_eq!(resp.status(), status, "{code}");
            let body = rt.block_on(resp.into_body().collect()).unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], code);
            assert_eq!(v["error"].as_object().unwrap().len(), 2, "{v}");
            assert!(!body.windows(13).any(|w| w == b"secret detail"), "internals leaked");
        }
        assert_eq!(seen.len(), ApiError::CODES.len(), "every listed code is produced");
    }
}
