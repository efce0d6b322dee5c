//! Collection names: validated identifiers, with the built-in collections' names reserved.

use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// Names of built-in collections (and their aliases) that user collections may not take.
/// Compared case-insensitively, so `token` and `TOKEN` are reserved too.
pub const RESERVED_COLLECTION_NAMES: &[&str] = &[
    "Credential",
    "Credentials",
    "Token",
    "Tokens",
    "Key",
    "Keys",
    "Role",
    "Roles",
    "Collection",
    "Collections",
    "Database",
    "Function",
    "AccessProvider",
    "Query",
    "Time",
    "Date",
    "Math",
    "Object",
    "String",
    "Set",
    "Audit",
];

/// A user collection's name: 1 to 64 characters, an ASCII letter or `_` first, then letters,
/// digits or `_`; not `_` alone and not a reserved name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionName(String);

impl CollectionName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for CollectionName {
    type Error = ModelError;

    /// Same as `s.parse()`.
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for CollectionName {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shown = || {
            let t: String = s.chars().take(64).collect();
            t.escape_debug().to_string()
        };
        let mut bytes = s.bytes();
        let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
        if !first_ok
            || s.len() > 64
            || s == "_"
            || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(ModelError::InvalidCollectionName(format!(
                "`{}`: use 1 to 64 ASCII letters, digits or `_`, not starting with a digit",
                shown()
            )));
        }
        if RESERVED_COLLECTION_NAMES.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return Err(ModelError::ReservedCollectionName(s.to_owned()));
        }
        Ok(CollectionName(s.to_owned()))
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CollectionName({})", self.0)
    }
}

/// A user-defined collection: a named set of documents, such as `Customer`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Collection {
    /// Its unique name.
    pub name: CollectionName,
    /// Time of its creation.
    pub ts: crate::Timestamp,
}
