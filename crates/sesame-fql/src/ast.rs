//! The FQL syntax tree with byte spans, and a pretty-printer that prints source which re-parses
//! to the same tree (spans aside).
//!
//! This module holds no parsing and no evaluation logic.

use std::fmt::{self, Write as _};
use std::rc::Rc;

/// A byte range `[start, end)` in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span from two byte offsets (saturating at `u32::MAX`).
    pub fn new(start: usize, end: usize) -> Span {
        let c = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Span { start: c(start), end: c(end.max(start)) }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

/// A part of an interpolated string.
#[derive(Debug, Clone, PartialEq)]
pub enum TplPart {
    Text(String),
    Expr(Expr),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Coalesce,
    Or,
    And,
    Eq,
    Ne,
    Match,
    NotMatch,
    Lt,
    Le,
    Gt,
    Ge,
    Isa,
    BitOr,
    BitXor,
    BitAnd,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

impl BinOp {
    /// The operator's source text.
    pub fn as_str(self) -> &'static str {
        use BinOp::*;
        match self {
            Coalesce => "??",
            Or => "||",
            And => "&&",
            Eq => "==",
            Ne => "!=",
            Match => "=~",
            NotMatch => "!~",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Isa => "isa",
            BitOr => "|",
            BitXor => "^",
            BitAnd => "&",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Pow => "**",
        }
    }
    /// Precedence level (spec §3.4), 0 lowest.
    pub fn level(self) -> u8 {
        use BinOp::*;
        match self {
            Coalesce => 0,
            Or => 1,
            And => 2,
            Eq | Ne | Match | NotMatch => 3,
            Lt | Le | Gt | Ge => 4,
            Isa => 5,
            BitOr => 6,
            BitXor => 7,
            BitAnd => 8,
            Add | Sub => 9,
            Mul | Div | Rem => 10,
            Pow => 11,
        }
    }
    /// Whether a newline may precede the operator.
    pub fn newline_ok(self) -> bool {
        use BinOp::*;
        matches!(self, Coalesce | Or | And | BitOr | BitXor | BitAnd)
    }
}

/// Unary prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

impl UnOp {
    /// The operator's source text.
    pub fn as_str(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
            UnOp::BitNot => "~",
        }
    }
}

/// A lambda definition. `None` parameters are `_`.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaDef {
    pub params: Vec<Option<String>>,
    /// `Some(name)` for a variadic `...name` (`Some(None)` for `..._`).
    pub rest: Option<Option<String>>,
    pub body: Expr,
    pub span: Span,
    /// Written as a short lambda (`.f`); the parameter is `$this`.
    pub short: bool,
}

/// One postfix operation of a chain.
#[derive(Debug, Clone, PartialEq)]
pub enum ChainKind {
    Select(String),
    Call(Vec<Expr>),
    Index(Box<Expr>),
    Bang,
}

/// A postfix operation, whether written with `?.`, and its span.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainOp {
    pub kind: ChainKind,
    pub optional: bool,
    pub span: Span,
}

/// Expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Lit, Span),
    Template(Vec<TplPart>, Span),
    Hole(u32, Span),
    Ident(String, Span),
    Array(Vec<Expr>, Span),
    Object(Vec<(String, Expr)>, Span),
    Tuple(Vec<Expr>, Span),
    Block(Vec<Stmt>, Span),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>, Span),
    Lambda(Rc<LambdaDef>),
    Unary(UnOp, Box<Expr>, Span),
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    Chain(Box<Expr>, Vec<ChainOp>, Span),
}

/// Statements.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Let(String, Span, Expr),
    Expr(Expr),
}

impl Expr {
    /// The expression's span.
    pub fn span(&self) -> Span {
        match self {
            Expr::Lit(_, s)
            | Expr::Template(_, s)
            | Expr::Hole(_, s)
            | Expr::Ident(_, s)
            | Expr::Array(_, s)
            | Expr::Object(_, s)
            | Expr::Tuple(_, s)
            | Expr::Block(_, s)
            | Expr::If(_, _, _, s)
            | Expr::Unary(_, _, s)
            | Expr::Binary(_, _, _, s)
            | Expr::Chain(_, _, s) => *s,
            Expr::Lambda(l) => l.span,
        }
    }
}

/// Writes a string literal in double quotes with escapes that the lexer decodes back.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '#' => out.push_str("\\#"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || !crate::lexer::is_display(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn is_plain_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '\'')
}

