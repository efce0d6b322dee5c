//! The `summary` text of an error: Fauna's caret diagrams (spec §7.2).
//!
//! Pure text layout over the query source; it does not decide what the error is.

use std::fmt::Write as _;

use crate::ast::Span;
use crate::error::QueryError;

/// 1-based line and column (in chars) of a byte offset.
pub fn line_col(src: &str, at: u32) -> (usize, usize) {
    let at = (at as usize).min(src.len());
    let at = (0..=at).rev().find(|i| src.is_char_boundary(*i)).unwrap_or(0);
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn snippet(src: &str, span: Span, annotation: Option<&str>, out: &mut String) {
    let (line, col) = line_col(src, span.start);
    let text = src.split('\n').nth(line - 1).unwrap_or("").trim_end_matches('\r');
    let start = (span.start as usize).min(src.len());
    let line_start = src[..src.floor_char_boundary_compat(start)].rfind('\n').map_or(0, |i| i + 1);
    let line_end = line_start + text.len();
    let end = (span.end as usize).clamp(start, line_end.max(start));
    let width = src.get(start..end).map_or(1, |s| s.chars().count()).max(1);
    let shown = show_holes(text);
    let pad = " ".repeat(line.to_string().len() + 1);
    let _ = writeln!(out, "at *query*:{line}:{col}");
    let _ = writeln!(out, "{pad}|");
    let _ = writeln!(out, "{}", format!("{line} | {shown}").trim_end());
    let mut caret = format!("{pad}| {}{}", " ".repeat(col - 1), "^".repeat(width));
    if let Some(a) = annotation {
        caret.push(' ');
        caret.push_str(a);
    }
    let _ = writeln!(out, "{}", caret.trim_end());
    let _ = write!(out, "{pad}|");
}

/// Template hole markers (`\0N>`) are shown as `<value>`.
fn show_holes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\0' {
            while it.peek().is_some_and(char::is_ascii_digit) {
                it.next();
            }
            if it.peek() == Some(&'>') {
                it.next();
            }
            out.push_str("<value>");
        } else {
            out.push(c);
        }
    }
    out
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, i: usize) -> usize {
        let i = i.min(self.len());
        (0..=i).rev().find(|j| self.is_char_boundary(*j)).unwrap_or(0)
    }
}

/// Renders the summary of an error against the query source.
pub fn summary(src: &str, e: &QueryError) -> String {
    let mut out = String::new();
    if !e.diagnostics.is_empty() {
        for (i, d) in e.diagnostics.iter().enumerate() {
            if i > 0 {
                out.push_str("\n\n");
            }
            let _ = writeln!(out, "{}: {}", if i == 0 { "error" } else { "hint" }, d.message);
            snippet(src, d.span, d.annotation.as_deref(), &mut out);
        }
        return out;
    }
    let _ = writeln!(out, "error: {}", e.message);
    if !e.constraint_failures.is_empty() {
        out.push_str("constraint failures:\n");
        for f in &e.constraint_failures {
            let label: Vec<String> = f
                .paths
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .collect();
            let _ = writeln!(out, "  {}: {}", label.join(","), f.message);
        }
    }
    match e.span {
        Some(span) => snippet(src, span, None, &mut out),
        None => {
            out.pop();
            return out;
        }
    }
    for f in &e.frames {
        out.push('\n');
        snippet(src, *f, None, &mut out);
    }
    out
}
