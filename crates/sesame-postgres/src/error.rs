//! The one place Postgres and pool errors become [`StoreError`]s. No driver type escapes.
//!
//! SQLSTATE 23505 (unique violation) is `Conflict`, named after the constraint (an unknown one
//! keeps its Postgres name: never `id`, so callers never retry it with fresh ids; user unique
//! constraints are reported by `documents.rs` itself); 23503 (foreign key violation: the
//! document is missing or was deleted concurrently) is `NotFound`; 40001 (serialization
//! failure) and 40P01 (deadlock) are `Contention`, for the whole transaction to be retried; a
//! refused, closed or timed-out connection and server shutdown are `Unavailable`; the rest is
//! `Other`, with the driver error kept as the source for logs.

use deadpool_postgres::PoolError;
use sesame_store::{constraint, StoreError};
use tokio_postgres::error::SqlState;

pub(crate) fn map_pg(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            let name = db.constraint().unwrap_or("");
            let c = match name {
                "collections_pkey" => constraint::COLLECTION_NAME,
                "documents_pkey"
                | "documents_coll_id_key"
                | "credentials_pkey"
                | "tokens_pkey"
                | "keys_pkey"
                | "audit_events_pkey" => constraint::ID,
                "credentials_document_key" => constraint::CREDENTIAL_DOCUMENT,
                "roles_pkey" => constraint::ROLE_NAME,
                "tokens_digest_key" | "keys_digest_key" => constraint::SECRET_DIGEST,
                other => return StoreError::conflict(&format!("postgres:{other}")),
            };
            return StoreError::conflict(c);
        }
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return StoreError::Contention(Box::new(e));
        }
        if *code == SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::NotFound;
        }
        if [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::QUERY_CANCELED,
        ]
        .contains(code)
        {
            return StoreError::Unavailable(Box::new(e));
        }
        return StoreError::Other(Box::new(e));
    }
    if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
        return StoreError::Unavailable(Box::new(e));
    }
    StoreError::Other(Box::new(e))
}

pub(crate) fn map_pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => match map_pg(e) {
            StoreError::Other(src) => StoreError::Unavailable(src),
            other => other,
        },
        other => StoreError::Unavailable(Box::new(other)),
    }
}
