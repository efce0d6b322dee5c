//! `sesame shell`: the terminal counterpart of the web shell, a client of `POST /query/1`.
//!
//! A REPL (rustyline: line editing, history in `$XDG_STATE_HOME/sesame/history` or
//! `~/.local/state/sesame/history`, never holding a secret), multi-line input while brackets are
//! open or a line ends with `\`, answers in FQL notation ([`sesame_fql::render::render_fql`]),
//! and `.secret` to switch secrets mid-session (read without echo, or from a file). Without a
//! terminal, or with `-e`, it runs queries and exits: one per `-e`, or one per blank-line
//! separated block of standard input; the first error stops it with exit status 1.
//! The secret goes only into the `Authorization` header, over HTTP/1.1 (hyper-util's client).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sesame_fql::render::render_fql;
use sesame_model::Secret;

use crate::config::ShellArgs;

/// Why the shell stopped: an exit code and a message.
#[derive(Debug)]
pub struct ShellError(pub u8, pub String);

const HELP: &str = "\
Type FQL and press Enter; a query goes on over several lines while a bracket, brace or
parenthesis is open, or when a line ends with `\\`. Answers are shown in FQL notation.
  .secret          switch to another secret (typed without echo)
  .secret <file>   switch to the secret in <file> (its first line)
  .raw             show answers as raw JSON too (again: off)
  .help            this help
  .quit            leave (or Ctrl-D); Ctrl-C drops the query being typed";

/// A `/query/1` client.
struct Conn {
    client: Client<HttpConnector, Full<Bytes>>,
    url: Uri,
}

/// An answer: whether it succeeded, its FQL-notation text, its stats line, its raw JSON.
struct Answer {
    ok: bool,
    text: String,
    stats: String,
    raw: String,
}

impl Conn {
    fn new(endpoint: &str) -> Result<Conn, ShellError> {
        let url = format!("{}/query/1", endpoint.trim_end_matches('/'));
        let url: Uri = url
            .parse()
            .map_err(|e| ShellError(2, format!("--endpoint {endpoint:?} is not a URL: {e}")))?;
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err(ShellError(
                2,
                format!("--endpoint must be an http:// URL (got {endpoint:?}); put TLS in front of a remote server and use it over a tunnel"),
            ));
        }
        Ok(Conn { client: Client::builder(TokioExecutor::new()).build_http(), url })
    }

    async fn query(&self, secret: &Secret, query: &str) -> Answer {
        match self.send(secret, query).await {
            Ok((status, body)) => answer(status, &body),
            Err(e) => Answer {
                ok: false,
                text: format!("network_error: {e}"),
                stats: String::new(),
                raw: String::new(),
            },
        }
    }

    async fn send(&self, secret: &Secret, query: &str) -> Result<(u16, Bytes), String> {
        let body = serde_json::json!({ "query": query }).to_string();
        let req = Request::post(self.url.clone())
            .header(header::AUTHORIZATION, format!("Bearer {}", secret.expose()))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, concat!("sesame-shell/", env!("CARGO_PKG_VERSION")))
            .header("x-format", "tagged")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let resp = tokio::time::timeout(Duration::from_secs(120), self.client.request(req))
            .await
            .map_err(|_| format!("{} did not answer within 120 s", self.url))?
            .map_err(|e| format!("cannot reach {}: {}", self.url, sesame_auth::error_chain(&e)))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// The shells' presentation of an answer: the value in FQL notation, or the error's code and
/// message with Fauna's `summary`; the same as the web shell's `renderAnswer`.
fn answer(status: u16, body: &[u8]) -> Answer {
    let raw = String::from_utf8_lossy(body).into_owned();
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Answer {
            ok: false,
            text: format!("http_{status}: {raw}"),
            stats: String::new(),
            raw,
        };
    };
    let stats = match v.get("stats") {
        Some(Value::Object(m)) => {
            m.iter().map(|(k, x)| format!("{k}: {x}")).collect::<Vec<_>>().join(", ")
        }
        _ => String::new(),
    };
    let raw = serde_json::to_string_pretty(&v).unwrap_or(raw);
    if let Some(data) = v.as_object().and_then(|o| o.get("data")) {
        return Answer { ok: true, text: render_fql(data), stats, raw };
    }
    let e = &v["error"];
    let mut text = format!(
        "{}: {}",
        e["code"].as_str().unwrap_or("error"),
        e["message"].as_str().unwrap_or_default()
    );
    if let Some(s) = v["summary"].as_str().filter(|s| !s.is_empty()) {
        text.push('\n');
        text.push_str(s);
    }
    Answer { ok: false, text, stats, raw }
}

