//! The one order-preserving byte encoding of JSON values that every backend sorts index entries
//! by, and the index and unique-constraint entries of a document.
//!
//! Order (a total order on JSON values): `null` < `false` < `true` < numbers < strings < arrays
//! < objects. Numbers compare by numeric value; an integer and a float of equal value (`1`,
//! `1.0`) are ordered integer first. Strings compare bytewise (UTF-8). Arrays compare element by
//! element, a prefix first. Objects compare as their entries sorted by key, entry by entry (key,
//! then value), a prefix first.
//!
//! Every value's encoding is prefix-free (self-delimiting), so a tuple is the concatenation of its
//! components, and a descending component is its encoding with every byte inverted. A sort key
//! longer than [`MAX_SORT_KEY`] bytes is cut there (values that agree on that much sort by id).
//! Terms and unique values are compared for exact equality only, so they are kept as a SHA-256
//! digest of their encoding (type-strict: `1` and `1.0` differ, as in `find_documents`).
//!
//! Not here: storing or scanning entries (each backend does), or deciding what to index (the
//! collection's definition does).

use serde_json::Number;
use sesame_model::{Collection, Fields, Json};
use sha2::{Digest, Sha256};

/// The longest sort key kept; longer ones are cut (Postgres' btree entries must stay small).
pub const MAX_SORT_KEY: usize = 1024;

const NULL: u8 = 0x01;
const FALSE: u8 = 0x02;
const TRUE: u8 = 0x03;
const NUMBER: u8 = 0x04;
const STRING: u8 = 0x05;
const ARRAY: u8 = 0x06;
const OBJECT: u8 = 0x07;
const END: u8 = 0x00;
const ENTRY: u8 = 0x01;

/// Appends the ascending encoding of `v` to `out`.
pub fn encode(v: &Json, out: &mut Vec<u8>) {
    match v {
        Json::Null => out.push(NULL),
        Json::Bool(false) => out.push(FALSE),
        Json::Bool(true) => out.push(TRUE),
        Json::Number(n) => {
            out.push(NUMBER);
            encode_number(n, out);
        }
        Json::String(s) => {
            out.push(STRING);
            encode_str(s, out);
        }
        Json::Array(items) => {
            out.push(ARRAY);
            for i in items {
                encode(i, out);
            }
            out.push(END);
        }
        Json::Object(map) => {
            out.push(OBJECT);
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (k, v) in entries {
                out.push(ENTRY);
                encode_str(k, out);
                encode(v, out);
            }
            out.push(END);
        }
    }
}

/// Appends the descending encoding of `v` (its ascending encoding, every byte inverted).
pub fn encode_desc(v: &Json, out: &mut Vec<u8>) {
    let start = out.len();
    encode(v, out);
    for b in &mut out[start..] {
        *b = !*b;
    }
}

