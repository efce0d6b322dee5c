//! Remote mode: validate token secrets against a Sesame server over HTTP, with a bounded cache.
//!
//! For each secret not in the cache, [`RemoteValidator`] sends `GET {base}/tokens/self` with
//! the secret as bearer (hyper-util's pooled client, HTTP/1.1, plain `http://` only: run it
//! next to the server or on a private network; there is no TLS here). A `200` becomes
//! [`Principal::Token`] and is cached; `401` and every other refusal become `unauthorized`;
//! `429`, `5xx`, timeouts and connection errors become `unavailable` (`503`), never a pass.
//!
//! **The cache TTL is the revocation delay.** A token that is logged out, revoked, or whose
//! identity is deleted keeps working through this layer for up to [`RemoteConfig::cache_ttl`]
//! (default 5 s) after the server forgets it, on every instance that cached it. A token's own
//! expiry (`ttl`) is honoured exactly: entries never outlive it. Set `cache_ttl` to zero to ask
//! the server on every request (then revocation is immediate, as in-process).
//!
//! The cache holds at most [`RemoteConfig::cache_capacity`] entries (oldest inserted evicted
//! first), keyed by the secret's SHA-256 digest, never the secret. Refusals are not cached. Only
//! token secrets are accepted: a key (`snk_…`) has no `/tokens/self` and is refused without a
//! request, as is anything that is not a Sesame secret.
//!
//! Not here: the layer itself (`lib.rs`), privileges, retries.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sesame_model::{
    ClientInfo, CollectionName, Data, DocId, DocRef, Secret, SecretDigest, SecretKind, Timestamp,
    Token, TokenOrigin,
};

use crate::{Principal, Rejection};

/// Settings of [`RemoteValidator`].
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The Sesame server, e.g. `http://127.0.0.1:8787` (`http` only).
    pub base_url: String,
    /// How long a successful check is reused: **the revocation delay** (default 5 s; zero
    /// disables the cache).
    pub cache_ttl: Duration,
    /// Most secrets cached at once (default 10 000).
    pub cache_capacity: usize,
    /// Longest wait for the server's answer (default 5 s); then `503 unavailable`.
    pub timeout: Duration,
}

