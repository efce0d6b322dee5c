//! Collection definitions beyond the name: named indexes (terms and ordered values) and unique
//! constraints, over [`FieldPath`]s into a document's fields.
//!
//! Values only: parsing and bounds. How stores keep index entries, order them and scan them is
//! `sesame-store`'s business; how a query language spells them is the surface's.

use std::fmt;
use std::str::FromStr;

use crate::{Fields, Json, ModelError, RESERVED_FIELDS};

/// The deepest a field path may go (`.a.b.c…`).
pub const MAX_PATH_DEPTH: usize = 8;
/// The most terms, and separately the most values, one index may have.
pub const MAX_INDEX_FIELDS: usize = 8;
/// The most indexes, and separately the most unique constraints, one collection may have.
pub const MAX_INDEXES: usize = 64;
const MAX_SEGMENT_BYTES: usize = 64;

fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && s.len() <= MAX_SEGMENT_BYTES
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::InvalidIndex(msg.into())
}

/// A path into a document's user fields: one or more identifier-like names (`[A-Za-z_][A-Za-z0-9_]*`,
/// at most 64 bytes each, at most [`MAX_PATH_DEPTH`] deep), the first not reserved.
///
/// Parses from `.address.city`, `address.city` or a list of segments.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// A path from its segments.
    pub fn from_segments<S: AsRef<str>>(segments: &[S]) -> Result<Self, ModelError> {
        if segments.is_empty() {
            return Err(invalid("a field path is empty"));
        }
        if segments.len() > MAX_PATH_DEPTH {
            return Err(invalid(format!("a field path is deeper than {MAX_PATH_DEPTH}")));
        }
        let mut out = Vec::with_capacity(segments.len());
        for s in segments {
            let s = s.as_ref();
            if !is_identifier(s) {
                return Err(invalid(format!("`{s}` is not a field name in a path")));
            }
            out.push(s.to_owned());
        }
        if RESERVED_FIELDS.contains(&out[0].as_str()) {
            return Err(ModelError::ReservedField(out[0].clone()));
        }
        Ok(FieldPath(out))
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The value at this path in `fields`: `None` when a segment is missing or a parent is not
    /// an object. A `null` found there is returned as `Some(Null)`; callers treat it as missing.
    pub fn get<'a>(&self, fields: &'a Fields) -> Option<&'a Json> {
        let mut v = fields.get(&self.0[0])?;
        for seg in &self.0[1..] {
            v = v.as_object()?.get(seg)?;
        }
        Some(v)
    }

    /// A name fragment for derived names: the segments joined by `_`.
    fn slug(&self) -> String {
        self.0.join("_")
    }
}

impl FromStr for FieldPath {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let s = s.strip_prefix('.').unwrap_or(s);
        let segments: Vec<&str> = s.split('.').collect();
        FieldPath::from_segments(&segments)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.0 {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({self})")
    }
}

/// The name of an index or unique constraint: an identifier of at most 64 bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct IndexName(String);

impl IndexName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IndexName {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        if is_identifier(s) {
            Ok(IndexName(s.to_owned()))
        } else {
            Err(invalid(format!("`{s}` is not an index name (an identifier, at most 64 bytes)")))
        }
    }
}

impl fmt::Display for IndexName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One ordered value of an index: a path, ascending or descending.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IndexValue {
    /// Where the value is read.
    pub path: FieldPath,
    /// Descending order when true.
    pub desc: bool,
}

/// A named index: documents grouped by exact equality of their `terms` and ordered by their
/// `values` (then by id). A document missing a term (or with `null` there) is not in the index;
/// a missing value sorts as `null`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IndexDef {
    /// Unique among the collection's indexes.
    pub name: IndexName,
    /// Paths whose values select the entries; may be empty (every document, ordered).
    pub terms: Vec<FieldPath>,
    /// Paths whose values order the entries; may be empty (id order).
    pub values: Vec<IndexValue>,
}

impl IndexDef {
    /// An index, checking the bounds ([`MAX_INDEX_FIELDS`] terms and values).
    pub fn new(
        name: IndexName,
        terms: Vec<FieldPath>,
        values: Vec<IndexValue>,
    ) -> Result<Self, ModelError> {
        if terms.len() > MAX_INDEX_FIELDS || values.len() > MAX_INDEX_FIELDS {
            return Err(invalid(format!(
                "index `{name}` has more than {MAX_INDEX_FIELDS} terms or values"
            )));
        }
        Ok(IndexDef { name, terms, values })
    }
}

/// A unique constraint: no two documents of the collection have equal values (exact JSON
/// equality) at all of `fields`. Documents missing any of them (or `null` there) are not
/// constrained.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UniqueConstraint {
    /// Its name, unique among the collection's constraints (derived: `unique_<fields>`).
    pub name: IndexName,
    /// The constrained paths, at least one.
    pub fields: Vec<FieldPath>,
}

impl UniqueConstraint {
    /// A constraint named after its fields: `["email"]` → `unique_email`, `[".a.b", "c"]` →
    /// `unique_a_b_c` (too long a name is an error: name it with [`UniqueConstraint::named`]).
    pub fn new(fields: Vec<FieldPath>) -> Result<Self, ModelError> {
        let slug: Vec<String> = fields.iter().map(FieldPath::slug).collect();
        let name = format!("unique_{}", slug.join("_")).parse()?;
        UniqueConstraint::named(name, fields)
    }

    /// A constraint with an explicit name.
    pub fn named(name: IndexName, fields: Vec<FieldPath>) -> Result<Self, ModelError> {
        if fields.is_empty() || fields.len() > MAX_INDEX_FIELDS {
            return Err(invalid(format!(
                "unique constraint `{name}` needs 1 to {MAX_INDEX_FIELDS} fields"
            )));
        }
        Ok(UniqueConstraint { name, fields })
    }
}

/// Checks a collection's indexes and constraints: bounded counts, names unique within each kind.
pub(crate) fn check_definition(
    indexes: &[IndexDef],
    constraints: &[UniqueConstraint],
) -> Result<(), ModelError> {
    if indexes.len() > MAX_INDEXES || constraints.len() > MAX_INDEXES {
        return Err(invalid(format!("a collection has more than {MAX_INDEXES} indexes")));
    }
    for (i, a) in indexes.iter().enumerate() {
        if indexes[..i].iter().any(|b| b.name == a.name) {
            return Err(invalid(format!("two indexes are named `{}`", a.name)));
        }
    }
    for (i, a) in constraints.iter().enumerate() {
        if constraints[..i].iter().any(|b| b.name == a.name) {
            return Err(invalid(format!("two unique constraints are named `{}`", a.name)));
        }
    }
    Ok(())
}
