//! The FQL lexer: text to tokens with spans and `newline_before` flags (spec §2, §10.2).
//!
//! It decodes numbers, strings, escapes and `#{}` interpolations (whose insides are lexed
//! recursively), recognises template hole markers `\0N>`, and rejects forbidden characters.
//! It does not build expressions; the parser does.

use crate::ast::Span;
use crate::error::{QueryError, Result};

/// Maximum nesting of interpolations (shared with the parser's depth limit).
pub const MAX_DEPTH: usize = 128;

/// Keywords that are never identifiers.
pub const KEYWORDS: &[&str] = &[
    "if", "else", "at", "match", "case", "let", "null", "true", "false", "isa", "join", "on", "of",
];

/// Punctuation and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semi,
    Colon,
    Dot,
    QDot,
    Ellipsis,
    Arrow,
    Assign,
    Bang,
    Question,
    Plus,
    Minus,
    Star,
    StarStar,
    Slash,
    Percent,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    QQ,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Match,
    NotMatch,
}

/// A part of a lexed interpolating string.
#[derive(Debug, Clone, PartialEq)]
pub enum LexPart {
    Text(String),
    /// The tokens of `#{…}` (ending with `Eof`), and the span of the whole `#{…}`.
    Expr(Vec<Token>, Span),
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Kw(&'static str),
    /// An integer literal's magnitude (sign folding happens in the parser).
    Int(u128),
    Float(f64),
    Str(String),
    Template(Vec<LexPart>),
    Hole(u32),
    P(P),
    Eof,
}

/// A token with its span and whether a newline (or line comment) precedes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
    pub nl_before: bool,
}

/// Whether `c` may appear in strings and comments (spec §2.1, `Chars.isDisplay`).
pub fn is_display(c: char) -> bool {
    let u = c as u32;
    !(u <= 0x08
        || (0x0E..=0x1F).contains(&u)
        || u == 0x7F
        || (0x2000..=0x200F).contains(&u)
        || (0x2028..=0x202F).contains(&u)
        || (0x2060..=0x206F).contains(&u)
        || u == 0xFEFF
        || (0xFFF0..=0xFFFF).contains(&u))
}

