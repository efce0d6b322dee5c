//! REST request handling: decode, one engine call, encode.
//!
//! [`handle`] does the steps every REST request shares (header budget, route and method,
//! authentication, body) with the shared plumbing of `protocol.rs`, then runs one small arm per
//! [`Op`]. No privilege check, limit, default, hashing or token logic lives here: the engine
//! does all of that, for every surface alike.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use serde_json::json;
use sesame_auth::{AuthError, Caller};
use sesame_model::{CollectionName, DocId, DocRef, Fields, Role};

use super::router::{Op, Route};
use super::wire;
use crate::error::ApiError;
use crate::protocol;
use crate::response::{no_content, respond, Body, Out, Repr};
use crate::App;

type Result<T> = std::result::Result<T, ApiError>;

/// Handles one REST request. Every failure becomes a response; nothing reaches hyper.
pub async fn handle<B>(app: &App, req: Request<B>, client: std::net::IpAddr) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let route = Route::parse(req.uri().path());
    handle_routed(app, req, client, route).await
}

/// [`handle`] for a request whose path the caller already matched (the server matches it once,
/// for its metrics label and for dispatch).
pub async fn handle_routed<B>(
    app: &App,
    req: Request<B>,
    client: std::net::IpAddr,
    route: Result<Route>,
) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match dispatch(app, req, client, route).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

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
    Ok(respond(StatusCode::OK, v))
}

fn created<T: Repr + ?Sized>(v: &T) -> Result<Response<Body>> {
    Ok(respond(StatusCode::CREATED, v))
}

async fn dispatch<B>(
    app: &App,
    req: Request<B>,
    client: std::net::IpAddr,
    route: Result<Route>,
) -> Result<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    protocol::check_header_budget(&parts.headers)?;
    let op = route?.op(&parts.method)?;
    let e = &app.engine;
    match op {
        Op::Healthz => return ok(&json!({"status": "ok"})),
        Op::OpenApi => return ok(super::openapi::document()),
        Op::Readyz => {
            e.ready().await?;
            return ok(&json!({"status": "ready"}));
        }
        _ => {}
    }
    let principal = e.authenticate(&protocol::bearer(&parts.headers)?).await?;
    let c = Caller::new(principal, protocol::client_info(&parts.headers, client));
    if let Op::GetTokenSelf = op {
        // The hot path (every application checks its token), kept out of `operate`: that
        // future holds every operation's state (kilobytes), and a future is copied each time
        // it is moved on its way to the runtime.
        return match e.current_token(&c) {
            Some(t) => ok(t),
            None => {
                Err(ApiError::Auth(AuthError::invalid("a key has no token; use a token secret")))
            }
        };
    }
    Box::pin(operate(app, &c, op, parts, body)).await
}

