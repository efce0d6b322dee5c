//! The second surface: Fauna's query protocol, `POST /query/1` (FQL v10 over JSON), so that
//! Fauna's official drivers work unchanged. This module only speaks HTTP: headers to
//! [`QueryOptions`], the bearer secret to a [`Caller`], the body to JSON, and the engine's
//! answer back. Parsing and evaluating the language is `sesame-fql`; rights, storage,
//! hashing and throttling are the engine's, exactly as for REST.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use sesame_auth::{AuthError, Caller, QueryFormat, QueryOptions};

use crate::error::ApiError;
use crate::protocol;
use crate::response::Body;
use crate::App;

/// The protocol's path.
pub const PATH: &str = "/query/1";

/// Largest query body accepted (a query's text is further limited by the language).
pub const MAX_QUERY_BODY: usize = 1024 * 1024;

/// Handles one `/query/1` request. Every failure becomes a response in Fauna's error shape.
pub async fn handle<B>(app: &App, req: Request<B>, client: std::net::IpAddr) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match run(app, req, client).await {
        Ok(r) => r,
        Err(e) => fauna_error(e),
    }
}

/// A protocol-level failure in Fauna's shape: `{"error": {"code", "message"}}` with the status
/// the drivers map to their exception classes.
fn fauna_error(e: ApiError) -> Response<Body> {
    let (status, code) = match &e {
        ApiError::Auth(AuthError::Unauthorized) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        ApiError::Auth(AuthError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
        }
        ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "request_size_exceeded"),
        ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        ApiError::HeadersTooLarge(_) => {
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request")
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_request"),
    };
    if status.is_server_error() {
        tracing::error!(code, error = %e, "query request failed");
    }
    let mut r = json_response(status, &json!({"error": {"code": code, "message": e.to_string()}}));
    match &e {
        ApiError::Auth(AuthError::Unauthorized) => {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ApiError::MethodNotAllowed(_) => {
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        _ => {}
    }
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::InvalidRequest(format!("Invalid header `{name}`."))),
    }
}

/// Validates `X-Query-Tags` (`k=v,k2=v2`: at most 3000 bytes, 25 pairs, keys ≤ 40 and values
/// ≤ 80 characters of `[A-Za-z0-9_]`, no duplicate keys); echoed back as `query_tags`.
pub fn query_tags(v: &str) -> Result<String, ApiError> {
    let bad =
        |why: &str| ApiError::InvalidRequest(format!("Invalid header `x-query-tags`: {why}."));
    if v.len() > 3000 {
        return Err(bad("longer than 3000 bytes"));
    }
    let mut keys = std::collections::HashSet::new();
    let pairs: Vec<&str> = v.split(',').collect();
    if pairs.len() > 25 {
        return Err(bad("more than 25 tags"));
    }
    let word = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    for p in &pairs {
        let (k, val) = p.split_once('=').ok_or_else(|| bad("a tag is not `key=value`"))?;
        if !word(k, 40) || !word(val, 80) {
            return Err(bad("keys are at most 40 and values 80 characters of [A-Za-z0-9_]"));
        }
        if !keys.insert(k) {
            return Err(bad("duplicate key"));
        }
    }
    Ok(v.to_owned())
}

/// The options the request's headers ask for; invalid values are `invalid_request`.
pub fn options(h: &HeaderMap) -> Result<(QueryOptions, Option<String>), ApiError> {
    let format = match header(h, "x-format")?.map(str::to_ascii_lowercase).as_deref() {
        None | Some("simple") => QueryFormat::Simple,
        Some("tagged") => QueryFormat::Tagged,
        Some(_) => return Err(ApiError::InvalidRequest("Invalid header `x-format`.".into())),
    };
    let timeout = match header(h, "x-query-timeout-ms")? {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(std::time::Duration::from_millis(ms)),
            _ => {
                return Err(ApiError::InvalidRequest(
                    "Invalid header `x-query-timeout-ms`: a positive integer.".into(),
                ))
            }
        },
    };
    for (name, ok) in [
        ("x-last-txn-ts", header(h, "x-last-txn-ts")?.is_none_or(|v| v.parse::<i64>().is_ok())),
        (
            "x-max-contention-retries",
            header(h, "x-max-contention-retries")?
                .is_none_or(|v| v.parse::<u8>().is_ok_and(|n| n <= 7)),
        ),
        ("x-typecheck", header(h, "x-typecheck")?.is_none_or(|v| matches!(v, "true" | "false"))),
        ("x-linearized", header(h, "x-linearized")?.is_none_or(|v| matches!(v, "true" | "false"))),
    ] {
        if !ok {
            return Err(ApiError::InvalidRequest(format!("Invalid header `{name}`.")));
        }
    }
    let tags = header(h, "x-query-tags")?.filter(|v| !v.is_empty()).map(query_tags).transpose()?;
    Ok((QueryOptions { format, timeout }, tags))
}

async fn run<B>(
    app: &App,
    req: Request<B>,
    client: std::net::IpAddr,
) -> Result<Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    protocol::check_header_budget(&parts.headers)?;
    if parts.method != Method::POST {
        return Err(ApiError::MethodNotAllowed("POST"));
    }
    let principal = app.engine.authenticate(&protocol::bearer(&parts.headers)?).await?;
    let c = Caller::new(principal, protocol::client_info(&parts.headers, client));
    let (opts, tags) = options(&parts.headers)?;
    let body = protocol::read_body(MAX_QUERY_BODY, &parts.headers, body).await?;
    let json: Value = serde_json::from_slice(&body).map_err(|e| {
        let why = if e.to_string().contains("recursion limit") {
            "JSON exceeds nesting limit".to_owned()
        } else {
            e.to_string()
        };
        ApiError::InvalidRequest(format!("Invalid request body: {why}"))
    })?;
    let answer = app.engine.query(&c, json, opts).await;
    let mut out = answer.body;
    if let (Some(t), Some(o)) = (tags, out.as_object_mut()) {
        o.insert("query_tags".into(), Value::from(t));
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_response(status, &out);
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Ok(r)
}
