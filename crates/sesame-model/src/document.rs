//! Documents, references to them, and their user fields.
//!
//! User fields are JSON values ([`Json`]) checked once on the way in: field names are not empty,
//! not reserved at the top level, at most 256 bytes; no string anywhere contains NUL (which
//! Postgres' `jsonb` cannot store, so both backends reject it alike); nesting is bounded.

use std::fmt;
use std::str::FromStr;

use crate::{CollectionName, DocId, ModelError, Timestamp};

/// A JSON value, as stored in a document's fields.
pub type Json = serde_json::Value;

/// Top-level field names that belong to Sesame (Fauna's document metadata), never to users.
pub const RESERVED_FIELDS: &[&str] = &["id", "coll", "ts", "ttl", "data"];

/// The deepest nesting of arrays and objects a field value may have.
pub const MAX_FIELD_DEPTH: usize = 32;

const MAX_NAME_BYTES: usize = 256;

/// A reference to a document: its collection and id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DocRef {
    /// The collection the document lives in.
    pub coll: CollectionName,
    /// The document's id, unique across all collections.
    pub id: DocId,
}

impl DocRef {
    /// Builds a reference.
    pub fn new(coll: CollectionName, id: DocId) -> Self {
        DocRef { coll, id }
    }
}

impl fmt::Display for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(\"{}\")", self.coll, self.id)
    }
}

/// A top-level user field name: not empty, at most 256 bytes, no NUL, not reserved.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct FieldName(String);

impl FieldName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FieldName {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        check_name(s)?;
        if RESERVED_FIELDS.contains(&s) {
            return Err(ModelError::ReservedField(s.to_owned()));
        }
        Ok(FieldName(s.to_owned()))
    }
}

fn check_name(s: &str) -> Result<(), ModelError> {
    if s.is_empty() {
        return Err(ModelError::InvalidField("a field name is empty".into()));
    }
    if s.len() > MAX_NAME_BYTES {
        return Err(ModelError::InvalidField(format!(
            "a field name is longer than {MAX_NAME_BYTES} bytes"
        )));
    }
    if s.contains('\0') {
        return Err(ModelError::InvalidField("a field name contains NUL".into()));
    }
    Ok(())
}

fn check_value(path: &str, v: &Json, depth: usize) -> Result<(), ModelError> {
    if depth > MAX_FIELD_DEPTH {
        return Err(ModelError::InvalidField(format!(
            "`{path}` is nested deeper than {MAX_FIELD_DEPTH} levels"
        )));
    }
    match v {
        Json::String(s) if s.contains('\0') => {
            Err(ModelError::InvalidField(format!("`{path}` contains a NUL character")))
        }
        Json::Array(items) => items.iter().try_for_each(|i| check_value(path, i, depth + 1)),
        Json::Object(map) => map.iter().try_for_each(|(k, i)| {
            if k.contains('\0') || k.len() > MAX_NAME_BYTES {
                return Err(ModelError::InvalidField(format!("`{path}` has an invalid key")));
            }
            check_value(path, i, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// A document's user fields: a JSON object whose names and values passed the checks above.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct Fields(serde_json::Map<String, Json>);

impl TryFrom<Json> for Fields {
    type Error = ModelError;

    /// Same as [`Fields::parse_value`]: e.g. `Fields::try_from(serde_json::json!({…}))`.
    fn try_from(v: Json) -> Result<Self, Self::Error> {
        Fields::parse_value(v)
    }
}

impl Fields {
    /// Checks a JSON object. Top-level `null` values are kept (they mean "remove" in a patch);
    /// use [`Fields::without_nulls`] for a document's stored form.
    pub fn parse(map: serde_json::Map<String, Json>) -> Result<Self, ModelError> {
        for (k, v) in &map {
            let _: FieldName = k.parse()?;
            check_value(k, v, 1)?;
        }
        Ok(Fields(map))
    }

    /// Checks a JSON value that must be an object.
    pub fn parse_value(v: Json) -> Result<Self, ModelError> {
        match v {
            Json::Object(map) => Fields::parse(map),
            _ => Err(ModelError::InvalidField("fields must be a JSON object".into())),
        }
    }

    /// An empty set of fields.
    pub fn new() -> Self {
        Fields::default()
    }

    /// The same fields with top-level `null`s dropped (a null field is an absent field).
    pub fn without_nulls(mut self) -> Self {
        self.0.retain(|_, v| !v.is_null());
        self
    }

    /// Applies a patch: each patch field replaces the field of that name; `null` removes it.
    pub fn merge(&mut self, patch: &Fields) {
        for (k, v) in &patch.0 {
            if v.is_null() {
                self.0.remove(k);
            } else {
                self.0.insert(k.clone(), v.clone());
            }
        }
    }

    /// Whether every field of `filter` is present here with an equal value.
    pub fn matches(&self, filter: &Fields) -> bool {
        filter.0.iter().all(|(k, v)| self.0.get(k) == Some(v))
    }

    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&Json> {
        self.0.get(name)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields as a JSON map.
    pub fn as_map(&self) -> &serde_json::Map<String, Json> {
        &self.0
    }

    /// The fields as a JSON map, by value.
    pub fn into_map(self) -> serde_json::Map<String, Json> {
        self.0
    }
}

/// A document of a user collection: an identity such as a `Customer`, or any other record.
#[derive(Clone, PartialEq, Debug)]
pub struct Document {
    /// Its id, unique across all collections.
    pub id: DocId,
    /// Its collection.
    pub coll: CollectionName,
    /// Time of its last write.
    pub ts: Timestamp,
    /// Its user fields (no top-level nulls).
    pub fields: Fields,
}

impl Document {
    /// The reference to this document.
    pub fn doc_ref(&self) -> DocRef {
        DocRef { coll: self.coll.clone(), id: self.id }
    }
}

/// Free-form user metadata on a credential, token or key (`data`): a JSON object under the same
/// value checks as fields, but with no reserved names.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct Data(serde_json::Map<String, Json>);

impl Data {
    /// Checks a JSON value that must be an object.
    pub fn parse_value(v: Json) -> Result<Self, ModelError> {
        match v {
            Json::Object(map) => {
                for (k, v) in &map {
                    check_name(k)?;
                    check_value(k, v, 1)?;
                }
                Ok(Data(map))
            }
            _ => Err(ModelError::InvalidField("`data` must be a JSON object".into())),
        }
    }

    /// The data as a JSON map.
    pub fn as_map(&self) -> &serde_json::Map<String, Json> {
        &self.0
    }

    /// The data as a JSON value.
    pub fn to_json(&self) -> Json {
        Json::Object(self.0.clone())
    }
}
