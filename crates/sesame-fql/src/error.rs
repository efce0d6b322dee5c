//! The one error type of the FQL crate: stable snake_case codes (Fauna's), messages, spans.
//!
//! This module is not the wire encoder (see `materialize`) nor the summary renderer
//! (see `diag`); it only describes what went wrong and where.

use std::fmt;

use crate::ast::Span;
use crate::value::Value;

/// Stable error codes. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    InvalidQuery,
    InvalidRequest,
    InvalidArgument,
    InvalidFunctionInvocation,
    UnboundVariable,
    TypeMismatch,
    InvalidNullAccess,
    NullValue,
    DocumentNotFound,
    DocumentIdExists,
    IndexOutOfBounds,
    DivideByZero,
    InvalidBounds,
    InvalidCursor,
    InvalidEffect,
    InvalidTime,
    InvalidUnit,
    InvalidId,
    InvalidType,
    ValueTooLarge,
    StackOverflow,
    TimeOut,
    ConstraintFailure,
    PermissionDenied,
    InvalidSecret,
    Unauthorized,
    Abort,
    InvalidSchema,
    InvalidWrite,
    LimitExceeded,
    InternalError,
}

impl Code {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            InvalidQuery => "invalid_query",
            InvalidRequest => "invalid_request",
            InvalidArgument => "invalid_argument",
            InvalidFunctionInvocation => "invalid_function_invocation",
            UnboundVariable => "unbound_variable",
            TypeMismatch => "type_mismatch",
            InvalidNullAccess => "invalid_null_access",
            NullValue => "null_value",
            DocumentNotFound => "document_not_found",
            DocumentIdExists => "document_id_exists",
            IndexOutOfBounds => "index_out_of_bounds",
            DivideByZero => "divide_by_zero",
            InvalidBounds => "invalid_bounds",
            InvalidCursor => "invalid_cursor",
            InvalidEffect => "invalid_effect",
            InvalidTime => "invalid_time",
            InvalidUnit => "invalid_unit",
            InvalidId => "invalid_id",
            InvalidType => "invalid_type",
            ValueTooLarge => "value_too_large",
            StackOverflow => "stack_overflow",
            TimeOut => "time_out",
            ConstraintFailure => "constraint_failure",
            PermissionDenied => "permission_denied",
            InvalidSecret => "invalid_secret",
            Unauthorized => "unauthorized",
            Abort => "abort",
            InvalidSchema => "invalid_schema",
            InvalidWrite => "invalid_write",
            LimitExceeded => "limit_exceeded",
            InternalError => "internal_error",
        }
    }

    /// HTTP status for this code (fauna-auth-model.md §5.2): every query error is 400, except
    /// `unauthorized` 401, `time_out` 440, `limit_exceeded` 429 and `internal_error` 500.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Unauthorized => 401,
            Code::TimeOut => 440,
            Code::LimitExceeded => 429,
            Code::InternalError => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `constraint_failures`: paths (each a list of field names / indexes) and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintFailure {
    pub paths: Vec<Vec<serde_json::Value>>,
    pub message: String,
}

impl ConstraintFailure {
    /// A failure on a single top-level field.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        ConstraintFailure {
            paths: vec![vec![serde_json::Value::from(name)]],
            message: message.into(),
        }
    }
}

/// A parse-time diagnostic (several can make up one `invalid_query`).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
    pub annotation: Option<String>,
}

/// A query failure: code, message, the primary span, outer call frames, and extras.
#[derive(Debug, Clone)]
pub struct QueryError {
    pub code: Code,
    pub message: String,
    pub span: Option<Span>,
    /// Call sites of the lambdas the error escaped through, innermost first.
    pub frames: Vec<Span>,
    pub constraint_failures: Vec<ConstraintFailure>,
    /// The value given to `abort(v)`, materialised later in the request's format.
    pub abort: Option<Box<Value>>,
    /// Parse diagnostics when `code` is `invalid_query`.
    pub diagnostics: Vec<Diagnostic>,
}

impl QueryError {
    /// A new error without a span.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        QueryError {
            code,
            message: message.into(),
            span: None,
            frames: Vec::new(),
            constraint_failures: Vec::new(),
            abort: None,
            diagnostics: Vec::new(),
        }
    }

    /// Sets the primary span unless one is already set.
    pub fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// Adds constraint failures.
    pub fn with_failures(mut self, f: Vec<ConstraintFailure>) -> Self {
        self.constraint_failures = f;
        self
    }

    /// `invalid_query` from parse diagnostics: "The query failed N validation check(s)".
    pub fn invalid_query(diagnostics: Vec<Diagnostic>) -> Self {
        let n = diagnostics.len();
        let message = if n == 1 {
            "The query failed 1 validation check".to_owned()
        } else {
            format!("The query failed {n} validation checks")
        };
        let mut e = QueryError::new(Code::InvalidQuery, message);
        e.span = diagnostics.first().map(|d| d.span);
        e.diagnostics = diagnostics;
        e
    }

    /// One parse diagnostic as an `invalid_query`.
    pub fn parse(message: impl Into<String>, span: Span) -> Self {
        QueryError::invalid_query(vec![Diagnostic {
            message: message.into(),
            span,
            annotation: None,
        }])
    }

    /// `invalid_request` "Invalid request body: <detail>".
    pub fn request(detail: impl fmt::Display) -> Self {
        QueryError::new(Code::InvalidRequest, format!("Invalid request body: {detail}"))
    }

    /// The HTTP status of this error.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// `permission_denied` "Insufficient privileges to perform the action."
    pub fn permission_denied() -> Self {
        QueryError::new(Code::PermissionDenied, "Insufficient privileges to perform the action.")
    }

    /// `constraint_failure` with a message and failures.
    pub fn constraint(message: impl Into<String>, failures: Vec<ConstraintFailure>) -> Self {
        QueryError::new(Code::ConstraintFailure, message).with_failures(failures)
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for QueryError {}

/// Result alias.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
