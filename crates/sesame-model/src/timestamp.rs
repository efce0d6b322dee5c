//! Timestamps: UTC instants with microsecond precision, rendered as RFC 3339.
//!
//! This module parses and formats times; it never reads the clock (the engine's `Clock` does).

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime; // parsing only

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
    /// Written by hand: it is on the hot path of every token representation.
    pub fn to_rfc3339(self) -> String {
        let (b, len) = self.rfc3339_bytes();
        String::from_utf8(b[..len].to_vec()).expect("ASCII")
    }

    /// Calls `f` with the RFC 3339 form ([`Timestamp::to_rfc3339`]) written on the stack: for
    /// encoders that take a `&str` without allocating.
    pub fn with_rfc3339<R>(self, f: impl FnOnce(&str) -> R) -> R {
        let (b, len) = self.rfc3339_bytes();
        f(std::str::from_utf8(&b[..len]).unwrap_or_default())
    }

    /// Appends the RFC 3339 form ([`Timestamp::to_rfc3339`]) to `out`: for encoders writing
    /// bytes (the request path's JSON and log lines).
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        let (b, len) = self.rfc3339_bytes();
        out.extend_from_slice(&b[..len]);
    }

    /// The RFC 3339 form in a stack buffer: the bytes and their length.
    fn rfc3339_bytes(self) -> ([u8; 27], usize) {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000) as u32;
        let mut b = [0u8; 27];
        b[..19].copy_from_slice(&seconds_text(secs));
        let mut put2 = |at: usize, v: u32| {
            b[at..at + 2].copy_from_slice(&PAIRS[(v % 100) as usize]);
        };
        let len = if micros == 0 {
            19
        } else if micros.is_multiple_of(1000) {
            let ms = micros / 1000;
            put2(20, ms / 10);
            b[22] = b'0' + (ms % 10) as u8;
            23
        } else {
            put2(20, micros / 10_000);
            put2(22, micros / 100 % 100);
            put2(24, micros % 100);
            26
        };
        if len > 19 {
            b[19] = b'.';
        }
        b[len] = b'Z';
        (b, len + 1)
    }
}

/// "00" to "99": two digits per step (timestamps are rendered on the request path).
const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

thread_local! {
    /// The last few seconds rendered on this thread and their text: a request renders the same
    /// few over and over (the time now, a token's creation and last use). A cache of pure
    /// results; it reads no clock.
    static RECENT: std::cell::Cell<[(i64, [u8; 19]); 4]> =
        const { std::cell::Cell::new([(i64::MIN, [0; 19]); 4]) };
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch.
fn seconds_text(secs: i64) -> [u8; 19] {
    let mut recent = RECENT.get();
    if let Some((_, text)) = recent.iter().find(|(s, _)| *s == secs) {
        return *text;
    }
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u32;
    let mut b = [0u8; 19];
    let mut put2 = |at: usize, v: u32| {
        b[at..at + 2].copy_from_slice(&PAIRS[(v % 100) as usize]);
    };
    let y = y as u32;
    put2(0, y / 100 % 100);
    put2(2, y % 100);
    put2(5, mo);
    put2(8, d);
    put2(11, sod / 3600);
    put2(14, sod / 60 % 60);
    put2(17, sod % 60);
    for (at, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        b[at] = c;
    }
    recent.rotate_right(1);
    recent[0] = (secs, b);
    RECENT.set(recent);
    b
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for Timestamp {
    /// RFC 3339, as [`Timestamp::to_rfc3339`], without allocating.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, len) = self.rfc3339_bytes();
        f.write_str(std::str::from_utf8(&b[..len]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

/// When a token or key expires, as a caller says it: an instant, or seconds from now.
/// Resolved by the engine against its own clock, with the same bounds on every surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// At this instant (one in the past is accepted, as in Fauna, and never authenticates).
    At(Timestamp),
    /// This many seconds from now: 1 to [`Ttl::MAX_SECONDS`].
    In(i64),
}

impl Ttl {
    /// The longest relative ttl: 100 years.
    pub const MAX_SECONDS: i64 = 100 * 365 * 86_400;

    /// The instant this ttl names, seen at `now`.
    pub fn resolve(self, now: Timestamp) -> Result<Timestamp, ModelError> {
        match self {
            Ttl::At(t) => Ok(t),
            Ttl::In(secs) if (1..=Ttl::MAX_SECONDS).contains(&secs) => Ok(now.plus_seconds(secs)),
            Ttl::In(_) => Err(ModelError::InvalidTime(format!(
                "`ttl` in seconds must be between 1 and {}",
                Ttl::MAX_SECONDS
            ))),
        }
    }
}

impl From<std::time::Duration> for Ttl {
    /// That long from now, in whole seconds (saturating; bounds are checked when resolved).
    fn from(d: std::time::Duration) -> Self {
        Ttl::In(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

impl From<Timestamp> for Ttl {
    fn from(t: Timestamp) -> Self {
        Ttl::At(t)
    }
}
