//! Postgres implementation of [`sesame_store::Store`]: [`PgStore`].
//!
//! Owns all of Sesame's SQL and row mapping, on tokio-postgres with a deadpool-postgres pool.
//! Knows nothing about HTTP or password hashing. Every trait method is one statement (or one
//! transaction), and integrity (one credential per document, unique digests, cascades) is
//! enforced by the schema in the top-level `migrations/` folder, embedded here and applied by
//! [`PgStore::migrate`] (see [`migrate`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use sesame_model::{
    AuditEvent, AuditKind, ClientInfo, Collection, CollectionName, Credential, Data, DocId, DocRef,
    Document, Fields, Json, Key, PasswordHash, Role, SecretDigest, Timestamp, Token,
};
use sesame_store::{
    constraint, AuditFilter, LoginFailures, Page, Reservation, Revoke, Store, StoreError,
    StoredCredential, ThrottleKey, ThrottlePolicy, VerifiedWith,
};
use tokio_postgres::{NoTls, Row};

mod error;
mod lanes;
pub mod migrate;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

use error::{map_pg, map_pool};
pub use migrate::{MigrationError, MigrationReport};

/// How to reach Postgres. `Debug` never prints the URL's password.
#[derive(Clone)]
pub struct PgConfig {
    /// A libpq-style URL, e.g. `postgres://user:pass@127.0.0.1:5432/sesame`.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: usize,
    /// Longest wait for a new connection to be established.
    pub connect_timeout: Duration,
    /// Longest wait for a free connection from the pool; past it, calls fail `unavailable`.
    pub acquire_timeout: Duration,
    /// Longest a single statement may run (Postgres `statement_timeout`).
    pub statement_timeout: Duration,
    /// A schema to use instead of the default `search_path` (tests isolate cases this way).
    pub schema: Option<String>,
    /// Extra trusted CA certificates (PEM) for `sslmode=require`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl PgConfig {
    /// Defaults for `url`: 16 connections, 5 s connect and acquire timeouts, 30 s statements.
    pub fn new(url: impl Into<String>) -> Self {
        PgConfig {
            url: url.into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            schema: None,
            ca_file: None,
        }
    }

    /// The URL with any password replaced by `****`, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks that the URL parses and the TLS settings load (without connecting).
    pub fn check(&self) -> Result<(), StoreError> {
        self.tls().map(drop)
    }

    /// The TLS connector when the URL asks for `sslmode=require`; `None` means plaintext.
    pub(crate) fn tls(
        &self,
    ) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
        if self.pg_config()?.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            tls::connector(self.ca_file.as_deref()).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn pg_config(&self) -> Result<tokio_postgres::Config, StoreError> {
        let mut c: tokio_postgres::Config = self.url.parse().map_err(|_| {
            StoreError::Other(format!("invalid database URL {}", self.redacted_url()).into())
        })?;
        c.connect_timeout(self.connect_timeout);
        c.application_name("sesame");
        let mut options = format!("-c statement_timeout={}", self.statement_timeout.as_millis());
        if let Some(schema) = &self.schema {
            if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(StoreError::Other("schema names are [A-Za-z0-9_]+".into()));
            }
            options.push_str(&format!(" -c search_path={schema}"));
        }
        c.options(&options);
        Ok(c)
    }
}

/// Replaces the password in a `scheme://user:password@host/...` URL with `****`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "****".into() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let host = match host.split_once('?') {
        Some((h, _)) => format!("{h}?…"),
        None => host.to_owned(),
    };
    match auth {
        Some(a) => match a.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
            None => format!("{scheme}://{a}@{host}"),
        },
        None => format!("{scheme}://{host}"),
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema", &self.schema)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A [`Store`] on Postgres. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    config: PgConfig,
    lanes: Arc<lanes::Lanes>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("config", &self.config).finish_non_exhaustive()
    }
}

// ----- SQL ------------------------------------------------------------------------------------

// Column lists as macros, so every statement is a `&'static str` built at compile time.
macro_rules! token_cols {
    () => {
        "id, document_coll, document_id, ts, ttl, origin, data, client_addr, user_agent, last_used"
    };
}
macro_rules! key_cols {
    () => {
        "id, role, ts, ttl, data"
    };
}
macro_rules! cred_cols {
    () => {
        "id, document_coll, document_id, ts, password_hash, data"
    };
}

/// The hot-path lookups, also used by [`lanes`].
pub(crate) const TOKEN_BY_DIGEST: &str =
    concat!("SELECT ", token_cols!(), " FROM tokens WHERE digest = $1");
