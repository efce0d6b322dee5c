//! Runtime values (spec §4.1, §10.5): the `Value` enum, document references, null causes,
//! equality and ordering (`ValueCmp`), type names for messages and the display/debug string
//! conversions (§5.3).
//!
//! No evaluation and no host access happen here: reading documents is the evaluator's job.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::rc::Rc;

use indexmap::IndexMap;
use sesame_model::Timestamp;

use crate::ast::LambdaDef;
use crate::eval::Env;
use crate::set::SetExpr;

/// An ordered object.
pub type Object = IndexMap<String, Value>;

/// How a document key is written: by id, or by name for schema documents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocKey {
    Id(i64),
    Name(Rc<str>),
}

/// A one-off view attached to a document reference (Fauna's `versionOverride`).
#[derive(Debug, Clone)]
pub enum Overlay {
    /// Returned by `delete()`: materialises as a NullDoc with cause "deleted".
    Deleted,
    /// Extra fields shown only on this value (the `secret` of a new token or key).
    Extra(Object),
    /// A pinned version: reads of this value see it instead of the stored document (the
    /// before and after images a role's `write` predicate receives).
    Version(crate::host::LiveDoc),
}

/// A document reference: collection name plus key. Reading it is lazy.
#[derive(Debug, Clone)]
pub struct DocRef {
    pub coll: Rc<str>,
    pub key: DocKey,
    pub overlay: Option<Rc<Overlay>>,
}

impl DocRef {
    /// A reference by id.
    pub fn id(coll: &str, id: i64) -> DocRef {
        DocRef { coll: coll.into(), key: DocKey::Id(id), overlay: None }
    }
    /// A reference by name (collections, roles).
    pub fn named(coll: &str, name: &str) -> DocRef {
        DocRef { coll: coll.into(), key: DocKey::Name(name.into()), overlay: None }
    }
    /// Same collection and key.
    pub fn same(&self, other: &DocRef) -> bool {
        self.coll == other.coll && self.key == other.key
    }
    /// The id, if keyed by id.
    pub fn id_num(&self) -> Option<i64> {
        match self.key {
            DocKey::Id(i) => Some(i),
            DocKey::Name(_) => None,
        }
    }
    /// Whether this value carries the "deleted" marker.
    pub fn is_deleted_marker(&self) -> bool {
        matches!(self.overlay.as_deref(), Some(Overlay::Deleted))
    }
    /// The key as text (id digits or name).
    pub fn key_str(&self) -> String {
        match &self.key {
            DocKey::Id(i) => i.to_string(),
            DocKey::Name(n) => n.to_string(),
        }
    }
}

/// Why a doc reads as null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    NotFound,
    Deleted,
    Denied,
}

impl Missing {
    /// The wire `cause` string.
    pub fn cause(self) -> &'static str {
        match self {
            Missing::NotFound => "not found",
            Missing::Deleted => "deleted",
            Missing::Denied => "permission denied",
        }
    }
}

/// Why a value is null (spec §5.13).
#[derive(Debug, Clone)]
pub enum NullCause {
    Lit,
    MissingField(Rc<str>),
    NoSuch(Rc<str>),
    Doc(DocRef, Missing),
}

/// Functions.
#[derive(Debug)]
pub enum Func {
    Lambda {
        def: Rc<LambdaDef>,
        env: Env,
    },
    /// A built-in method taken as a value (`'a'.concat`).
    Method {
        recv: Value,
        name: Rc<str>,
    },
    /// A global function (`abort`).
    Global(&'static str),
}

/// A runtime value.
#[derive(Debug, Clone)]
pub enum Value {
    Null(NullCause),
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Rc<str>),
    Id(i64),
    Time(Timestamp),
    Date(Rc<str>),
    Bytes(Rc<[u8]>),
    Array(Rc<Vec<Value>>),
    Object(Rc<Object>),
    Doc(DocRef),
    Set(Rc<SetExpr>),
    Module(Rc<str>),
    Func(Rc<Func>),
}

