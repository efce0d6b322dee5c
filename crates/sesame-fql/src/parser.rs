//! The FQL parser: tokens to an AST (spec §3, §10.3).
//!
//! Precedence climbing for binary operators, a flat postfix chain, lookahead for lambdas and
//! for `{` (object or block), short lambdas (`.f`) only in call arguments and parentheses, and a
//! nesting-depth limit. Every failure is an `invalid_query`; the parser never panics. It does
//! not evaluate anything.

use std::rc::Rc;

use crate::ast::{BinOp, ChainKind, ChainOp, Expr, LambdaDef, Lit, Span, Stmt, TplPart, UnOp};
use crate::error::{Diagnostic, QueryError, Result};
use crate::lexer::{lex, LexPart, Tok, Token, MAX_DEPTH, P};

/// Longest flat binary-operator chain at one precedence level.
pub const MAX_CHAIN: usize = 256;

/// The parameter name of short lambdas.
pub const THIS: &str = "$this";

/// Parses a whole query (a block body without braces).
pub fn parse_query(src: &str) -> Result<Vec<Stmt>> {
    let toks = lex(src)?;
    let mut p = Parser::new(&toks);
    let stmts = p.block_body(None)?;
    Ok(stmts)
}

/// Parses text that must be exactly one lambda (role predicates): `x => …`, `(a, b) => …` or a
/// parenthesised short lambda `(.f)`.
pub fn parse_lambda(src: &str) -> Result<Rc<LambdaDef>> {
    let toks = lex(src)?;
    let mut p = Parser::new(&toks);
    let e = p.expr0()?;
    p.expect_eof()?;
    match e {
        Expr::Lambda(l) => Ok(l),
        other => Err(QueryError::parse("Expected a lambda", other.span())),
    }
}

struct Parser<'t> {
    toks: &'t [Token],
    i: usize,
    depth: usize,
    short_ok: bool,
    saw_this: bool,
}

fn keyword_err(k: &str, span: Span) -> QueryError {
    QueryError::invalid_query(vec![Diagnostic {
        message: "Invalid identifier".into(),
        span,
        annotation: Some(format!("`{k}` is a keyword")),
    }])
}

impl<'t> Parser<'t> {
    fn new(toks: &'t [Token]) -> Self {
        Parser { toks, i: 0, depth: 0, short_ok: false, saw_this: false }
    }

