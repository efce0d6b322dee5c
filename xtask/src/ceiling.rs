//! `cargo xtask ceiling`: the bare-hyper server Sesame's token path is measured against.
//!
//! What any server answering `GET /tokens/self` must do, and nothing else: HTTP/1.1 keep-alive
//! on hyper 1.x (tokio, as many workers as CPUs), the `Authorization: Bearer` check, SHA-256 of
//! the secret, one lookup of the digest, and a small JSON body shaped like Sesame's token.
//! No request ids, spans, logs, metrics, routing table, `last_used` bookkeeping or locks.
//!
//! - Memory (default): a read-only `HashMap` of `--tokens` digests (100 000 by default).
//! - `--database-url`: one prepared, indexed lookup per request through a deadpool-postgres pool
//!   (16 connections, Sesame's default) in a table shaped like Sesame's `tokens` (same columns,
//!   `UNIQUE (digest)`), created and seeded with `--tokens` rows in the scratch schema
//!   `sesame_ceiling` of that database.
//!
//! Token `i` (0-based) has the secret [`secret`]`(i)`. It listens on a loopback address only and
//! runs until killed: `cargo xtask bench` starts it as its own process so its CPU time can be
//! read from `/proc`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest as _, Sha256};

/// The scratch schema of the Postgres variant.
pub(crate) const SCHEMA: &str = "sesame_ceiling";
/// Rows the Postgres variant's pool may hold (Sesame's `--db-max-connections` default).
const POOL: usize = 16;
/// The lookup, with the columns Sesame's `token_by_digest` reads.
const LOOKUP: &str = "SELECT id, document_coll, document_id, ts, ttl, origin, data, client_addr, \
                      user_agent, last_used FROM sesame_ceiling.tokens WHERE digest = $1";
/// Creation time of every seeded token, µs since the epoch (2026-01-01T00:00:00Z).
const TS_MICROS: i64 = 1_767_225_600_000_000;

/// First token id: 18 digits, like Sesame's.
const FIRST_ID: i64 = 915_000_000_000_000_000;

/// The secret of token `i`: as long as a Sesame token secret (47 characters).
pub(crate) fn secret(i: u64) -> String {
    format!("ceiling-token-{i:012}-0123456789abcdefghij")
}

/// A token, with the fields `GET /tokens/self` returns.
struct Token {
    id: i64,
    coll: String,
    doc: i64,
    ts: i64,
    ttl: Option<i64>,
    origin: String,
    client_addr: Option<String>,
    user_agent: Option<String>,
    last_used: Option<i64>,
}

enum Lookup {
    Memory(HashMap<[u8; 32], Token>),
    Postgres(deadpool_postgres::Pool),
}

/// `cargo xtask ceiling --listen 127.0.0.1:PORT [--tokens N] [--database-url URL]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let flag = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
    };
    let listen: SocketAddr = flag("--listen")
        .unwrap_or("127.0.0.1:8788")
        .parse()
        .map_err(|e| format!("--listen: {e}"))?;
    if !listen.ip().is_loopback() {
        return Err("the ceiling listens on loopback addresses only".into());
    }
    let tokens: u64 =
        flag("--tokens").unwrap_or("100000").parse().map_err(|e| format!("--tokens: {e}"))?;
    let url = flag("--database-url").map(str::to_owned);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let lookup = match url {
            None => Lookup::Memory(memory_tokens(tokens)),
            Some(url) => Lookup::Postgres(postgres_tokens(&url, tokens).await?),
        };
        serve(listen, Arc::new(lookup)).await
    })
}

fn memory_tokens(n: u64) -> HashMap<[u8; 32], Token> {
    (0..n)
        .map(|i| {
            let digest: [u8; 32] = Sha256::digest(secret(i).as_bytes()).into();
            (digest, seeded(i))
        })
        .collect()
}

fn seeded(i: u64) -> Token {
    Token {
        id: FIRST_ID + i as i64,
        coll: "Customer".into(),
        doc: FIRST_ID - 1,
        ts: TS_MICROS,
        ttl: None,
        origin: "create".into(),
        client_addr: Some("127.0.0.1".into()),
        user_agent: None,
        last_used: None,
    }
}