impl Value {
    /// `null` from a literal.
    pub const NULL: Value = Value::Null(NullCause::Lit);

    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(s.as_ref().into())
    }
    /// An array value.
    pub fn array(v: Vec<Value>) -> Value {
        Value::Array(Rc::new(v))
    }
    /// An object value.
    pub fn object(o: Object) -> Value {
        Value::Object(Rc::new(o))
    }
    /// An Int if it fits i32, else a Long.
    pub fn int(i: i64) -> Value {
        match i32::try_from(i) {
            Ok(v) => Value::Int(v),
            Err(_) => Value::Long(i),
        }
    }
    /// Whether this is a `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }
    /// The number as f64, if a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(f64::from(i)),
            Value::Long(i) => Some(i as f64),
            Value::Double(d) => Some(d),
            _ => None,
        }
    }
    /// The integer as i64, if Int or Long.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i64::from(i)),
            Value::Long(i) => Some(i),
            _ => None,
        }
    }
    /// Whether this value may be stored in a document.
    pub fn persistable(&self) -> bool {
        !matches!(self, Value::Set(_) | Value::Module(_) | Value::Func(_))
    }

    /// The type name used in error messages (`ValueType.displayString`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Null(_) => "Null".into(),
            Value::Bool(_) => "Boolean".into(),
            Value::Int(_) => "Int".into(),
            Value::Long(_) => "Long".into(),
            Value::Double(_) => "Double".into(),
            Value::Str(_) => "String".into(),
            Value::Id(_) => "ID".into(),
            Value::Time(_) => "Time".into(),
            Value::Date(_) => "Date".into(),
            Value::Bytes(_) => "Bytes".into(),
            Value::Array(_) => "Array<Any>".into(),
            Value::Object(_) => "{ *: Any }".into(),
            Value::Doc(d) => d.coll.to_string(),
            Value::Set(_) => "Set<Any>".into(),
            Value::Module(m) => m.to_string(),
            Value::Func(f) => match **f {
                Func::Lambda { .. } => "Lambda".into(),
                _ => "Function".into(),
            },
        }
    }
}

/// Nesting beyond which containers compare as unequal / unordered.
const MAX_CMP_DEPTH: usize = 128;

/// Equality (`ValueCmp.isEqual`): never an error. Docs compare by collection and key.
pub fn equal(a: &Value, b: &Value) -> bool {
    equal_at(a, b, 0)
}

fn equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    use Value::*;
    if depth > MAX_CMP_DEPTH {
        return false;
    }
    match (a, b) {
        (Null(_), Null(_)) => true,
        (Bool(x), Bool(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Id(x), Id(y)) => x == y,
        (Id(x), Str(s)) | (Str(s), Id(x)) => s.parse::<i64>().ok() == Some(*x),
        (Id(x), n) | (n, Id(x)) if n.as_f64().is_some() => n.as_f64() == Some(*x as f64),
        (Int(_) | Long(_), Int(_) | Long(_)) => a.as_i64() == b.as_i64(),
        (x, y) if x.as_f64().is_some() && y.as_f64().is_some() => x.as_f64() == y.as_f64(),
        (Time(x), Time(y)) => x == y,
        (Date(x), Date(y)) => x == y,
        (Bytes(x), Bytes(y)) => x == y,
        (Array(x), Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| equal_at(p, q, depth + 1))
        }
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal_at(v, w, depth + 1)))
        }
        (Doc(x), Doc(y)) => x.same(y),
        (Module(x), Module(y)) => x == y,
        (Set(x), Set(y)) => Rc::ptr_eq(x, y),
        (Func(x), Func(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Ordering (`ValueCmp.cmp`); `None` for unrelated types (which compare false).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    compare_at(a, b, 0)
}

fn compare_at(a: &Value, b: &Value, depth: usize) -> Option<Ordering> {
    use Value::*;
    if depth > MAX_CMP_DEPTH {
        return None;
    }
    match (a, b) {
        (Int(_) | Long(_), Int(_) | Long(_)) => Some(a.as_i64()?.cmp(&b.as_i64()?)),
        (x, y) if x.as_f64().is_some() && y.as_f64().is_some() => {
            x.as_f64()?.partial_cmp(&y.as_f64()?)
        }
        (Str(x), Str(y)) => Some(utf16_cmp(x, y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Time(x), Time(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Id(x), Id(y)) => Some(x.cmp(y)),
        (Id(x), Str(s)) => Some(x.cmp(&s.parse::<i64>().ok()?)),
        (Str(s), Id(x)) => Some(s.parse::<i64>().ok()?.cmp(x)),
        (Array(x), Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                match compare_at(p, q, depth + 1)? {
                    Ordering::Equal => continue,
                    o => return Some(o),
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        (Doc(x), Doc(y)) => Some(x.coll.cmp(&y.coll).then_with(|| match (&x.key, &y.key) {
            (DocKey::Id(p), DocKey::Id(q)) => p.cmp(q),
            (DocKey::Name(p), DocKey::Name(q)) => p.cmp(q),
            (DocKey::Id(_), DocKey::Name(_)) => Ordering::Less,
            (DocKey::Name(_), DocKey::Id(_)) => Ordering::Greater,
        })),
        (Null(_), Null(_)) => Some(Ordering::Equal),
        _ => None,
    }
}

/// A total order for sorting (index values): unrelated types by a type rank.
pub fn sort_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Int(_) | Value::Long(_) | Value::Double(_) => 0,
            Value::Str(_) => 1,
            Value::Bool(_) => 2,
            Value::Time(_) => 3,
            Value::Doc(_) => 4,
            Value::Null(_) => 9,
            _ => 5,
        }
    }
    compare(a, b).unwrap_or_else(|| rank(a).cmp(&rank(b)))
}

/// Java's `Double.toString` (shortest round-trip digits; `1.0`, `1.0E20`, `1.0E-5`).
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = d.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{d:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.to_owned() } else { format!("{m}.0") };
        format!("{m}E{e}")
    }
}