    fn cur(&self) -> &'t Token {
        let last = self.toks.len().saturating_sub(1);
        &self.toks[self.i.min(last)]
    }
    fn peek(&self, n: usize) -> &'t Tok {
        let last = self.toks.len().saturating_sub(1);
        &self.toks[(self.i + n).min(last)].tok
    }
    fn advance(&mut self) -> &'t Token {
        let t = self.cur();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_p(&self, p: P) -> bool {
        self.cur().tok == Tok::P(p)
    }
    fn prev_end(&self) -> u32 {
        self.i.checked_sub(1).and_then(|j| self.toks.get(j)).map_or(0, |t| t.span.end)
    }
    fn span_from(&self, start: Span) -> Span {
        Span { start: start.start, end: self.prev_end().max(start.start) }
    }

    fn unexpected(&self, what: &str) -> QueryError {
        let t = self.cur();
        if t.tok == Tok::Eof {
            QueryError::parse(format!("Unexpected end of query. Expected {what}"), t.span)
        } else {
            QueryError::parse(format!("Expected {what}"), t.span)
        }
    }

    fn expect(&mut self, p: P, what: &str) -> Result<&'t Token> {
        if self.is_p(p) {
            Ok(self.advance())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn expect_eof(&self) -> Result<()> {
        if self.cur().tok == Tok::Eof {
            Ok(())
        } else {
            Err(self.unexpected("end of query"))
        }
    }

    fn enter(&mut self, span: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::parse("Query exceeds the maximum nesting depth", span));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Runs `f` with short lambdas forbidden.
    fn no_short<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let saved = self.short_ok;
        self.short_ok = false;
        let r = f(self);
        self.short_ok = saved;
        r
    }

    /// `stmt { blocksep stmt } [blocksep]`, ending at `}` (`end = Some`) or at the end of input.
    fn block_body(&mut self, end: Option<P>) -> Result<Vec<Stmt>> {
        let what = if end.is_some() { "block" } else { "query" };
        let at_end = |p: &Self| match end {
            Some(e) => p.is_p(e),
            None => p.cur().tok == Tok::Eof,
        };
        while self.is_p(P::Semi) {
            self.advance();
        }
        if at_end(self) {
            return Err(QueryError::parse(
                format!("Unexpected end of {what}. Expected statement or expression"),
                self.cur().span,
            ));
        }
        let mut stmts = Vec::new();
        loop {
            stmts.push(self.stmt()?);
            let mut sep = false;
            while self.is_p(P::Semi) {
                self.advance();
                sep = true;
            }
            if at_end(self) {
                break;
            }
            if !sep && !self.cur().nl_before {
                return Err(self.unexpected(if end.is_some() {
                    "`}` or end of statement"
                } else {
                    "end of query or end of statement"
                }));
            }
        }
        if let Some(Stmt::Let(_, span, _)) = stmts.last() {
            return Err(QueryError::invalid_query(vec![Diagnostic {
                message: "Missing return expression".into(),
                span: *span,
                annotation: Some("cause: Statement does not return a value".into()),
            }]));
        }
        Ok(stmts)
    }

    fn binding_name(&mut self) -> Result<(String, Span)> {
        let t = self.advance();
        match &t.tok {
            Tok::Ident(n) if n == "FQL" || n == "_" => {
                Err(QueryError::parse("Invalid identifier", t.span))
            }
            Tok::Ident(n) => Ok((n.clone(), t.span)),
            Tok::Kw(k) => Err(keyword_err(k, t.span)),
            _ => {
                self.i -= 1;
                Err(self.unexpected("identifier"))
            }
        }
    }

    fn stmt(&mut self) -> Result<Stmt> {
        if self.cur().tok == Tok::Kw("let") {
            let start = self.advance().span;
            let (name, _) = self.binding_name()?;
            if self.is_p(P::Colon) {
                // A type annotation: skip a balanced run of tokens up to the `=`.
                let mut depth = 0usize;
                loop {
                    match &self.cur().tok {
                        Tok::Eof => return Err(self.unexpected("`=`")),
                        Tok::P(P::LParen | P::LBracket | P::LBrace) => depth += 1,
                        Tok::P(P::RParen | P::RBracket | P::RBrace) => {
                            depth = depth.saturating_sub(1)
                        }
                        Tok::P(P::Assign) if depth == 0 => break,
                        _ => {}
                    }
                    self.advance();
                }
            }
            self.expect(P::Assign, "`=`")?;
            let e = self.no_short(|p| p.expr0())?;
            let span = self.span_from(start);
            return Ok(Stmt::Let(name, span, e));
        }
        let e = self.no_short(|p| p.expr0())?;
        Ok(Stmt::Expr(e))
    }

    /// Index of the token after the `)` matching the `(` at `self.i`, if any.
    fn after_matching_paren(&self) -> Option<usize> {
        let mut depth = 0usize;
        for (j, t) in self.toks.iter().enumerate().skip(self.i) {
            match t.tok {
                Tok::P(P::LParen | P::LBracket | P::LBrace) => depth += 1,
                Tok::P(P::RParen | P::RBracket | P::RBrace) => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                Tok::Eof => return None,
                _ => {}
            }
        }
        None
    }

    pub(crate) fn expr0(&mut self) -> Result<Expr> {
        let t = self.cur();
        match &t.tok {
            Tok::Kw("if") => return self.if_expr(),
            Tok::Ident(_) if *self.peek(1) == Tok::P(P::Arrow) => return self.lambda(),
            Tok::P(P::LParen) => {
                if let Some(j) = self.after_matching_paren() {
                    if self.toks.get(j).is_some_and(|t| t.tok == Tok::P(P::Arrow)) {
                        return self.lambda();
                    }
                }
            }
            _ => {}
        }
        self.op_expr(0)
    }

    fn if_expr(&mut self) -> Result<Expr> {
        let start = self.advance().span;
        self.enter(start)?;
        let r = self.no_short(|p| {
            p.expect(P::LParen, "`(`")?;
            let c = p.expr0()?;
            p.expect(P::RParen, "`)`")?;
            let th = p.expr0()?;
            let el = if p.cur().tok == Tok::Kw("else") {
                p.advance();
                Some(Box::new(p.expr0()?))
            } else {
                None
            };
            Ok(Expr::If(Box::new(c), Box::new(th), el, p.span_from(start)))
        });
        self.leave();
        r
    }

    fn param(&mut self) -> Result<Option<String>> {
        let t = self.advance();
        match &t.tok {
            Tok::Ident(n) if n == "_" => Ok(None),
            Tok::Ident(n) if n == "FQL" => Err(QueryError::parse("Invalid identifier", t.span)),
            Tok::Ident(n) => Ok(Some(n.clone())),
            Tok::Kw(k) => Err(keyword_err(k, t.span)),
            _ => {
                self.i -= 1;
                Err(self.unexpected("identifier"))
            }
        }
    }

    fn lambda(&mut self) -> Result<Expr> {
        let start = self.cur().span;
        self.enter(start)?;
        let mut params = Vec::new();
        let mut rest = None;
        if self.is_p(P::LParen) {
            self.advance();
            while !self.is_p(P::RParen) {
                if self.is_p(P::Ellipsis) {
                    self.advance();
                    rest = Some(self.param()?);
                    if self.is_p(P::Comma) {
                        self.advance();
                    }
                    break;
                }
                params.push(self.param()?);
                if !self.is_p(P::Comma) {
                    break;
                }
                self.advance();
            }
            self.expect(P::RParen, "`)`")?;
        } else {
            params.push(self.param()?);
        }
        let mut seen: Vec<&String> = Vec::new();
        for p in params.iter().chain(rest.iter()).flatten() {
            if seen.contains(&p) {
                return Err(QueryError::parse("Duplicate lambda argument", self.span_from(start)));
            }
            seen.push(p);
        }
        self.expect(P::Arrow, "`=>`")?;
        let body = self.no_short(|p| p.expr0())?;
        self.leave();
        let span = self.span_from(start);
        Ok(Expr::Lambda(Rc::new(LambdaDef { params, rest, body, span, short: false })))
    }

    fn binop(&self) -> Option<BinOp> {
        let t = self.cur();
        let op = match &t.tok {
            Tok::P(p) => match p {
                P::QQ => BinOp::Coalesce,
                P::OrOr => BinOp::Or,
                P::AndAnd => BinOp::And,
                P::EqEq => BinOp::Eq,
                P::Ne => BinOp::Ne,
                P::Match => BinOp::Match,
                P::NotMatch => BinOp::NotMatch,
                P::Lt => BinOp::Lt,
                P::Le => BinOp::Le,
                P::Gt => BinOp::Gt,
                P::Ge => BinOp::Ge,
                P::Pipe => BinOp::BitOr,
                P::Caret => BinOp::BitXor,
                P::Amp => BinOp::BitAnd,
                P::Plus => BinOp::Add,
                P::Minus => BinOp::Sub,
                P::Star => BinOp::Mul,
                P::Slash => BinOp::Div,
                P::Percent => BinOp::Rem,
                P::StarStar => BinOp::Pow,
                _ => return None,
            },
            Tok::Kw("isa") => BinOp::Isa,
            _ => return None,
        };
        if t.nl_before && !op.newline_ok() {
            return None;
        }
        Some(op)
    }

    fn op_expr(&mut self, min: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        let mut n = 0usize;
        while let Some(op) = self.binop() {
            if op.level() < min {
                break;
            }
            let op_span = self.advance().span;
            n += 1;
            if n > MAX_CHAIN {
                return Err(QueryError::parse("Query exceeds the maximum nesting depth", op_span));
            }
            let next = if op == BinOp::Pow { op.level() } else { op.level() + 1 };
            self.enter(op_span)?;
            let rhs = self.op_expr(next)?;
            self.leave();
            let span = lhs.span().to(rhs.span());
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs), span);
        }
        Ok(lhs)
    }

    fn number(&mut self, neg: bool, start: Span) -> Result<Expr> {
        let t = self.advance();
        let span = start.to(t.span);
        let lit = match t.tok {
            Tok::Int(m) => {
                let v = i128::try_from(m).ok().map(|v| if neg { -v } else { v });
                match v {
                    Some(v) if i32::try_from(v).is_ok() => Lit::Int(v as i32),
                    Some(v) if i64::try_from(v).is_ok() => Lit::Long(v as i64),
                    _ => {
                        let f = m as f64;
                        Lit::Double(if neg { -f } else { f })
                    }
                }
            }
            Tok::Float(f) => Lit::Double(if neg { -f } else { f }),
            _ => return Err(self.unexpected("number")),
        };
        self.postfix(Expr::Lit(lit, span))
    }

    fn unary(&mut self) -> Result<Expr> {
        let t = self.cur();
        let op = match t.tok {
            Tok::P(P::Minus) => UnOp::Neg,
            Tok::P(P::Bang) => UnOp::Not,
            Tok::P(P::Tilde) => UnOp::BitNot,
            Tok::P(P::Plus) => {
                self.advance();
                return match self.cur().tok {
                    Tok::Int(_) | Tok::Float(_) if !self.cur().nl_before => {
                        self.number(false, t.span)
                    }
                    _ => Err(self.unexpected("expression")),
                };
            }
            _ => return self.postfix_primary(),
        };
        self.advance();
        if op == UnOp::Neg
            && matches!(self.cur().tok, Tok::Int(_) | Tok::Float(_))
            && !self.cur().nl_before
        {
            return self.number(true, t.span);
        }
        self.enter(t.span)?;
        let x = self.unary()?;
        self.leave();
        let span = t.span.to(x.span());
        Ok(Expr::Unary(op, Box::new(x), span))
    }

    fn postfix_primary(&mut self) -> Result<Expr> {
        let base = self.primary()?;
        self.postfix(base)
    }

    fn field_name(&mut self) -> Result<String> {
        let t = self.advance();
        match &t.tok {
            Tok::Ident(n) => Ok(n.clone()),
            Tok::Kw(k) => Ok((*k).to_owned()),
            _ => {
                self.i -= 1;
                Err(self.unexpected("field name"))
            }
        }
    }

    fn postfix(&mut self, base: Expr) -> Result<Expr> {
        let mut ops = Vec::new();
        loop {
            let t = self.cur();
            let start = t.span;
            let (kind, optional) = match t.tok {
                Tok::P(P::Dot) => {
                    self.advance();
                    if self.is_p(P::LBracket) && !self.cur().nl_before {
                        (self.index()?, false)
                    } else {
                        (ChainKind::Select(self.field_name()?), false)
                    }
                }
                Tok::P(P::QDot) => {
                    self.advance();
                    let kind = match self.cur().tok {
                        Tok::P(P::LParen) => ChainKind::Call(self.args(P::LParen, P::RParen)?),
                        Tok::P(P::LBracket) => self.index()?,
                        _ => ChainKind::Select(self.field_name()?),
                    };
                    (kind, true)
                }
                Tok::P(P::LParen) if !t.nl_before => {
                    (ChainKind::Call(self.args(P::LParen, P::RParen)?), false)
                }
                Tok::P(P::LBracket) if !t.nl_before => (self.index()?, false),
                Tok::P(P::Bang) if !t.nl_before => {
                    self.advance();
                    (ChainKind::Bang, false)
                }
                _ => break,
            };
            ops.push(ChainOp { kind, optional, span: self.span_from(start) });
        }
        if ops.is_empty() {
            return Ok(base);
        }
        let span = self.span_from(base.span());
        Ok(Expr::Chain(Box::new(base), ops, span))
    }

    fn index(&mut self) -> Result<ChainKind> {
        let mut args = self.args(P::LBracket, P::RBracket)?;
        if args.len() != 1 {
            return Err(QueryError::parse(
                "Expected exactly one index",
                self.span_from(self.cur().span),
            ));
        }
        Ok(ChainKind::Index(Box::new(args.remove(0))))
    }

    /// One call argument or parenthesised element: an `expr0` in which short lambdas are allowed.
    fn arg(&mut self) -> Result<Expr> {
        let saved = (self.short_ok, self.saw_this);
        self.short_ok = true;
        self.saw_this = false;
        let r = self.expr0();
        let saw = self.saw_this;
        (self.short_ok, self.saw_this) = saved;
        let e = r?;
        if saw {
            let span = e.span();
            return Ok(Expr::Lambda(Rc::new(LambdaDef {
                params: vec![Some(THIS.to_owned())],
                rest: None,
                body: e,
                span,
                short: true,
            })));
        }
        Ok(e)
    }

    /// `open [arg {, arg} [,]] close`; returns the args.
    fn args(&mut self, open: P, close: P) -> Result<Vec<Expr>> {
        let start = self.expect(open, "`(`")?.span;
        self.enter(start)?;
        let mut out = Vec::new();
        while !self.is_p(close) {
            out.push(self.arg()?);
            if !self.is_p(P::Comma) {
                break;
            }
            self.advance();
        }
        self.expect(close, if close == P::RParen { "`)` or `,`" } else { "`]` or `,`" })?;
        self.leave();
        Ok(out)
    }

    fn primary(&mut self) -> Result<Expr> {
        let t = self.cur();
        match &t.tok {
            Tok::Int(_) | Tok::Float(_) => {
                let start = t.span;
                // `number` applies the postfix chain itself; undo that here by parsing directly.
                let tok = self.advance();
                let lit = match tok.tok {
                    Tok::Int(m) => match i32::try_from(m) {
                        Ok(v) => Lit::Int(v),
                        Err(_) => match i64::try_from(m) {
                            Ok(v) => Lit::Long(v),
                            Err(_) => Lit::Double(m as f64),
                        },
                    },
                    Tok::Float(f) => Lit::Double(f),
                    _ => Lit::Null,
                };
                Ok(Expr::Lit(lit, start))
            }
            Tok::Str(s) => {
                self.advance();
                Ok(Expr::Lit(Lit::Str(s.clone()), t.span))
            }
            Tok::Template(parts) => {
                self.advance();
                self.enter(t.span)?;
                let mut out = Vec::new();
                for p in parts {
                    match p {
                        LexPart::Text(s) => out.push(TplPart::Text(s.clone())),
                        LexPart::Expr(toks, span) => {
                            let mut sub = Parser::new(toks);
                            sub.depth = self.depth;
                            if sub.cur().tok == Tok::Eof {
                                return Err(QueryError::parse("Expected expression", *span));
                            }
                            let e = sub.expr0()?;
                            sub.expect_eof()?;
                            out.push(TplPart::Expr(e));
                        }
                    }
                }
                self.leave();
                Ok(Expr::Template(out, t.span))
            }
            Tok::Hole(n) => {
                self.advance();
                Ok(Expr::Hole(*n, t.span))
            }
            Tok::Kw("null") => {
                self.advance();
                Ok(Expr::Lit(Lit::Null, t.span))
            }
            Tok::Kw("true") => {
                self.advance();
                Ok(Expr::Lit(Lit::Bool(true), t.span))
            }
            Tok::Kw("false") => {
                self.advance();
                Ok(Expr::Lit(Lit::Bool(false), t.span))
            }
            Tok::Kw(k) => Err(keyword_err(k, t.span)),
            Tok::Ident(n) => {
                self.advance();
                Ok(Expr::Ident(n.clone(), t.span))
            }
            Tok::P(P::Dot) => {
                if !self.short_ok {
                    return Err(QueryError::parse("Invalid anonymous field access", t.span));
                }
                self.saw_this = true;
                Ok(Expr::Ident(THIS.to_owned(), Span { start: t.span.start, end: t.span.start }))
            }
            Tok::P(P::LBracket) => {
                self.advance();
                self.enter(t.span)?;
                let items = self.no_short(|p| {
                    let mut items = Vec::new();
                    while !p.is_p(P::RBracket) {
                        items.push(p.expr0()?);
                        if !p.is_p(P::Comma) {
                            break;
                        }
                        p.advance();
                    }
                    p.expect(P::RBracket, "`]` or `,`")?;
                    Ok(items)
                })?;
                self.leave();
                Ok(Expr::Array(items, self.span_from(t.span)))
            }
            Tok::P(P::LParen) => {
                let mut items = self.args(P::LParen, P::RParen)?;
                let trailing = self.i >= 2 && self.toks[self.i - 2].tok == Tok::P(P::Comma);
                if items.len() == 1 && !trailing {
                    return Ok(items.remove(0));
                }
                if items.len() == 1 {
                    return Ok(items.remove(0));
                }
                Ok(Expr::Tuple(items, self.span_from(t.span)))
            }
            Tok::P(P::LBrace) => self.brace(),
            _ => Err(self.unexpected("expression")),
        }
    }

    fn brace(&mut self) -> Result<Expr> {
        let start = self.advance().span;
        self.enter(start)?;
        let is_object = match (self.peek(0), self.peek(1)) {
            (Tok::P(P::RBrace), _) => true,
            (Tok::Ident(_) | Tok::Kw(_) | Tok::Str(_), Tok::P(P::Colon)) => true,
            (Tok::Template(_), Tok::P(P::Colon)) => {
                return Err(QueryError::parse(
                    "Object keys do not support interpolation",
                    self.cur().span,
                ))
            }
            _ => false,
        };
        let r = self.no_short(|p| {
            if is_object {
                let mut fields: Vec<(String, Expr)> = Vec::new();
                let mut key_spans: Vec<Span> = Vec::new();
                while !p.is_p(P::RBrace) {
                    let kt = p.advance();
                    let key = match &kt.tok {
                        Tok::Ident(n) => n.clone(),
                        Tok::Kw(k) => (*k).to_owned(),
                        Tok::Str(s) => s.clone(),
                        Tok::Template(_) => {
                            return Err(QueryError::parse(
                                "Object keys do not support interpolation",
                                kt.span,
                            ))
                        }
                        _ => {
                            p.i -= 1;
                            return Err(p.unexpected("object key"));
                        }
                    };
                    p.expect(P::Colon, "`:`")?;
                    let v = p.expr0()?;
                    if let Some(j) = fields.iter().position(|(k, _)| *k == key) {
                        return Err(QueryError::invalid_query(vec![
                            Diagnostic {
                                message: "Duplicate key".into(),
                                span: kt.span,
                                annotation: None,
                            },
                            Diagnostic {
                                message: "Key originally used here".into(),
                                span: key_spans[j],
                                annotation: None,
                            },
                        ])
                        .tap_one());
                    }
                    key_spans.push(kt.span);
                    fields.push((key, v));
                    if !p.is_p(P::Comma) {
                        break;
                    }
                    p.advance();
                }
                p.expect(P::RBrace, "`}` or `,`")?;
                Ok(Expr::Object(fields, p.span_from(start)))
            } else {
                let stmts = p.block_body(Some(P::RBrace))?;
                p.expect(P::RBrace, "`}`")?;
                Ok(Expr::Block(stmts, p.span_from(start)))
            }
        });
        self.leave();
        r
    }
}

trait TapOne {
    fn tap_one(self) -> Self;
}

impl TapOne for QueryError {
    /// A duplicate key is one check with a hint, not two checks.
    fn tap_one(mut self) -> Self {
        self.message = "The query failed 1 validation check".into();
        self
    }
}
