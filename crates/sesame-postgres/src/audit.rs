//! The audit trail on Postgres: [`AuditStore`] for [`PgStore`] (append-only table, retention by
//! batched deletes). Not transactional: events persist whatever happens to a transaction.

use async_trait::async_trait;
use sesame_model::{AuditEvent, AuditKind, DocId, Timestamp};
use sesame_store::{AuditFilter, AuditStore, Page, StoreError};

use crate::rows::{audit_cols, limit, row_audit};
use crate::PgStore;

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit_events (id, ts, kind, reason, actor, identity_coll, identity_id, \
             credential_id, token_id, key_id, client_addr, count) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &e.id.as_i64(),
                &e.ts.as_micros(),
                &e.kind.as_str(),
                &e.reason,
                &e.actor,
                &e.identity.as_ref().map(|d| d.coll.as_str()),
                &e.identity.as_ref().map(|d| d.id.as_i64()),
                &e.credential.map(DocId::as_i64),
                &e.token.map(DocId::as_i64),
                &e.key.map(DocId::as_i64),
                &e.client_addr.map(|a| a.to_string()),
                &e.count.map(|c| i64::try_from(c).unwrap_or(i64::MAX)),
            ],
        )
        .await
        .map(drop)
    }

    async fn list_audit(
        &self,
        f: &AuditFilter,
        after: Option<DocId>,
        n: usize,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit_events WHERE ($1::bigint IS NULL OR id > $1) \
                 AND ($2::bigint IS NULL OR (identity_id = $2 AND identity_coll = $3)) \
                 AND ($4::text IS NULL OR kind = $4) \
                 AND ($5::bigint IS NULL OR ts >= $5) AND ($6::bigint IS NULL OR ts < $6) \
                 ORDER BY id LIMIT $7"
                ),
                &[
                    &after.map(DocId::as_i64),
                    &f.identity.as_ref().map(|d| d.id.as_i64()),
                    &f.identity.as_ref().map(|d| d.coll.as_str()),
                    &f.kind.map(AuditKind::as_str),
                    &f.from.map(Timestamp::as_micros),
                    &f.to.map(Timestamp::as_micros),
                    &limit(n),
                ],
            )
            .await?;
        let items = rows.iter().map(row_audit).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |e| e.id))
    }

    async fn delete_audit_before(&self, before: Timestamp, n: usize) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE ts < $1 \
             ORDER BY ts LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&before.as_micros(), &(i64::try_from(n).unwrap_or(i64::MAX))],
        )
        .await
    }
}
