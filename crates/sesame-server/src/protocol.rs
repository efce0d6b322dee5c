//! Protocol plumbing every HTTP surface shares: the header budget, bearer extraction, body
//! reading (content type, size limit, time limit) and what the server saw of the client. No
//! routing and no engine calls here.

use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::BodyExt;
use sesame_auth::AuthError;
use sesame_model::{ClientInfo, Secret};

use crate::error::ApiError;

type Result<T> = std::result::Result<T, ApiError>;

/// Refuses requests whose header names and values add up to more than [`MAX_HEADER_BYTES`].
pub fn check_header_budget(headers: &HeaderMap) -> Result<()> {
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(MAX_HEADER_BYTES));
    }
    Ok(())
}

/// What the server saw of the client: its address and `User-Agent`.
pub fn client_info(headers: &HeaderMap, addr: std::net::IpAddr) -> ClientInfo {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    ClientInfo::new(Some(addr), ua)
}

/// The bearer secret of `Authorization: Bearer <secret>`, parsed by [`sesame_auth::bearer`] (the
/// one parser every surface uses). Missing or malformed headers are `unauthorized`, except two `Authorization` headers, which are a malformed
/// request (`invalid_request`): taking either one would let a proxy and the server disagree on
/// who is calling.
pub fn bearer(headers: &HeaderMap) -> Result<Secret> {
    let unauthorized = || ApiError::Auth(AuthError::Unauthorized);
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let v = all.next().ok_or_else(unauthorized)?;
    if all.next().is_some() {
        return Err(ApiError::InvalidRequest("more than one Authorization header".into()));
    }
    if let Some(s) = plain_bearer(v.as_bytes()) {
        return Ok(Secret::from(s));
    }
    sesame_auth::bearer(v.to_str().map_err(|_| unauthorized())?).ok_or_else(unauthorized)
}

/// The common spelling, `Bearer <secret>` with a secret of printable ASCII and no spaces, in
/// one pass; `None` sends everything else to the general parser, which gives the same answer
/// for this spelling (tested).
fn plain_bearer(v: &[u8]) -> Option<&str> {
    let rest = v.strip_prefix(b"Bearer ")?;
    if rest.is_empty() || rest.len() > sesame_auth::MAX_BEARER_LEN {
        return None;
    }
    if !rest.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    std::str::from_utf8(rest).ok()
}

/// Reads a JSON body of at most `limit` bytes (a missing Content-Type is accepted: the JS
/// driver sends none), within `BODY_TIMEOUT` (30 s).
pub async fn read_body<B>(limit: usize, headers: &HeaderMap, body: B) -> Result<Bytes>
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass path answers exactly as the general parser wherever it answers.
    #[test]
    fn the_plain_bearer_path_agrees_with_the_parser() {
        let long = format!("Bearer {}", "a".repeat(sesame_auth::MAX_BEARER_LEN + 1));
        let max = format!("Bearer {}", "a".repeat(sesame_auth::MAX_BEARER_LEN));
        for v in [
            "Bearer snt_abc",
            "Bearer  snt_abc",
            "Bearer snt_abc ",
            "bearer snt_abc",
            "Bearer ",
            "Bearer",
            "Bearer a\tb",
            "Bearer a b",
            "Bearer \u{7f}",
            "Basic abc",
            "Bearer snt_ab:@doc/Customer/1",
            long.as_str(),
            max.as_str(),
        ] {
            let general = sesame_auth::bearer(v).map(|s| s.expose().to_owned());
            if let Some(fast) = plain_bearer(v.as_bytes()) {
                assert_eq!(Some(fast.to_owned()), general, "{v:?}");
            }
        }
        assert!(plain_bearer(b"Bearer snt_abc").is_some());
        assert!(plain_bearer(max.as_bytes()).is_some());
        assert!(plain_bearer(long.as_bytes()).is_none());
    }
}