/// The short-lambda parameter `$this` prints as an identifier.
fn printable_name(n: &str) -> &str {
    if n == crate::parser::THIS {
        "this__"
    } else {
        n
    }
}

/// Pretty-prints an expression as fully parenthesised FQL source.
pub fn print_expr(e: &Expr, out: &mut String) {
    match e {
        Expr::Lit(l, _) => match l {
            Lit::Null => out.push_str("null"),
            Lit::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Lit::Int(i) => {
                let _ = write!(out, "({i})");
            }
            Lit::Long(i) => {
                let _ = write!(out, "({i})");
            }
            Lit::Double(d) => {
                if d.is_finite() {
                    let _ = write!(out, "({d:e})");
                } else if *d > 0.0 {
                    out.push_str("(1e999)");
                } else {
                    out.push_str("(-1e999)");
                }
            }
            Lit::Str(s) => quote(s, out),
        },
        Expr::Template(parts, _) => {
            out.push('"');
            for p in parts {
                match p {
                    TplPart::Text(t) => {
                        let mut q = String::new();
                        quote(t, &mut q);
                        out.push_str(&q[1..q.len() - 1]);
                    }
                    TplPart::Expr(e) => {
                        out.push_str("#{");
                        print_expr(e, out);
                        out.push('}');
                    }
                }
            }
            out.push('"');
        }
        Expr::Hole(n, _) => {
            let _ = write!(out, "\0{n}>");
        }
        Expr::Ident(n, _) => out.push_str(printable_name(n)),
        Expr::Array(items, _) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_expr(x, out);
            }
            out.push(']');
        }
        Expr::Object(fields, _) => {
            out.push('{');
            if fields.is_empty() {
                out.push('}');
                return;
            }
            for (i, (k, v)) in fields.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                if is_plain_ident(k) {
                    out.push_str(k);
                } else {
                    quote(k, out);
                }
                out.push_str(": ");
                print_expr(v, out);
            }
            out.push_str(" }");
        }
        Expr::Tuple(items, _) => {
            out.push('(');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_expr(x, out);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Expr::Block(stmts, _) => {
            out.push_str("{ ");
            print_stmts(stmts, out);
            out.push_str(" }");
        }
        Expr::If(c, t, e, _) => {
            out.push_str("(if (");
            print_expr(c, out);
            out.push_str(") ");
            print_expr(t, out);
            if let Some(e) = e {
                out.push_str(" else ");
                print_expr(e, out);
            }
            out.push(')');
        }
        Expr::Lambda(l) => {
            out.push_str("((");
            let name = |p: &Option<String>| p.as_deref().map_or("_", printable_name).to_owned();
            let mut first = true;
            for p in &l.params {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(&name(p));
            }
            if let Some(r) = &l.rest {
                if !first {
                    out.push_str(", ");
                }
                out.push_str("...");
                out.push_str(&name(r));
            }
            out.push_str(") => ");
            print_expr(&l.body, out);
            out.push(')');
        }
        Expr::Unary(op, x, _) => {
            out.push('(');
            out.push_str(op.as_str());
            print_expr(x, out);
            out.push(')');
        }
        Expr::Binary(op, a, b, _) => {
            out.push('(');
            print_expr(a, out);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            print_expr(b, out);
            out.push(')');
        }
        Expr::Chain(base, ops, _) => {
            print_expr(base, out);
            for op in ops {
                if op.optional {
                    out.push_str("?.");
                }
                match &op.kind {
                    ChainKind::Select(n) => {
                        if !op.optional {
                            out.push('.');
                        }
                        out.push_str(n);
                    }
                    ChainKind::Call(args) => {
                        out.push('(');
                        for (i, x) in args.iter().enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            print_expr(x, out);
                        }
                        out.push(')');
                    }
                    ChainKind::Index(i) => {
                        out.push('[');
                        print_expr(i, out);
                        out.push(']');
                    }
                    ChainKind::Bang => out.push('!'),
                }
            }
        }
    }
}

/// Pretty-prints statements separated by `;`.
pub fn print_stmts(stmts: &[Stmt], out: &mut String) {
    for (i, s) in stmts.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        match s {
            Stmt::Let(n, _, e) => {
                out.push_str("let ");
                out.push_str(n);
                out.push_str(" = ");
                print_expr(e, out);
            }
            Stmt::Expr(e) => print_expr(e, out),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        print_expr(self, &mut s);
        f.write_str(&s)
    }
}

