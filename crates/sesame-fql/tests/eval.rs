//! Evaluator behaviour beyond the corpus: numeric promotion, null handling, writes and
//! rollback, set callbacks, time arithmetic, permissions as seen by a token, and every limit
//! (call depth, eval depth, fuel, deadline, string and array size, writes, password checks).

use serde_json::{json, Value as Json};
use sesame_fql::testing::MemHost;
use sesame_fql::{Format, Limits};

fn big<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}

/// Runs the queries in order on one database; returns the last (status, body).
fn run_all(limits: Limits, queries: &[&str]) -> (u16, Json) {
    let qs: Vec<String> = queries.iter().map(|s| (*s).to_owned()).collect();
    big(move || {
        let mut h = MemHost::new();
        let mut last = (0, Json::Null);
        for (i, q) in qs.iter().enumerate() {
            if i + 1 == qs.len() {
                h.limits = limits.clone();
            }
            last = h.query(None, q, Format::Simple);
        }
        last
    })
}

fn ok(queries: &[&str]) -> Json {
    let (s, b) = run_all(Limits::default(), queries);
    assert_eq!(s, 200, "{queries:?}: {b}");
    b["data"].clone()
}

fn err(limits: Limits, queries: &[&str]) -> (String, String) {
    let (s, b) = run_all(limits, queries);
    assert_ne!(s, 200, "{queries:?}: {b}");
    (
        b["error"]["code"].as_str().unwrap().to_owned(),
        b["error"]["message"].as_str().unwrap().to_owned(),
    )
}

const AUTHOR: &str = "Collection.create({ name: 'Author', indexes: { byAge: { terms: [{ field: 'name' }], values: [{ field: '.age', order: 'desc' }] } }, constraints: [{ unique: ['email'] }] })";

#[test]
fn numbers_promote_like_fauna() {
    assert_eq!(
        ok(&["[9223372036854775807 + 1, -2147483648 - 1, 7 % -3, -7 % 3, 2 ** 10, 2 ** -1, 5 / 2, 5.0 / 2, 1 | 6, 6 & 3, 6 ^ 3, ~0]"]),
        json!([9.223372036854776e18, -2147483649i64, 1, -1, 1024, 0.5, 2, 2.5, 7, 2, 5, -1])
    );
    assert_eq!(
        ok(&["[0.0 / 0 == 0.0 / 0, 1 < 0.0 / 0, 1.0 == 1, 3 > 2.5]"]),
        json!([false, false, true, true])
    );
    assert_eq!(err(Limits::default(), &["1 % 0"]).0, "divide_by_zero");
    assert_eq!(
        err(Limits::default(), &["'a' - 1"]).1,
        "The function `-` does not exist on `String`"
    );
}

#[test]
fn nulls_bang_and_coalesce() {
    assert_eq!(
        ok(&["let o = { a: null }\n[o.a ?? 1, o.b ?? 2, o?.a?.b, null?.foo[0].bar().baz]"]),
        json!([1, 2, null, null])
    );
    assert_eq!(err(Limits::default(), &["null?.foo[0].bar().baz!"]).1, "Null literal value");
    assert_eq!(
        err(Limits::default(), &["let foo = {}\nfoo?.bar?.baz!"]).1,
        "Null value, due to missing field `bar`"
    );
    assert_eq!(err(Limits::default(), &["(null?.foo).bar"]).0, "invalid_null_access");
    assert_eq!(err(Limits::default(), &["[].first()!"]).1, "Null value, due to empty array");
    assert_eq!(err(Limits::default(), &["!5"]).1, "The function `!` does not exist on `Int`");
    assert_eq!(err(Limits::default(), &["(5)(1)"]).1, "expected type: Function, received Int");
    assert_eq!(ok(&["null.toString()"]), json!("null"));
}

