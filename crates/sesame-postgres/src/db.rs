//! [`Db`]: statements on one connection (pooled, or inside a transaction), and [`TxGuard`]: a
//! transaction on an owned pooled connection that rolls back if it is not committed.
//!
//! Every operation of `documents.rs`, `auth.rs` and `roles.rs` is written once against [`Db`], so
//! a `PgStore` call and the same call inside a `PgTx` run the same SQL. No row mapping here.

use deadpool_postgres::{ClientWrapper, Object};
use sesame_store::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::map_pg;

/// Statement parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// One connection's statements, through its prepared-statement cache.
#[derive(Clone, Copy)]
pub(crate) struct Db<'a>(pub(crate) &'a ClientWrapper);

impl Db<'_> {
    pub(crate) async fn query(&self, sql: &str, p: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let stmt = self.0.prepare_cached(sql).await.map_err(map_pg)?;
        self.0.query(&stmt, p).await.map_err(map_pg)
    }

    pub(crate) async fn query_opt(
        &self,
        sql: &str,
        p: Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let stmt = self.0.prepare_cached(sql).await.map_err(map_pg)?;
        self.0.query_opt(&stmt, p).await.map_err(map_pg)
    }

    pub(crate) async fn execute(&self, sql: &str, p: Params<'_>) -> Result<u64, StoreError> {
        let stmt = self.0.prepare_cached(sql).await.map_err(map_pg)?;
        self.0.execute(&stmt, p).await.map_err(map_pg)
    }
}

/// An open transaction on an owned connection. Dropped without [`TxGuard::commit`], it rolls
/// back before the connection returns to the pool (or the connection is discarded).
pub(crate) struct TxGuard {
    conn: Option<Object>,
}

impl TxGuard {
    /// Sends `begin` (e.g. `BEGIN ISOLATION LEVEL SERIALIZABLE`) on `conn`.
    pub(crate) async fn begin(conn: Object, begin: &str) -> Result<Self, StoreError> {
        conn.batch_execute(begin).await.map_err(map_pg)?;
        Ok(TxGuard { conn: Some(conn) })
    }

    pub(crate) fn db(&self) -> Db<'_> {
        Db(self.conn.as_ref().expect("an open transaction has its connection"))
    }

    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let conn = self.conn.take().expect("an open transaction has its connection");
        match conn.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                // A failed COMMIT has ended the transaction (rolled back) or lost the link.
                if conn.is_closed() {
                    drop(Object::take(conn));
                }
                Err(map_pg(e))
            }
        }
    }

    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        let conn = self.conn.take().expect("an open transaction has its connection");
        let r = conn.batch_execute("ROLLBACK").await;
        if r.is_err() {
            drop(Object::take(conn));
        }
        r.map_err(map_pg)
    }

    /// Commits after `Ok`, rolls back after `Err`; returns the result (or the commit's error).
    pub(crate) async fn finish<T>(self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        match r {
            Ok(v) => self.commit().await.map(|()| v),
            Err(e) => {
                drop(self.rollback().await);
                Err(e)
            }
        }
    }
}

impl Drop for TxGuard {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if conn.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(conn));
                    }
                });
            }
            // No runtime to roll back on: close the connection (the server rolls back).
            Err(_) => drop(Object::take(conn)),
        }
    }
}
