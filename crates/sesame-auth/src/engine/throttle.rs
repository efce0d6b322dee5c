//! Throttling of password checks: throttling keys, the in-process in-flight bound, the
//! per-address bucket, and the store reservation every login and `verify` makes before any
//! hashing. Not the hashing itself (`hasher.rs`) nor the login flow (`login.rs`).

use super::*;

/// One password check in flight for a throttling key; leaving it frees the slot.
pub(super) struct InFlight {
    map: Arc<std::sync::Mutex<std::collections::HashMap<ThrottleKey, u32>>>,
    key: ThrottleKey,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// A refused attempt, and whether it is the first refusal of its window.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) err: AuthError,
    pub(super) first: bool,
}

impl From<AuthError> for Refusal {
    fn from(err: AuthError) -> Self {
        Refusal { err, first: false }
    }
}

/// A throttling key: SHA-256 over a kind and its parts, length-prefixed so parts can't collide.
pub(super) fn throttle_key(kind: &str, parts: &[&[u8]]) -> ThrottleKey {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b"sesame-throttle\0");
    buf.extend_from_slice(kind.as_bytes());
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
        buf.extend_from_slice(p);
    }
    SecretDigest::of_bytes(&buf)
}

pub(super) fn credential_key(id: DocId) -> ThrottleKey {
    throttle_key("credential", &[&id.get().to_be_bytes()])
}

/// The filter's fields in a stable order (the map is ordered by key), for a throttling key.
pub(super) fn canonical_fields(f: &Fields) -> String {
    let mut out = String::new();
    for (k, v) in f.as_map() {
        out.push_str(&format!("{}:{}={v};", k.len(), k));
    }
    out
}

impl Engine {
    /// Reserves one password check under `key`, before any hashing (V1). Two gates, both
    /// before the hasher: at most `max_concurrent_attempts` checks in flight per key in this
    /// process, and the store's atomic reservation, which counts the attempt as a failure up
    /// front and refuses it while the key is in its delay window (shared by every instance).
    /// A success then clears the key; a failure is already counted.
    ///
    /// The error says whether this is the first refusal of `key`'s current delay window: only
    /// that one becomes an audit event (the rest are counted in metrics), so that a flood of
    /// refused attempts cannot flood the audit trail.
    pub(super) async fn reserve(&self, c: &Caller, key: &ThrottleKey) -> Result<InFlight, Refusal> {
        self.limit_address(c)?;
        let max = self.config.throttle.max_concurrent_attempts;
        {
            let mut m = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = m.entry(*key).or_insert(0);
            if max > 0 && *n >= max {
                metrics::counter!("sesame_logins_total", "outcome" => "throttled").increment(1);
                metrics::counter!("sesame_throttled_total", "by" => "in_flight").increment(1);
                return Err(Refusal {
                    err: AuthError::Throttled { retry_after_secs: 1 },
                    first: false,
                });
            }
            *n += 1;
        }
        let slot = InFlight { map: self.in_flight.clone(), key: *key };
        let now = self.clock.now();
        let policy = self.config.throttle.policy();
        let until = match self.store.reserve_login_attempt(key, now, &policy).await {
            Ok(Reservation::Granted(_)) => return Ok(slot),
            Ok(Reservation::Refused { until }) => until,
            Err(e) => return Err(Refusal::from(AuthError::from(e))),
        };
        let secs = (until.as_micros() - now.as_micros() + 999_999) / 1_000_000;
        metrics::counter!("sesame_logins_total", "outcome" => "throttled").increment(1);
        metrics::counter!("sesame_throttled_total", "by" => "account").increment(1);
        let first = match self.throttle_audited.lock() {
            Ok(mut seen) => {
                if seen.len() > 10_000 {
                    seen.retain(|_, u| *u > now);
                }
                seen.insert(*key, until) != Some(until)
            }
            Err(_) => true,
        };
        Err(Refusal { err: AuthError::Throttled { retry_after_secs: secs.max(1) as u64 }, first })
    }

    /// Deletes up to `batch` failure records that no longer throttle anything.
    pub async fn sweep_stale_login_failures(&self, batch: usize) -> Result<u64, AuthError> {
        let horizon = 3600 + self.config.throttle.max_delay_secs.min(86_400) as i64;
        let before = self.clock.now().plus_seconds(-horizon);
        Ok(self.store.delete_stale_login_failures(before, batch.max(1)).await?)
    }
}

/// The per-address bucket: password checks per client address block, in this process.
pub(super) type AddressLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

/// The bucket `config` asks for, if any.
pub(super) fn address_limiter(config: &crate::ThrottleConfig) -> Option<AddressLimiter> {
    let per_min = std::num::NonZeroU32::new(config.per_address_per_minute)?;
    let burst = std::num::NonZeroU32::new(config.per_address_burst).unwrap_or(per_min);
    Some(governor::RateLimiter::keyed(governor::Quota::per_minute(per_min).allow_burst(burst)))
}

impl Engine {
    /// Takes one password check from the caller's address bucket (IPv6 by /64), whatever the
    /// surface; callers without an address (in-process) are not limited here.
    fn limit_address(&self, c: &Caller) -> Result<(), Refusal> {
        let (Some(limiter), Some(addr)) = (&self.address_limiter, c.client.addr) else {
            return Ok(());
        };
        if let Err(not_until) = limiter.check_key(&ClientInfo::limit_block(addr)) {
            use governor::clock::Clock as _;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            metrics::counter!("sesame_throttled_total", "by" => "address").increment(1);
            return Err(Refusal {
                err: AuthError::RateLimited { retry_after_secs: wait.as_secs() + 1 },
                first: false,
            });
        }
        // Forget idle addresses now and then, so the map stays small.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}
