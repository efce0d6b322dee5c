//! Throttling values shared by the contract and every backend: [`ThrottlePolicy`] (the delay
//! schedule, computed here once so backends agree), [`Reservation`] and [`LoginFailures`].
//!
//! No storage here: backends implement [`ThrottleStore`](crate::ThrottleStore) with these.

use sesame_model::{SecretDigest, Timestamp};

/// What a throttling counter is keyed by: a digest of the credential or of the identifier a
/// client tried (so unknown identities are counted exactly like known ones).
pub type ThrottleKey = SecretDigest;

/// The delay schedule that [`ThrottleStore::reserve_login_attempt`](crate::ThrottleStore::reserve_login_attempt) enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay (0 = no delay schedule).
    pub free_failures: u32,
    /// The first delay, in µs; it doubles with every further failure (0 = no delay schedule).
    pub base_delay_us: i64,
    /// The largest delay, in µs.
    pub max_delay_us: i64,
    /// Failures allowed per window (0 = no cap).
    pub max_per_window: u32,
    /// The counting window, in µs.
    pub window_us: i64,
}

impl ThrottlePolicy {
    /// A policy that never refuses (attempts are still counted).
    pub const OFF: ThrottlePolicy = ThrottlePolicy {
        free_failures: 0,
        base_delay_us: 0,
        max_delay_us: 0,
        max_per_window: 0,
        window_us: 3_600_000_000,
    };

    /// How many doublings of the base delay reach the maximum (so `base << n` never overflows).
    pub fn max_doublings(&self) -> u32 {
        let (base, max) = (self.base_delay_us.max(1), self.max_delay_us.max(1));
        let mut n = 0;
        while n < 62 && base.saturating_mul(1i64 << n) < max {
            n += 1;
        }
        n
    }

    /// Until when a key with record `f` is refused, if it is: the delay after its last failure
    /// once past the free failures, and the end of its window once at the cap.
    pub fn blocked_until(&self, f: &LoginFailures) -> Option<Timestamp> {
        let mut until = None;
        if self.free_failures > 0 && self.base_delay_us > 0 && f.consecutive >= self.free_failures {
            let doublings = (f.consecutive - self.free_failures).min(self.max_doublings());
            let delay = self.base_delay_us.saturating_mul(1i64 << doublings).min(self.max_delay_us);
            until = Some(f.last_failure.plus_micros(delay));
        }
        if self.max_per_window > 0 && f.in_window >= self.max_per_window {
            let end = f.window_start.plus_micros(self.window_us);
            until = Some(until.map_or(end, |u: Timestamp| u.max(end)));
        }
        until
    }
}

/// The answer of [`ThrottleStore::reserve_login_attempt`](crate::ThrottleStore::reserve_login_attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may hash; the record after counting it.
    Granted(LoginFailures),
    /// The key is throttled until then; nothing was counted.
    Refused {
        /// When an attempt will be considered again.
        until: Timestamp,
    },
}

/// A throttling counter's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    /// Failures since the last success.
    pub consecutive: u32,
    /// When the last failure happened.
    pub last_failure: Timestamp,
    /// When the current counting window began.
    pub window_start: Timestamp,
    /// Failures in the current window.
    pub in_window: u32,
}