/// Whether `text` needs more lines: an open bracket outside strings and comments, or a final
/// `\`.
fn incomplete(text: &str) -> bool {
    if text.trim_end().ends_with('\\') {
        return true;
    }
    let mut depth: i64 = 0;
    let mut cs = text.chars().peekable();
    while let Some(c) = cs.next() {
        match c {
            '"' | '\'' => {
                while let Some(d) = cs.next() {
                    if d == '\\' {
                        cs.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '/' if cs.peek() == Some(&'/') => {
                for d in cs.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if cs.peek() == Some(&'*') => {
                cs.next();
                let mut prev = ' ';
                for d in cs.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// Joins continuation lines: a trailing `\` is dropped.
fn push_line(buf: &mut String, line: &str) {
    if buf.trim_end().ends_with('\\') {
        let keep = buf.trim_end().len() - 1;
        buf.truncate(keep);
    }
    if !buf.is_empty() {
        buf.push('\n');
    }
    buf.push_str(line);
}

fn read_secret_file(path: &Path) -> Result<Secret, ShellError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ShellError(2, format!("cannot read the secret file {}: {e}", path.display()))
    })?;
    let s = text.lines().next().unwrap_or_default().trim().to_owned();
    if s.is_empty() {
        return Err(ShellError(2, format!("the secret file {} is empty", path.display())));
    }
    Ok(Secret::new(s))
}

fn prompt_secret() -> Result<Secret, ShellError> {
    let s = rpassword::prompt_password("secret (not echoed): ")
        .map_err(|e| ShellError(2, format!("cannot read a secret from the terminal: {e}")))?;
    let s = s.trim().to_owned();
    if s.is_empty() {
        return Err(ShellError(2, "no secret given".into()));
    }
    Ok(Secret::new(s))
}

/// Where the history is kept.
fn history_path() -> Option<PathBuf> {
    let state = crate::config::state_home()?;
    Some(state.join("sesame").join("history"))
}

/// Runs `sesame shell`.
pub async fn run(a: ShellArgs) -> Result<(), ShellError> {
    let conn = Conn::new(&a.endpoint)?;
    let interactive = a.eval.is_empty() && std::io::stdin().is_terminal();
    let secret = match (&a.secret_file, crate::config::shell_secret_env()) {
        (Some(f), _) => read_secret_file(f)?,
        (None, Some(s)) => Secret::new(s),
        (None, None) if std::io::stdin().is_terminal() => prompt_secret()?,
        (None, None) => {
            return Err(ShellError(
                2,
                "no secret: pass --secret-file FILE or set SESAME_SECRET".into(),
            ))
        }
    };
    if !a.eval.is_empty() {
        return batch(&conn, &secret, a.eval.iter().map(String::as_str)).await;
    }
    if !interactive {
        let mut blocks = Vec::new();
        let mut cur = String::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| ShellError(1, format!("reading standard input: {e}")))?;
            if line.trim().is_empty() {
                if !cur.trim().is_empty() {
                    blocks.push(std::mem::take(&mut cur));
                }
                cur.clear();
            } else {
                push_line(&mut cur, &line);
            }
        }
        if !cur.trim().is_empty() {
            blocks.push(cur);
        }
        return batch(&conn, &secret, blocks.iter().map(String::as_str)).await;
    }
    repl(&conn, secret).await
}

/// Runs queries in order, printing each answer; stops at the first error.
async fn batch<'q>(
    conn: &Conn,
    secret: &Secret,
    queries: impl Iterator<Item = &'q str>,
) -> Result<(), ShellError> {
    let mut out = std::io::stdout().lock();
    for q in queries {
        let a = conn.query(secret, q).await;
        if a.ok {
            let _ = writeln!(out, "{}", a.text);
        } else {
            let _ = out.flush();
            return Err(ShellError(1, a.text));
        }
    }
    Ok(())
}

async fn repl(conn: &Conn, mut secret: Secret) -> Result<(), ShellError> {
    use rustyline::error::ReadlineError;
    let mut rl = rustyline::DefaultEditor::new()
        .map_err(|e| ShellError(1, format!("cannot start line editing: {e}")))?;
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    // Every secret used in this session: a line containing one never enters the history.
    let mut used: Vec<Secret> = vec![Secret::new(secret.expose().to_owned())];
    let mut raw = false;
    println!("sesame shell: {} ({}). Type .help for help.", conn.url, kind(&secret));
    let mut buf = String::new();
    loop {
        let line = match rl.readline(if buf.is_empty() { "> " } else { ".. " }) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buf.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(ShellError(1, format!("reading input: {e}"))),
        };
        if buf.is_empty() && line.trim_start().starts_with('.') {
            let mut words = line.split_whitespace();
            match (words.next().unwrap_or_default(), words.next()) {
                (".quit" | ".exit", _) => break,
                (".help", _) => println!("{HELP}"),
                (".raw", _) => {
                    raw = !raw;
                    println!("raw JSON {}", if raw { "on" } else { "off" });
                }
                (".secret", file) => {
                    let new = match file {
                        Some(f) => read_secret_file(Path::new(f)),
                        None => prompt_secret(),
                    };
                    match new {
                        Ok(s) => {
                            secret = s;
                            used.push(Secret::new(secret.expose().to_owned()));
                            println!("now using a new secret ({})", kind(&secret));
                        }
                        Err(ShellError(_, m)) => println!("secret unchanged: {m}"),
                    }
                }
                (other, _) => println!("unknown command {other}; .help lists them"),
            }
            continue;
        }
        if buf.is_empty() && line.trim().is_empty() {
            continue;
        }
        push_line(&mut buf, &line);
        if incomplete(&buf) {
            continue;
        }
        let query = std::mem::take(&mut buf);
        if !used.iter().any(|s| query.contains(s.expose())) {
            let _ = rl.add_history_entry(query.as_str());
        }
        let a = conn.query(&secret, &query).await;
        println!("{}", a.text);
        if !a.stats.is_empty() {
            println!("// {}", a.stats);
        }
        if raw && !a.raw.is_empty() {
            println!("{}", a.raw);
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.save_history(h);
    }
    Ok(())
}

/// What a secret looks like it is, from its public prefix only.
fn kind(s: &Secret) -> &'static str {
    match s.expose().get(..4) {
        Some("snt_") => "a token secret",
        Some("snk_") => "a key secret",
        _ => "a secret",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_and_backslashes_continue() {
        assert!(!incomplete("Query.identity()"));
        assert!(incomplete("Customer.create({"));
        assert!(incomplete("let x = [1,\n2"));
        assert!(!incomplete("Customer.create({\n  firstName: \"Jane\"\n})"));
        assert!(incomplete("Query.identity() \\"));
        assert!(!incomplete("\"({[\""), "brackets in strings do not count");
        assert!(!incomplete("'it\\'s {'"));
        assert!(!incomplete("1 // {"));
        assert!(!incomplete("1 /* { */"));
        let mut b = String::new();
        push_line(&mut b, "Query \\");
        push_line(&mut b, ".identity()");
        assert_eq!(b, "Query \n.identity()");
    }

    #[test]
    fn answers_render_like_the_web_shell() {
        let a = answer(
            200,
            br#"{"data":{"@ref":{"id":"1","coll":{"@mod":"Customer"}}},"stats":{"read_ops":1}}"#,
        );
        assert!(a.ok);
        assert_eq!(a.text, "Customer(\"1\")");
        assert_eq!(a.stats, "read_ops: 1");
        let a =
            answer(401, br#"{"error":{"code":"unauthorized","message":"Access token required"}}"#);
        assert!(!a.ok);
        assert_eq!(a.text, "unauthorized: Access token required");
        let a = answer(400, br#"{"error":{"code":"invalid_query","message":"m"},"summary":"error: m\nat *query*:1:1"}"#);
        assert_eq!(a.text, "invalid_query: m\nerror: m\nat *query*:1:1");
        assert!(!answer(502, b"<html>").ok);
    }

    #[test]
    fn only_http_endpoints() {
        assert!(Conn::new("http://127.0.0.1:8787/").is_ok());
        assert!(Conn::new("https://example.com").is_err());
        assert!(Conn::new("not a url").is_err());
    }
}