#[test]
fn writes_indexes_and_unique_constraints() {
    let q = &[
        AUTHOR,
        "Author.create({ name: 'bob', age: 20, email: 'a' })\nAuthor.create({ name: 'bob', age: 40, email: 'b' })",
        "[Author.byAge('bob').map(.age).toArray(), Author.all().count()]",
    ];
    assert_eq!(ok(q), json!([[40, 20], 2]));
    let (code, msg) = err(
        Limits::default(),
        &[AUTHOR, "Author.create({ email: 'x' })\nAuthor.create({ email: 'x' })"],
    );
    assert_eq!((code.as_str(), msg.as_str()), ("constraint_failure", "Failed unique constraint."));
    assert_eq!(
        err(Limits::default(), &[AUTHOR, "Author.byAge()"]).0,
        "invalid_function_invocation"
    );
    assert_eq!(
        err(Limits::default(), &[AUTHOR, "Author.byyName('x')"]).1,
        "The function `byyName` does not exist on `Author`"
    );
    assert_eq!(
        ok(&[
            AUTHOR,
            "Author.create({ id: '1', n: { a: 1, b: { c: 2 } } })",
            "Author.byId('1')!.update({ n: { b: { d: 3 } } }).n"
        ]),
        json!({"a": 1, "b": {"c": 2, "d": 3}})
    );
    assert_eq!(
        ok(&[AUTHOR, "Author.createData({ id: '2', ts: 'x', coll: 'y' })", "Author(2)!.data"]),
        json!({"ts": "x", "coll": "y"})
    );
    assert_eq!(
        err(Limits::default(), &[AUTHOR, "Author.create({ f: x => x })"]).1,
        "Value at `f` has type Lambda, which cannot be persisted."
    );
}

#[test]
fn a_failed_query_writes_nothing() {
    assert_eq!(
        ok(&[AUTHOR, "Author.create({ id: '5' })\nabort('no')", "Author.byId('5').exists()"]),
        json!(false)
    );
    assert_eq!(
        ok(&[AUTHOR, "Author.create({ id: '5' })\n1 / 0", "Author.all().count()"]),
        json!(0)
    );
}

#[test]
fn set_callbacks_are_read_only_but_foreach_writes() {
    let (code, msg) = err(
        Limits::default(),
        &[AUTHOR, "Author.create({})", "Author.all().map(.update({ a: 1 })).toArray()"],
    );
    assert_eq!(code, "invalid_effect");
    assert_eq!(msg, "`update` performs a write, which is not allowed in set functions.");
    assert_eq!(
        ok(&[
            AUTHOR,
            "Author.create({})",
            "Author.all().forEach(.update({ a: 1 }))\nAuthor.all().map(.a).toArray()"
        ]),
        json!([1])
    );
    assert_eq!(
        ok(&["Set.sequence(0, 5).where(x => x > 1).map(x => x * 10).take(2).toArray()"]),
        json!([20, 30])
    );
    assert_eq!(
        err(Limits::default(), &["Set.sequence(0, 5).where(x => 1).toArray()"]).0,
        "type_mismatch"
    );
    assert_eq!(
        err(Limits::default(), &["Set.sequence(0, 5).paginate(0)"]).1,
        "expected `size` to be between 1 and 16000 (inclusive), received 0"
    );
    assert_eq!(
        err(Limits::default(), &["Set.paginate('bogus')"]).1,
        "Cursor cursor is invalid or expired."
    );
    assert_eq!(
        err(Limits::default(), &["[1].where(() => true)"]).1,
        "`predicate` should accept 1 parameter, provided function requires no parameters."
    );
}

