//! Golden tests of the FQL-notation renderer, from tagged JSON, for every value kind; and one
//! end-to-end render of a `login` result.

use serde_json::json;
use sesame_fql::render::render_fql;
use sesame_fql::testing::MemHost;
use sesame_fql::Format;

#[test]
fn every_value_kind() {
    let cases = [
        (json!(null), "null"),
        (json!(true), "true"),
        (json!("a\"b#{x}\n"), r#""a\"b\#{x}\n""#),
        (json!({"@int": "42"}), "42"),
        (json!({"@long": "9223372036854775807"}), "9223372036854775807"),
        (json!({"@double": "1.5"}), "1.5"),
        (json!({"@double": "Infinity"}), "Math.Infinity"),
        (json!({"@time": "2023-07-26T04:35:40.910Z"}), r#"Time("2023-07-26T04:35:40.910Z")"#),
        (json!({"@date": "2023-07-26"}), r#"Date("2023-07-26")"#),
        (json!({"@bytes": "AAE="}), r#"Bytes("AAE=")"#),
        (json!({"@mod": "Customer"}), "Customer"),
        (json!({"@ref": {"id": "1", "coll": {"@mod": "Customer"}}}), r#"Customer("1")"#),
        (
            json!({"@ref": {"id": "1", "coll": {"@mod": "Customer"}, "exists": false, "cause": "not found"}}),
            r#"Customer("1") /* not found */"#,
        ),
        (
            json!({"@ref": {"id": "7", "coll": {"@mod": "Token"}, "exists": false, "cause": "deleted"}}),
            r#"Token("7") /* deleted */"#,
        ),
        (
            json!({"@ref": {"name": "Nope", "coll": {"@mod": "Collection"}, "exists": false, "cause": "not found"}}),
            r#"Collection.byName("Nope") /* not found */"#,
        ),
        (
            json!({"@ref": {"id": "1", "coll": {"@mod": "Customer"}, "exists": false, "cause": "permission denied"}}),
            r#"Customer("1") /* permission denied */"#,
        ),
        (json!([{"@int": "1"}, "x", []]), r#"[1, "x", []]"#),
        (json!({}), "{}"),
        (json!({"a": {"@int": "1"}, "odd key": true}), r#"{ a: 1, "odd key": true }"#),
        (json!({"@object": {"@weird": {"@int": "1"}}}), r#"{ "@weird": 1 }"#),
        (
            json!({"@set": {"data": [{"@int": "1"}], "after": "c1"}}),
            r#"{ data: [1], after: "c1" }"#,
        ),
        (json!({"@set": "c1"}), r#"Set.paginate("c1")"#),
        (
            json!({"@doc": {"ts": {"@time": "2023-07-26T04:35:40Z"}, "coll": {"@mod": "Token"}, "id": "371287435110252578", "document": {"@ref": {"id": "371264255805095970", "coll": {"@mod": "Customer"}}}, "secret": "fnAbc"}}),
            r#"{ id: "371287435110252578", coll: Token, ts: Time("2023-07-26T04:35:40Z"), document: Customer("371264255805095970"), secret: "fnAbc" }"#,
        ),
        (
            json!({"@doc": {"name": "Customer", "coll": {"@mod": "Collection"}, "ts": {"@time": "2023-07-26T04:35:40Z"}}}),
            r#"{ name: "Customer", coll: Collection, ts: Time("2023-07-26T04:35:40Z") }"#,
        ),
    ];
    for (tagged, want) in cases {
        assert_eq!(render_fql(&tagged), want, "{tagged}");
    }
}

#[test]
fn a_login_result_renders_like_the_tutorial() {
    let mut h = MemHost::new();
    for q in [
        "Collection.create({ name: 'Customer' })",
        "Customer.create({ id: '1001', firstName: 'Jane' })",
        "Credential.create({ document: Customer.byId('1001'), password: 'sekret' })",
    ] {
        assert_eq!(h.query(None, q, Format::Simple).0, 200);
    }
    let (_, body) = h.query(
        None,
        "Credential.byDocument(Customer.byId('1001'))!.login('sekret')",
        Format::Tagged,
    );
    let text = render_fql(&body["data"]);
    assert!(text.starts_with("{ id: \""), "{text}");
    assert!(text.contains(", coll: Token, ts: Time(\""), "{text}");
    assert!(text.contains("document: Customer(\"1001\"), secret: \""), "{text}");
}
