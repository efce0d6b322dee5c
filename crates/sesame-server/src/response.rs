//! Building responses: the body type, JSON responses from anything that has a [`Repr`], and
//! the empty 204. Shared by every surface; what a document or token looks like in JSON is each
//! surface's business (REST: `rest/repr.rs`), not this module's.

use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::ser::Serializer;
use serde::Serialize;
use serde_json::Value;

/// Response body type.
pub type Body = Full<Bytes>;

/// A JSON response from a JSON value.
pub fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    respond(status, v)
}

/// An empty 204 response.
pub fn no_content() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// A value that can be written as a response body.
pub trait Repr {
    /// Writes the JSON representation.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;

    /// Writes the same JSON straight into `out`, for types on the hot path; `false` (the
    /// default) means "use [`Repr::write`]". An implementation must produce exactly the bytes
    /// `write` would (tested).
    fn write_fast(&self, _out: &mut Vec<u8>) -> bool {
        false
    }
}

/// Adapts a [`Repr`] to `Serialize`.
pub struct Out<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> fmt::Debug for Out<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Out(..)")
    }
}

impl<T: Repr + ?Sized> Serialize for Out<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write(s)
    }
}

/// Serializes a representation into a response.
///
/// A representation that fails to serialize is a bug; it answers 500 `internal` (and is
/// logged), never a success status with a partial or empty body: a new token's secret must
/// not be lost silently.
pub fn respond<T: Repr + ?Sized>(status: StatusCode, v: &T) -> Response<Body> {
    let mut body = Vec::with_capacity(256);
    if v.write_fast(&mut body) {
        // As a boxed slice: `Bytes::from(Vec)` allocates a shared header when the vector has
        // spare capacity; shrinking a block in place does not allocate.
        let mut r = Response::new(Full::new(Bytes::from(body.into_boxed_slice())));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    }
    body.clear();
    let status = match serde_json::to_writer(&mut body, &Out(v)) {
        Ok(()) => status,
        Err(e) => {
            tracing::error!(error = %e, "response not serializable");
            body = br#"{"error":{"code":"internal","message":"Internal error."}}"#.to_vec();
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl Repr for Value {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;

    impl Repr for Broken {
        fn write<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("broken"))
        }
    }

    #[test]
    fn a_representation_that_fails_is_a_500_not_an_empty_success() {
        let r = respond(StatusCode::CREATED, &Broken);
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