/// Display string of a number (`2.0` displays as `2`).
fn display_double(d: f64) -> String {
    if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e16 {
        format!("{d:.0}")
    } else {
        java_double(d)
    }
}

fn quote_debug(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The display string (`toDisplayString`): strings unquoted, containers in debug form.
pub fn display_string(v: &Value, out: &mut String) {
    match v {
        Value::Str(s) => out.push_str(s),
        other => debug_string(other, out, 0),
    }
}

/// The debug string (`toDebugString`): strings quoted.
pub fn debug_string(v: &Value, out: &mut String, depth: usize) {
    if depth > 32 {
        out.push_str("...");
        return;
    }
    match v {
        Value::Null(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Long(i) | Value::Id(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) => out.push_str(&display_double(*d)),
        Value::Str(s) => quote_debug(s, out),
        Value::Time(t) => out.push_str(&t.to_rfc3339()),
        Value::Date(d) => out.push_str(d),
        Value::Bytes(b) => {
            let _ = write!(out, "[bytes {}]", b.len());
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                debug_string(x, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => {
            if o.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_ident(k) {
                    out.push_str(k);
                } else {
                    quote_debug(k, out);
                }
                out.push_str(": ");
                debug_string(x, out, depth + 1);
            }
            out.push_str(" }");
        }
        Value::Doc(d) => {
            let _ = write!(out, "[doc {} in {}]", d.key_str(), d.coll);
        }
        Value::Set(_) => out.push_str("[set]"),
        Value::Module(m) => out.push_str(m),
        Value::Func(f) => match &**f {
            Func::Lambda { .. } => out.push_str("[function <lambda>]"),
            Func::Method { name, .. } => {
                let _ = write!(out, "[function {name}()]");
            }
            Func::Global(name) => {
                let _ = write!(out, "[function {name}()]");
            }
        },
    }
}

/// Moves the children of a uniquely owned container onto `stack`, leaving it shallow.
fn take_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::Array(a) => {
            if let Some(items) = Rc::get_mut(a) {
                stack.append(items);
            }
        }
        Value::Object(o) => {
            if let Some(m) = Rc::get_mut(o) {
                stack.extend(m.drain(..).map(|(_, x)| x));
            }
        }
        _ => {}
    }
}

impl Drop for Value {
    /// Drops nested containers iteratively, so a deeply nested value (built by a loop) cannot
    /// overflow the stack when it goes away.
    fn drop(&mut self) {
        if !matches!(self, Value::Array(_) | Value::Object(_)) {
            return;
        }
        let mut stack = Vec::new();
        take_children(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            take_children(&mut v, &mut stack);
        }
    }
}
