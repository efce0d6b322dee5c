//! The engine side of `sesame key create | list | revoke`: what the operator's commands do,
//! given an engine over the database.
//!
//! The operator has the database itself, so these act as the admin principal (`list`,
//! `revoke`) or mint without one (`create`, which bootstraps the first admin key). Parsing
//! flags, connecting and printing to the terminal stay in [`crate::cli`]; nothing here reads
//! the environment or talks HTTP. Secrets are never listed: only their digests are stored.

use std::io::Write;

use sesame_auth::{AuthError, Caller, Engine, NewKey};
use sesame_model::{DocId, Role, Timestamp, Ttl};

/// The operator at the terminal, acting as admin through the engine (so privileges are
/// checked and every action is audited like any other admin's).
fn operator() -> Caller {
    Caller::key(Role::Admin)
}

/// Mints a key; the caller prints its secret once.
pub async fn create(
    engine: &Engine,
    role: Role,
    ttl: Option<Timestamp>,
) -> Result<NewKey, AuthError> {
    engine.mint_key(role, ttl.map(Ttl::At), None).await
}

/// Writes every key, one per line after a header (`id role created expires`), to `out`;
/// returns how many there were.
pub async fn list(engine: &Engine, out: &mut dyn Write) -> Result<usize, AuthError> {
    let p = operator();
    let io = |e: std::io::Error| AuthError::Internal(Box::new(e));
    writeln!(out, "{:<20} {:<16} {:<27} expires", "id", "role", "created").map_err(io)?;
    let (mut after, mut n) = (None, 0);
    loop {
        let page = engine.list_keys(&p, after, Some(500)).await?;
        for k in &page.data {
            let expires = k.ttl.map_or_else(|| "never".to_owned(), |t| t.to_string());
            writeln!(
                out,
                "{:<20} {:<16} {:<27} {expires}",
                k.id.to_string(),
                k.role.to_string(),
                k.ts.to_string()
            )
            .map_err(io)?;
            n += 1;
        }
        match page.after {
            Some(a) => after = Some(a),
            None => return Ok(n),
        }
    }
}

/// Revokes the key `id` (`document_not_found` if there is none). Returns whether an unexpired
/// admin key remains, since a Postgres-backed server without one (and without an admin
/// secret) refuses to start.
pub async fn revoke(engine: &Engine, id: &str) -> Result<bool, AuthError> {
    // Not quoted back: a secret pasted by mistake must not end up on the terminal again.
    let id: DocId = id
        .parse()
        .map_err(|_| AuthError::invalid("a key id is a decimal number (see `sesame key list`)"))?;
    engine.delete_key(&operator(), id).await?;
    engine.has_admin_key().await
}
