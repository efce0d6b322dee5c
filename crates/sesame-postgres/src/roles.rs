//! User-defined roles: the role operations of [`AuthStore`](sesame_store::AuthStore) as SQL on a
//! [`Db`]. Each is one statement, so a `PgStore` runs it on a pooled connection as is and a
//! `PgTx` inside its transaction.
//!
//! Name uniqueness is the `roles_pkey` primary key (a conflict, including a rename onto a taken
//! name, is `Conflict{role_name}` via `error.rs`); names sort in byte order (`COLLATE "C"`).
//! Not here: row mapping (`rows.rs`), and what a role means (the engine's business).

use sesame_model::{RoleDef, RoleName};
use sesame_store::{Page, StoreError};

use crate::db::Db;
use crate::rows::{limit, role_cols, role_json, row_role};

impl Db<'_> {
    pub(crate) async fn create_role(&self, role: &RoleDef) -> Result<(), StoreError> {
        let [membership, privileges, data] = role_json(role);
        self.execute(
            "INSERT INTO roles (name, ts, membership, privileges, data, member_collections) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &role.name.as_str(),
                &role.ts.as_micros(),
                &membership,
                &privileges,
                &data,
                &role.member_collections(),
            ],
        )
        .await
        .map(drop)
    }

    pub(crate) async fn get_role(&self, name: &RoleName) -> Result<RoleDef, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", role_cols!(), " FROM roles WHERE name = $1"),
                &[&name.as_str()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_role(&r)
    }

    pub(crate) async fn list_roles(
        &self,
        after: Option<&RoleName>,
        n: usize,
    ) -> Result<Page<RoleDef, RoleName>, StoreError> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    role_cols!(),
                    " FROM roles WHERE $1::text IS NULL OR name > $1::text COLLATE \"C\" \
                     ORDER BY name COLLATE \"C\" LIMIT $2"
                ),
                &[&after.map(RoleName::as_str), &limit(n)],
            )
            .await?;
        let items = rows.iter().map(row_role).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |r| r.name.clone()))
    }

    /// One `UPDATE`, which may change the primary key: a rename onto a taken name violates it.
    pub(crate) async fn replace_role(
        &self,
        name: &RoleName,
        role: &RoleDef,
    ) -> Result<(), StoreError> {
        let [membership, privileges, data] = role_json(role);
        let n = self
            .execute(
                "UPDATE roles SET name = $2, ts = $3, membership = $4, privileges = $5, \
                 data = $6, member_collections = $7 WHERE name = $1",
                &[
                    &name.as_str(),
                    &role.name.as_str(),
                    &role.ts.as_micros(),
                    &membership,
                    &privileges,
                    &data,
                    &role.member_collections(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM roles WHERE name = $1", &[&name.as_str()]).await? > 0)
    }

    /// Through the GIN index on `member_collections` (`@>`, exact element equality).
    pub(crate) async fn roles_with_member(
        &self,
        collection: &str,
    ) -> Result<Vec<RoleDef>, StoreError> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    role_cols!(),
                    " FROM roles WHERE member_collections @> ARRAY[$1::text] \
                     ORDER BY name COLLATE \"C\""
                ),
                &[&collection],
            )
            .await?;
        rows.iter().map(row_role).collect()
    }
}
