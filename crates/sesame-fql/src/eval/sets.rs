//! Running lazy sets: walking a source through its steps, pages, and in-query cursors.
//!
//! Sources are scanned from the host in pages; `where`/`map` callbacks run read-only.
//! Cursors are registered per query (a cursor from another query is `invalid_cursor`).

use std::rc::Rc;

use super::{type_mismatch, Interp};
use crate::ast::Span;
use crate::error::{Code, QueryError, Result};
use crate::set::{SetExpr, SetSource, SetStep};
use crate::value::Value;

const SCAN_BATCH: usize = 64;

impl Interp<'_> {
    /// Feeds every element of `set` to `f` until it returns `false` or the set ends.
    pub(crate) fn set_walk(
        &mut self,
        set: &SetExpr,
        f: &mut dyn FnMut(&mut Self, Value) -> Result<bool>,
    ) -> Result<()> {
        let mut counters = vec![0usize; set.steps.len()];
        let mut feed = |me: &mut Self, v: Value| -> Result<bool> {
            me.tick(1)?;
            let mut v = v;
            for (i, step) in set.steps.iter().enumerate() {
                match step {
                    SetStep::Where(p) => {
                        let r = me.read_only(|me| {
                            me.callback(p, "predicate", vec![v.clone()], Span::default())
                        })?;
                        match r {
                            Value::Bool(true) => {}
                            Value::Bool(false) | Value::Null(_) => return Ok(true),
                            other => return Err(type_mismatch("Boolean", &other)),
                        }
                    }
                    SetStep::Map(m) => {
                        v =
                            me.read_only(|me| me.callback(m, "mapper", vec![v], Span::default()))?;
                    }
                    SetStep::Take(n) => {
                        if counters[i] >= *n {
                            return Ok(false);
                        }
                        counters[i] += 1;
                    }
                    SetStep::Drop(n) => {
                        if counters[i] < *n {
                            counters[i] += 1;
                            return Ok(true);
                        }
                    }
                }
            }
            f(me, v)
        };
        match &set.source {
            SetSource::Array(items) => {
                for v in items.iter() {
                    if !feed(self, v.clone())? {
                        break;
                    }
                }
            }
            SetSource::Sequence(from, until) => {
                let mut i = *from;
                while i < *until {
                    if !feed(self, Value::int(i))? {
                        break;
                    }
                    i += 1;
                }
            }
            SetSource::Scan(scan) => {
                let mut after: Option<String> = None;
                loop {
                    self.tick(1)?;
                    self.stats.read_ops += 1;
                    let page = self.host.scan(scan, after.as_deref(), SCAN_BATCH)?;
                    for r in page.refs {
                        if !feed(self, Value::Doc(r))? {
                            return Ok(());
                        }
                    }
                    match page.after {
                        Some(a) => after = Some(a),
                        None => break,
                    }
                }
            }
        }
        Ok(())
    }

    /// Up to `limit` elements after the first `skip`, and whether more follow.
    pub(crate) fn set_page(
        &mut self,
        set: &SetExpr,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<Value>, bool)> {
        let mut seen = 0usize;
        let mut out = Vec::new();
        let mut more = false;
        self.set_walk(set, &mut |_, v| {
            if seen < skip {
                seen += 1;
                return Ok(true);
            }
            if out.len() < limit {
                out.push(v);
                return Ok(true);
            }
            more = true;
            Ok(false)
        })?;
        Ok((out, more))
    }

    /// All elements (capped at the array limit).
    pub(crate) fn set_to_vec(&mut self, set: &SetExpr) -> Result<Vec<Value>> {
        let max = self.limits.max_array_len;
        let (items, more) = self.set_page(set, 0, max)?;
        if more {
            return Err(QueryError::new(
                Code::ValueTooLarge,
                format!("Value too large: array size exceeds limit {max}."),
            ));
        }
        Ok(items)
    }

    /// A page as `(data, after)`, registering a cursor when more elements follow.
    pub(crate) fn set_paginate(
        &mut self,
        set: &Rc<SetExpr>,
        skip: usize,
        size: usize,
    ) -> Result<(Vec<Value>, Option<String>)> {
        let (items, more) = self.set_page(set, skip, size)?;
        let after = if more {
            let next = skip + items.len();
            crate::cursor::encode(set, next, size, &self.holes).or_else(|| {
                self.cursors.push((set.clone(), next, size));
                Some(format!("sesame-cursor-{}", self.cursors.len() - 1))
            })
        } else {
            None
        };
        Ok((items, after))
    }

    /// Looks up an in-query cursor.
    pub(crate) fn cursor(&self, token: &str) -> Result<(Rc<SetExpr>, usize, usize)> {
        if let Some((set, skip, size)) = crate::cursor::decode(token) {
            return Ok((Rc::new(set), skip, size));
        }
        token
            .strip_prefix("sesame-cursor-")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|i| self.cursors.get(i))
            .cloned()
            .ok_or_else(|| {
                QueryError::new(Code::InvalidCursor, "Cursor cursor is invalid or expired.")
            })
    }
}
