//! Brute-force throttling on Postgres: [`ThrottleStore`] for [`PgStore`], one conditional upsert
//! per reservation. Not transactional: counters persist whatever happens to a transaction.

use async_trait::async_trait;
use sesame_model::Timestamp;
use sesame_store::{
    LoginFailures, Reservation, StoreError, ThrottleKey, ThrottlePolicy, ThrottleStore,
};

use crate::rows::row_failures;
use crate::PgStore;

#[async_trait]
impl ThrottleStore for PgStore {
    async fn reserve_login_attempt(
        &self,
        key: &ThrottleKey,
        now: Timestamp,
        p: &ThrottlePolicy,
    ) -> Result<Reservation, StoreError> {
        // One conditional upsert: the row lock serializes concurrent attempts from every
        // instance, and the WHERE refuses (updates nothing, returns no row) while the key is in
        // its delay window or at its cap. The same rule as `ThrottlePolicy::blocked_until`.
        let as_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let (free, cap, doublings) =
            (as_i32(p.free_failures), as_i32(p.max_per_window), as_i32(p.max_doublings()));
        let key_bytes = &key.as_bytes()[..];
        for _ in 0..3 {
            let granted = self
                .query_opt(
                    "INSERT INTO login_failures AS f \
                       (key, consecutive, last_failure, window_start, in_window) \
                     VALUES ($1, 1, $2, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                       consecutive = f.consecutive + 1, \
                       last_failure = $2, \
                       window_start = CASE WHEN $2 - f.window_start >= $3 THEN $2 ELSE f.window_start END, \
                       in_window = CASE WHEN $2 - f.window_start >= $3 THEN 1 ELSE f.in_window + 1 END \
                     WHERE NOT ( \
                       ($4::int > 0 AND $5::bigint > 0 AND f.consecutive >= $4::int \
                        AND f.last_failure + LEAST($5::bigint * (1::bigint << LEAST(f.consecutive - $4::int, $7::int)), $6::bigint) > $2) \
                       OR ($8::int > 0 AND f.in_window >= $8::int AND $2 - f.window_start < $3)) \
                     RETURNING consecutive, last_failure, window_start, in_window",
                    &[
                        &key_bytes,
                        &now.as_micros(),
                        &p.window_us,
                        &free,
                        &p.base_delay_us,
                        &p.max_delay_us,
                        &doublings,
                        &cap,
                    ],
                )
                .await?;
            if let Some(r) = granted {
                return Ok(Reservation::Granted(row_failures(&r)?));
            }
            // Refused: read the record to say until when (it may have been cleared or moved on
            // in between: then try again).
            if let Some(f) = self.login_failures(key).await? {
                if let Some(until) = p.blocked_until(&f).filter(|u| *u > now) {
                    return Ok(Reservation::Refused { until });
                }
            }
        }
        Ok(Reservation::Refused { until: now.plus_seconds(1) })
    }

    async fn login_failures(&self, key: &ThrottleKey) -> Result<Option<LoginFailures>, StoreError> {
        self.query_opt(
            "SELECT consecutive, last_failure, window_start, in_window FROM login_failures WHERE key = $1",
            &[&&key.as_bytes()[..]],
        )
        .await?
        .map(|r| row_failures(&r))
        .transpose()
    }

    async fn clear_login_failures(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.execute("DELETE FROM login_failures WHERE key = $1", &[&&key.as_bytes()[..]])
            .await
            .map(drop)
    }

    async fn delete_stale_login_failures(
        &self,
        before: Timestamp,
        n: usize,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures \
             WHERE last_failure < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&before.as_micros(), &(i64::try_from(n).unwrap_or(i64::MAX))],
        )
        .await
    }
}
