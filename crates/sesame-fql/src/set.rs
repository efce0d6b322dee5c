//! Lazy sets (spec §6.11): a source plus steps, paged on demand.
//!
//! This module only describes sets; `eval::sets` runs them (it needs the interpreter to call
//! `where`/`map` callbacks).

use std::rc::Rc;

use crate::host::Scan;
use crate::value::Value;

/// The default page size of a materialised set.
pub const DEFAULT_PAGE: usize = 16;
/// The largest page and the largest materialised array.
pub const MAX_PAGE: usize = 16_000;

/// Where a set's elements come from.
#[derive(Debug, Clone)]
pub enum SetSource {
    Scan(Scan),
    Array(Rc<Vec<Value>>),
    Sequence(i64, i64),
}

/// A lazy step.
#[derive(Debug, Clone)]
pub enum SetStep {
    Where(Value),
    Map(Value),
    Take(usize),
    Drop(usize),
}

/// A lazy set.
#[derive(Debug, Clone)]
pub struct SetExpr {
    pub source: SetSource,
    pub steps: Vec<SetStep>,
    pub page_size: usize,
}

impl SetExpr {
    /// A set over a source with no steps.
    pub fn new(source: SetSource) -> SetExpr {
        SetExpr { source, steps: Vec::new(), page_size: DEFAULT_PAGE }
    }
    /// This set with one more step.
    pub fn with(&self, step: SetStep) -> SetExpr {
        let mut s = self.clone();
        s.steps.push(step);
        s
    }
}
