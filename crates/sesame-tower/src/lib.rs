//! Protect your own HTTP service with Sesame: a [`tower`](https://docs.rs/tower) layer that
//! authenticates `Authorization: Bearer <secret>` and puts the caller's [`Principal`] in the
//! request's extensions.
//!
//! ```text
//! let app = Router::new()
//!     .route("/me", get(|Authenticated(p): Authenticated| async move { format!("{:?}", p.identity()) }))
//!     .layer(SesameAuthLayer::new(engine));          // or SesameAuthLayer::remote(validator)
//! ```
//!
//! Two ways to check a secret:
//! - **In-process** ([`SesameAuthLayer::new`]): an [`Engine`] over your store; every request
//!   costs one store lookup by digest, and revocation (logout) is seen at once.
//! - **Remote** ([`SesameAuthLayer::remote`], feature `remote`, on by default): asks a Sesame
//!   server (`GET /tokens/self`) and caches the answer; see [`remote`] for the cache and the
//!   revocation delay it implies.
//!
//! A request without a valid secret never reaches the inner service: it is answered `401` with
//! `WWW-Authenticate: Bearer` and Sesame's error body
//! `{"error":{"code":"unauthorized","message":"Access token required"}}`; a store or server
//! that cannot be reached gives `503` + `Retry-After` (`unavailable`), anything else `500`
//! (`internal`). With the `axum` feature, `Authenticated` extracts the principal in handlers.
//!
//! This crate is an adapter, not a server: it does not route, decide privileges (use
//! `Principal` and the engine's operations for that), log, or print secrets; a secret lives
//! only as long as the request that carried it, and the remote cache is keyed by its SHA-256
//! digest.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{Either, Full};
pub use sesame_auth::Principal;
use sesame_auth::{AuthError, Engine};
use sesame_model::Secret;
use tower_layer::Layer;
use tower_service::Service;

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "remote")]
pub mod remote;

#[cfg(feature = "axum")]
pub use extract::{Authenticated, MissingLayer};
#[cfg(feature = "remote")]
pub use remote::{RemoteConfig, RemoteValidator};

/// Why a request was refused; becomes the response the layer sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No, malformed, unknown, revoked or expired secret (all alike): `401 unauthorized`.
    Unauthorized,
    /// The store or the Sesame server cannot be reached: `503 unavailable`.
    Unavailable,
    /// Anything else: `500 internal` (the details are not shown to the client).
    Internal,
}

impl Rejection {
    /// Sesame's stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Unauthorized => "unauthorized",
            Rejection::Unavailable => "unavailable",
            Rejection::Internal => "internal",
        }
    }

    /// The HTTP status, as the Sesame server answers the same code.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Unauthorized => StatusCode::UNAUTHORIZED,
            Rejection::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Rejection::Unauthorized => "Access token required",
            Rejection::Unavailable => "Authentication is unavailable; try again later.",
            Rejection::Internal => "Internal error.",
        }
    }

    /// The response: Sesame's JSON error body, `WWW-Authenticate: Bearer` on 401 and
    /// `Retry-After: 1` on 503.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({"error": {"code": self.code(), "message": self.message()}});
        let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match self {
            Rejection::Unauthorized => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Rejection::Unavailable => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Rejection::Internal => {}
        }
        resp
    }
}

impl From<AuthError> for Rejection {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => Rejection::Unauthorized,
            AuthError::Unavailable(_) => Rejection::Unavailable,
            _ => Rejection::Internal,
        }
    }
}

/// The bearer secret of `headers`, as the Sesame server reads it: one `Authorization` header,
/// parsed by [`sesame_auth::bearer`] (scheme case-insensitive, at most 512 characters). Two
/// `Authorization` headers are refused (`None`): a proxy and this service could disagree on
/// which one names the caller.
pub fn bearer(headers: &HeaderMap) -> Option<Secret> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let v = all.next()?;
    if all.next().is_some() {
        return None;
    }
    sesame_auth::bearer(v.to_str().ok()?)
}

/// Where secrets are checked.
#[derive(Clone)]
enum Backend {
    Local(Arc<Engine>),
    #[cfg(feature = "remote")]
    Remote(Arc<RemoteValidator>),
}

impl Backend {
    async fn authenticate(&self, secret: Secret) -> Result<Principal, Rejection> {
        match self {
            Backend::Local(engine) => Ok(engine.authenticate(&secret).await?),
            #[cfg(feature = "remote")]
            Backend::Remote(v) => v.authenticate(&secret).await,
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local(_) => f.write_str("Local(Engine)"),
            #[cfg(feature = "remote")]
            Backend::Remote(v) => f.debug_tuple("Remote").field(v).finish(),
        }
    }
}

/// The layer: wraps a service so that only requests with a valid Sesame secret reach it, with
/// the caller's [`Principal`] in their extensions.
#[derive(Debug, Clone)]
pub struct SesameAuthLayer {
    backend: Backend,
}

impl SesameAuthLayer {
    /// Checks secrets with an in-process engine (one store lookup per request; logout and
    /// revocation are seen at once). The engine needs a Tokio runtime.
    pub fn new(engine: Arc<Engine>) -> Self {
        SesameAuthLayer { backend: Backend::Local(engine) }
    }

    /// Checks secrets against a Sesame server; see [`remote`] for the cache.
    #[cfg(feature = "remote")]
    pub fn remote(validator: RemoteValidator) -> Self {
        SesameAuthLayer { backend: Backend::Remote(Arc::new(validator)) }
    }
}

impl<S> Layer<S> for SesameAuthLayer {
    type Service = SesameAuth<S>;

    fn layer(&self, inner: S) -> SesameAuth<S> {
        SesameAuth { inner, backend: self.backend.clone() }
    }
}

/// The service [`SesameAuthLayer`] makes.
#[derive(Debug, Clone)]
pub struct SesameAuth<S> {
    inner: S,
    backend: Backend,
}

/// The response body: the inner service's, or the layer's JSON error.
pub type AuthBody<B> = Either<B, Full<Bytes>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SesameAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the one `poll_ready` readied is taken for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let backend = self.backend.clone();
        Box::pin(async move {
            let checked = match bearer(req.headers()) {
                Some(secret) => backend.authenticate(secret).await,
                None => Err(Rejection::Unauthorized),
            };
            match checked {
                Ok(principal) => {
                    req.extensions_mut().insert(principal);
                    Ok(inner.call(req).await?.map(Either::Left))
                }
                Err(r) => Ok(r.into_response().map(Either::Right)),
            }
        })
    }
}
