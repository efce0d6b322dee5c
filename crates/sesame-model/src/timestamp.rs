//! Timestamps: UTC instants with microsecond precision, rendered as RFC 3339.
//!
//! This module parses and formats times; it never reads the clock (the engine's `Clock` does).

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ModelError;

/// A UTC instant, microseconds since the Unix epoch. Range: years 0001 to 9999.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// -62135596800 s is 0001-01-01T00:00:00Z; 253402300799 s is 9999-12-31T23:59:59Z.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

impl Timestamp {
    /// Builds a timestamp from microseconds since the Unix epoch.
    pub fn from_micros(us: i64) -> Result<Self, ModelError> {
        if !(MIN_MICROS..=MAX_MICROS).contains(&us) {
            return Err(ModelError::InvalidTime(format!("{us} microseconds is out of range")));
        }
        Ok(Timestamp(us))
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 (any offset, up to 9 fraction digits; sub-microsecond digits are dropped).
    pub fn parse_rfc3339(s: &str) -> Result<Self, ModelError> {
        let bad = || {
            let t: String = s.chars().take(40).collect();
            ModelError::InvalidTime(format!("`{}` is not an RFC 3339 time", t.escape_debug()))
        };
        if s.len() > 64 {
            return Err(bad());
        }
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
        let us = dt.unix_timestamp_nanos().div_euclid(1000);
        let us = i64::try_from(us).map_err(|_| bad())?;
        Timestamp::from_micros(us).map_err(|_| bad())
    }

    /// This time plus `secs` seconds, saturating at the end of the representable range.
    pub fn plus_seconds(self, secs: i64) -> Timestamp {
        Timestamp(
            self.0.saturating_add(secs.saturating_mul(1_000_000)).clamp(MIN_MICROS, MAX_MICROS),
        )
    }

    /// This time plus `us` microseconds, saturating.
    pub fn plus_micros(self, us: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(us).clamp(MIN_MICROS, MAX_MICROS))
    }

    /// RFC 3339 in UTC with a `Z` suffix and 0, 3 or 6 fraction digits (like Java's `Instant`).
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let dt = OffsetDateTime::from_unix_timestamp(secs).expect("range checked at construction");
        let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
        let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
        let frac = if micros == 0 {
            String::new()
        } else if micros % 1000 == 0 {
            format!(".{:03}", micros / 1000)
        } else {
            format!(".{micros:06}")
        };
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}