impl RemoteConfig {
    /// Defaults for the server at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        RemoteConfig {
            base_url: base_url.into(),
            cache_ttl: Duration::from_secs(5),
            cache_capacity: 10_000,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The base URL is not an `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBaseUrl(String);

impl std::fmt::Display for InvalidBaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid Sesame server URL: {}", self.0)
    }
}

impl std::error::Error for InvalidBaseUrl {}

/// Checks token secrets against a Sesame server, with a cache (see the [module docs](self)).
pub struct RemoteValidator {
    client: Client<HttpConnector, Empty<Bytes>>,
    endpoint: Uri,
    config: RemoteConfig,
    cache: Mutex<Cache>,
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RemoteValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteValidator")
            .field("endpoint", &self.endpoint)
            .field("cache_ttl", &self.config.cache_ttl)
            .field("cache_capacity", &self.config.cache_capacity)
            .finish_non_exhaustive()
    }
}

impl RemoteValidator {
    /// A validator for the server in `config`. Must be created inside a Tokio runtime's reach
    /// (it is used from one).
    pub fn new(config: RemoteConfig) -> Result<Self, InvalidBaseUrl> {
        let base = config.base_url.trim_end_matches('/');
        let endpoint: Uri = format!("{base}/tokens/self")
            .parse()
            .map_err(|_| InvalidBaseUrl("it does not parse as a URL".into()))?;
        if endpoint.scheme_str() != Some("http") {
            return Err(InvalidBaseUrl("only http:// is supported (no TLS in this client)".into()));
        }
        if endpoint.host().is_none_or(str::is_empty) {
            return Err(InvalidBaseUrl("it has no host".into()));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(RemoteValidator {
            client,
            endpoint,
            cache: Mutex::new(Cache::new(config.cache_capacity)),
            config,
            requests: Default::default(),
        })
    }

    /// How many requests this validator has sent to the server (cache misses).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Who is behind `secret`, from the cache or the server.
    pub async fn authenticate(&self, secret: &Secret) -> Result<Principal, Rejection> {
        if secret.kind() != Some(SecretKind::Token) {
            return Err(Rejection::Unauthorized);
        }
        let digest = secret.digest();
        let now = Instant::now();
        if let Some(p) = self.cache.lock().ok().and_then(|mut c| c.get(&digest, now)) {
            return Ok(p);
        }
        let token = self.ask(secret).await?;
        let mut until = now + self.config.cache_ttl;
        if let Some(ttl) = token.ttl {
            match remaining(ttl) {
                Some(left) => until = until.min(now + left),
                None => return Err(Rejection::Unauthorized),
            }
        }
        let principal = Principal::Token(token);
        if until > now {
            if let Ok(mut c) = self.cache.lock() {
                c.insert(digest, principal.clone(), until);
            }
        }
        Ok(principal)
    }

    async fn ask(&self, secret: &Secret) -> Result<Token, Rejection> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let req = Request::get(self.endpoint.clone())
            .header(header::AUTHORIZATION, format!("Bearer {}", secret.expose()))
            .header(header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|_| Rejection::Unauthorized)?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|_| Rejection::Unavailable)?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), 64 * 1024)
                .collect()
                .await
                .map_err(|_| Rejection::Unavailable)?
                .to_bytes();
            Ok::<_, Rejection>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.config.timeout, exchange)
            .await
            .map_err(|_| Rejection::Unavailable)??;
        match status {
            StatusCode::OK => {
                let v: Value = serde_json::from_slice(&body).map_err(|_| Rejection::Internal)?;
                token_from_json(&v).ok_or(Rejection::Internal)
            }
            StatusCode::TOO_MANY_REQUESTS => Err(Rejection::Unavailable),
            s if s.is_server_error() => Err(Rejection::Unavailable),
            _ => Err(Rejection::Unauthorized),
        }
    }
}

/// How long until `ttl`, if it is in the future.
fn remaining(ttl: Timestamp) -> Option<Duration> {
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_micros();
    let left = i128::from(ttl.as_micros()) - i128::try_from(now_us).ok()?;
    (left > 0).then(|| Duration::from_micros(u64::try_from(left).unwrap_or(u64::MAX)))
}

/// The server's token representation (`{"id","coll":"Token","ts","document","ttl"?,…}`).
fn token_from_json(v: &Value) -> Option<Token> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let time = |k: &str| match v.get(k) {
        None | Some(Value::Null) => Some(None),
        Some(t) => t.as_str().and_then(|t| Timestamp::parse_rfc3339(t).ok()).map(Some),
    };
    if s("coll") != Some("Token") {
        return None;
    }
    let doc = v.get("document")?;
    let coll: CollectionName = doc.get("coll")?.as_str()?.parse().ok()?;
    let doc_id: DocId = doc.get("id")?.as_str()?.parse().ok()?;
    let data = match v.get("data") {
        None | Some(Value::Null) => None,
        Some(d) => Some(Data::parse_value(d.clone()).ok()?),
    };
    let addr = match s("client_addr") {
        Some(a) => Some(a.parse::<IpAddr>().ok()?),
        None => None,
    };
    Some(Token {
        id: s("id")?.parse().ok()?,
        document: DocRef::new(coll, doc_id),
        ts: time("ts")??,
        ttl: time("ttl")?,
        data,
        origin: s("origin")?.parse::<TokenOrigin>().ok()?,
        client: ClientInfo::new(addr, s("user_agent")),
        last_used: time("last_used")?,
    })
}

/// A bounded map from secret digests to principals, each with an expiry; the oldest inserted
/// entry is evicted first.
struct Cache {
    capacity: usize,
    map: HashMap<SecretDigest, (Principal, Instant, u64)>,
    order: VecDeque<(SecretDigest, u64)>,
    next: u64,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Cache { capacity, map: HashMap::new(), order: VecDeque::new(), next: 0 }
    }

    fn get(&mut self, d: &SecretDigest, now: Instant) -> Option<Principal> {
        match self.map.get(d) {
            Some((p, until, _)) if *until > now => Some(p.clone()),
            Some(_) => {
                self.map.remove(d);
                None
            }
            None => None,
        }
    }

    fn insert(&mut self, d: SecretDigest, p: Principal, until: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.next += 1;
        self.map.insert(d, (p, until, self.next));
        self.order.push_back((d, self.next));
        while self.map.len() > self.capacity {
            let Some((old, generation)) = self.order.pop_front() else { break };
            if self.map.get(&old).is_some_and(|e| e.2 == generation) {
                self.map.remove(&old);
            }
        }
        // Re-inserted and expired entries leave stale positions behind; drop them in bulk.
        if self.order.len() > 2 * self.capacity + 16 {
            let map = &self.map;
            self.order.retain(|(d, g)| map.get(d).is_some_and(|e| e.2 == *g));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(n: u64) -> Principal {
        Principal::Key { key_id: Some(DocId::new(n).unwrap()), role: sesame_model::Role::Server }
    }

    #[test]
    fn the_cache_is_bounded_evicts_the_oldest_and_expires() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut c = Cache::new(3);
        let d = |i: u8| SecretDigest::of(&format!("snt_{i}"));
        for i in 1..=4u8 {
            c.insert(d(i), principal(u64::from(i)), later);
        }
        assert_eq!(c.len(), 3);
        assert!(c.get(&d(1), now).is_none(), "the oldest went first");
        assert_eq!(c.get(&d(4), now), Some(principal(4)));
        // Expired entries are not returned, and are dropped.
        assert!(c.get(&d(4), later).is_none());
        assert_eq!(c.len(), 2);
        // Re-inserting many times keeps the bookkeeping bounded too.
        for _ in 0..1000 {
            c.insert(d(9), principal(9), later);
        }
        assert!(c.order.len() <= 2 * 3 + 16);
        assert_eq!(Cache::new(0).get(&d(1), now), None);
    }

    #[test]
    fn base_urls_must_be_plain_http_with_a_host() {
        for bad in ["https://auth.example", "auth.example:8787", "http://", "not a url"] {
            assert!(RemoteValidator::new(RemoteConfig::new(bad)).is_err(), "{bad}");
        }
    }
}