/// Runs one authenticated operation (all but `GET /tokens/self`): reads the body, then one arm
/// per [`Op`].
async fn operate<B>(
    app: &App,
    c: &Caller,
    op: Op,
    parts: http::request::Parts,
    body: B,
) -> Result<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let e = &app.engine;
    let query = parts.uri.query();
    let body = if matches!(parts.method, Method::POST | Method::PATCH | Method::PUT) {
        protocol::read_body(app.config.max_body_bytes, &parts.headers, body).await?
    } else {
        Bytes::new()
    };
    match op {
        Op::Healthz | Op::Readyz | Op::OpenApi | Op::GetTokenSelf => {
            unreachable!("answered by `dispatch`")
        }
        Op::CreateCollection => {
            let b: wire::CreateCollection = wire::parse(&body)?;
            created(&e.create_collection(c, coll(&b.name)?).await?)
        }
        Op::ListCollections => {
            let q = wire::list_query(query, false)?;
            let page = e.list_collections(c, wire::after_name(q.after)?.as_ref(), q.size).await?;
            ok(&page)
        }
        Op::DeleteCollection(n) => {
            e.delete_collection(c, &coll(&n)?).await?;
            Ok(no_content())
        }
        Op::GetCollection(n) => ok(&e.get_collection(c, &coll(&n)?).await?),
        Op::CreateDocument(n) => {
            let f = wire::fields(wire::parse_json(&body)?)?;
            created(&e.create_document(c, coll(&n)?, f).await?)
        }
        Op::FindDocuments(n) => {
            let q = wire::list_query(query, true)?;
            let filter = Fields::parse(q.filter)?;
            let page =
                e.find_documents(c, &coll(&n)?, &filter, wire::after_id(q.after)?, q.size).await?;
            ok(&page)
        }
        Op::GetDocument(n, i) => ok(&e.get_document(c, &doc(&n, &i)?).await?),
        Op::UpdateDocument(n, i) => {
            let f = wire::fields(wire::parse_json(&body)?)?;
            ok(&e.update_document(c, &doc(&n, &i)?, &f).await?)
        }
        Op::ReplaceDocument(n, i) => {
            let f = wire::fields(wire::parse_json(&body)?)?;
            ok(&e.replace_document(c, &doc(&n, &i)?, f).await?)
        }
        Op::DeleteDocument(n, i) => {
            e.delete_document(c, &doc(&n, &i)?).await?;
            Ok(no_content())
        }
        Op::GetDocumentCredential(n, i) => ok(&e.credential_by_document(c, &doc(&n, &i)?).await?),
        Op::ListDocumentTokens(n, i) => {
            let q = wire::list_query(query, false)?;
            let page =
                e.tokens_of_document(c, &doc(&n, &i)?, wire::after_id(q.after)?, q.size).await?;
            ok(&page)
        }
        Op::RevokeDocumentTokens(n, i) => {
            let revoked = e.delete_tokens_of_document(c, &doc(&n, &i)?).await?;
            ok(&json!({ "revoked": revoked }))
        }
        Op::CreateCredential => {
            let b: wire::CreateCredential = wire::parse(&body)?;
            let (d, data) = (b.document.parse()?, wire::data(b.data)?);
            created(&e.create_credential(c, d, b.password.map(wire::password), data).await?)
        }
        Op::GetCredential(i) => ok(&e.get_credential(c, id(&i)?).await?),
        Op::ChangePassword(i) => {
            let b: wire::ChangePassword = wire::parse(&body)?;
            let pw = wire::password(b.password);
            let (cred, n) = e.change_password(c, id(&i)?, &pw, b.revoke_tokens).await?;
            let mut v =
                serde_json::to_value(Out(&cred)).map_err(|e| ApiError::Internal(e.into()))?;
            v["revoked_tokens"] = n.into();
            ok(&v)
        }
        Op::DeleteCredential(i) => {
            e.delete_credential(c, id(&i)?).await?;
            Ok(no_content())
        }
        Op::Login(i) => {
            let b: wire::Login = wire::parse(&body)?;
            let ttl = wire::ttl(b.ttl)?;
            created(&e.login(c, id(&i)?, &wire::password(b.password), ttl).await?)
        }
        Op::Verify(i) => {
            let b: wire::Verify = wire::parse(&body)?;
            ok(&json!({ "valid": e.verify(c, id(&i)?, &wire::password(b.password)).await? }))
        }
        Op::LoginByMatch => {
            let b: wire::LoginByMatch = wire::parse(&body)?;
            let (ttl, matching) = (wire::ttl(b.ttl)?, wire::fields(b.matching)?);
            let pw = wire::password(b.password);
            created(&e.login_by_match(c, &coll(&b.collection)?, &matching, &pw, ttl).await?)
        }
        Op::CreateToken => {
            let b: wire::CreateToken = wire::parse(&body)?;
            let (d, ttl, data) = (b.document.parse()?, wire::ttl(b.ttl)?, wire::data(b.data)?);
            created(&e.create_token(c, d, ttl, data).await?)
        }
        Op::Logout => {
            e.logout(c).await?;
            Ok(no_content())
        }
        Op::GetToken(i) => ok(&e.get_token(c, id(&i)?).await?),
        Op::RevokeToken(i) => {
            e.delete_token(c, id(&i)?).await?;
            Ok(no_content())
        }
        Op::GetIdentity => match e.identity(c).await? {
            Some(d) => ok(&d),
            None => {
                Err(ApiError::Auth(AuthError::invalid("a key has no identity; use a token secret")))
            }
        },
        Op::CreateKey => {
            let b: wire::CreateKey = wire::parse(&body)?;
            let (role, ttl, data) =
                (b.role.parse::<Role>()?, wire::ttl(b.ttl)?, wire::data(b.data)?);
            created(&e.create_key(c, role, ttl, data).await?)
        }
        Op::ListKeys => {
            let q = wire::list_query(query, false)?;
            ok(&e.list_keys(c, wire::after_id(q.after)?, q.size).await?)
        }
        Op::GetKey(i) => ok(&e.get_key(c, id(&i)?).await?),
        Op::RevokeKey(i) => {
            e.delete_key(c, id(&i)?).await?;
            Ok(no_content())
        }
        Op::CreateRole => created(&e.create_role(c, wire::object(&body)?).await?),
        Op::ListRoles => {
            let q = wire::list_query(query, false)?;
            let after = q.after.map(|a| a.parse()).transpose()?;
            ok(&e.list_roles(c, after.as_ref(), q.size).await?)
        }
        Op::GetRole(n) => ok(&e.get_role(c, &n).await?),
        Op::UpdateRole(n) => ok(&e.update_role(c, &n, wire::object(&body)?, false).await?),
        Op::ReplaceRole(n) => ok(&e.update_role(c, &n, wire::object(&body)?, true).await?),
        Op::DeleteRole(n) => {
            e.delete_role(c, &n).await?;
            Ok(no_content())
        }
        Op::ListAudit => {
            let (filter, after, size) = wire::audit_query(query)?;
            ok(&e.list_audit(c, &filter, after, size).await?)
        }
    }
}