/// Lexes a whole query.
pub fn lex(src: &str) -> Result<Vec<Token>> {
    let mut l = Lexer { src, pos: 0, depth: 0 };
    l.run(false)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

fn err<T>(msg: impl Into<String>, start: usize, end: usize) -> Result<T> {
    Err(QueryError::parse(msg, Span::new(start, end)))
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }
    fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + n).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Skips whitespace and comments; returns whether a newline was seen.
    fn skip_trivia(&mut self) -> Result<bool> {
        let mut nl = false;
        loop {
            match self.peek_at(0) {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\n' | b'\r') => {
                    self.pos += 1;
                    nl = true;
                }
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    let start = self.pos;
                    self.pos += 2;
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        if !is_display(c) {
                            return err("Invalid character in comment", self.pos, self.pos + 1);
                        }
                        self.bump();
                    }
                    let _ = start;
                    nl = true;
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let start = self.pos;
                    self.pos += 2;
                    let mut depth = 1usize;
                    while depth > 0 {
                        match self.peek() {
                            None => return err("Unterminated block comment", start, self.pos),
                            Some('/') if self.peek_at(1) == Some(b'*') => {
                                depth += 1;
                                self.pos += 2;
                            }
                            Some('*') if self.peek_at(1) == Some(b'/') => {
                                depth -= 1;
                                self.pos += 2;
                            }
                            Some(c) if !is_display(c) => {
                                return err("Invalid character in comment", self.pos, self.pos + 1)
                            }
                            Some(_) => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return Ok(nl),
            }
        }
    }

    /// Lexes tokens; with `in_interp`, stops after the `}` that closes an interpolation.
    fn run(&mut self, in_interp: bool) -> Result<Vec<Token>> {
        let mut out = Vec::new();
        let mut braces = 0usize;
        loop {
            let nl_before = self.skip_trivia()?;
            let start = self.pos;
            let Some(c) = self.peek() else {
                if in_interp {
                    return err("Unterminated string interpolation", start, start);
                }
                out.push(Token { tok: Tok::Eof, span: Span::new(start, start), nl_before });
                return Ok(out);
            };
            let tok = match c {
                'a'..='z' | 'A'..='Z' | '_' => {
                    while let Some(b) = self.peek_at(0) {
                        if b.is_ascii_alphanumeric() || b == b'_' || b == b'\'' {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    let word = &self.src[start..self.pos];
                    match KEYWORDS.iter().find(|k| **k == word) {
                        Some(k) => Tok::Kw(k),
                        None => Tok::Ident(word.to_owned()),
                    }
                }
                '0'..='9' => self.number()?,
                '\'' | '"' => self.string(c)?,
                '\0' => {
                    self.pos += 1;
                    let ds = self.pos;
                    while self.peek_at(0).is_some_and(|b| b.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    let n = self.src[ds..self.pos].parse::<u32>().ok();
                    match (n, self.peek_at(0)) {
                        (Some(n), Some(b'>')) => {
                            self.pos += 1;
                            Tok::Hole(n)
                        }
                        _ => return err("Invalid character", start, start + 1),
                    }
                }
                _ => {
                    if !c.is_ascii() || c.is_ascii_control() {
                        return err("Invalid character", start, start + c.len_utf8());
                    }
                    let p = self.punct(start)?;
                    if in_interp {
                        match p {
                            P::LBrace => braces += 1,
                            P::RBrace if braces == 0 => {
                                out.push(Token {
                                    tok: Tok::Eof,
                                    span: Span::new(start, start),
                                    nl_before,
                                });
                                return Ok(out);
                            }
                            P::RBrace => braces -= 1,
                            _ => {}
                        }
                    }
                    Tok::P(p)
                }
            };
            out.push(Token { tok, span: Span::new(start, self.pos), nl_before });
        }
    }

    fn punct(&mut self, start: usize) -> Result<P> {
        let b = self.src.as_bytes();
        let at = |i: usize| b.get(start + i).copied().unwrap_or(0);
        let (p, n) = match (at(0), at(1), at(2)) {
            (b'.', b'.', b'.') => (P::Ellipsis, 3),
            (b'?', b'.', _) => (P::QDot, 2),
            (b'?', b'?', _) => (P::QQ, 2),
            (b'=', b'>', _) => (P::Arrow, 2),
            (b'=', b'=', _) => (P::EqEq, 2),
            (b'=', b'~', _) => (P::Match, 2),
            (b'!', b'=', _) => (P::Ne, 2),
            (b'!', b'~', _) => (P::NotMatch, 2),
            (b'<', b'=', _) => (P::Le, 2),
            (b'>', b'=', _) => (P::Ge, 2),
            (b'&', b'&', _) => (P::AndAnd, 2),
            (b'|', b'|', _) => (P::OrOr, 2),
            (b'*', b'*', _) => (P::StarStar, 2),
            (b'(', _, _) => (P::LParen, 1),
            (b')', _, _) => (P::RParen, 1),
            (b'[', _, _) => (P::LBracket, 1),
            (b']', _, _) => (P::RBracket, 1),
            (b'{', _, _) => (P::LBrace, 1),
            (b'}', _, _) => (P::RBrace, 1),
            (b',', _, _) => (P::Comma, 1),
            (b';', _, _) => (P::Semi, 1),
            (b':', _, _) => (P::Colon, 1),
            (b'.', _, _) => (P::Dot, 1),
            (b'=', _, _) => (P::Assign, 1),
            (b'!', _, _) => (P::Bang, 1),
            (b'?', _, _) => (P::Question, 1),
            (b'+', _, _) => (P::Plus, 1),
            (b'-', _, _) => (P::Minus, 1),
            (b'*', _, _) => (P::Star, 1),
            (b'/', _, _) => (P::Slash, 1),
            (b'%', _, _) => (P::Percent, 1),
            (b'<', _, _) => (P::Lt, 1),
            (b'>', _, _) => (P::Gt, 1),
            (b'&', _, _) => (P::Amp, 1),
            (b'|', _, _) => (P::Pipe, 1),
            (b'^', _, _) => (P::Caret, 1),
            (b'~', _, _) => (P::Tilde, 1),
            _ => return err("Invalid character", start, start + 1),
        };
        self.pos = start + n;
        Ok(p)
    }

    fn number(&mut self) -> Result<Tok> {
        let start = self.pos;
        let b = self.src.as_bytes();
        let radix = match (b[start], b.get(start + 1).map(u8::to_ascii_lowercase)) {
            (b'0', Some(b'x')) => 16,
            (b'0', Some(b'o')) => 8,
            (b'0', Some(b'b')) => 2,
            _ => 10,
        };
        if radix != 10 {
            self.pos += 2;
            let ds = self.pos;
            let mut mag: Option<u128> = Some(0);
            let mut approx = 0f64;
            let mut any = false;
            while let Some(&c) = b.get(self.pos) {
                if c == b'_' {
                    self.pos += 1;
                    continue;
                }
                let Some(d) = (c as char).to_digit(radix) else { break };
                any = true;
                mag =
                    mag.and_then(|m| m.checked_mul(u128::from(radix))?.checked_add(u128::from(d)));
                approx = approx * f64::from(radix) + f64::from(d);
                self.pos += 1;
            }
            if !any || self.pos == ds {
                return err("Invalid number literal", start, self.pos);
            }
            return Ok(match mag {
                Some(m) => Tok::Int(m),
                None => Tok::Float(approx),
            });
        }
        let mut text = String::new();
        if b[start] == b'0' {
            self.pos += 1;
            text.push('0');
        } else {
            while let Some(&c) = b.get(self.pos) {
                if c.is_ascii_digit() {
                    text.push(c as char);
                } else if c != b'_' {
                    break;
                }
                self.pos += 1;
            }
        }
        let mut is_float = false;
        if b.get(self.pos) == Some(&b'.') && b.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            text.push('.');
            self.pos += 1;
            while let Some(&c) = b.get(self.pos) {
                if c.is_ascii_digit() {
                    text.push(c as char);
                } else if c != b'_' {
                    break;
                }
                self.pos += 1;
            }
        }
        if matches!(b.get(self.pos), Some(b'e' | b'E')) {
            let save = self.pos;
            let mut p = self.pos + 1;
            let mut exp = String::from("e");
            if let Some(&s @ (b'+' | b'-')) = b.get(p) {
                exp.push(s as char);
                p += 1;
            }
            if b.get(p).is_some_and(u8::is_ascii_digit) {
                while let Some(&c) = b.get(p) {
                    if c.is_ascii_digit() {
                        exp.push(c as char);
                    } else if c != b'_' {
                        break;
                    }
                    p += 1;
                }
                is_float = true;
                text.push_str(&exp);
                self.pos = p;
            } else {
                self.pos = save;
            }
        }
        if b.get(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            return err("Invalid number literal", start, self.pos + 1);
        }
        if is_float {
            return Ok(Tok::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)));
        }
        Ok(match text.parse::<u128>() {
            Ok(m) => Tok::Int(m),
            Err(_) => Tok::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)),
        })
    }

    fn hex(&mut self, n: usize, esc_start: usize) -> Result<u32> {
        let s = self.src.get(self.pos..self.pos + n).unwrap_or("");
        if s.len() != n || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return err("Invalid escape", esc_start, self.pos);
        }
        self.pos += n;
        u32::from_str_radix(s, 16)
            .map_err(|_| QueryError::parse("Invalid escape", Span::new(esc_start, self.pos)))
    }

    fn escape(&mut self, out: &mut String) -> Result<()> {
        let es = self.pos;
        self.pos += 1; // backslash
        let Some(c) = self.bump() else { return err("Invalid escape", es, self.pos) };
        let ch = match c {
            '\\' => '\\',
            '0' => '\0',
            '\'' => '\'',
            '"' => '"',
            '`' => '`',
            '#' => '#',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'x' => char::from_u32(self.hex(2, es)?).unwrap_or('\u{fffd}'),
            'u' => {
                let cp = if self.peek() == Some('{') {
                    self.pos += 1;
                    let ds = self.pos;
                    while self.peek_at(0).is_some_and(|b| b.is_ascii_hexdigit()) {
                        self.pos += 1;
                    }
                    let digits = &self.src[ds..self.pos];
                    if digits.is_empty() || digits.len() > 6 || self.peek() != Some('}') {
                        return err("Invalid escape", es, self.pos);
                    }
                    self.pos += 1;
                    let v = u32::from_str_radix(digits, 16).unwrap_or(u32::MAX);
                    if v > 0x10FFFF {
                        return err("Invalid escape: outside of valid unicode range", es, self.pos);
                    }
                    v
                } else {
                    self.hex(4, es)?
                };
                match char::from_u32(cp) {
                    Some(c) => c,
                    None => return err("Invalid escape: surrogates are disallowed", es, self.pos),
                }
            }
            _ => return err("Invalid escape", es, self.pos),
        };
        out.push(ch);
        Ok(())
    }

    fn string(&mut self, quote: char) -> Result<Tok> {
        let start = self.pos;
        self.pos += 1;
        let mut parts = Vec::new();
        let mut cur = String::new();
        loop {
            let Some(c) = self.peek() else { return err("Unterminated string", start, self.pos) };
            if c == quote {
                self.pos += 1;
                break;
            }
            if c == '\\' {
                self.escape(&mut cur)?;
                continue;
            }
            if quote == '"' && c == '#' && self.peek_at(1) == Some(b'{') {
                let is = self.pos;
                self.pos += 2;
                if self.depth >= MAX_DEPTH {
                    return err("Query exceeds the maximum nesting depth", is, self.pos);
                }
                self.depth += 1;
                let toks = self.run(true)?;
                self.depth -= 1;
                parts.push(LexPart::Text(std::mem::take(&mut cur)));
                parts.push(LexPart::Expr(toks, Span::new(is, self.pos)));
                continue;
            }
            if !is_display(c) {
                return err("Invalid character in string", self.pos, self.pos + c.len_utf8());
            }
            cur.push(c);
            self.pos += c.len_utf8();
        }
        if parts.is_empty() {
            Ok(Tok::Str(cur))
        } else {
            parts.push(LexPart::Text(cur));
            parts.retain(|p| !matches!(p, LexPart::Text(t) if t.is_empty()));
            Ok(Tok::Template(parts))
        }
    }
}
