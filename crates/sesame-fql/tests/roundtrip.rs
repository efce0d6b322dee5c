//! Property tests of the syntax layer: pretty-printing an AST and re-parsing it gives the same
//! AST (spans aside), and no input text makes the lexer or parser panic.

use std::rc::Rc;

use proptest::prelude::*;
use sesame_fql::ast::{
    erase_stmt_spans, print_stmts, BinOp, ChainKind, ChainOp, Expr, LambdaDef, Lit, Span, Stmt,
    TplPart, UnOp,
};
use sesame_fql::parse_query;

const NAMES: &[&str] = &[
    "a",
    "b",
    "x",
    "foo",
    "bar'",
    "_tmp",
    "Customer",
    "Time",
    "Set",
    "Collection",
    "Query",
    "abort",
    "Token",
    "Credential",
    "Math",
];
const FIELDS: &[&str] = &[
    "a",
    "name",
    "if",
    "length",
    "null",
    "let",
    "map",
    "where",
    "first",
    "toArray",
    "paginate",
    "create",
    "all",
    "add",
    "concat",
    "byId",
    "sequence",
    "update",
    "delete",
    "now",
    "identity",
    "token",
    "forEach",
    "exists",
    "login",
    "byName",
    "toSet",
    "take",
    "count",
    "fold",
    "byDocument",
    "at",
];
const OPS: &[BinOp] = &[
    BinOp::Coalesce,
    BinOp::Or,
    BinOp::And,
    BinOp::Eq,
    BinOp::Ne,
    BinOp::Match,
    BinOp::NotMatch,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Isa,
    BinOp::BitOr,
    BinOp::BitXor,
    BinOp::BitAnd,
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Rem,
    BinOp::Pow,
];

fn s() -> Span {
    Span::default()
}