pub(crate) const KEY_BY_DIGEST: &str =
    concat!("SELECT ", key_cols!(), " FROM keys WHERE digest = $1");

fn corrupt(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Other(format!("unreadable {what} row: {e}").into())
}

fn ts(v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_micros(v).map_err(|e| corrupt("time", e))
}

fn opt_ts(v: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    v.map(ts).transpose()
}

fn id(v: i64) -> Result<DocId, StoreError> {
    DocId::from_i64(v).map_err(|e| corrupt("id", e))
}

fn coll_name(v: &str) -> Result<CollectionName, StoreError> {
    v.parse().map_err(|e| corrupt("collection", e))
}

fn data(v: Option<Json>) -> Result<Option<Data>, StoreError> {
    v.map(|j| Data::parse_value(j).map_err(|e| corrupt("data", e))).transpose()
}

fn data_json(d: &Option<Data>) -> Option<Json> {
    d.as_ref().map(Data::to_json)
}

fn fields_json(f: &Fields) -> Json {
    Json::Object(f.as_map().clone())
}

fn row_doc(coll: &CollectionName, r: &Row) -> Result<Document, StoreError> {
    Ok(Document {
        id: id(r.get("id"))?,
        coll: coll.clone(),
        ts: ts(r.get("ts"))?,
        fields: Fields::parse_value(r.get("fields")).map_err(|e| corrupt("document", e))?,
    })
}

fn row_token(r: &Row) -> Result<Token, StoreError> {
    Ok(Token {
        id: id(r.get("id"))?,
        document: DocRef::new(coll_name(r.get("document_coll"))?, id(r.get("document_id"))?),
        ts: ts(r.get("ts"))?,
        ttl: opt_ts(r.get("ttl"))?,
        data: data(r.get("data"))?,
        origin: r.get::<_, &str>("origin").parse().map_err(|e| corrupt("token", e))?,
        client: ClientInfo {
            addr: r
                .get::<_, Option<&str>>("client_addr")
                .map(|a| a.parse().map_err(|e| corrupt("token", e)))
                .transpose()?,
            user_agent: r.get("user_agent"),
        },
        last_used: opt_ts(r.get("last_used"))?,
    })
}

fn row_key(r: &Row) -> Result<Key, StoreError> {
    Ok(Key {
        id: id(r.get("id"))?,
        role: r.get::<_, &str>("role").parse::<Role>().map_err(|e| corrupt("key", e))?,
        ts: ts(r.get("ts"))?,
        ttl: opt_ts(r.get("ttl"))?,
        data: data(r.get("data"))?,
    })
}

fn row_cred(r: &Row) -> Result<StoredCredential, StoreError> {
    Ok(StoredCredential {
        credential: Credential {
            id: id(r.get("id"))?,
            document: DocRef::new(coll_name(r.get("document_coll"))?, id(r.get("document_id"))?),
            ts: ts(r.get("ts"))?,
            data: data(r.get("data"))?,
        },
        hash: r.get::<_, Option<String>>("password_hash").map(PasswordHash::new),
    })
}

fn limit(n: usize) -> i64 {
    i64::try_from(n.saturating_add(1)).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Builds the pool. Does not connect yet: call [`PgStore::migrate`] or
    /// [`Store::ping`] to fail fast at start-up.
    pub fn new(config: PgConfig) -> Result<Self, StoreError> {
        let mut pg = config.pg_config()?;
        let tls = config.tls()?;
        if tls.is_none() {
            // Plaintext by choice: don't let tokio-postgres' `prefer` try TLS it can't verify.
            pg.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        let pg_for_lanes = pg.clone();
        let mc = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let mgr = match tls.clone() {
            Some(tls) => Manager::from_config(pg, tls, mc),
            None => Manager::from_config(pg, NoTls, mc),
        };
        let pool = Pool::builder(mgr)
            .max_size(config.max_connections.max(1))
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let lanes = Arc::new(lanes::Lanes::new(pg_for_lanes, tls, config.connect_timeout));
        Ok(PgStore { pool, config, lanes })
    }

    /// The configuration this store was built with.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// Applies pending migrations (see [`migrate`]).
    pub async fn migrate(&self) -> Result<MigrationReport, MigrationError> {
        let mut client = self.client().await.map_err(MigrationError::Store)?;
        migrate::run(&mut client).await
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(map_pool)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_pg)?;
        c.query(&stmt, params).await.map_err(map_pg)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_pg)?;
        c.query_opt(&stmt, params).await.map_err(map_pg)
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_pg)?;
        c.execute(&stmt, params).await.map_err(map_pg)
    }

    async fn collection_exists(&self, name: &CollectionName) -> Result<bool, StoreError> {
        Ok(self
            .query_opt("SELECT 1 FROM collections WHERE name = $1", &[&name.as_str()])
            .await?
            .is_some())
    }
}

