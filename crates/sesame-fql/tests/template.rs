//! Request decoding: plain strings, `fql` templates with `value` holes (never spliced into the
//! text), `array`/`object` containers, `arguments`, tagged value decoding and its errors.

use serde_json::{json, Value as Json};
use sesame_fql::testing::MemHost;
use sesame_fql::{decode_request, Format};

fn run(body: Json) -> (u16, Json) {
    let mut h = MemHost::new();
    assert_eq!(h.query(None, "Collection.create({ name: 'User' })", Format::Simple).0, 200);
    assert_eq!(h.query(None, "User.create({ id: '101', name: 'u' })", Format::Simple).0, 200);
    h.query_body(None, &body, Format::Simple)
}

fn data(body: Json) -> Json {
    let (s, b) = run(body.clone());
    assert_eq!(s, 200, "{body}: {b}");
    b["data"].clone()
}

fn error(body: Json) -> (u16, String, String) {
    let (s, b) = run(body);
    (
        s,
        b["error"]["code"].as_str().unwrap_or("").to_owned(),
        b["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn values_are_holes_not_source() {
    assert_eq!(
        data(json!({"query": {"fql": ["let x = ", {"value": {"@int": "5"}}, "\nx + 1"]}})),
        json!(6)
    );
    assert_eq!(data(json!({"query": {"fql": [{"value": "1) + abort(1"}]}})), json!("1) + abort(1"));
    assert_eq!(data(json!({"query": {"fql": ["'a' + ", {"value": "\"#{x}"}]}})), json!("a\"#{x}"));
    let req =
        decode_request(&json!({"query": {"fql": ["1 + ", {"value": {"@int": "2"}}]}})).unwrap();
    assert_eq!(req.text, "1 + \u{0}0>");
    assert_eq!(req.holes.len(), 1);
}

#[test]
fn every_tag_decodes() {
    let v = json!({"@object": {
        "i": {"@int": "1"}, "l": {"@long": "5000000000"}, "d": {"@double": "1.5"}, "t": {"@time": "2026-11-28T11:34:03.249742+00:00"},
        "da": {"@date": "2023-02-28"}, "b": {"@bytes": "AAE="}, "m": {"@mod": "User"}, "r": {"@ref": {"id": "101", "coll": {"@mod": "User"}}},
        "doc": {"@doc": {"id": "101", "coll": {"@mod": "User"}}}, "@at": "kept", "s": "x", "n": null, "a": [true]
    }});
    let q = json!({"query": {"fql": ["let v = ", {"value": v}, "\n[v.i, v.l, v.d, v.t, v.da, v.m, v.r.name, v.doc == v.r, v['@at'], v.s, v.n, v.a]"]}});
    assert_eq!(
        data(q),
        json!([
            1,
            5000000000i64,
            1.5,
            "2026-11-28T11:34:03.249742Z",
            "2023-02-28",
            "User",
            "u",
            true,
            "kept",
            "x",
            null,
            [true]
        ])
    );
}

#[test]
fn containers_and_arguments() {
    assert_eq!(
        data(json!({"query": {"array": [{"fql": ["1 + 1"]}, {"value": {"@int": "3"}}]}})),
        json!([2, 3])
    );
    assert_eq!(
        data(json!({"query": {"object": {"a": {"fql": ["2 * 2"]}, "#{x}\"": {"value": "y"}}}})),
        json!({"a": 4, "#{x}\"": "y"})
    );
    assert_eq!(data(json!({"query": {"object": {"k": {"value": "v"}}}})), json!({"k": "v"}));
    assert_eq!(data(json!({"query": {"fql": ["[", {"fql": ["1, 2"]}, "]"]}})), json!([1, 2]));
    assert_eq!(
        data(json!({"query": "x + y", "arguments": {"x": {"@int": "40"}, "y": 2}})),
        json!(42)
    );
    assert_eq!(
        data(
            json!({"query": "u.name", "arguments": {"u": {"@ref": {"id": "101", "coll": {"@mod": "User"}}}}})
        ),
        json!("u")
    );
}

#[test]
fn bad_requests() {
    assert_eq!(
        error(json!({"query": {"fql": ["1\u{0}"]}})),
        (
            400,
            "invalid_request".into(),
            "Invalid request body: FQL strings cannot contain NUL characters".into()
        )
    );
    assert_eq!(error(json!({"query": {"fql": [{"value": 1}]}})).1, "invalid_query");
    let (_, b) = run(json!({"query": {"fql": ["1 + ", {"value": 1}]}}));
    assert!(b["summary"].as_str().unwrap().contains("numbers must be tagged"), "{b}");
    let (_, b) = run(json!({"query": {"fql": [{"value": {"@mod": "Nope"}}]}}));
    assert!(b["summary"].as_str().unwrap().contains("no such module 'Nope'"), "{b}");
    assert!(run(json!({"query": {"fql": [{"value": {"@blah": "1"}}]}})).1["summary"]
        .as_str()
        .unwrap()
        .contains("invalid tag '@blah'"));
    assert!(run(json!({"query": {"fql": [{"value": {"@int": "1", "x": 2}}]}})).1["summary"]
        .as_str()
        .unwrap()
        .contains("too many keys"));
    assert!(run(
        json!({"query": {"fql": [{"value": {"@ref": {"id": "x", "coll": {"@mod": "User"}}}}]}})
    )
    .1["summary"]
        .as_str()
        .unwrap()
        .contains("@ref field 'id' must be an integer"));
    assert_eq!(error(json!({"query": 1})).1, "invalid_request");
    assert_eq!(error(json!({"query": {"fql": ["1"], "value": 2}})).1, "invalid_request");
    assert_eq!(error(json!({"nope": 1})).1, "invalid_request");
    assert_eq!(error(json!({"query": "1", "arguments": []})).1, "invalid_request");
    let deep = (0..200).fold(json!({"fql": ["1"]}), |acc, _| json!({"fql": [acc]}));
    assert_eq!(error(json!({ "query": deep })).1, "invalid_request");
    // Marker text the client writes itself is not a hole: NUL is refused, and `\0` in a string
    // literal is just a character.
    assert_eq!(data(json!({"query": "'\\0' + '0>'"})), json!("\u{0}0>"));
}
