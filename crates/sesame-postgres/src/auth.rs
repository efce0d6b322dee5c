//! Credentials, tokens and keys: the [`AuthStore`](sesame_store::AuthStore) operations as SQL on
//! a [`Db`] (the hot-path lookups by digest go through `lanes.rs` instead, outside transactions).
//!
//! Multi-statement operations (`update_credential_hash`, `delete_credential`) must run inside a
//! transaction; their callers provide it. No row mapping here (see `rows.rs`).

use sesame_model::{Credential, DocId, DocRef, Key, PasswordHash, SecretDigest, Timestamp, Token};
use sesame_store::{constraint, Page, Revoke, StoreError, StoredCredential, VerifiedWith};

use crate::db::Db;
use crate::rows::{
    coll_name, cred_cols, data_json, get, id, key_cols, limit, row_cred, row_key, row_token,
    token_cols,
};

impl Db<'_> {
    pub(crate) async fn create_credential(
        &self,
        cred: &StoredCredential,
    ) -> Result<(), StoreError> {
        let c = &cred.credential;
        self.execute(
            "INSERT INTO credentials (id, document_coll, document_id, ts, password_hash, data) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &c.id.as_i64(),
                &c.document.coll.as_str(),
                &c.document.id.as_i64(),
                &c.ts.as_micros(),
                &cred.hash.as_ref().map(PasswordHash::as_str),
                &data_json(&c.data),
            ],
        )
        .await
        .map(drop)
    }

    pub(crate) async fn credential_by_id(
        &self,
        cid: DocId,
    ) -> Result<StoredCredential, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", cred_cols!(), " FROM credentials WHERE id = $1"),
                &[&cid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_cred(&r)
    }

    pub(crate) async fn credential_by_document(
        &self,
        doc: &DocRef,
    ) -> Result<StoredCredential, StoreError> {
        let r = self
            .query_opt(
                concat!(
                    "SELECT ",
                    cred_cols!(),
                    " FROM credentials WHERE document_id = $1 AND document_coll = $2"
                ),
                &[&doc.id.as_i64(), &doc.coll.as_str()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_cred(&r)
    }

    /// Run in a transaction. Lock first: `SELECT … FOR UPDATE` waits for any login that holds
    /// the row `FOR SHARE` while inserting its token (see `create_token`) and blocks new ones.
    /// The token delete is a later statement, so under READ COMMITTED its snapshot includes every
    /// token such a login committed: none survives the change. (Under SERIALIZABLE a login that
    /// committed in between makes this a serialization failure instead: `Contention`.)
    pub(crate) async fn update_credential_hash(
        &self,
        cid: DocId,
        hash: &PasswordHash,
        t: Timestamp,
        revoke: Revoke,
        expect: Option<&PasswordHash>,
    ) -> Result<(Credential, u64), StoreError> {
        let current = self
            .query_opt(
                "SELECT password_hash FROM credentials WHERE id = $1 FOR UPDATE",
                &[&cid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        if let Some(expect) = expect {
            let now: Option<&str> = get(&current, "password_hash")?;
            if now != Some(expect.as_str()) {
                return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
            }
        }
        let row = self
            .query_opt(
                concat!(
                    "UPDATE credentials SET password_hash = $2, ts = $3 WHERE id = $1 RETURNING ",
                    cred_cols!()
                ),
                &[&cid.as_i64(), &hash.as_str(), &t.as_micros()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let cred = row_cred(&row)?.credential;
        let revoked = match revoke {
            Revoke::Nothing => 0,
            Revoke::AllExcept(except) => {
                self.execute(
                    "DELETE FROM tokens WHERE document_id = $1 AND document_coll = $2 \
                     AND ($3::bigint IS NULL OR id <> $3)",
                    &[
                        &cred.document.id.as_i64(),
                        &cred.document.coll.as_str(),
                        &except.map(DocId::as_i64),
                    ],
                )
                .await?
            }
        };
        Ok((cred, revoked))
    }

    /// Run in a transaction. Same ordering as `update_credential_hash`: the credential delete
    /// takes the row lock (waiting for a login holding it `FOR SHARE`), the token delete then
    /// sees its token.
    pub(crate) async fn delete_credential(&self, cid: DocId) -> Result<(DocRef, u64), StoreError> {
        let r = self
            .query_opt(
                "DELETE FROM credentials WHERE id = $1 RETURNING document_coll, document_id",
                &[&cid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let doc = DocRef::new(coll_name(get(&r, "document_coll")?)?, id(get(&r, "document_id")?)?);
        let revoked = self
            .execute(
                "DELETE FROM tokens WHERE document_id = $1 AND document_coll = $2",
                &[&doc.id.as_i64(), &doc.coll.as_str()],
            )
            .await?;
        Ok((doc, revoked))
    }

    pub(crate) async fn create_token(
        &self,
        t: &Token,
        digest: &SecretDigest,
        verified: Option<VerifiedWith<'_>>,
    ) -> Result<(), StoreError> {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
            &t.id.as_i64(),
            &t.document.coll.as_str(),
            &t.document.id.as_i64(),
            &&digest.as_bytes()[..],
            &t.ts.as_micros(),
            &t.ttl.map(Timestamp::as_micros),
            &t.origin.as_str(),
            &data_json(&t.data),
            &t.client.addr.map(|a| a.to_string()),
            &t.client.user_agent,
            &t.last_used.map(Timestamp::as_micros),
        ];
        let Some(v) = verified else {
            return self
                .execute(
                    "INSERT INTO tokens (id, document_coll, document_id, digest, ts, ttl, origin, \
                     data, client_addr, user_agent, last_used) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &params,
                )
                .await
                .map(drop);
        };
        // A login's token: inserted only while the credential still has the hash the password
        // was verified against, holding the credential row `FOR SHARE` until commit so that a
        // concurrent password change or credential delete is ordered strictly before (and this
        // finds no row) or strictly after (and revokes this token).
        let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.to_vec();
        let (cid, hash) = (v.credential.as_i64(), v.hash.as_str());
        all.push(&cid);
        all.push(&hash);
        let n = self
            .execute(
                "INSERT INTO tokens (id, document_coll, document_id, digest, ts, ttl, origin, data, \
                 client_addr, user_agent, last_used) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM credentials c \
                 WHERE c.id = $12 AND c.password_hash = $13 \
                   AND c.document_coll = $2 AND c.document_id = $3 \
                 FOR SHARE OF c",
                &all,
            )
            .await?;
        if n == 0 {
            return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
        }
        Ok(())
    }

    pub(crate) async fn token_by_id(&self, tid: DocId) -> Result<Token, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", token_cols!(), " FROM tokens WHERE id = $1"),
                &[&tid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_token(&r)
    }

    pub(crate) async fn tokens_by_document(
        &self,
        doc: &DocRef,
        after: Option<DocId>,
        n: usize,
    ) -> Result<Page<Token>, StoreError> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    token_cols!(),
                    " FROM tokens WHERE document_id = $1 AND document_coll = $2 \
                     AND ($3::bigint IS NULL OR id > $3) ORDER BY id LIMIT $4"
                ),
                &[&doc.id.as_i64(), &doc.coll.as_str(), &after.map(DocId::as_i64), &limit(n)],
            )
            .await?;
        let items = rows.iter().map(row_token).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |t| t.id))
    }

    pub(crate) async fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        let r = self
            .query_opt(
                "SELECT count(*) AS n FROM tokens WHERE ttl IS NULL OR ttl > $1",
                &[&now.as_micros()],
            )
            .await?
            .ok_or_else(|| StoreError::Other("count returned no row".into()))?;
        Ok(get::<i64>(&r, "n")?.max(0) as u64)
    }

    pub(crate) async fn touch_token(
        &self,
        tid: DocId,
        at: Timestamp,
        min_gap_us: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .execute(
                "UPDATE tokens SET last_used = $2 WHERE id = $1 \
                 AND (last_used IS NULL OR last_used < $2::bigint - $3::bigint)",
                &[&tid.as_i64(), &at.as_micros(), &min_gap_us],
            )
            .await?;
        Ok(n > 0)
    }

    pub(crate) async fn delete_token(&self, tid: DocId) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM tokens WHERE id = $1", &[&tid.as_i64()]).await? > 0)
    }

    pub(crate) async fn delete_tokens_of_document(
        &self,
        doc: &DocRef,
        except: Option<DocId>,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM tokens WHERE document_id = $1 AND document_coll = $2 \
             AND ($3::bigint IS NULL OR id <> $3)",
            &[&doc.id.as_i64(), &doc.coll.as_str(), &except.map(DocId::as_i64)],
        )
        .await
    }

    pub(crate) async fn delete_expired_tokens(
        &self,
        now: Timestamp,
        n: usize,
    ) -> Result<u64, StoreError> {
        // SKIP LOCKED: concurrent sweepers (several instances) take disjoint batches, and a
        // sweep never waits on rows a request is using.
        self.execute(
            "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE ttl <= $1 \
             ORDER BY ttl LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&now.as_micros(), &(i64::try_from(n).unwrap_or(i64::MAX))],
        )
        .await
    }

    pub(crate) async fn create_key(
        &self,
        k: &Key,
        digest: &SecretDigest,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO keys (id, role, digest, ts, ttl, data) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &k.id.as_i64(),
                &k.role.as_str(),
                &&digest.as_bytes()[..],
                &k.ts.as_micros(),
                &k.ttl.map(Timestamp::as_micros),
                &data_json(&k.data),
            ],
        )
        .await
        .map(drop)
    }

    pub(crate) async fn key_by_id(&self, kid: DocId) -> Result<Key, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", key_cols!(), " FROM keys WHERE id = $1"),
                &[&kid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_key(&r)
    }

    pub(crate) async fn list_keys(
        &self,
        after: Option<DocId>,
        n: usize,
    ) -> Result<Page<Key>, StoreError> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    key_cols!(),
                    " FROM keys WHERE $1::bigint IS NULL OR id > $1 ORDER BY id LIMIT $2"
                ),
                &[&after.map(DocId::as_i64), &limit(n)],
            )
            .await?;
        let items = rows.iter().map(row_key).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |k| k.id))
    }

    pub(crate) async fn delete_key(&self, kid: DocId) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM keys WHERE id = $1", &[&kid.as_i64()]).await? > 0)
    }

    /// The token stored under `digest` (inside a transaction; the store itself uses the lanes).
    pub(crate) async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError> {
        let r = self.query_opt(crate::TOKEN_BY_DIGEST, &[&&digest.as_bytes()[..]]).await?;
        row_token(&r.ok_or(StoreError::NotFound)?)
    }

    /// The key stored under `digest` (inside a transaction; the store itself uses the lanes).
    pub(crate) async fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError> {
        let r = self.query_opt(crate::KEY_BY_DIGEST, &[&&digest.as_bytes()[..]]).await?;
        row_key(&r.ok_or(StoreError::NotFound)?)
    }
}
