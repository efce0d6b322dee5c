//! [`AuthConfig`]: the engine's settings, with OWASP's Argon2id parameters as defaults.
//!
//! This module only holds values; reading them from the environment or flags is the server's
//! job (`sesame-server`'s `config` module).

use sesame_model::Secret;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (OWASP: 19456 = 19 MiB).
    pub m_cost_kib: u32,
    /// Iterations (OWASP: 2).
    pub t_cost: u32,
    /// Lanes (OWASP: 1).
    pub p_cost: u32,
}

impl HashParams {
    /// OWASP's recommendation for Argon2id: m=19456 KiB, t=2, p=1.
    pub const OWASP: HashParams = HashParams { m_cost_kib: 19_456, t_cost: 2, p_cost: 1 };

    /// The cheapest parameters Argon2 allows. For tests that are not about hashing cost only.
    pub const INSECURE_FAST: HashParams = HashParams { m_cost_kib: 8, t_cost: 1, p_cost: 1 };
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::OWASP
    }
}

/// Brute-force throttling of logins (and `verify`), per account or per identifier tried.
///
/// After `free_failures` consecutive failures, each further attempt must wait
/// `base_delay_secs × 2^(failures − free_failures)`, at most `max_delay_secs`; and no account
/// may fail more than `max_failures_per_hour` times in an hour (NIST SP 800-63B's limit). A
/// successful login resets the count. A throttled attempt is refused before any hashing.
///
/// The cap on the delay is what keeps throttling from becoming a lock-out weapon: an attacker
/// who keeps failing on a victim's account gets one guess per `max_delay_secs` and can never
/// push the victim out for longer than that (with the defaults, 60 s: at most ~60 failures an
/// hour after the ramp-up, below the hourly limit, so the hourly lock is reached only by a
/// faster, throttled-anyway attacker sharing the count across instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Consecutive failures allowed before delays start (default 3). 0 disables delays.
    pub free_failures: u32,
    /// The first delay, seconds (default 1); doubles with each further failure. 0 disables.
    pub base_delay_secs: u64,
    /// The longest delay, seconds (default 60).
    pub max_delay_secs: u64,
    /// Most failures per account per hour (default 100); 0 disables the limit.
    pub max_failures_per_hour: u32,
    /// Most password checks in flight at once per throttling key in one process (default 2);
    /// 0 disables the bound. Further concurrent attempts are refused as throttled before any
    /// hashing, whatever the delay schedule says.
    pub max_concurrent_attempts: u32,
    /// Password checks per minute per client address block (an IPv4 address or an IPv6 /64),
    /// on every surface (default 60); 0 disables the per-address bucket. Kept per process.
    pub per_address_per_minute: u32,
    /// Burst of the per-address bucket (default 20).
    pub per_address_burst: u32,
}

impl ThrottleConfig {
    /// The schedule in the store's terms (the store enforces it atomically).
    pub fn policy(&self) -> sesame_store::ThrottlePolicy {
        let us = |s: u64| i64::try_from(s.min(86_400 * 365)).unwrap_or(0) * 1_000_000;
        sesame_store::ThrottlePolicy {
            free_failures: self.free_failures,
            base_delay_us: us(self.base_delay_secs),
            max_delay_us: us(self.max_delay_secs),
            max_per_window: self.max_failures_per_hour,
            window_us: 3_600_000_000,
        }
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 3,
            base_delay_secs: 1,
            max_delay_secs: 60,
            max_failures_per_hour: 100,
            max_concurrent_attempts: 2,
            per_address_per_minute: 60,
            per_address_burst: 20,
        }
    }
}

/// The engine's configuration.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Argon2id parameters for new hashes. Stored hashes with other parameters are re-hashed on
    /// their next successful login.
    pub hash_params: HashParams,
    /// How many hashes may run at once, each on a blocking thread. Default: CPUs − 1, at least 1,
    /// which leaves a core for token checks during a login storm.
    pub hash_concurrency: usize,
    /// Shortest password accepted when setting one (bytes). Default 1. Not applied at login, so
    /// raising it does not lock out existing users.
    pub min_password_len: usize,
    /// Longest password accepted (bytes), checked before any hashing. Default 1024.
    pub max_password_len: usize,
    /// An operator-configured admin secret (like Fauna's root key), compared in constant time.
    /// Never stored; only its digest is kept in memory.
    pub admin_secret: Option<Secret>,
    /// Default page size for listings.
    pub default_page_size: usize,
    /// Largest page size a caller may ask for.
    pub max_page_size: usize,
    /// Brute-force throttling.
    pub throttle: ThrottleConfig,
    /// How long audit events are kept, in days (default 90); `None` or 0 keeps them forever.
    pub audit_retention_days: Option<u32>,
}

impl AuthConfig {
    /// The default hashing pool size for this machine.
    pub fn default_hash_concurrency() -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1)
    }

    /// Defaults with cheap hashing, for tests that are not about hashing cost.
    pub fn insecure_fast_for_tests() -> Self {
        AuthConfig { hash_params: HashParams::INSECURE_FAST, ..AuthConfig::default() }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hash_params: HashParams::OWASP,
            hash_concurrency: AuthConfig::default_hash_concurrency(),
            min_password_len: 1,
            max_password_len: 1024,
            admin_secret: None,
            default_page_size: 64,
            max_page_size: 1000,
            throttle: ThrottleConfig::default(),
            audit_retention_days: Some(90),
        }
    }
}
