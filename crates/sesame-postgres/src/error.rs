//! The one place Postgres and pool errors become [`StoreError`]s. No driver type escapes.
//!
//! SQLSTATE 23505 (unique violation) is `Conflict`, named after the constraint; 23503 (foreign
//! key violation: the document is missing or was deleted concurrently) is `NotFound`; a
//! refused, closed or timed-out connection and server shutdown are `Unavailable`; the rest is
//! `Other`, with the driver error kept as the source for logs.

use deadpool_postgres::PoolError;
use sesame_store::{constraint, StoreError};
use tokio_postgres::error::SqlState;

pub(crate) fn map_pg(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            let c = match db.constraint().unwrap_or("") {
                "collections_pkey" => constraint::COLLECTION_NAME,
                "credentials_document_key" => constraint::CREDENTIAL_DOCUMENT,
                "tokens_digest_key" | "keys_digest_key" => constraint::SECRET_DIGEST,
                _ => constraint::ID,
            };
            return StoreError::conflict(c);
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
