//! Request handling: decode, one engine call, encode.
//!
//! [`handle`] does the protocol steps every request shares (route, method, authentication, body
//! limit, content type) and then dispatches to one small arm per route. No privilege check,
//! hashing or token logic lives here: the engine does all of that.

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use sesame_auth::AuthError;
use sesame_model::{ClientInfo, CollectionName, DocId, DocRef, Fields, Role, Secret};

use crate::error::ApiError;
use crate::router::Route;
use crate::wire::{self, no_content, Body, Repr};
use crate::App;

type Result<T> = std::result::Result<T, ApiError>;

/// Handles one request. Every failure becomes a response; nothing reaches hyper.
pub async fn handle<B>(app: &App, req: Request<B>, client: std::net::IpAddr) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match dispatch(app, req, client).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Result<Secret> {
    let unauthorized = || ApiError::Auth(AuthError::Unauthorized);
    let v = headers.get(header::AUTHORIZATION).ok_or_else(unauthorized)?;
    let v = v.to_str().map_err(|_| unauthorized())?;
    let (scheme, secret) = v.split_once(' ').ok_or_else(unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized());
    }
    let secret = secret.trim();
    if secret.is_empty() || secret.len() > 512 {
        return Err(unauthorized());
    }
    Ok(Secret::new(secret.to_owned()))
}

async fn read_body<B>(app: &App, headers: &HeaderMap, body: B) -> Result<Bytes>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().map_err(|_| ApiError::UnsupportedMediaType)?;
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let limit = app.config.max_body_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::parse::<u64>);
    if let Some(Err(_)) = declared {
        return Err(ApiError::InvalidRequest("invalid Content-Length".into()));
    }
    let read = async {
        let mut body = std::pin::pin!(body);
        let mut buf = bytes::BytesMut::new();
        let mut seen: usize = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::InvalidRequest(format!("could not read the body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            seen = seen.saturating_add(data.len());
            if seen > limit {
                // Too large. Read (and drop) a bounded amount more, so that a client still
                // sending gets the 413 instead of a reset connection; past that, give up.
                if seen > DRAIN_LIMIT {
                    break;
                }
                continue;
            }
            buf.extend_from_slice(&data);
        }
        if seen > limit {
            Err(ApiError::TooLarge(limit))
        } else {
            Ok(buf.freeze())
        }
    };
    if declared.is_some_and(|n| n.is_ok_and(|n| n > DRAIN_LIMIT as u64)) {
        return Err(ApiError::TooLarge(limit));
    }
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| ApiError::InvalidRequest("the body was not received in time".into()))?
}

/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: usize = 2 * 1024 * 1024;
/// How long a client may take to send a body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Total size of header names and values above which a request is refused.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

fn coll(s: &str) -> Result<CollectionName> {
    Ok(s.parse()?)
}

fn id(s: &str) -> Result<DocId> {
    Ok(s.parse()?)
}

fn doc(c: &str, i: &str) -> Result<DocRef> {
    Ok(DocRef::new(coll(c)?, id(i)?))
}

fn ok<T: Repr + ?Sized>(v: &T) -> Result<Response<Body>> {
    Ok(wire::respond(StatusCode::OK, v))
}

fn created<T: Repr + ?Sized>(v: &T) -> Result<Response<Body>> {
    Ok(wire::respond(StatusCode::CREATED, v))
}

/// The per-address bucket of the login routes: refused before authentication and hashing.
/// The bucket lives in this process: N instances behind a balancer allow N times the rate
/// (the per-account throttle, in the store, is shared).
fn limit_logins(app: &App, route: &Route, client: std::net::IpAddr) -> Result<()> {
    let Some(limiter) = &app.login_limiter else { return Ok(()) };
    if !matches!(route, Route::Login | Route::CredentialLogin(_) | Route::CredentialVerify(_)) {
        return Ok(());
    }
    // IPv6 clients by /64 (see `ClientInfo::limit_block`).
    if let Err(not_until) = limiter.check_key(&sesame_model::ClientInfo::limit_block(client)) {
        use governor::clock::Clock as _;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        ::metrics::counter!("sesame_throttled_total", "by" => "address").increment(1);
        return Err(ApiError::RateLimited(wait.as_secs() + 1));
    }
    // Forget idle addresses now and then, so the map stays small.
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    Ok(())
}

