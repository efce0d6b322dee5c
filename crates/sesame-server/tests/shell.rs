//! The shells, end to end, against a server on a loopback port: `sesame shell` through a
//! pseudo-terminal (the seed tutorial, on memory and on Postgres) and in non-interactive mode;
//! the web shell in headless Chromium driven over WebDriver (`chromedriver`), with screenshots
//! of each step under `target/shell-screenshots/` and every byte the page sends recorded, to
//! check that secrets travel only in `Authorization` headers. Chromium, ChromeDriver and the
//! Postgres suite are skipped loudly where absent, and required under `CI`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use sesame_auth::{AuthConfig, Engine};
use sesame_model::Secret;
use sesame_postgres::testing::TestDb;
use sesame_server::{serve, App, ServerConfig};
use sesame_store::{MemoryStore, Store};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const ADMIN: &str = "shell-admin-secret-0123456789abcdef";

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A server with the web shell on, in its own runtime; stopped on drop.
struct Server {
    addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _db: Option<TestDb>,
}

impl Server {
    fn start(postgres: bool) -> Option<Server> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (db, store): (Option<TestDb>, Arc<dyn Store>) = if postgres {
            let db = rt.block_on(TestDb::new())?;
            let store: Arc<dyn Store> = db.store.clone();
            (Some(db), store)
        } else {
            (None, Arc::new(MemoryStore::new()))
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let addr = rt.block_on(async {
            let auth = AuthConfig {
                admin_secret: Some(Secret::new(ADMIN.into())),
                ..AuthConfig::insecure_fast_for_tests()
            };
            let engine = Arc::new(Engine::new(store, auth).expect("engine"));
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let addr = listener.local_addr().unwrap();
            let app =
                Arc::new(App::new(engine, ServerConfig { shell: true, ..Default::default() }));
            tokio::spawn(serve(listener, app, async {
                let _ = rx.await;
            }));
            addr
        });
        Some(Server { addr, rt, stop: Some(tx), _db: db })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn sesame() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sesame"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SESAME_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

fn temp_dir(name: &str) -> PathBuf {
    // Unique per call: tests run in parallel in one process.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("sesame-shell-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The value of `key: "…"` in rendered FQL text.
fn field(text: &str, key: &str) -> String {
    let from = text.find(&format!("{key}: \"")).unwrap_or_else(|| panic!("no {key} in {text}"))
        + key.len()
        + 3;
    text[from..].split('"').next().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// The terminal shell.

fn terminal_tutorial(server: &Server) {
    let state = temp_dir("state");
    let mut cmd = sesame();
    cmd.args(["shell", "--endpoint", &server.url()])
        .env("SESAME_SECRET", ADMIN)
        .env("XDG_STATE_HOME", &state)
        .env("TERM", "dumb");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn in a pty");
    p.exp_string("Type .help for help.").expect("banner");

    p.send_line(r#"Collection.create({ name: "Customer" })"#).unwrap();
    p.exp_string(r#"{ name: "Customer", coll: Collection, ts: Time(""#).expect("collection");

    // Multi-line input: the braces keep it open.
    p.send_line("Customer.create({").unwrap();
    p.send_line(r#"  firstName: "Jane", lastName: "Doe","#).unwrap();
    p.send_line(r#"  email: "jane.doe@example.com""#).unwrap();
    p.send_line("})").unwrap();
    let (_, jane) = p
        .exp_regex(r#"\{ id: "[0-9]+", coll: Customer, ts: Time\("[^"]+"\), email: "jane.doe@example.com", firstName: "Jane", lastName: "Doe" \}"#)
        .expect("Jane");
    let id = field(&jane, "id");

    p.send_line(&format!(
        r#"Credential.create({{ document: Customer.byId("{id}"), password: "sekret" }})"#
    ))
    .unwrap();
    p.exp_regex(&format!(
        r#"\{{ id: "[0-9]+", coll: Credential, ts: Time\("[^"]+"\), document: Customer\("{id}"\)"#
    ))
    .expect("credential");

    p.send_line(&format!(r#"Credential.byDocument(Customer.byId("{id}"))!.login("sekret")"#))
        .unwrap();
    let (_, token) = p
        .exp_regex(&format!(r#"coll: Token, ts: Time\("[^"]+"\), document: Customer\("{id}"\), [^\n]*secret: "snt_[A-Za-z0-9_-]+""#))
        .expect("token");
    let secret = field(&token, "secret");

    // Switch secrets as the tutorial does, without echo.
    p.send_line(".secret").unwrap();
    p.exp_string("secret (not echoed): ").expect("prompt");
    p.send_line(&secret).unwrap();
    p.exp_string("now using a new secret (a token secret)").expect("switched");

    p.send_line("Query.identity()").unwrap();
    p.exp_string(&format!(r#"{{ id: "{id}", coll: Customer, ts: Time(""#)).expect("identity");

    p.send_line("Query.token()!.delete()").unwrap();
    p.exp_regex(r#"Token\("[0-9]+"\) /\* deleted \*/|coll: Token"#).expect("logged out");

    p.send_line("Query.token()").unwrap();
    p.exp_string("unauthorized: ").expect("unauthorized after logout");

    p.send_line(".quit").unwrap();
    p.exp_eof().expect("exits");

    let history = std::fs::read_to_string(state.join("sesame/history")).expect("history saved");
    assert!(history.contains("Query.identity()"), "{history}");
    assert!(!history.contains(ADMIN) && !history.contains(&secret), "no secret in {history}");
    let _ = std::fs::remove_dir_all(state);
}

#[test]
fn the_tutorial_in_the_terminal_on_memory() {
    terminal_tutorial(&Server::start(false).expect("memory server"));
}

#[test]
fn the_tutorial_in_the_terminal_on_postgres() {
    let Some(server) = Server::start(true) else {
        eprintln!("SKIPPED: the terminal tutorial on Postgres needs SESAME_TEST_DATABASE_URL");
        return;
    };
    terminal_tutorial(&server);
}

#[test]
fn non_interactive_queries_from_flags_and_standard_input() {
    let server = Server::start(false).expect("server");
    let dir = temp_dir("batch");
    let out = sesame()
        .args(["shell", "--endpoint", &server.url(), "-e"])
        .arg(r#"Collection.create({ name: "Customer" })"#)
        .args(["-e", r#"Customer.create({ id: "1001", firstName: "Jane" })"#])
        .env("SESAME_SECRET", ADMIN)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with(r#"{ name: "Customer", coll: Collection, ts: Time(""#), "{stdout}");
    assert!(stdout.contains(r#"{ id: "1001", coll: Customer, ts: Time(""#), "{stdout}");

    // Standard input: one query per blank-line-separated block; a secret file.
    let file = dir.join("secret");
    std::fs::write(&file, format!("{ADMIN}\n")).unwrap();
    let mut child = sesame()
        .args(["shell", "--endpoint", &server.url(), "--secret-file"])
        .arg(&file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let input = "Customer.byId(\"1001\")\n\nCredential.create({\n  document: Customer.byId(\"1001\"),\n  password: \"sekret\"\n})\n\nCustomer.byId(\"404\")\n";
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with(r#"{ id: "1001", coll: Customer"#), "{stdout}");
    assert!(lines[1].contains(r#"coll: Credential"#), "{stdout}");
    assert_eq!(lines[2], r#"Customer("404") /* not found */"#);

    // An error: exit status 1, the error on stderr, later queries not run.
    let out = sesame()
        .args(["shell", "--endpoint", &server.url(), "-e", "Query.identity(", "-e", "1"])
        .env("SESAME_SECRET", ADMIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid_query: "), "{stderr}");
    let out = sesame()
        .args(["shell", "--endpoint", &server.url(), "-e", "Query.identity()"])
        .env("SESAME_SECRET", "snt_not-a-real-token-0000000000000000000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// The web shell in a real browser.

/// A recording TCP proxy in front of the server: every byte a client sends is kept.
async fn recording_proxy(to: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(upstream) = TcpStream::connect(to).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        log.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = uw.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, seen)
}

/// A minimal WebDriver client over hyper-util's HTTP/1.1 client.
struct Driver {
    base: String,
    session: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl Driver {
    async fn call(&self, method: http::Method, path: &str, body: Option<Value>) -> Value {
        use http_body_util::BodyExt as _;
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let resp = self.client.request(req).await.expect("webdriver request");
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).expect("webdriver JSON");
        assert!(v["value"]["error"].is_null(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    async fn s(&self, method: http::Method, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body).await
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .s(http::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        v["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.s(http::Method::POST, &format!("/element/{e}/clear"), Some(json!({}))).await;
        self.s(http::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text})))
            .await;
    }

    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.s(http::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    async fn script(&self, script: &str) -> Value {
        self.s(http::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []})))
            .await
    }

    async fn screenshot(&self, path: &Path) {
        let b64 = self.s(http::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64"))
            .expect("png");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Types `query`, runs it with Ctrl+Enter, waits for its answer and returns its text.
    async fn run(&self, query: &str, runs: &mut u64) -> String {
        self.type_into("#editor", &format!("{query}\u{E009}\u{E007}")).await;
        *runs += 1;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n = self.script("return document.getElementById('results').dataset.runs").await;
            if n.as_str() == Some(&runs.to_string()) {
                break;
            }
            assert!(Instant::now() < deadline, "no answer to {query}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = self
            .script("return document.querySelector('#results .entry:last-child .out').textContent")
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let d = target.join("shell-screenshots");
    std::fs::create_dir_all(&d).expect("screenshots dir");
    d
}

#[test]
fn the_tutorial_in_the_web_shell_in_chromium_on_memory() {
    web_tutorial(false);
}

#[test]
fn the_tutorial_in_the_web_shell_in_chromium_on_postgres() {
    web_tutorial(true);
}

fn web_tutorial(postgres: bool) {
    let (chromium, chromedriver) =
        (Path::new("/usr/bin/chromium"), Path::new("/usr/bin/chromedriver"));
    if !chromium.exists() || !chromedriver.exists() {
        assert!(
            !required(),
            "CI needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED: the browser test needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)");
        return;
    }
    let Some(server) = Server::start(postgres) else {
        eprintln!("SKIPPED: the web shell tutorial on Postgres needs SESAME_TEST_DATABASE_URL");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut driver_proc = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = temp_dir(if postgres { "chromium-profile-pg" } else { "chromium-profile" });
    let shots = screenshots_dir().join(if postgres { "postgres" } else { "memory" });
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let result = server.rt.block_on(async {
        let (proxy, seen) = recording_proxy(server.addr).await;
        let mut d = Driver {
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let req = http::Request::get(format!("{}/status", d.base))
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            if d.client.request(req).await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_str().unwrap(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", "--window-size=1100,900",
                         format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let s = d.call(http::Method::POST, "/session", Some(caps)).await;
        d.session = s["sessionId"].as_str().expect("session id").to_owned();

        let shell = format!("http://{proxy}/shell");
        d.s(http::Method::POST, "/url", Some(json!({"url": shell}))).await;
        let title = d.script("return document.title").await;
        assert_eq!(title, "Sesame shell");
        d.screenshot(&shots.join("01-loaded.png")).await;

        // Run as: Key, with the admin secret.
        d.click("#mode-key").await;
        d.type_into("#secret", ADMIN).await;
        let mut runs = 0;
        let out = d.run(r#"Collection.create({ name: "Customer" })"#, &mut runs).await;
        assert!(out.starts_with(r#"{ name: "Customer", coll: Collection, ts: Time(""#), "{out}");
        d.screenshot(&shots.join("02-collection.png")).await;

        let out = d
            .run(
                "Customer.create({\n  firstName: \"Jane\",\n  lastName: \"Doe\",\n  email: \"jane.doe@example.com\"\n})",
                &mut runs,
            )
            .await;
        assert!(out.starts_with(r#"{ id: ""#), "{out}");
        assert!(out.contains(r#", coll: Customer, ts: Time(""#), "{out}");
        assert!(out.ends_with(r#"email: "jane.doe@example.com", firstName: "Jane", lastName: "Doe" }"#), "{out}");
        let id = field(&out, "id");
        d.screenshot(&shots.join("03-customer.png")).await;

        let out = d
            .run(
                &format!(r#"Credential.create({{ document: Customer.byId("{id}"), password: "sekret" }})"#),
                &mut runs,
            )
            .await;
        assert!(out.contains(r#"coll: Credential, ts: Time(""#), "{out}");
        assert!(out.contains(&format!(r#"document: Customer("{id}")"#)), "{out}");
        let who = d.script("return document.getElementById('who').textContent").await;
        assert!(who.as_str().unwrap_or_default().contains("authenticated"), "{who}");
        d.screenshot(&shots.join("04-credential.png")).await;

        let out = d
            .run(&format!(r#"Credential.byDocument(Customer.byId("{id}"))!.login("sekret")"#), &mut runs)
            .await;
        assert!(out.contains(r#"coll: Token, ts: Time(""#), "{out}");
        assert!(out.contains(&format!(r#"document: Customer("{id}")"#)), "{out}");
        let token = field(&out, "secret");
        assert!(token.starts_with("snt_"), "{out}");
        d.screenshot(&shots.join("05-login.png")).await;

        // Run as: Secret, with the token's secret.
        d.click("#mode-secret").await;
        d.type_into("#secret", &token).await;
        let out = d.run("Query.identity()", &mut runs).await;
        assert!(out.starts_with(&format!(r#"{{ id: "{id}", coll: Customer, ts: Time(""#)), "{out}");
        d.screenshot(&shots.join("06-identity.png")).await;

        let out = d.run("Query.token()!.delete()", &mut runs).await;
        assert!(out.contains("Token(") || out.contains("coll: Token"), "{out}");
        d.screenshot(&shots.join("07-logout.png")).await;

        let out = d.run("Query.token()", &mut runs).await;
        assert!(out.starts_with("unauthorized: "), "{out}");
        d.click("#raw").await;
        let raw = d
            .script("return getComputedStyle(document.querySelector('#results .entry:last-child .raw')).display")
            .await;
        assert_eq!(raw, "block", "the raw JSON toggle shows it");
        d.screenshot(&shots.join("08-unauthorized.png")).await;

        // Nothing kept anywhere but in the page's memory.
        let kept = d
            .script("return [localStorage.length, sessionStorage.length, document.cookie, location.href]")
            .await;
        assert_eq!(kept, json!([0, 0, "", shell]));
        d.s(http::Method::DELETE, "", None).await;

        // Every byte the browser sent: HTTP/1.1, only the shell's assets and /query/1, and
        // the secrets only ever right after `Authorization: Bearer `.
        let seen = seen.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&seen).into_owned();
        let mut queries = 0;
        // A request line may follow the previous request's body on the same "line".
        assert!(!text.contains("PRI * HTTP/2.0"), "HTTP/1.1 only");
        for line in text.split("\r\n").filter(|l| l.contains(" HTTP/")) {
            let mut w = line.rsplit(' ');
            let (v, path, m) = (w.next().unwrap(), w.next().unwrap_or(""), w.next().unwrap_or(""));
            let m = &m[m.trim_end_matches(|c: char| c.is_ascii_uppercase()).len()..];
            assert_eq!(v, "HTTP/1.1", "{line}");
            match (m, path) {
                ("POST", "/query/1") => queries += 1,
                ("GET", "/shell" | "/shell/shell.css" | "/shell/shell.js" | "/favicon.ico") => {}
                _ => panic!("unexpected request from the page: {line}"),
            }
        }
        assert!(queries >= 8, "{queries} queries seen");
        for secret in [ADMIN, token.as_str()] {
            let hits: Vec<usize> = text.match_indices(secret).map(|(i, _)| i).collect();
            assert!(!hits.is_empty(), "the secret was sent");
            for i in hits {
                let before = text[..i].to_ascii_lowercase();
                assert!(before.ends_with("\r\nauthorization: bearer "), "a secret outside the Authorization header: …{}", &text[i.saturating_sub(80)..i]);
            }
        }
        Ok::<(), String>(())
    });
    let _ = driver_proc.kill();
    let _ = driver_proc.wait();
    let _ = std::fs::remove_dir_all(profile);
    result.expect("browser tutorial");
    eprintln!("screenshots in {}", shots.display());
}
