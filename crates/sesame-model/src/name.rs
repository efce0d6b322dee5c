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

/// A user-defined collection: a named set of documents, such as `Customer`, with its indexes
/// and unique constraints.
///
/// Build one with [`Collection::new`] and the checked `with_*` methods; the fields are public for
/// reading (and for stores rebuilding a stored definition).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Collection {
    /// Its unique name.
    pub name: CollectionName,
    /// Time of its creation (or of its last definition change).
    pub ts: crate::Timestamp,
    /// Its indexes, names unique.
    pub indexes: Vec<crate::IndexDef>,
    /// Its unique constraints, names unique.
    pub constraints: Vec<crate::UniqueConstraint>,
}

impl Collection {
    /// A collection with no indexes and no constraints.
    pub fn new(name: CollectionName, ts: crate::Timestamp) -> Self {
        Collection { name, ts, indexes: Vec::new(), constraints: Vec::new() }
    }

    /// The same collection with `index` added (or replacing the index of that name).
    pub fn with_index(mut self, index: crate::IndexDef) -> Result<Self, ModelError> {
        self.indexes.retain(|i| i.name != index.name);
        self.indexes.push(index);
        self.check()?;
        Ok(self)
    }

    /// The same collection with `constraint` added (or replacing the one of that name).
    pub fn with_constraint(
        mut self,
        constraint: crate::UniqueConstraint,
    ) -> Result<Self, ModelError> {
        self.constraints.retain(|c| c.name != constraint.name);
        self.constraints.push(constraint);
        self.check()?;
        Ok(self)
    }

    /// The index named `name`.
    pub fn index(&self, name: &str) -> Option<&crate::IndexDef> {
        self.indexes.iter().find(|i| i.name.as_str() == name)
    }

    /// Checks the definition's bounds and that names are unique within each kind.
    pub fn check(&self) -> Result<(), ModelError> {
        crate::index::check_definition(&self.indexes, &self.constraints)
    }
}
