//! The audit trail: building, writing and reading [`AuditEvent`]s, and folding repeated
//! refusals. Which decisions are audited is decided by the operations that call these; this
//! file only says how events are written (a `sesame::audit` log line and a store row).

use super::*;

/// How an audit event names its actor: ids only, never secrets.
pub(super) fn actor_name(p: &Principal) -> String {
    match p {
        Principal::Key { key_id: Some(id), .. } => format!("key:{id}"),
        Principal::Key { key_id: None, .. } => "admin_secret".into(),
        Principal::Token(t) => format!("token:{}", t.id),
        Principal::Identity { key_id: Some(id), document } => format!("key:{id}@{document}"),
        Principal::Identity { key_id: None, document } => format!("admin_secret@{document}"),
    }
}

/// The structured log line of an audit event, under its own target.
pub(super) fn log_event(e: &AuditEvent) {
    tracing::info!(
        target: "sesame::audit",
        event = e.kind.as_str(),
        reason = e.reason.as_deref(),
        actor = e.actor.as_deref(),
        identity = e.identity.as_ref().map(|d| d.to_string()),
        credential = e.credential.map(|i| i.get()),
        token = e.token.map(|i| i.get()),
        key = e.key.map(|i| i.get()),
        client = e.client_addr.map(|a| a.to_string()),
        count = e.count,
        "audit"
    );
}

impl Engine {
    /// Whether `key` (with `what`) was not seen in the last audit window: the folding of
    /// repeated events.
    pub(super) fn first_in_window(&self, key: String, what: &'static str) -> bool {
        let now = self.clock.now();
        match self.denied_audited.lock() {
            Ok(mut seen) => {
                if seen.len() > 10_000 {
                    seen.retain(|_, t| now.as_micros() - t.as_micros() < DENIED_AUDIT_WINDOW_US);
                }
                match seen.get(&(key.clone(), what)) {
                    Some(t) if now.as_micros() - t.as_micros() < DENIED_AUDIT_WINDOW_US => false,
                    _ => {
                        seen.insert((key, what), now);
                        true
                    }
                }
            }
            Err(_) => true,
        }
    }

    /// Audits a refusal: counted in metrics every time, written to the trail at most once per
    /// (actor, access) and minute, so that a caller looping on forbidden requests cannot flood
    /// the trail (the event's `count` is 1; metrics hold the total).
    pub(super) fn audit_denied(&self, p: &Principal, access: &Access<'_>, about: Option<&DocRef>) {
        metrics::counter!("sesame_permission_denied_total").increment(1);
        let now = self.clock.now();
        let actor = actor_name(p);
        let first = match self.denied_audited.lock() {
            Ok(mut seen) => {
                if seen.len() > 10_000 {
                    seen.retain(|_, t| now.as_micros() - t.as_micros() < DENIED_AUDIT_WINDOW_US);
                }
                match seen.get(&(actor.clone(), access.name())) {
                    Some(t) if now.as_micros() - t.as_micros() < DENIED_AUDIT_WINDOW_US => false,
                    _ => {
                        seen.insert((actor, access.name()), now);
                        true
                    }
                }
            }
            Err(_) => true,
        };
        if !first {
            return;
        }
        let mut e = self.event(AuditKind::PermissionDenied, Some(p));
        e.reason = Some(access.name().to_owned());
        e.identity = about.cloned();
        // `check` is synchronous; the event is written in the background.
        self.emit_detached(e);
    }

    /// A new audit event of `kind` by `actor`, at now; the caller fills in the rest.
    pub(super) fn event(&self, kind: AuditKind, actor: Option<&Principal>) -> AuditEvent {
        let now = self.clock.now();
        AuditEvent {
            id: self.ids.next(now),
            ts: now,
            kind,
            reason: None,
            actor: actor.map(actor_name),
            identity: None,
            credential: None,
            token: None,
            key: None,
            client_addr: None,
            count: None,
        }
    }

    /// Writes an audit event: a structured log line under `sesame::audit` and a row in the
    /// store. A failed write is logged and counted, and does not undo the action it records.
    pub(super) async fn emit(&self, e: AuditEvent) {
        log_event(&e);
        if let Err(err) = self.store.append_audit(&e).await {
            tracing::warn!(error = %err, kind = e.kind.as_str(), "audit event not stored");
            metrics::counter!("sesame_audit_write_errors_total").increment(1);
        }
    }

    pub(super) fn emit_detached(&self, e: AuditEvent) {
        log_event(&e);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.append_audit(&e).await {
                tracing::warn!(error = %err, kind = e.kind.as_str(), "audit event not stored");
                metrics::counter!("sesame_audit_write_errors_total").increment(1);
            }
        });
    }

    /// Audit events (admin only), filtered and paginated.
    pub async fn list_audit(
        &self,
        c: &Caller,
        filter: &AuditFilter,
        after: Option<DocId>,
        size: Option<usize>,
    ) -> Result<Page<AuditEvent>, AuthError> {
        let p = &c.principal;
        self.check(p, Access::ReadAudit)?;
        let size = self.page_size(size)?;
        Ok(self.store.list_audit(filter, after, size).await?)
    }

    /// Deletes up to `batch` audit events older than the retention period; how many.
    pub async fn sweep_audit(&self, batch: usize) -> Result<u64, AuthError> {
        let Some(days) = self.config.audit_retention_days.filter(|d| *d > 0) else { return Ok(0) };
        let before = self.clock.now().plus_seconds(-(i64::from(days) * 86_400));
        Ok(self.store.delete_audit_before(before, batch.max(1)).await?)
    }
}