/// `0x00` inside a string is escaped as `00 FF`; the string ends with `00 01`.
fn encode_str(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// A number as (nearest f64, exact integer remainder, kind): 8 + 8 + 1 bytes. The f64 orders by
/// value; integers too large for an f64 keep their exact distance to it, so `2^53 + 1` sorts
/// after `2^53`; at equal value integers (kind 0) come before floats (kind 1).
fn encode_number(n: &Number, out: &mut Vec<u8>) {
    let (f, delta, kind): (f64, i64, u8) = if let Some(i) = n.as_i64() {
        let f = i as f64;
        (f, (i128::from(i) - f as i128) as i64, 0)
    } else if let Some(u) = n.as_u64() {
        let f = u as f64;
        (f, (i128::from(u) - f as i128) as i64, 0)
    } else {
        (n.as_f64().unwrap_or(0.0), 0, 1)
    };
    let f = if f == 0.0 { 0.0 } else { f }; // -0.0 sorts as 0.0
    let bits = f.to_bits();
    let key = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    out.extend_from_slice(&key.to_be_bytes());
    out.extend_from_slice(&((delta as u64) ^ (1 << 63)).to_be_bytes());
    out.push(kind);
}

/// The digest of a list of exact values (index terms, unique-constraint values).
pub fn exact_key(values: &[&Json]) -> [u8; 32] {
    let mut buf = Vec::new();
    for v in values {
        encode(v, &mut buf);
    }
    Sha256::digest(&buf).into()
}

/// The terms key of a lookup: `None` if a term is `null` (which matches nothing).
pub fn terms_key(terms: &[Json]) -> Option<[u8; 32]> {
    if terms.iter().any(Json::is_null) {
        return None;
    }
    Some(exact_key(&terms.iter().collect::<Vec<_>>()))
}

/// A sort key from (value, descending) components: `None` values encode as `null`.
pub fn sort_key(values: &[(Option<&Json>, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (v, desc) in values {
        let v = v.unwrap_or(&Json::Null);
        if *desc {
            encode_desc(v, &mut out);
        } else {
            encode(v, &mut out);
        }
    }
    out.truncate(MAX_SORT_KEY);
    out
}

/// One entry of a document in an index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexEntry {
    /// The index's name.
    pub index: String,
    /// [`exact_key`] of the document's terms.
    pub terms_key: [u8; 32],
    /// [`sort_key`] of the document's values.
    pub sort_key: Vec<u8>,
}

/// One entry of a document under a unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UniqueEntry {
    /// The constraint's name.
    pub constraint: String,
    /// [`exact_key`] of the document's constrained values.
    pub key: [u8; 32],
}

fn present<'a>(p: &sesame_model::FieldPath, f: &'a Fields) -> Option<&'a Json> {
    p.get(f).filter(|v| !v.is_null())
}

/// The entries a document with `fields` has in the indexes of `coll`: one per index whose
/// terms are all present and not `null`.
pub fn index_entries(coll: &Collection, fields: &Fields) -> Vec<IndexEntry> {
    coll.indexes
        .iter()
        .filter_map(|idx| {
            let terms: Option<Vec<&Json>> = idx.terms.iter().map(|t| present(t, fields)).collect();
            let values: Vec<(Option<&Json>, bool)> =
                idx.values.iter().map(|v| (present(&v.path, fields), v.desc)).collect();
            Some(IndexEntry {
                index: idx.name.as_str().to_owned(),
                terms_key: exact_key(&terms?),
                sort_key: sort_key(&values),
            })
        })
        .collect()
}