#[test]
fn time_arithmetic() {
    assert_eq!(
        ok(&["let t = Time('1970-01-01T00:00:00Z')\n[t.add(0.5, 'seconds'), t.add(1, 'half day'), t.subtract(1, 'nanosecond'), t.add(90, 'minutes').hour, t.dayOfWeek, t.toMillis()]"]),
        json!(["1970-01-01T00:00:00.500Z", "1970-01-01T12:00:00Z", "1970-01-01T00:00:00Z", 1, 4, 0])
    );
    assert_eq!(
        err(Limits::default(), &["Time.now().add(1, 'fortnight')"]).1,
        "`fortnight` is not a valid time unit."
    );
    assert_eq!(err(Limits::default(), &["Time.now().add(100000000, 'days')"]).0, "invalid_time");
}

#[test]
fn tokens_see_only_what_roles_and_the_baseline_allow() {
    big(|| {
        let mut h = MemHost::new();
        for q in [
            "Collection.create({ name: 'User' })",
            "User.create({ id: '1', name: 'a' })",
            "Credential.create({ document: User.byId('1'), password: 'pw' })",
        ] {
            assert_eq!(h.query(None, q, Format::Simple).0, 200, "{q}");
        }
        let (_, b) =
            h.query(None, "Credential.byDocument(User.byId('1'))!.login('pw')", Format::Simple);
        let secret = b["data"]["secret"].as_str().expect("secret").to_owned();
        let s = Some(secret.as_str());
        assert_eq!(
            h.query(s, "Query.identity()!", Format::Simple).1["error"]["message"],
            "Null value, due to permission denied"
        );
        assert_eq!(
            h.query(s, "User.byId('1')!.name", Format::Simple).1["error"]["code"],
            "null_value"
        );
        assert_eq!(
            h.query(s, "User.byId('1').name", Format::Simple).1["error"]["code"],
            "permission_denied"
        );
        assert_eq!(h.query(s, "User.all().count()", Format::Simple).1["data"], 0);
        assert_eq!(
            h.query(s, "Token.byDocument(Query.identity()).count()", Format::Simple).1["data"],
            1
        );
        assert_eq!(
            h.query(s, "Query.token()!.update({ data: { a: 1 } })", Format::Simple).1["error"]
                ["code"],
            "permission_denied"
        );
        assert_eq!(
            h.query(s, "Key.create({ role: 'server' })", Format::Simple).1["error"]["code"],
            "permission_denied"
        );
        assert_eq!(h.query(s, "Query.token()!.delete()", Format::Simple).0, 200);
        assert_eq!(h.query(s, "1", Format::Simple).0, 401);
    });
}

#[test]
fn limits_stop_hostile_queries() {
    let small = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        l
    };
    let rec = "let f = (g, n) => g(g, n + 1)\nf(f, 0)";
    let (code, msg) = err(Limits::default(), &[rec]);
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("stack_overflow", "number of stack frames exceeded limit of 256")
    );
    let deep =
        format!("let f = (g, n) => {}g(g, n + 1){}\nf(f, 0)", "[".repeat(100), "]".repeat(100));
    assert_eq!(err(Limits::default(), &[deep.as_str()]).0, "stack_overflow");
    assert_eq!(
        err(small(|l| l.fuel = 10_000), &["Set.sequence(0, 1000000).count()"]).0,
        "time_out"
    );
    assert_eq!(
        run_all(
            small(|l| l.deadline = Some(std::time::Instant::now())),
            &["Set.sequence(0, 1000000).count()"]
        )
        .0,
        440
    );
    assert_eq!(err(small(|l| l.max_string_bytes = 8), &["'abcd' + 'efghi'"]).0, "value_too_large");
    assert_eq!(
        err(small(|l| l.max_string_bytes = 8), &["let x = 'abcdefgh'\n\"#{x}!\""]).0,
        "value_too_large"
    );
    assert_eq!(err(Limits::default(), &["Set.sequence(0, 20000).toArray()"]).0, "value_too_large");
    assert_eq!(
        err(small(|l| l.max_writes = 2), &[AUTHOR, "[1, 2, 3].forEach(_ => Author.create({}))"]).1,
        "Too many writes in one query (limit 2)."
    );
    let creds = [
        "Collection.create({ name: 'User' })",
        "User.create({ id: '1' })",
        "Credential.create({ document: User.byId('1'), password: 'pw' })",
        "let c = Credential.byDocument(User.byId('1'))!\nSet.sequence(0, 100).toArray().map(_ => c.verify('x'))",
    ];
    assert_eq!(err(Limits::default(), &creds).0, "invalid_secret");
    // Deeply nested values built by a loop are dropped without recursion.
    let nest = "Set.sequence(0, 15000).toArray().fold([], (acc, _) => [acc]).length";
    assert_eq!(run_all(small(|l| l.fuel = 10_000_000), &[nest]).1["data"], 1);
    assert_eq!(
        err(
            small(|l| l.fuel = 10_000_000),
            &["Set.sequence(0, 300).toArray().fold([], (acc, _) => [acc])"]
        )
        .0,
        "value_too_large"
    );
}