fn lit() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::Lit(Lit::Null, s())),
        any::<bool>().prop_map(|b| Expr::Lit(Lit::Bool(b), s())),
        any::<i32>().prop_map(|i| Expr::Lit(Lit::Int(i), s())),
        any::<i64>()
            .prop_filter("outside i32", |i| i32::try_from(*i).is_err())
            .prop_map(|i| Expr::Lit(Lit::Long(i), s())),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(|d| Expr::Lit(Lit::Double(d), s())),
        ".{0,12}".prop_map(|t| Expr::Lit(Lit::Str(t), s())),
        (0u32..5).prop_map(|n| Expr::Hole(n, s())),
        prop::sample::select(NAMES).prop_map(|n| Expr::Ident(n.to_owned(), s())),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    lit().prop_recursive(4, 48, 4, |inner| {
        let ops = prop::collection::vec(
            prop_oneof![
                (prop::sample::select(FIELDS), any::<bool>()).prop_map(|(f, o)| ChainOp {
                    kind: ChainKind::Select(f.to_owned()),
                    optional: o,
                    span: s()
                }),
                (prop::collection::vec(inner.clone(), 0..3), any::<bool>()).prop_map(|(a, o)| {
                    ChainOp { kind: ChainKind::Call(a), optional: o, span: s() }
                }),
                (inner.clone(), any::<bool>()).prop_map(|(i, o)| ChainOp {
                    kind: ChainKind::Index(Box::new(i)),
                    optional: o,
                    span: s()
                }),
                Just(ChainOp { kind: ChainKind::Bang, optional: false, span: s() }),
            ],
            1..4,
        );
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| Expr::Array(v, s())),
            prop_oneof![Just(Vec::new()), prop::collection::vec(inner.clone(), 2..4),]
                .prop_map(|v| Expr::Tuple(v, s())),
            prop::collection::btree_map(".{0,6}", inner.clone(), 0..4)
                .prop_map(|m| Expr::Object(m.into_iter().collect(), s())),
            (inner.clone(), inner.clone(), prop::option::of(inner.clone()))
                .prop_map(|(c, t, e)| Expr::If(Box::new(c), Box::new(t), e.map(Box::new), s())),
            (prop::sample::select(OPS), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| Expr::Binary(op, Box::new(a), Box::new(b), s())),
            (prop::sample::select(&[UnOp::Neg, UnOp::Not, UnOp::BitNot][..]), inner.clone())
                .prop_map(|(op, x)| Expr::Unary(op, Box::new(x), s())),
            (inner.clone().prop_filter("no nested chains", |b| !matches!(b, Expr::Chain(..))), ops)
                .prop_map(|(b, ops)| Expr::Chain(Box::new(b), ops, s())),
            (prop::sample::subsequence(NAMES, 0..3), any::<bool>(), inner.clone()).prop_map(
                |(ps, rest, body)| {
                    let (params, rest) = if rest && !ps.is_empty() {
                        let (last, init) = ps
                            .split_last()
                            .map(|(l, i)| (Some(l.to_string()), i.to_vec()))
                            .unwrap_or((None, vec![]));
                        (init.iter().map(|p| Some(p.to_string())).collect(), Some(last))
                    } else {
                        (ps.iter().map(|p| Some(p.to_string())).collect(), None)
                    };
                    Expr::Lambda(Rc::new(LambdaDef { params, rest, body, span: s(), short: false }))
                }
            ),
            (
                prop::collection::vec(
                    (prop::option::of(prop::sample::select(NAMES)), inner.clone()),
                    0..3
                ),
                inner.clone()
            )
                .prop_map(|(lets, last)| {
                    let mut stmts: Vec<Stmt> = lets
                        .into_iter()
                        .map(|(n, e)| match n {
                            Some(n) => Stmt::Let(n.to_owned(), s(), e),
                            None => Stmt::Expr(e),
                        })
                        .collect();
                    stmts.push(Stmt::Expr(last));
                    Expr::Block(stmts, s())
                }),
            (prop::collection::vec(("[a-z#{}\"]{1,4}", inner.clone()), 1..3)).prop_map(|parts| {
                let mut out = Vec::new();
                for (t, e) in parts {
                    out.push(TplPart::Text(t));
                    out.push(TplPart::Expr(e));
                }
                Expr::Template(out, s())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_identity(e in expr()) {
        let stmts = vec![Stmt::Expr(e)];
        let mut text = String::new();
        print_stmts(&stmts, &mut text);
        let mut parsed = parse_query(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err:?}")))?;
        erase_stmt_spans(&mut parsed);
        prop_assert_eq!(parsed, stmts, "printed as {:?}", text);
    }

    #[test]
    fn any_text_parses_or_fails_cleanly(src in "\\PC{0,64}") {
        if let Err(e) = parse_query(&src) {
            prop_assert_eq!(e.code.as_str(), "invalid_query");
        }
    }

    #[test]
    fn fql_shaped_text_parses_or_fails_cleanly(src in "[a-z0-9 (){}\\[\\].,;:=>!?+*/%&|^~'\"#\\\\\n-]{0,80}") {
        if let Err(e) = parse_query(&src) {
            prop_assert_eq!(e.code.as_str(), "invalid_query");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Random well-formed programs (over real globals and method names) evaluate to a response
    /// or an error, never a panic, against the in-memory host with small limits.
    #[test]
    fn random_programs_never_panic(e in expr()) {
        let stmts = vec![Stmt::Expr(e)];
        let mut text = String::new();
        print_stmts(&stmts, &mut text);
        let text = format!("let a = 1\nlet b = [1, 'x']\nlet x = {{ a: 1 }}\nlet foo = (p) => p\n{text}");
        let status = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                let mut h = sesame_fql::testing::MemHost::new();
                let _ = h.query(None, "Collection.create({ name: 'Customer' })", sesame_fql::Format::Simple);
                let _ = h.query(None, "Customer.create({ id: '1', name: 'n' })", sesame_fql::Format::Simple);
                h.limits.fuel = 20_000;
                h.limits.max_call_depth = 32;
                let a = h.query(None, &text, sesame_fql::Format::Simple).0;
                let b = h.query(None, &text, sesame_fql::Format::Tagged).0;
                (a, b)
            })
            .expect("spawn")
            .join();
        let (a, b) = status.map_err(|_| TestCaseError::fail("panicked"))?;
        prop_assert!(a == 200 || a == 400 || a == 440, "status {}", a);
        prop_assert!(b == 200 || b == 400 || b == 440, "status {}", b);
    }
}