/// The entries a document with `fields` has under the unique constraints of `coll`: one per
/// constraint whose fields are all present and not `null`.
pub fn unique_entries(coll: &Collection, fields: &Fields) -> Vec<UniqueEntry> {
    coll.constraints
        .iter()
        .filter_map(|c| {
            let values: Option<Vec<&Json>> = c.fields.iter().map(|p| present(p, fields)).collect();
            Some(UniqueEntry { constraint: c.name.as_str().to_owned(), key: exact_key(&values?) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! The encoding's order is the documented value order: examples and a property test.

    use std::cmp::Ordering;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn enc(v: &Json) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out);
        out
    }

    /// The reference order, written directly from the module docs.
    fn cmp(a: &Json, b: &Json) -> Ordering {
        fn rank(v: &Json) -> u8 {
            match v {
                Json::Null => 0,
                Json::Bool(false) => 1,
                Json::Bool(true) => 2,
                Json::Number(_) => 3,
                Json::String(_) => 4,
                Json::Array(_) => 5,
                Json::Object(_) => 6,
            }
        }
        match (a, b) {
            (Json::Number(x), Json::Number(y)) => {
                let exact = |n: &Number| -> (f64, i128, bool) {
                    match (n.as_i64(), n.as_u64()) {
                        (Some(i), _) => (i as f64, i128::from(i), false),
                        (None, Some(u)) => (u as f64, i128::from(u), false),
                        _ => (n.as_f64().unwrap(), 0, true),
                    }
                };
                let ((fx, ix, flx), (fy, iy, fly)) = (exact(x), exact(y));
                match (flx, fly) {
                    (false, false) => ix.cmp(&iy),
                    _ => {
                        // Compare numerically; at equal value integers first.
                        let o = if !flx && fly && fx == fy {
                            ix.cmp(&(fy as i128))
                        } else if flx && !fly && fx == fy {
                            (fx as i128).cmp(&iy)
                        } else {
                            fx.partial_cmp(&fy).unwrap()
                        };
                        o.then(flx.cmp(&fly))
                    }
                }
            }
            (Json::String(x), Json::String(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Json::Array(x), Json::Array(y)) => {
                for (i, j) in x.iter().zip(y) {
                    let o = cmp(i, j);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                x.len().cmp(&y.len())
            }
            (Json::Object(x), Json::Object(y)) => {
                let mut xs: Vec<_> = x.iter().collect();
                let mut ys: Vec<_> = y.iter().collect();
                xs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                ys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                for ((kx, vx), (ky, vy)) in xs.iter().zip(&ys) {
                    let o = kx.as_bytes().cmp(ky.as_bytes()).then_with(|| cmp(vx, vy));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                xs.len().cmp(&ys.len())
            }
            _ => rank(a).cmp(&rank(b)),
        }
    }

    #[test]
    fn examples_sort_in_the_documented_order() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1e300),
            json!(i64::MIN),
            json!(-1.5),
            json!(-1),
            json!(-1.0),
            json!(0),
            json!(0.0),
            json!(0.5),
            json!(1),
            json!(1.0),
            json!(9_007_199_254_740_992_i64),
            json!(9_007_199_254_740_992.0_f64),
            json!(9_007_199_254_740_993_i64),
            json!(u64::MAX),
            json!(1e300),
            json!(""),
            json!("\u{1}"),
            json!("a"),
            json!("ab"),
            json!("b"),
            json!("é"),
            json!([]),
            json!([null]),
            json!([1]),
            json!([1, 2]),
            json!(["a"]),
            json!({}),
            json!({"a": 1}),
            json!({"a": 1, "b": 1}),
            json!({"a": 2}),
            json!({"b": 0}),
        ];
        for w in ordered.windows(2) {
            assert!(enc(&w[0]) < enc(&w[1]), "{} < {}", w[0], w[1]);
            assert_eq!(cmp(&w[0], &w[1]), Ordering::Less, "reference: {} < {}", w[0], w[1]);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            encode_desc(&w[0], &mut a);
            encode_desc(&w[1], &mut b);
            assert!(a > b, "desc {} > {}", w[0], w[1]);
        }
        assert_eq!(enc(&json!(-0.0)), enc(&json!(0.0)));
    }

    #[test]
    fn exact_keys_are_type_strict() {
        assert_ne!(exact_key(&[&json!(1)]), exact_key(&[&json!(1.0)]));
        assert_ne!(exact_key(&[&json!("1")]), exact_key(&[&json!(1)]));
        assert_ne!(exact_key(&[&json!(["a", "b"])]), exact_key(&[&json!("a"), &json!("b")]));
        assert_eq!(terms_key(&[json!(null)]), None);
    }

    fn value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            (-1e20f64..1e20).prop_map(Json::from),
            prop_oneof![Just(0.0f64), Just(1.0), Just(-1.0), Just(9_007_199_254_740_992.0)]
                .prop_map(Json::from),
            (-3i64..3).prop_map(Json::from),
            "[a-c\u{0}\u{1}é]{0,4}".prop_map(Json::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::from),
                prop::collection::btree_map("[ab]{0,2}", inner, 0..3)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn encoding_order_is_value_order(a in value(), b in value()) {
            let o = cmp(&a, &b);
            prop_assert_eq!(enc(&a).cmp(&enc(&b)), o, "{} vs {}", a, b);
            let (mut da, mut db) = (Vec::new(), Vec::new());
            encode_desc(&a, &mut da);
            encode_desc(&b, &mut db);
            prop_assert_eq!(da.cmp(&db), o.reverse());
            // Tuples: the first component decides unless equal.
            let ta = sort_key(&[(Some(&a), false), (Some(&b), true)]);
            let tb = sort_key(&[(Some(&b), false), (Some(&a), true)]);
            let want = o.then(o);
            prop_assert_eq!(ta.cmp(&tb), want);
        }
    }
}