async fn postgres_tokens(url: &str, n: u64) -> Result<deadpool_postgres::Pool, String> {
    let pg: tokio_postgres::Config = url.parse().map_err(|e| format!("--database-url: {e}"))?;
    let mgr = deadpool_postgres::Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(mgr)
        .max_size(POOL)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| e.to_string())?;
    let c = pool.get().await.map_err(|e| format!("connect: {e}"))?;
    let have: i64 = match c.query_one(&format!("SELECT count(*) FROM {SCHEMA}.tokens"), &[]).await {
        Ok(r) => r.get(0),
        Err(_) => -1,
    };
    if have != n as i64 {
        // Same columns and digest index as Sesame's `tokens` (migrations 0001 and 0003).
        let sql = format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
             CREATE SCHEMA {SCHEMA};
             CREATE TABLE {SCHEMA}.tokens (
                 id bigint PRIMARY KEY, document_coll text NOT NULL, document_id bigint NOT NULL,
                 digest bytea NOT NULL CHECK (length(digest) = 32), ts bigint NOT NULL,
                 ttl bigint, origin text NOT NULL, data jsonb,
                 client_addr text, user_agent text, last_used bigint,
                 CONSTRAINT tokens_digest_key UNIQUE (digest));
             CREATE INDEX tokens_document_idx ON {SCHEMA}.tokens (document_id, id);
             INSERT INTO {SCHEMA}.tokens (id, document_coll, document_id, digest, ts, origin, client_addr)
               SELECT {FIRST_ID} + i, 'Customer', {FIRST_ID} - 1,
                      sha256(convert_to('ceiling-token-' || lpad(i::text, 12, '0')
                                        || '-0123456789abcdefghij', 'UTF8')),
                      {TS_MICROS}, 'create', '127.0.0.1'
               FROM generate_series(0, {}) AS i;
             ANALYZE {SCHEMA}.tokens;",
            n as i64 - 1
        );
        c.batch_execute(&sql).await.map_err(|e| format!("seed {SCHEMA}.tokens: {e}"))?;
    }
    drop(c);
    Ok(pool)
}

async fn serve(listen: SocketAddr, lookup: Arc<Lookup>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| e.to_string())?;
    eprintln!("ceiling: listening on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let lookup = lookup.clone();
        let svc = hyper::service::service_fn(move |req| {
            let lookup = lookup.clone();
            async move { Ok::<_, Infallible>(respond(&lookup, req).await) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"{\"code\":\"unauthorized\"}")));
    *r.status_mut() = code;
    r
}

async fn respond(lookup: &Lookup, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/tokens/self" {
        return status(StatusCode::NOT_FOUND);
    }
    let Some(secret) = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return status(StatusCode::UNAUTHORIZED);
    };
    let digest: [u8; 32] = Sha256::digest(secret).into();
    let body = match lookup {
        Lookup::Memory(map) => map.get(&digest).map(json),
        Lookup::Postgres(pool) => match postgres_lookup(pool, &digest).await {
            Ok(t) => t.as_ref().map(json),
            Err(_) => return status(StatusCode::SERVICE_UNAVAILABLE),
        },
    };
    match body {
        Some(b) => {
            let mut r = Response::new(Full::new(Bytes::from(b)));
            // Sesame's headers, less its `x-request-id`.
            let h = r.headers_mut();
            h.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json;charset=utf-8"),
            );
            h.insert(
                hyper::header::CACHE_CONTROL,
                hyper::header::HeaderValue::from_static("no-store"),
            );
            r
        }
        None => status(StatusCode::UNAUTHORIZED),
    }
}

async fn postgres_lookup(
    pool: &deadpool_postgres::Pool,
    digest: &[u8; 32],
) -> Result<Option<Token>, String> {
    let c = pool.get().await.map_err(|e| e.to_string())?;
    let stmt = c.prepare_cached(LOOKUP).await.map_err(|e| e.to_string())?;
    let Some(r) = c.query_opt(&stmt, &[&&digest[..]]).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let _data: Option<serde_json::Value> = r.get(6);
    Ok(Some(Token {
        id: r.get(0),
        coll: r.get(1),
        doc: r.get(2),
        ts: r.get(3),
        ttl: r.get(4),
        origin: r.get(5),
        client_addr: r.get(7),
        user_agent: r.get(8),
        last_used: r.get(9),
    }))
}

/// The token as JSON, shaped like Sesame's (absent fields omitted), written straight into a
/// pre-sized buffer as Sesame does.
fn json(t: &Token) -> Vec<u8> {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{{\"id\":\"{}\",\"coll\":\"Token\",\"ts\":\"", t.id);
    rfc3339(&mut s, t.ts);
    let _ = write!(s, "\",\"document\":{{\"coll\":\"{}\",\"id\":\"{}\"}}", t.coll, t.doc);
    opt_time(&mut s, "ttl", t.ttl);
    let _ = write!(s, ",\"origin\":\"{}\"", t.origin);
    opt_str(&mut s, "client_addr", t.client_addr.as_deref());
    opt_str(&mut s, "user_agent", t.user_agent.as_deref());
    opt_time(&mut s, "last_used", t.last_used);
    s.push('}');
    s.into_bytes()
}

fn opt_str(s: &mut String, name: &str, v: Option<&str>) {
    if let Some(v) = v {
        let _ = write!(s, ",\"{name}\":\"{v}\"");
    }
}

fn opt_time(s: &mut String, name: &str, v: Option<i64>) {
    if let Some(v) = v {
        let _ = write!(s, ",\"{name}\":\"");
        rfc3339(s, v);
        s.push('"');
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` from µs since the epoch (civil-from-days, H. Hinnant).
fn rfc3339(s: &mut String, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_matches_known_instants() {
        let mut s = String::new();
        super::rfc3339(&mut s, super::TS_MICROS + 1);
        assert_eq!(s, "2026-01-01T00:00:00.000001Z");
        s.clear();
        super::rfc3339(&mut s, 951_782_400_000_000); // a leap day
        assert_eq!(s, "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn secrets_are_distinct_and_token_sized() {
        assert_ne!(super::secret(1), super::secret(2));
        assert_eq!(super::secret(7).len(), 47);
    }
}