async fn dispatch<B>(app: &App, req: Request<B>, client: std::net::IpAddr) -> Result<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    let header_bytes: usize = parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(MAX_HEADER_BYTES));
    }
    let route = Route::parse(parts.uri.path())?;
    let m = parts.method.clone();
    if !route.allows(&m) {
        return Err(ApiError::MethodNotAllowed(route.allow()));
    }
    let query = parts.uri.query();
    if route.is_public() {
        return match route {
            Route::Readyz => match app.engine.ready().await {
                Ok(()) => ok(&json!({"status": "ready"})),
                Err(e) => Err(e.into()),
            },
            _ => ok(&json!({"status": "ok"})),
        };
    }
    limit_logins(app, &route, client)?;
    let seen = || {
        let ua = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        ClientInfo::new(Some(client), ua)
    };
    let p = app.engine.authenticate(&bearer(&parts.headers)?).await?;
    let body = if matches!(m, Method::POST | Method::PATCH | Method::PUT) {
        read_body(app, &parts.headers, body).await?
    } else {
        Bytes::new()
    };
    let e = &app.engine;
    let now = || e.now();
    use Route as R;
    match (route, m) {
        (R::Collections, Method::POST) => {
            let b: wire::CreateCollection = wire::parse(&body)?;
            created(&e.create_collection(&p, coll(&b.name)?).await?)
        }
        (R::Collections, _) => {
            let q = wire::list_query(query, false)?;
            let page = e.list_collections(&p, wire::after_name(q.after)?.as_ref(), q.size).await?;
            ok(&page)
        }
        (R::Collection(c), Method::DELETE) => {
            e.delete_collection(&p, &coll(&c)?).await?;
            Ok(no_content())
        }
        (R::Collection(c), _) => ok(&e.get_collection(&p, &coll(&c)?).await?),
        (R::Documents(c), Method::POST) => {
            let f = wire::fields(wire::parse_json(&body)?)?;
            created(&e.create_document(&p, coll(&c)?, f).await?)
        }
        (R::Documents(c), _) => {
            let q = wire::list_query(query, true)?;
            let filter = Fields::parse(q.filter)?;
            let page =
                e.find_documents(&p, &coll(&c)?, &filter, wire::after_id(q.after)?, q.size).await?;
            ok(&page)
        }
        (R::Document(c, i), Method::GET) => ok(&e.get_document(&p, &doc(&c, &i)?).await?),
        (R::Document(c, i), Method::PATCH) => {
            let f = wire::fields(wire::parse_json(&body)?)?;
            ok(&e.update_document(&p, &doc(&c, &i)?, &f).await?)
        }
        (R::Document(c, i), Method::PUT) => {
            let f = wire::fields(wire::parse_json(&body)?)?;
            ok(&e.replace_document(&p, &doc(&c, &i)?, f).await?)
        }
        (R::Document(c, i), _) => {
            e.delete_document(&p, &doc(&c, &i)?).await?;
            Ok(no_content())
        }
        (R::DocumentCredential(c, i), _) => {
            ok(&e.credential_by_document(&p, &doc(&c, &i)?).await?)
        }
        (R::DocumentTokens(c, i), Method::GET) => {
            let q = wire::list_query(query, false)?;
            let page =
                e.tokens_of_document(&p, &doc(&c, &i)?, wire::after_id(q.after)?, q.size).await?;
            ok(&page)
        }
        (R::DocumentTokens(c, i), _) => {
            let n = e.delete_tokens_of_document(&p, &doc(&c, &i)?).await?;
            ok(&json!({ "revoked": n }))
        }
        (R::Credentials, _) => {
            let b: wire::CreateCredential = wire::parse(&body)?;
            let (d, data) = (b.document.parse()?, wire::data(b.data)?);
            created(&e.create_credential(&p, d, b.password.map(wire::password), data).await?)
        }
        (R::Credential(i), Method::GET) => ok(&e.get_credential(&p, id(&i)?).await?),
        (R::Credential(i), Method::PATCH) => {
            let b: wire::ChangePassword = wire::parse(&body)?;
            let keep = !b.revoke_tokens.unwrap_or(true);
            let (c, n) = e.change_password(&p, id(&i)?, &wire::password(b.password), keep).await?;
            let mut v = serde_json::to_value(wire::Out(&c)).map_err(|_| ApiError::Internal)?;
            v["revoked_tokens"] = n.into();
            ok(&v)
        }
        (R::Credential(i), _) => {
            e.delete_credential(&p, id(&i)?).await?;
            Ok(no_content())
        }
        (R::CredentialLogin(i), _) => {
            let b: wire::Login = wire::parse(&body)?;
            let ttl = wire::ttl(b.ttl, now())?;
            created(&e.login_from(&seen(), &p, id(&i)?, &wire::password(b.password), ttl).await?)
        }
        (R::CredentialVerify(i), _) => {
            let b: wire::Verify = wire::parse(&body)?;
            ok(&json!({ "valid": e.verify(&p, id(&i)?, &wire::password(b.password)).await? }))
        }
        (R::Login, _) => {
            let b: wire::LoginByMatch = wire::parse(&body)?;
            let ttl = wire::ttl(b.ttl, now())?;
            let matching = wire::fields(b.matching)?;
            let t = e
                .login_by_match_from(
                    &seen(),
                    &p,
                    &coll(&b.collection)?,
                    &matching,
                    &wire::password(b.password),
                    ttl,
                )
                .await?;
            created(&t)
        }
        (R::Tokens, _) => {
            let b: wire::CreateToken = wire::parse(&body)?;
            let (d, ttl, data) =
                (b.document.parse()?, wire::ttl(b.ttl, now())?, wire::data(b.data)?);
            created(&e.create_token_from(&seen(), &p, d, ttl, data).await?)
        }
        (R::TokenSelf, Method::GET) => match e.current_token(&p) {
            Some(t) => ok(t),
            None => {
                Err(ApiError::Auth(AuthError::invalid("a key has no token; use a token secret")))
            }
        },
        (R::TokenSelf, _) => {
            e.logout(&p).await?;
            Ok(no_content())
        }
        (R::Token(i), Method::GET) => ok(&e.get_token(&p, id(&i)?).await?),
        (R::Token(i), _) => {
            e.delete_token(&p, id(&i)?).await?;
            Ok(no_content())
        }
        (R::Identity, _) => match e.identity(&p).await? {
            Some(d) => ok(&d),
            None => {
                Err(ApiError::Auth(AuthError::invalid("a key has no identity; use a token secret")))
            }
        },
        (R::Keys, Method::POST) => {
            let b: wire::CreateKey = wire::parse(&body)?;
            let (role, ttl, data) =
                (b.role.parse::<Role>()?, wire::ttl(b.ttl, now())?, wire::data(b.data)?);
            created(&e.create_key(&p, role, ttl, data).await?)
        }
        (R::Keys, _) => {
            let q = wire::list_query(query, false)?;
            ok(&e.list_keys(&p, wire::after_id(q.after)?, q.size).await?)
        }
        (R::Key(i), Method::GET) => ok(&e.get_key(&p, id(&i)?).await?),
        (R::Key(i), _) => {
            e.delete_key(&p, id(&i)?).await?;
            Ok(no_content())
        }
        (R::Audit, _) => {
            let (filter, after, size) = wire::audit_query(query)?;
            ok(&e.list_audit(&p, &filter, after, size).await?)
        }
        (R::Healthz | R::Readyz, _) => unreachable!("public routes answered above"),
    }
}
