//! [`Authenticated`]: the axum extractor for the principal [`crate::SesameAuthLayer`] found.
//!
//! It reads the request's extensions and never authenticates by itself: a handler that uses it
//! on a route without the layer answers `500 internal` (a wiring mistake, not a client's), so
//! a forgotten layer fails closed.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::{Principal, Rejection};

/// The authenticated caller, in an axum handler: `async fn me(Authenticated(p): Authenticated)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated(pub Principal);

/// What a handler using [`Authenticated`] answers when the layer is missing.
#[derive(Debug)]
pub struct MissingLayer;

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        Rejection::Internal.into_response().map(axum::body::Body::new)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, MissingLayer> {
        parts.extensions.get::<Principal>().cloned().map(Authenticated).ok_or(MissingLayer)
    }
}
