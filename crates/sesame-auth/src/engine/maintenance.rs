//! Housekeeping: [`Engine::run_maintenance`] (one pass) and [`Engine::spawn_maintenance`] (a
//! Tokio task running it on an interval), for the server and for embedding applications alike.
//!
//! Nothing here affects correctness: expiry is enforced at use time, stale throttling rows no
//! longer throttle anything, and old audit events are only kept. This only reclaims space and
//! applies the audit retention period. No privilege check: it is the engine acting for itself.

use std::sync::Arc;
use std::time::Duration;

use crate::{AuthError, Engine};

/// What one [`Engine::run_maintenance`] pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Expired tokens.
    pub expired_tokens: u64,
    /// Failed-login records that no longer throttle anything.
    pub stale_login_failures: u64,
    /// Audit events older than the retention period (`AuthConfig::audit_retention_days`).
    pub audit_events: u64,
}

impl MaintenanceReport {
    /// Everything deleted, all kinds together.
    pub fn total(&self) -> u64 {
        self.expired_tokens + self.stale_login_failures + self.audit_events
    }
}

/// Runs `sweep` in batches of `batch` until one deletes fewer than `batch`; the total.
async fn drain<F, Fut>(batch: usize, mut sweep: F) -> Result<u64, AuthError>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<u64, AuthError>>,
{
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let n = sweep(batch).await?;
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
        // Let other tasks run between batches: no statement holds locks for long.
        tokio::task::yield_now().await;
    }
}

impl Engine {
    /// One housekeeping pass: deletes expired tokens, failed-login records that no longer
    /// throttle anything, and audit events past the retention period, each in batches of
    /// `batch` rows (so no store statement holds locks for long) until a batch comes back
    /// short. Safe to run from several instances at once. The first error stops the pass
    /// (what was deleted before it stays deleted).
    pub async fn run_maintenance(&self, batch: usize) -> Result<MaintenanceReport, AuthError> {
        Ok(MaintenanceReport {
            stale_login_failures: drain(batch, |b| self.sweep_stale_login_failures(b)).await?,
            audit_events: drain(batch, |b| self.sweep_audit(b)).await?,
            expired_tokens: drain(batch, |b| self.sweep_expired_tokens(b)).await?,
        })
    }

    /// Spawns a Tokio task that runs [`Engine::run_maintenance`] (batches of 1000) every
    /// `interval`, first after one `interval`, until the handle is aborted or the runtime
    /// stops. Errors are logged (`tracing`, warn) and the next pass tries again. Call it once
    /// per process (more is harmless, only wasteful). Needs a Tokio runtime.
    pub fn spawn_maintenance(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        const BATCH: usize = 1000;
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                match engine.run_maintenance(BATCH).await {
                    Ok(r) if r.total() > 0 => tracing::info!(
                        expired_tokens = r.expired_tokens,
                        stale_login_failures = r.stale_login_failures,
                        audit_events = r.audit_events,
                        "maintenance pass deleted rows"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(
                        error = %crate::error_chain(&e),
                        "maintenance pass failed; retrying at the next interval"
                    ),
                }
            }
        })
    }
}
