//! The model's one error type: why a value could not be parsed.
//!
//! Codes are stable snake_case strings, append-only. The engine reports all of these to clients
//! as `invalid_argument`, carrying the message; the finer code is for library users and logs.

/// Why a domain value was rejected. Messages never contain secrets or passwords.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A document id that is not a positive 64-bit decimal integer.
    #[error("invalid id: {0}")]
    InvalidId(String),
    /// A collection name that is not an identifier.
    #[error("invalid collection name: {0}")]
    InvalidCollectionName(String),
    /// A collection name that belongs to a built-in collection.
    #[error("collection name `{0}` is reserved")]
    ReservedCollectionName(String),
    /// A field name or value that cannot be stored.
    #[error("invalid field: {0}")]
    InvalidField(String),
    /// A top-level field name that Sesame reserves (`id`, `coll`, `ts`, `ttl`, `data`).
    #[error("field `{0}` is reserved")]
    ReservedField(String),
    /// A time that is not RFC 3339 or out of range.
    #[error("invalid time: {0}")]
    InvalidTime(String),
    /// A role name that is not known.
    #[error("invalid role: {0}")]
    InvalidRole(String),
    /// An index, unique constraint or field path that cannot be defined.
    #[error("invalid index: {0}")]
    InvalidIndex(String),
}

impl ModelError {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::InvalidId(_) => "invalid_id",
            ModelError::InvalidCollectionName(_) => "invalid_collection_name",
            ModelError::ReservedCollectionName(_) => "reserved_collection_name",
            ModelError::InvalidField(_) => "invalid_field",
            ModelError::ReservedField(_) => "reserved_field",
            ModelError::InvalidTime(_) => "invalid_time",
            ModelError::InvalidRole(_) => "invalid_role",
            ModelError::InvalidIndex(_) => "invalid_index",
        }
    }
}