fn found(n: u64) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.query("SELECT 1", &[]).await.map(drop)
    }

    async fn create_collection(&self, coll: &Collection) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO collections (name, ts) VALUES ($1, $2)",
            &[&coll.name.as_str(), &coll.ts.as_micros()],
        )
        .await
        .map(drop)
    }

    async fn get_collection(&self, name: &CollectionName) -> Result<Collection, StoreError> {
        let r = self
            .query_opt("SELECT ts FROM collections WHERE name = $1", &[&name.as_str()])
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Collection { name: name.clone(), ts: ts(r.get("ts"))? })
    }

    async fn list_collections(
        &self,
        after: Option<&CollectionName>,
        n: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError> {
        let rows = self
            .query(
                "SELECT name, ts FROM collections \
                 WHERE $1::text IS NULL OR name COLLATE \"C\" > $1::text COLLATE \"C\" \
                 ORDER BY name COLLATE \"C\" LIMIT $2",
                &[&after.map(CollectionName::as_str), &limit(n)],
            )
            .await?;
        let items = rows
            .iter()
            .map(|r| Ok(Collection { name: coll_name(r.get("name"))?, ts: ts(r.get("ts"))? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page::from_overfetch(items, n, |c| c.name.clone()))
    }

    async fn delete_collection(&self, name: &CollectionName) -> Result<(), StoreError> {
        found(self.execute("DELETE FROM collections WHERE name = $1", &[&name.as_str()]).await?)
    }

    async fn create_document(&self, doc: &Document) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO documents (id, coll, ts, fields) VALUES ($1, $2, $3, $4)",
            &[&doc.id.as_i64(), &doc.coll.as_str(), &doc.ts.as_micros(), &fields_json(&doc.fields)],
        )
        .await
        .map(drop)
    }

    async fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError> {
        let r = self
            .query_opt(
                "SELECT id, ts, fields FROM documents WHERE id = $1 AND coll = $2",
                &[&doc.id.as_i64(), &doc.coll.as_str()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_doc(&doc.coll, &r)
    }

    async fn find_documents(
        &self,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        n: usize,
    ) -> Result<Page<Document>, StoreError> {
        // `@>` uses the GIN index; the NOT EXISTS turns containment into exact equality of
        // each filtered field (containment alone would match arrays by subset). The check
        // compares the jsonb *text*: jsonb equality is numeric (`1 = 1.0`), while the
        // contract (and the memory store) is exact JSON equality, where `1` and `1.0` differ.
        // Both sides arrive rendered by serde_json, so equal values render alike.
        let rows = self
            .query(
                "SELECT id, ts, fields FROM documents d \
                 WHERE coll = $1 AND ($2::bigint IS NULL OR id > $2) AND fields @> $3 \
                   AND NOT EXISTS (SELECT 1 FROM jsonb_each($3) f \
                                   WHERE (d.fields -> f.key)::text IS DISTINCT FROM f.value::text) \
                 ORDER BY id LIMIT $4",
                &[&coll.as_str(), &after.map(DocId::as_i64), &fields_json(filter), &limit(n)],
            )
            .await?;
        if rows.is_empty() && !self.collection_exists(coll).await? {
            return Err(StoreError::NotFound);
        }
        let items = rows.iter().map(|r| row_doc(coll, r)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |d| d.id))
    }

    async fn update_document(
        &self,
        doc: &DocRef,
        patch: &Fields,
        t: Timestamp,
    ) -> Result<Document, StoreError> {
        let set: serde_json::Map<String, Json> = patch
            .as_map()
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<&str> =
            patch.as_map().iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.as_str()).collect();
        let r = self
            .query_opt(
                "UPDATE documents SET fields = (fields || $3) - $4::text[], ts = $5 \
                 WHERE id = $1 AND coll = $2 RETURNING id, ts, fields",
                &[
                    &doc.id.as_i64(),
                    &doc.coll.as_str(),
                    &Json::Object(set),
                    &remove,
                    &t.as_micros(),
                ],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_doc(&doc.coll, &r)
    }

    async fn replace_document(
        &self,
        doc: &DocRef,
        fields: &Fields,
        t: Timestamp,
    ) -> Result<Document, StoreError> {
        let fields = fields.clone().without_nulls();
        let r = self
            .query_opt(
                "UPDATE documents SET fields = $3, ts = $4 WHERE id = $1 AND coll = $2 \
                 RETURNING id, ts, fields",
                &[&doc.id.as_i64(), &doc.coll.as_str(), &fields_json(&fields), &t.as_micros()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_doc(&doc.coll, &r)
    }

    async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError> {
        found(
            self.execute(
                "DELETE FROM documents WHERE id = $1 AND coll = $2",
                &[&doc.id.as_i64(), &doc.coll.as_str()],
            )
            .await?,
        )
    }

    async fn create_credential(&self, cred: &StoredCredential) -> Result<(), StoreError> {
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

    async fn credential_by_id(&self, cid: DocId) -> Result<StoredCredential, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", cred_cols!(), " FROM credentials WHERE id = $1"),
                &[&cid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_cred(&r)
    }

    async fn credential_by_document(&self, doc: &DocRef) -> Result<StoredCredential, StoreError> {
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

    async fn update_credential_hash(
        &self,
        cid: DocId,
        hash: &PasswordHash,
        t: Timestamp,
        revoke: Revoke,
        expect: Option<&PasswordHash>,
    ) -> Result<(Credential, u64), StoreError> {
        // One transaction, lock first: `SELECT … FOR UPDATE` waits for any login that holds the
        // row `FOR SHARE` while inserting its token (see `create_token`) and blocks new ones.
        // The token delete is a later statement, so under READ COMMITTED its snapshot includes
        // every token such a login committed: none survives the change.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_pg)?;
        let lock = tx
            .prepare_cached("SELECT password_hash FROM credentials WHERE id = $1 FOR UPDATE")
            .await
            .map_err(map_pg)?;
        let current = tx.query_opt(&lock, &[&cid.as_i64()]).await.map_err(map_pg)?;
        let current = current.ok_or(StoreError::NotFound)?;
        if let Some(expect) = expect {
            let now: Option<&str> = current.try_get("password_hash").map_err(map_pg)?;
            if now != Some(expect.as_str()) {
                return Err(StoreError::conflict(constraint::CREDENTIAL_CHANGED));
            }
        }
        let update = tx
            .prepare_cached(concat!(
                "UPDATE credentials SET password_hash = $2, ts = $3 WHERE id = $1 RETURNING ",
                cred_cols!()
            ))
            .await
            .map_err(map_pg)?;
        let row = tx
            .query_opt(&update, &[&cid.as_i64(), &hash.as_str(), &t.as_micros()])
            .await
            .map_err(map_pg)?
            .ok_or(StoreError::NotFound)?;
        let cred = row_cred(&row)?.credential;
        let revoked = match revoke {
            Revoke::Nothing => 0,
            Revoke::AllExcept(except) => {
                let del = tx
                    .prepare_cached(
                        "DELETE FROM tokens WHERE document_id = $1 AND document_coll = $2 \
                         AND ($3::bigint IS NULL OR id <> $3)",
                    )
                    .await
                    .map_err(map_pg)?;
                tx.execute(
                    &del,
                    &[
                        &cred.document.id.as_i64(),
                        &cred.document.coll.as_str(),
                        &except.map(DocId::as_i64),
                    ],
                )
                .await
                .map_err(map_pg)?
            }
        };
        tx.commit().await.map_err(map_pg)?;
        Ok((cred, revoked))
    }

    async fn delete_credential(&self, cid: DocId) -> Result<(DocRef, u64), StoreError> {
        // Same ordering as `update_credential_hash`: the credential delete takes the row lock
        // (waiting for a login holding it `FOR SHARE`), the token delete then sees its token.
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_pg)?;
        let del = tx
            .prepare_cached(
                "DELETE FROM credentials WHERE id = $1 RETURNING document_coll, document_id",
            )
            .await
            .map_err(map_pg)?;
        let r = tx.query_opt(&del, &[&cid.as_i64()]).await.map_err(map_pg)?;
        let r = r.ok_or(StoreError::NotFound)?;
        let doc = DocRef::new(
            coll_name(r.try_get("document_coll").map_err(map_pg)?)?,
            id(r.try_get("document_id").map_err(map_pg)?)?,
        );
        let tokens = tx
            .prepare_cached("DELETE FROM tokens WHERE document_id = $1 AND document_coll = $2")
            .await
            .map_err(map_pg)?;
        let revoked =
            tx.execute(&tokens, &[&doc.id.as_i64(), &doc.coll.as_str()]).await.map_err(map_pg)?;
        tx.commit().await.map_err(map_pg)?;
        Ok((doc, revoked))
    }

    async fn create_token(
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

    async fn token_by_digest(&self, digest: &SecretDigest) -> Result<Token, StoreError> {
        let r = self.lanes.lookup(lanes::Lookup::Token, &digest.as_bytes()[..]).await?;
        row_token(&r.ok_or(StoreError::NotFound)?)
    }

    async fn token_by_id(&self, tid: DocId) -> Result<Token, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", token_cols!(), " FROM tokens WHERE id = $1"),
                &[&tid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_token(&r)
    }

    async fn tokens_by_document(
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

    async fn count_active_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        let r = self
            .query_opt(
                "SELECT count(*) FROM tokens WHERE ttl IS NULL OR ttl > $1",
                &[&now.as_micros()],
            )
            .await?
            .ok_or_else(|| StoreError::Other("count returned no row".into()))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    async fn touch_token(
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

    async fn delete_token(&self, tid: DocId) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM tokens WHERE id = $1", &[&tid.as_i64()]).await? > 0)
    }

    async fn delete_tokens_of_document(
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

    async fn delete_expired_tokens(&self, now: Timestamp, n: usize) -> Result<u64, StoreError> {
        // SKIP LOCKED: concurrent sweepers (several instances) take disjoint batches, and a
        // sweep never waits on rows a request is using.
        self.execute(
            "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE ttl <= $1 \
             ORDER BY ttl LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&now.as_micros(), &(i64::try_from(n).unwrap_or(i64::MAX))],
        )
        .await
    }

    async fn create_key(&self, k: &Key, digest: &SecretDigest) -> Result<(), StoreError> {
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

    async fn key_by_digest(&self, digest: &SecretDigest) -> Result<Key, StoreError> {
        let r = self.lanes.lookup(lanes::Lookup::Key, &digest.as_bytes()[..]).await?;
        row_key(&r.ok_or(StoreError::NotFound)?)
    }

    async fn key_by_id(&self, kid: DocId) -> Result<Key, StoreError> {
        let r = self
            .query_opt(
                concat!("SELECT ", key_cols!(), " FROM keys WHERE id = $1"),
                &[&kid.as_i64()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_key(&r)
    }

    async fn list_keys(&self, after: Option<DocId>, n: usize) -> Result<Page<Key>, StoreError> {
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

    async fn delete_key(&self, kid: DocId) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM keys WHERE id = $1", &[&kid.as_i64()]).await? > 0)
    }

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
                "SELECT * FROM audit_events WHERE ($1::bigint IS NULL OR id > $1) \
                 AND ($2::bigint IS NULL OR (identity_id = $2 AND identity_coll = $3)) \
                 AND ($4::text IS NULL OR kind = $4) \
                 AND ($5::bigint IS NULL OR ts >= $5) AND ($6::bigint IS NULL OR ts < $6) \
                 ORDER BY id LIMIT $7",
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

fn row_audit(r: &Row) -> Result<AuditEvent, StoreError> {
    let opt_id = |c: &str| r.get::<_, Option<i64>>(c).map(id).transpose();
    let identity = match (r.get::<_, Option<&str>>("identity_coll"), opt_id("identity_id")?) {
        (Some(c), Some(i)) => Some(DocRef::new(coll_name(c)?, i)),
        _ => None,
    };
    Ok(AuditEvent {
        id: id(r.get("id"))?,
        ts: ts(r.get("ts"))?,
        kind: r.get::<_, &str>("kind").parse().map_err(|e| corrupt("audit", e))?,
        reason: r.get("reason"),
        actor: r.get("actor"),
        identity,
        credential: opt_id("credential_id")?,
        token: opt_id("token_id")?,
        key: opt_id("key_id")?,
        client_addr: r
            .get::<_, Option<&str>>("client_addr")
            .map(|a| a.parse().map_err(|e| corrupt("audit", e)))
            .transpose()?,
        count: r.get::<_, Option<i64>>("count").map(|c| c.max(0) as u64),
    })
}

fn row_failures(r: &Row) -> Result<LoginFailures, StoreError> {
    let count = |v: i32| u32::try_from(v).map_err(|e| corrupt("login_failures", e));
    Ok(LoginFailures {
        consecutive: count(r.get("consecutive"))?,
        last_failure: ts(r.get("last_failure"))?,
        window_start: ts(r.get("window_start"))?,
        in_window: count(r.get("in_window"))?,
    })
}
