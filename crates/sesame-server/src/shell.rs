//! The web shell at `GET /shell`: one HTML page, one stylesheet and one script, embedded in the
//! binary, that run FQL against `POST /query/1` with a secret the user pastes, and show the
//! answers in FQL notation (the page's renderer is held to `sesame_fql::render` by the golden
//! fixture `crates/sesame-fql/tests/render_golden.json`).
//!
//! The server side is static: no secret ever reaches this module. Every answer carries a strict
//! `Content-Security-Policy` (no inline script or style, connections to this origin only, no
//! framing), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, `nosniff` and
//! `Cache-Control: no-store`. Whether it is served at all is [`crate::ServerConfig::shell`]:
//! on by default on loopback, off otherwise unless `--shell` (see the README).

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;

use crate::response::Body;

/// The page.
pub const INDEX_HTML: &str = include_str!("shell/index.html");
/// Its stylesheet.
pub const SHELL_CSS: &str = include_str!("shell/shell.css");
/// Its script: the renderer and the page's behaviour.
pub const SHELL_JS: &str = include_str!("shell/shell.js");

/// The policy every shell response carries.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                       form-action 'none'";

/// Whether `path` is the shell's (`/shell` or below).
pub fn is_shell_path(path: &str) -> bool {
    path == "/shell" || path.starts_with("/shell/")
}

/// The asset at `path` and its content type.
fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/shell" | "/shell/" | "/shell/index.html" => {
            Some((INDEX_HTML, "text/html; charset=utf-8"))
        }
        "/shell/shell.css" => Some((SHELL_CSS, "text/css; charset=utf-8")),
        "/shell/shell.js" => Some((SHELL_JS, "text/javascript; charset=utf-8")),
        _ => None,
    }
}

/// Answers a request for a shell path (`GET` or `HEAD`), with the security headers.
pub fn handle(method: &Method, path: &str) -> Response<Body> {
    let (status, body, ctype) = match (asset(path), method) {
        (Some((text, ctype)), m) if m == Method::GET || m == Method::HEAD => {
            (StatusCode::OK, if m == Method::HEAD { "" } else { text }, ctype)
        }
        (Some(_), _) => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n", "text/plain"),
        (None, _) => (StatusCode::NOT_FOUND, "not found\n", "text/plain"),
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn check_headers(r: &Response<Body>) {
        let h = r.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(!CSP.contains("unsafe"), "{CSP}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
    }

    #[tokio::test]
    async fn every_answer_has_the_security_headers() {
        for (path, ctype) in [
            ("/shell", "text/html; charset=utf-8"),
            ("/shell/shell.css", "text/css; charset=utf-8"),
            ("/shell/shell.js", "text/javascript; charset=utf-8"),
        ] {
            let r = handle(&Method::GET, path);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], ctype);
            check_headers(&r);
            let body = r.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, asset(path).unwrap().0.as_bytes());
        }
        let r = handle(&Method::GET, "/shell/secret.txt");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        check_headers(&r);
        let r = handle(&Method::POST, "/shell");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
        check_headers(&r);
        let r = handle(&Method::HEAD, "/shell");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }

    #[test]
    fn the_page_has_no_inline_code_and_loads_only_its_assets() {
        assert!(!INDEX_HTML.contains("<script>") && !INDEX_HTML.contains("<style"));
        assert!(!INDEX_HTML.contains(" style="));
        // No event-handler attributes (` onclick=`, …).
        for (i, _) in INDEX_HTML.match_indices(" on") {
            let name: String =
                INDEX_HTML[i + 1..].chars().take_while(char::is_ascii_alphabetic).collect();
            assert!(!INDEX_HTML[i + 1 + name.len()..].starts_with('='), "inline handler {name}");
        }
        assert!(!INDEX_HTML.contains("http:") && !INDEX_HTML.contains("https:"));
        assert!(!SHELL_JS.contains("localStorage") && !SHELL_JS.contains("sessionStorage"));
        assert!(!SHELL_JS.contains("console."), "nothing logged");
        assert_eq!(SHELL_JS.matches("fetch(").count(), 1, "one fetch, to /query/1");
        assert!(SHELL_JS.contains("fetch(\"/query/1\""));
    }

    #[test]
    fn the_assets_are_small() {
        let total = INDEX_HTML.len() + SHELL_CSS.len() + SHELL_JS.len();
        // The README documents the size; keep it well under 24 KiB.
        assert!(total < 24 * 1024, "the shell's assets grew to {total} bytes");
    }

    #[test]
    fn only_shell_paths_are_the_shells() {
        assert!(is_shell_path("/shell") && is_shell_path("/shell/shell.js"));
        assert!(!is_shell_path("/shells") && !is_shell_path("/query/1"));
    }
}