#[test]
fn error_codes_have_http_statuses() {
    use sesame_fql::Code;
    assert_eq!(Code::Unauthorized.http_status(), 401);
    assert_eq!(Code::TimeOut.http_status(), 440);
    assert_eq!(Code::InvalidQuery.http_status(), 400);
    assert_eq!(Code::PermissionDenied.http_status(), 400);
    assert_eq!(Code::ConstraintFailure.as_str(), "constraint_failure");
}

#[test]
fn cursors_work_across_queries() {
    big(|| {
        let mut h = MemHost::new();
        assert_eq!(h.query(None, "Collection.create({ name: 'Author', indexes: { byName: { terms: [{ field: 'name' }] } } })", Format::Simple).0, 200);
        assert_eq!(
            h.query(
                None,
                "Set.sequence(0, 40).forEach(i => Author.create({ name: 'a', n: i }))",
                Format::Simple
            )
            .0,
            200
        );
        // A set with a callback that captures a variable and a template hole.
        let body = json!({"query": {"fql": ["let min = 5\nAuthor.byName(", {"value": "a"}, ").where(.n >= min && .name == ", {"value": "a"}, ").map(.n).paginate(10)"]}});
        let (s, b) = h.query_body(None, &body, Format::Simple);
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["data"], json!([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]));
        let mut after = b["data"]["after"].as_str().expect("after").to_owned();
        let mut seen = 10;
        loop {
            let (s, b) = h.query_body(
                None,
                &json!({"query": {"fql": ["Set.paginate(", {"value": after}, ")"]}}),
                Format::Tagged,
            );
            assert_eq!(s, 200, "{b}");
            seen += b["data"]["data"].as_array().unwrap().len();
            match b["data"]["after"].as_str() {
                Some(a) => after = a.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, 35);
        // A tampered cursor is `invalid_cursor`, never a panic.
        for bad in ["c1.", "c1.AAAA", "c1.eyJzcmMiOnt9fQ", "sesame-cursor-99"] {
            let (s, b) = h.query_body(
                None,
                &json!({"query": {"fql": ["Set.paginate(", {"value": bad}, ")"]}}),
                Format::Simple,
            );
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (400, Some("invalid_cursor")),
                "{bad}: {b}"
            );
        }
    });
}

#[test]
fn eager_set_extras_and_log() {
    assert_eq!(
        ok(&["[Set.sequence(0, 3).reverse().toArray(), [3, 1, 3].toSet().distinct().order().toArray(), Set.sequence(0, 2).concat(Set.single(9)).toArray(), Set.sequence(1, 3).flatMap(x => [x, x]).toArray()]"]),
        json!([[2, 1, 0], [1, 3], [0, 1, 9], [1, 1, 2, 2]])
    );
    let (s, b) = run_all(Limits::default(), &["log('hi', 1)\nlog([2])\n3"]);
    assert_eq!(s, 200);
    assert_eq!(b["summary"], "info at *query*:1: hi 1\ninfo at *query*:2: [2]");
}
