//! Lanes: a few shared, pipelined connections for the hot path (secret lookups by digest).
//!
//! Every authenticated request does one lookup by digest. Through the pool, each would take a
//! connection exclusively and wake its own Postgres backend; here concurrent lookups share a
//! small number of connections, and tokio-postgres pipelines them (it sends a query without
//! waiting for the previous answer). Fewer busy backends and batched round trips let the same
//! cores serve more requests. A lane whose connection broke reconnects on next use. Only these
//! two read-only, single-row statements use lanes; every write (the `last_used` touch included)
//! goes through the pool. Each lookup takes the lane with the fewest lookups in flight, so one
//! stalled connection does not hold a fixed share of requests behind it, and a lane pipelines
//! at most [`LANE_DEPTH`] lookups: past that, lookups overflow to the pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sesame_store::StoreError;
use tokio::sync::RwLock;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::error::map_pg;

/// How many lanes a store keeps (extra connections beyond the pool).
pub(crate) const LANES: usize = 4;

/// The most lookups one lane pipelines at once. When every lane has this many in flight, a
/// lookup goes through the pool instead: if a lane's connection or backend stalls
/// (descheduled on a loaded machine), at most this many requests wait behind it — without the
/// bound, a burst queued on the lanes all waits for the slowest, which is the tail latency.
pub(crate) const LANE_DEPTH: usize = 4;

/// Which lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup {
    Token,
    Key,
}

#[derive(Debug)]
struct Conn {
    client: Client,
    token: Statement,
    key: Statement,
}

pub(crate) struct Lanes {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    connect_timeout: Duration,
    lanes: Vec<Lane>,
    next: AtomicUsize,
}

/// One lane: its connection (made on first use, remade when broken) and how many lookups are
/// waiting on it.
struct Lane {
    conn: RwLock<Option<Arc<Conn>>>,
    in_flight: AtomicUsize,
}

/// Counts a lookup in flight on a lane until dropped (answered, failed or cancelled).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("lanes", &self.lanes.len())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Lanes {
    pub(crate) fn new(
        config: tokio_postgres::Config,
        tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
        connect_timeout: Duration,
    ) -> Self {
        Lanes {
            config,
            tls,
            connect_timeout,
            lanes: (0..LANES)
                .map(|_| Lane { conn: RwLock::new(None), in_flight: AtomicUsize::new(0) })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    async fn connect(&self) -> Result<Conn, StoreError> {
        let client = match &self.tls {
            Some(tls) => open(&self.config, tls.clone(), self.connect_timeout).await?,
            None => open(&self.config, NoTls, self.connect_timeout).await?,
        };
        let token = client.prepare(crate::TOKEN_BY_DIGEST).await.map_err(map_pg)?;
        let key = client.prepare(crate::KEY_BY_DIGEST).await.map_err(map_pg)?;
        Ok(Conn { client, token, key })
    }

    /// The least loaded lane (fewest lookups in flight; ties broken round-robin), counted in
    /// flight until the guard drops. A lane whose connection or backend stalls (descheduled,
    /// a long answer ahead in its pipeline) then stops receiving new lookups instead of
    /// queueing a fixed share of them behind the stall.
    fn pick(&self) -> Option<(&Lane, InFlight<'_>)> {
        let n = self.lanes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut best = &self.lanes[start % n];
        let mut best_load = best.in_flight.load(Ordering::Relaxed);
        for i in 1..n {
            if best_load == 0 {
                break;
            }
            let lane = &self.lanes[(start + i) % n];
            let load = lane.in_flight.load(Ordering::Relaxed);
            if load < best_load {
                (best, best_load) = (lane, load);
            }
        }
        if best_load >= LANE_DEPTH {
            return None;
        }
        best.in_flight.fetch_add(1, Ordering::Relaxed);
        Some((best, InFlight(&best.in_flight)))
    }

    async fn conn(&self, lane: &Lane) -> Result<Arc<Conn>, StoreError> {
        if let Some(c) = lane.conn.read().await.as_ref() {
            if !c.client.is_closed() {
                return Ok(c.clone());
            }
        }
        let mut w = lane.conn.write().await;
        if let Some(c) = w.as_ref() {
            if !c.client.is_closed() {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(self.connect().await?);
        *w = Some(c.clone());
        Ok(c)
    }

    /// Runs a lookup by digest on a lane; the row, if any. `None` when every lane already has
    /// [`LANE_DEPTH`] lookups in flight: the caller uses the pool.
    pub(crate) async fn lookup(
        &self,
        which: Lookup,
        digest: &[u8],
    ) -> Option<Result<Option<Row>, StoreError>> {
        let (lane, _in_flight) = self.pick()?;
        Some(self.lookup_on(lane, which, digest).await)
    }

    async fn lookup_on(
        &self,
        lane: &Lane,
        which: Lookup,
        digest: &[u8],
    ) -> Result<Option<Row>, StoreError> {
        let c = self.conn(lane).await?;
        let stmt = match which {
            Lookup::Token => &c.token,
            Lookup::Key => &c.key,
        };
        c.client.query_opt(stmt, &[&digest]).await.map_err(map_pg)
    }
}

/// Connects with `tls` within `timeout` and drives the connection in the background.
async fn open<T>(
    config: &tokio_postgres::Config,
    tls: T,
    timeout: Duration,
) -> Result<Client, StoreError>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, conn) = tokio::time::timeout(timeout, config.connect(tls))
        .await
        .map_err(|_| StoreError::Unavailable("timed out connecting to Postgres".into()))?
        .map_err(|e| match map_pg(e) {
            StoreError::Other(src) => StoreError::Unavailable(src),
            other => other,
        })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "lookup connection closed");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lanes fill to `LANE_DEPTH` each, least loaded first; past that, lookups go to the pool
    /// (`pick` says `None`) until one finishes.
    #[test]
    fn lanes_pipeline_at_most_lane_depth_then_overflow() {
        let lanes = Lanes::new(tokio_postgres::Config::new(), None, Duration::from_secs(1));
        let mut held = Vec::new();
        for _ in 0..LANES * LANE_DEPTH {
            held.push(lanes.pick().expect("room on a lane"));
        }
        for lane in &lanes.lanes {
            assert_eq!(lane.in_flight.load(Ordering::Relaxed), LANE_DEPTH, "spread evenly");
        }
        assert!(lanes.pick().is_none(), "every lane full: overflow to the pool");
        held.pop();
        let again = lanes.pick().expect("a lookup finished: room again");
        drop(again);
        drop(held);
        assert!(lanes.lanes.iter().all(|l| l.in_flight.load(Ordering::Relaxed) == 0));
    }
}
