//! The engine's clock: the only place `sesame-auth` learns the time, injectable for tests.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

use sesame_model::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Timestamp::from_micros(us).expect("the system clock is within years 1..9999")
    }
}

/// A clock that only moves when told to; for tests of expiry.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn new(t: Timestamp) -> Self {
        ManualClock(AtomicI64::new(t.as_micros()))
    }

    /// Moves the clock forward by `secs` seconds (or back, if negative).
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst)).expect("set from a Timestamp")
    }
}
