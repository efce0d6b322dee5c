//! Document ids: positive 64-bit integers shown as decimal strings, and their generator.
//!
//! Ids are roughly time-ordered: 41 bits of milliseconds since 2020-01-01, 10 bits of node id,
//! 12 bits of sequence. The generator is monotonic within a process; distinct processes pick
//! distinct node ids (randomly, by the caller), and stores enforce uniqueness regardless.
//! This module does not read the clock: the caller passes `now`.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{ModelError, Timestamp};

/// A document id (also used for credentials, tokens and keys). Always in `1..=i64::MAX`,
/// so it fits a signed 64-bit column; rendered as a decimal string like Fauna's ids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocId(u64);

impl DocId {
    /// The id as an integer.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id as a signed integer (always positive), for storage backends.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    /// Builds an id from an integer, rejecting 0 and values above `i64::MAX`.
    pub fn new(v: u64) -> Result<Self, ModelError> {
        if v == 0 || v > i64::MAX as u64 {
            return Err(ModelError::InvalidId(v.to_string()));
        }
        Ok(DocId(v))
    }

    /// Builds an id from a stored signed integer.
    pub fn from_i64(v: i64) -> Result<Self, ModelError> {
        if v <= 0 {
            return Err(ModelError::InvalidId(v.to_string()));
        }
        Ok(DocId(v as u64))
    }
}

impl FromStr for DocId {
    type Err = ModelError;

    /// Parses the canonical decimal form: ASCII digits only, no sign, no leading zero.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shown = || {
            let mut t: String = s.chars().take(32).collect();
            if s.chars().count() > 32 {
                t.push('…');
            }
            format!("`{}` is not a document id", t.escape_debug())
        };
        if s.is_empty()
            || s.len() > 19
            || !s.bytes().all(|b| b.is_ascii_digit())
            || s.starts_with('0')
        {
            return Err(ModelError::InvalidId(shown()));
        }
        let v: u64 = s.parse().map_err(|_| ModelError::InvalidId(shown()))?;
        DocId::new(v).map_err(|_| ModelError::InvalidId(shown()))
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({})", self.0)
    }
}

/// 2020-01-01T00:00:00Z in milliseconds since the Unix epoch.
const EPOCH_MS: i64 = 1_577_836_800_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;

/// Generates unique, roughly time-ordered [`DocId`]s. Cheap, lock-free, shareable.
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    /// `(millis << SEQ_BITS) | seq` of the last id handed out.
    last: AtomicU64,
}

impl IdGenerator {
    /// A generator for node `node` (only its low 10 bits are used). Pick it at random per
    /// process so that instances sharing a database rarely collide; stores reject collisions.
    pub fn new(node: u16) -> Self {
        IdGenerator { node: u64::from(node) & ((1 << NODE_BITS) - 1), last: AtomicU64::new(0) }
    }

    /// The next id at time `now`. Strictly greater than every id this generator returned before.
    pub fn next(&self, now: Timestamp) -> DocId {
        let ms = (now.as_micros() / 1000 - EPOCH_MS).max(1) as u64;
        let floor = ms << SEQ_BITS;
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = floor.max(prev + 1);
            match self.last.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    let ms = next >> SEQ_BITS;
                    let seq = next & ((1 << SEQ_BITS) - 1);
                    let raw = (ms << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | seq;
                    // 41 bits of milliseconds last until 2089; mask keeps the id positive beyond.
                    return DocId(raw & (i64::MAX as u64)).max(DocId(1));
                }
                Err(actual) => prev = actual,
            }
        }
    }
}