impl Expr {
    /// Sets every span to the default (for comparing trees from different sources).
    pub fn erase_spans(&mut self) {
        match self {
            Expr::Lit(_, s) | Expr::Hole(_, s) | Expr::Ident(_, s) => *s = Span::default(),
            Expr::Template(parts, s) => {
                *s = Span::default();
                for p in parts {
                    if let TplPart::Expr(e) = p {
                        e.erase_spans();
                    }
                }
            }
            Expr::Array(items, s) | Expr::Tuple(items, s) => {
                *s = Span::default();
                items.iter_mut().for_each(Expr::erase_spans);
            }
            Expr::Object(fields, s) => {
                *s = Span::default();
                fields.iter_mut().for_each(|(_, e)| e.erase_spans());
            }
            Expr::Block(stmts, s) => {
                *s = Span::default();
                erase_stmt_spans(stmts);
            }
            Expr::If(c, t, e, s) => {
                *s = Span::default();
                c.erase_spans();
                t.erase_spans();
                if let Some(e) = e {
                    e.erase_spans();
                }
            }
            Expr::Lambda(l) => {
                let l = Rc::make_mut(l);
                l.span = Span::default();
                l.body.erase_spans();
            }
            Expr::Unary(_, x, s) => {
                *s = Span::default();
                x.erase_spans();
            }
            Expr::Binary(_, a, b, s) => {
                *s = Span::default();
                a.erase_spans();
                b.erase_spans();
            }
            Expr::Chain(base, ops, s) => {
                *s = Span::default();
                base.erase_spans();
                for op in ops {
                    op.span = Span::default();
                    match &mut op.kind {
                        ChainKind::Call(args) => args.iter_mut().for_each(Expr::erase_spans),
                        ChainKind::Index(i) => i.erase_spans(),
                        ChainKind::Select(_) | ChainKind::Bang => {}
                    }
                }
            }
        }
    }
}

/// Sets every span in statements to the default.
pub fn erase_stmt_spans(stmts: &mut [Stmt]) {
    for s in stmts {
        match s {
            Stmt::Let(_, span, e) => {
                *span = Span::default();
                e.erase_spans();
            }
            Stmt::Expr(e) => e.erase_spans(),
        }
    }
}

impl Expr {
    /// Calls `f` on every identifier and replaces every template hole `n` with the identifier
    /// `hole__n` (recording `n`), so the expression can be printed as standalone source.
    pub fn visit_names(&mut self, f: &mut dyn FnMut(&str), holes: &mut Vec<u32>) {
        match self {
            Expr::Lit(..) => {}
            Expr::Hole(n, s) => {
                holes.push(*n);
                let name = format!("hole__{n}");
                f(&name);
                *self = Expr::Ident(name, *s);
            }
            Expr::Ident(n, _) => f(n),
            Expr::Template(parts, _) => {
                for p in parts {
                    if let TplPart::Expr(e) = p {
                        e.visit_names(f, holes);
                    }
                }
            }
            Expr::Array(items, _) | Expr::Tuple(items, _) => {
                items.iter_mut().for_each(|e| e.visit_names(f, holes))
            }
            Expr::Object(fields, _) => fields.iter_mut().for_each(|(_, e)| e.visit_names(f, holes)),
            Expr::Block(stmts, _) => {
                for st in stmts {
                    match st {
                        Stmt::Let(_, _, e) | Stmt::Expr(e) => e.visit_names(f, holes),
                    }
                }
            }
            Expr::If(c, t, e, _) => {
                c.visit_names(f, holes);
                t.visit_names(f, holes);
                if let Some(e) = e {
                    e.visit_names(f, holes);
                }
            }
            Expr::Lambda(l) => Rc::make_mut(l).body.visit_names(f, holes),
            Expr::Unary(_, x, _) => x.visit_names(f, holes),
            Expr::Binary(_, a, b, _) => {
                a.visit_names(f, holes);
                b.visit_names(f, holes);
            }
            Expr::Chain(base, ops, _) => {
                base.visit_names(f, holes);
                for op in ops {
                    match &mut op.kind {
                        ChainKind::Call(args) => {
                            args.iter_mut().for_each(|e| e.visit_names(f, holes))
                        }
                        ChainKind::Index(i) => i.visit_names(f, holes),
                        ChainKind::Select(_) | ChainKind::Bang => {}
                    }
                }
            }
        }
    }
}
