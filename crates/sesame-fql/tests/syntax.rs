//! Lexer and parser behaviour through whole queries: literal forms, escapes, interpolation,
//! keywords, newline rules, short lambdas, parse-error messages and the depth limits that keep
//! hostile input from overflowing the stack.

use serde_json::{json, Value as Json};
use sesame_fql::testing::MemHost;
use sesame_fql::{parse_query, Format};

/// Runs `f` on a thread with a debug-build-sized stack (the server uses a big stack too).
fn big<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}

fn run(src: &str) -> (u16, Json) {
    let src = src.to_owned();
    big(move || {
        let mut h = MemHost::new();
        h.limits.fuel = 10_000_000;
        h.query(None, &src, Format::Simple)
    })
}

fn data(src: &str) -> Json {
    let (status, body) = run(src);
    assert_eq!(status, 200, "{src:?}: {body}");
    body["data"].clone()
}

fn invalid(src: &str) -> String {
    let (status, body) = run(src);
    assert_eq!(status, 400, "{src:?}: {body}");
    assert_eq!(body["error"]["code"], "invalid_query", "{src:?}: {body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("The query failed 1 validation check"));
    body["summary"].as_str().unwrap().to_owned()
}

#[test]
fn number_forms() {
    assert_eq!(
        data("[0x1F, 0o17, 0b101, 1_000, 0xff_ff, 1e2, 1.5e-3, -1, - 1, +1, 2147483648, -2147483648]"),
        json!([31, 15, 5, 1000, 65535, 100.0, 0.0015, -1, -1, 1, 2147483648i64, -2147483648i64])
    );
    assert_eq!(data("[-1.abs(), 1 - -1, 10.toString()]"), json!([1, 2, "10"]));
    assert_eq!(data("let a = 3\na -1"), json!(2));
    invalid("01");
    invalid("1.");
    invalid("+x");
    invalid("0x");
}

#[test]
fn strings_and_escapes() {
    assert_eq!(
        data(
            r#"["\u{1F600}", '\x41', "\t\v\b\f\0".length, "a\"b", 'it\'s', "no #interp", "\#{x}"]"#
        ),
        json!(["😀", "A", 5, "a\"b", "it's", "no #interp", "#{x}"])
    );
    assert_eq!(data(r##"let n = 2; "#{"a" + "}"}#{n * 2}!""##), json!("a}4!"));
    assert!(invalid(r#""\q""#).contains("Invalid escape"));
    assert!(invalid(r#""\uD800""#).contains("surrogates are disallowed"));
    assert!(invalid(r#""\u{110000}""#).contains("outside of valid unicode range"));
    assert!(invalid(r##"{ "#{3}": 2 }"##).contains("Object keys do not support interpolation"));
    invalid("\"unterminated");
    invalid("\"#{1\"");
    invalid("'\u{feff}'");
    invalid("1 \u{a0} + 1");
}

#[test]
fn comments_nest_and_line_comments_separate() {
    assert_eq!(data("/* a /* b */ c */ 1 // trailing"), json!(1));
    assert_eq!(data("1 // one\n2"), json!(2));
    invalid("/* open /* nested */");
}

#[test]
fn keywords_and_identifiers() {
    assert!(invalid("let join = 1\njoin").contains("`join` is a keyword"));
    assert_eq!(data("{ if: 1 }.if"), json!(1));
    assert_eq!(data("{ 'if': 123 }.if"), json!(123));
    assert_eq!(data("let foo' = 2; let letter = 3; foo' + letter"), json!(5));
    invalid("let FQL = 1; 2");
    invalid("let _ = 1; 2");
    assert_eq!(data("let x: Number = 4; x"), json!(4));
}

#[test]
fn newlines_split_and_continue_as_fauna_does() {
    assert_eq!(data("1\n+ 2"), json!(2));
    assert_eq!(data("let x = 5\nx\n-1"), json!(-1));
    assert_eq!(
        data("[1 +\n2, 'abc'\n  .length, false\n|| true, null\n?? 3]"),
        json!([3, 3, true, 3])
    );
    assert_eq!(data("let f = () => 1\nf\n(7)"), json!(7));
    assert_eq!(data("[if (true) 3\nelse 4]"), json!([3]));
    invalid("1 2");
    invalid("let x = 1 let y = 2; x");
}

#[test]
fn objects_blocks_tuples() {
    assert_eq!(
        data("[{}, { a }, { 'a' }, { a: 1 }, ()]".replace("{ a }", "{ 7 }").as_str()),
        json!([{}, 7, "a", {"a": 1}, []])
    );
    assert_eq!(data("[(1), (1, 2), (3,)]"), json!([1, [1, 2], 3]));
    assert_eq!(data("{ 'a'; }"), json!("a"));
    assert!(invalid("{ let x = 5 }").contains("Missing return expression"));
    assert!(invalid("let x = 5").contains("Missing return expression"));
    assert!(invalid("{ ; }").contains("Unexpected end of block"));
    assert!(invalid("").contains("Unexpected end of query"));
    assert!(invalid("// only a comment").contains("Unexpected end of query"));
    assert!(invalid("{ a: 2, a: 3 }").contains("Key originally used here"));
}

#[test]
fn lambdas_long_short_variadic() {
    assert_eq!(
        data("let f = (a, ...rest) => rest\nlet g = (_, b) => b\nlet h = _ => 3\n[f(1, 2, 3), g(1, 2), h(0), ((...xs) => xs.length)(1, 2)]"),
        json!([[2, 3], 2, 3, 2])
    );
    assert_eq!(
        data("[(.length)('hi'), [{a: 1, b: 2}].map(.a + .b), [{d: false}].map(!.d)]"),
        json!([2, [3], [true]])
    );
    assert!(invalid("let x = .foo\nx").contains("Invalid anonymous field access"));
    assert!(invalid("[1].map([.a])").contains("Invalid anonymous field access"));
    assert!(invalid("2 + .foo").contains("Invalid anonymous field access"));
    assert!(invalid("(a, a) => a").contains("Duplicate lambda argument"));
    invalid("(...a, b) => a");
    invalid("1 + x => x");
    invalid("(1) => 2");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for src in [
        format!("{}1{}", "(".repeat(200), ")".repeat(200)),
        "[".repeat(100_000),
        "{".repeat(100_000),
        format!("{}1", "-".repeat(100_000)),
        format!("{}true", "!".repeat(100_000)),
        format!("{}1", "x => ".repeat(10_000)),
        format!("{}1", "if (true) ".repeat(10_000)),
        format!("{}1{}", "\"#{".repeat(500), "}\"".repeat(500)),
        format!("1{}", " + 1".repeat(10_000)),
        format!("2{}", " ** 2".repeat(10_000)),
    ] {
        let e = big(move || parse_query(&src).map(|_| ()).map_err(|e| e.code.as_str()));
        assert_eq!(e, Err("invalid_query"));
    }
    // Limits are generous enough for real queries.
    assert_eq!(data(&format!("{}1{}", "(".repeat(100), ")".repeat(100))), json!(1));
    assert_eq!(data(&format!("1{}", " + 1".repeat(200))), json!(201));
}

#[test]
fn long_flat_programs_do_not_overflow() {
    let mut src = String::new();
    for i in 0..12_000 {
        src.push_str(&format!("let v{i} = {i}\n"));
    }
    src.push_str("v11999");
    let (status, body) = run(&src);
    assert_eq!((status, body["data"].clone()), (200, json!(11999)), "{body}");
}

#[test]
fn parse_error_summary_has_a_caret_diagram() {
    let s = invalid("let x = 1\nx +");
    assert!(s.starts_with("error: "), "{s}");
    assert!(s.contains("at *query*:2:"), "{s}");
    assert!(s.contains("2 | x +"), "{s}");
}
