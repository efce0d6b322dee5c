//! Configuration: the only code that reads flags and environment variables.
//!
//! `clap` parses flags with environment fallbacks (`SESAME_*`, `DATABASE_URL`); [`Config`] turns
//! them into the typed sections other crates own ([`AuthConfig`], [`PgConfig`],
//! [`ServerConfig`]). Secrets (the admin secret, the database password) are hidden from
//! `--help` and redacted in `Debug`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sesame_auth::{AuthConfig, HashParams};
use sesame_model::Secret;
use sesame_postgres::PgConfig;

use crate::telemetry::LogFormat;
use crate::ServerConfig;

/// Sesame: identities, password credentials, tokens and keys, after Fauna's auth model.
#[derive(Debug, Parser)]
#[command(
    name = "sesame",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Without a command, `sesame` runs `sesame serve`; its flags are listed, grouped by \
                  topic, by `sesame serve --help`."
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    /// Flags of `serve`, when no subcommand is given.
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// An FQL shell in the terminal, against a running server's `/query/1`.
    Shell(ShellArgs),
    /// Create, list and revoke keys directly in the database.
    Key {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeyCommand,
    },
}

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Mint a key and print its secret once, on standard output.
    Create(KeyCreateArgs),
    /// List keys (id, role, created, expires); never their secrets, which are not stored.
    List(DbArgs),
    /// Revoke a key by id: its secret stops working at once, on every instance.
    Revoke(KeyRevokeArgs),
}

impl Cli {
    /// The command-line definition as `sesame` shows it: the flags of `serve`, which also work
    /// without the `serve` command, are hidden from the top-level help so that it lists the
    /// commands; `sesame serve --help` lists them, grouped by topic.
    pub fn command() -> clap::Command {
        <Cli as clap::CommandFactory>::command().mut_args(|a| a.hide(true))
    }

    /// Parses `args` (the first is the program name) with [`Cli::command`].
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches as _;
        let mut cmd = Cli::command();
        let m = cmd.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
    }

    /// Parses the process arguments, exiting with clap's message on error or `--help`.
    pub fn parse_or_exit() -> Cli {
        Cli::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

/// Flags of `sesame serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (HTTP/1.1 and cleartext HTTP/2 on one port).
    #[arg(long, help_heading = "Server", env = "SESAME_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// A secret that authenticates as admin: 16 to 512 characters, no whitespace. Compared in
    /// constant time and never stored. Absent with the memory store: an admin key is generated and printed
    /// once. Absent with Postgres: an admin key must exist (`sesame key create --role admin`).
    #[arg(long, help_heading = "Server", env = "SESAME_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, help_heading = "Server", env = "SESAME_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Longest wait for in-flight requests at shutdown, seconds.
    #[arg(
        long,
        help_heading = "Server",
        env = "SESAME_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub shutdown_timeout_secs: u64,
    /// Postgres URL (postgres://user:pass@host:port/db). Absent: an in-memory store that keeps
    /// nothing across restarts.
    #[arg(long, help_heading = "Storage", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Extra trusted CA certificates (PEM) for a database URL with `sslmode=require` (Mozilla's
    /// roots are always trusted). Without `sslmode=require` the connection is plaintext.
    #[arg(long, help_heading = "Storage", env = "SESAME_DATABASE_CA_FILE")]
    pub database_ca_file: Option<std::path::PathBuf>,
    /// Postgres schema for Sesame's tables, created by migrations if missing (`public` for
    /// databases set up before this default).
    #[arg(
        long,
        help_heading = "Storage",
        env = "SESAME_DATABASE_SCHEMA",
        default_value = "sesame"
    )]
    pub database_schema: String,
    /// Most Postgres connections.
    #[arg(long, help_heading = "Storage", env = "SESAME_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: usize,
    /// Longest wait to connect to Postgres or get a pooled connection, seconds.
    #[arg(long, help_heading = "Storage", env = "SESAME_DB_TIMEOUT_SECS", default_value_t = 5)]
    pub db_timeout_secs: u64,
    /// How often expired tokens are deleted, seconds (0: never; expiry is enforced at use
    /// time regardless).
    #[arg(
        long,
        help_heading = "Storage",
        env = "SESAME_SWEEP_INTERVAL_SECS",
        default_value_t = 60
    )]
    pub sweep_interval_secs: u64,
    /// Do not apply migrations at start-up (run `sesame migrate` yourself).
    #[arg(long, help_heading = "Storage", env = "SESAME_SKIP_MIGRATIONS")]
    pub skip_migrations: bool,
    /// Argon2id memory per hash, KiB (OWASP: 19456).
    #[arg(long, help_heading = "Hashing", env = "SESAME_HASH_MEMORY_KIB", default_value_t = HashParams::OWASP.m_cost_kib)]
    pub hash_memory_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    #[arg(long, help_heading = "Hashing", env = "SESAME_HASH_ITERATIONS", default_value_t = HashParams::OWASP.t_cost)]
    pub hash_iterations: u32,
    /// Argon2id lanes (OWASP: 1).
    #[arg(long, help_heading = "Hashing", env = "SESAME_HASH_PARALLELISM", default_value_t = HashParams::OWASP.p_cost)]
    pub hash_parallelism: u32,
    /// Hashes run at once [default: CPUs − 1, at least 1].
    #[arg(long, help_heading = "Hashing", env = "SESAME_HASH_THREADS")]
    pub hash_threads: Option<usize>,
    /// Shortest password accepted when one is set, in bytes.
    #[arg(long, help_heading = "Hashing", env = "SESAME_MIN_PASSWORD_LENGTH", default_value_t = 1)]
    pub min_password_length: usize,
    /// Longest password accepted, in bytes.
    #[arg(
        long,
        help_heading = "Hashing",
        env = "SESAME_MAX_PASSWORD_LENGTH",
        default_value_t = 1024
    )]
    pub max_password_length: usize,
    /// Login attempts allowed per client address per minute (0: no per-address limit; the
    /// per-account throttle always applies).
    #[arg(
        long,
        help_heading = "Throttling",
        env = "SESAME_LOGIN_RATE_PER_IP",
        default_value_t = 60
    )]
    pub login_rate_per_ip: u32,
    /// Login attempts a client address may make in a burst.
    #[arg(
        long,
        help_heading = "Throttling",
        env = "SESAME_LOGIN_BURST_PER_IP",
        default_value_t = 20
    )]
    pub login_burst_per_ip: u32,
    /// Consecutive failed logins per account before delays start (0: no delays).
    #[arg(
        long,
        help_heading = "Throttling",
        env = "SESAME_THROTTLE_FREE_FAILURES",
        default_value_t = 3
    )]
    pub throttle_free_failures: u32,
    /// Longest delay between failed logins on one account, seconds.
    #[arg(
        long,
        help_heading = "Throttling",
        env = "SESAME_THROTTLE_MAX_DELAY_SECS",
        default_value_t = 60
    )]
    pub throttle_max_delay_secs: u64,
    /// Log line format.
    #[arg(
        long,
        help_heading = "Observability",
        env = "SESAME_LOG_FORMAT",
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,
    /// How long audit events are kept, days (0: forever).
    #[arg(
        long,
        help_heading = "Observability",
        env = "SESAME_AUDIT_RETENTION_DAYS",
        default_value_t = 90
    )]
    pub audit_retention_days: u32,
    /// Serve Prometheus metrics at `GET /metrics` on this separate address (e.g.
    /// 127.0.0.1:9187). Absent: no metrics. Keep it private: it has no authentication.
    #[arg(long, help_heading = "Observability", env = "SESAME_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the web shell (an FQL console) at `/shell` [default: on when listening on
    /// loopback, off otherwise]. `--shell` or `--shell=true` turns it on, `--shell=false` off.
    #[arg(
        long,
        help_heading = "Server",
        env = "SESAME_SHELL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub shell: Option<bool>,
}

/// Flags of commands that only need the database.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Postgres URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Postgres schema for Sesame's tables (created by migrations if missing).
    #[arg(long, env = "SESAME_DATABASE_SCHEMA", default_value = "sesame")]
    pub database_schema: String,
    /// Log line format.
    #[arg(long, env = "SESAME_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

/// Flags of `sesame shell`. The secret comes from `--secret-file`, `SESAME_SECRET`, or a prompt
/// without echo; never from a flag, which other users of the machine could see.
#[derive(Debug, Clone, Args)]
pub struct ShellArgs {
    /// The server's base URL (http://; the shell posts to `<URL>/query/1` over HTTP/1.1).
    #[arg(long, env = "SESAME_ENDPOINT", default_value = "http://127.0.0.1:8787")]
    pub endpoint: String,
    /// A file whose first line is the secret to run queries with (else `SESAME_SECRET`, else a
    /// prompt).
    #[arg(long)]
    pub secret_file: Option<std::path::PathBuf>,
    /// Run this query, print its answer and exit (repeatable; stops at the first error with
    /// exit status 1). Without `-e` and without a terminal, standard input holds the queries,
    /// one per blank-line-separated block.
    #[arg(short = 'e', long = "eval", value_name = "QUERY")]
    pub eval: Vec<String>,
}

/// The secret `sesame shell` uses when no `--secret-file` is given: `SESAME_SECRET`.
pub fn shell_secret_env() -> Option<String> {
    std::env::var("SESAME_SECRET").ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `$XDG_STATE_HOME`, else `~/.local/state` (where `sesame shell` keeps its history).
pub fn state_home() -> Option<std::path::PathBuf> {
    let abs = |v: std::ffi::OsString| {
        let p = std::path::PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    std::env::var_os("XDG_STATE_HOME")
        .and_then(abs)
        .or_else(|| std::env::var_os("HOME").and_then(abs).map(|h| h.join(".local").join("state")))
}

/// Flags of `sesame key create`.
#[derive(Debug, Clone, Args)]
pub struct KeyCreateArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The key's role.
    #[arg(long, value_parser = ["admin", "server", "server-readonly"])]
    pub role: String,
    /// When the key expires: RFC 3339 time, or seconds from now.
    #[arg(long)]
    pub ttl: Option<String>,
}

/// Flags of `sesame key revoke`.
#[derive(Debug, Clone, Args)]
pub struct KeyRevokeArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The id of the key to revoke (see `sesame key list`).
    pub id: String,
}

/// Where data lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// In memory; lost on exit.
    Memory,
    /// In Postgres.
    Postgres(PgConfig),
}

/// Everything `serve` needs, typed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// HTTP settings.
    pub server: ServerConfig,
    /// Engine settings.
    pub auth: AuthConfig,
    /// Storage.
    pub store: StoreConfig,
    /// Log format.
    pub log_format: LogFormat,
    /// Sweep interval; `None` disables the sweeper.
    pub sweep_interval: Option<Duration>,
    /// Whether to apply migrations at start-up.
    pub migrate: bool,
    /// Where to serve metrics, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// A configuration value is invalid; the message names the flag and variable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Builds the Postgres section from a URL and the pool flags.
pub fn pg_config(
    url: &str,
    max_connections: usize,
    timeout: Duration,
) -> Result<PgConfig, ConfigError> {
    let cfg = PgConfig {
        max_connections: max_connections.max(1),
        connect_timeout: timeout,
        acquire_timeout: timeout,
        ..PgConfig::new(url)
    };
    let problem = url_problem(url);
    if problem.is_some() || cfg.check().is_err() {
        return Err(ConfigError(format!(
            "--database-url / DATABASE_URL is not a valid Postgres URL ({}): {}",
            problem.unwrap_or("it could not be parsed"),
            safe_url(url)
        )));
    }
    Ok(cfg)
}

/// What is wrong with a Postgres URL, in words that never quote its parts (a mistyped URL can
/// put a password where a host or port belongs). `None` when nothing obvious is; the driver's
/// parser has the last word.
fn url_problem(url: &str) -> Option<&'static str> {
    const FORM: &str = "expected postgres://user:password@host:port/database";
    if url.chars().any(|c| c.is_whitespace()) && url.contains("://") {
        return Some("it contains whitespace");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        // libpq's `key=value` form (`host=… dbname=…`) has no scheme.
        return if url.contains('=') { None } else { Some(FORM) };
    };
    if scheme != "postgres" && scheme != "postgresql" {
        return Some("the scheme must be postgres:// or postgresql://");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if userinfo.is_some_and(str::is_empty) {
        return Some("the user name before `@` is empty");
    }
    if hosts.is_empty() {
        let host_param = rest.split_once('?').is_some_and(|(_, q)| {
            q.split('&').any(|kv| kv.starts_with("host=") && kv.len() > "host=".len())
        });
        return (!host_param).then_some("no host: expected @host after the user name");
    }
    for host in hosts.split(',') {
        let (name, port) = if let Some(v6) = host.strip_prefix('[') {
            match v6.split_once(']') {
                Some((addr, tail)) => (addr, tail.strip_prefix(':')),
                None => return Some("an IPv6 host is missing its closing `]`"),
            }
        } else {
            match host.rsplit_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (host, None),
            }
        };
        if name.is_empty() {
            return Some("a host name is empty");
        }
        if let Some(p) = port {
            if !matches!(p.parse::<u16>(), Ok(1..)) {
                return Some("the port is not a number from 1 to 65535");
            }
        }
    }
    None
}

/// The URL for an error message: the password (and anything that may be one) replaced by `****`.
fn safe_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "****".into();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:****@{host}"),
            None => format!("{user}@{host}"),
        },
        // No `@`: `user:password` typed without a host would look like `host:port`.
        None => match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_err() => format!("{host}:****"),
            _ => authority.to_owned(),
        },
    };
    let tail = match tail.split_once('?') {
        Some((path, _)) => format!("{path}?…"),
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl Config {
    /// Checks the flags of `serve`.
    pub fn from_args(a: ServeArgs) -> Result<Config, ConfigError> {
        let admin_secret = match a.admin_secret {
            Some(s) if s.len() < 16 || s.len() > 512 || s.chars().any(char::is_whitespace) => {
                return Err(ConfigError(
                    "--admin-secret / SESAME_ADMIN_SECRET must be 16 to 512 characters without spaces".into(),
                ));
            }
            other => other.map(Secret::new),
        };
        if a.min_password_length > a.max_password_length || a.max_password_length == 0 {
            return Err(ConfigError(
                "--min-password-length must not exceed --max-password-length (which must be at least 1)".into(),
            ));
        }
        let hash_params = HashParams {
            m_cost_kib: a.hash_memory_kib,
            t_cost: a.hash_iterations,
            p_cost: a.hash_parallelism,
        };
        if sesame_auth::Hasher::new(hash_params, 1).is_err() {
            return Err(ConfigError(
                "--hash-memory-kib / --hash-iterations / --hash-parallelism are not valid Argon2 parameters (memory must be at least 8 × parallelism)".into(),
            ));
        }
        let store = match a.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let mut pg = pg_config(
                    url,
                    a.db_max_connections,
                    Duration::from_secs(a.db_timeout_secs.max(1)),
                )?;
                pg.ca_file = a.database_ca_file.clone();
                pg.schema = Some(a.database_schema.clone());
                pg.check().map_err(|e| {
                    ConfigError(format!("--database-ca-file / SESAME_DATABASE_CA_FILE: {e}"))
                })?;
                StoreConfig::Postgres(pg)
            }
            None => StoreConfig::Memory,
        };
        Ok(Config {
            listen: a.listen,
            server: ServerConfig {
                max_body_bytes: a.max_body_bytes.max(1),
                shutdown_timeout: Duration::from_secs(a.shutdown_timeout_secs),
                // An admin console: on a public address it invites phishing and guessing.
                shell: a.shell.unwrap_or_else(|| a.listen.ip().is_loopback()),
                ..ServerConfig::default()
            },
            auth: AuthConfig {
                hash_params,
                hash_concurrency: a
                    .hash_threads
                    .unwrap_or_else(AuthConfig::default_hash_concurrency)
                    .max(1),
                min_password_len: a.min_password_length,
                max_password_len: a.max_password_length,
                admin_secret,
                audit_retention_days: Some(a.audit_retention_days),
                throttle: sesame_auth::ThrottleConfig {
                    free_failures: a.throttle_free_failures,
                    max_delay_secs: a.throttle_max_delay_secs.max(1),
                    per_address_per_minute: a.login_rate_per_ip,
                    per_address_burst: a.login_burst_per_ip,
                    ..sesame_auth::ThrottleConfig::default()
                },
                ..AuthConfig::default()
            },
            store,
            log_format: a.log_format,
            sweep_interval: (a.sweep_interval_secs > 0)
                .then(|| Duration::from_secs(a.sweep_interval_secs)),
            migrate: !a.skip_migrations,
            metrics_listen: a.metrics_listen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["sesame", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("flags parse").command {
            Some(Command::Serve(a)) => a,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let cfg = Config::from_args(serve_args(&[
            "--admin-secret",
            "super-secret-admin-value-42",
            "--database-url",
            "postgres://app:db-password-xyz@127.0.0.1:5432/sesame",
        ]))
        .unwrap();
        let dump = format!("{cfg:?}");
        assert!(!dump.contains("super-secret-admin-value-42"), "{dump}");
        assert!(!dump.contains("db-password-xyz"), "{dump}");
        assert!(dump.contains("127.0.0.1:5432"), "the rest stays readable: {dump}");
    }

    #[test]
    fn defaults_are_memory_owasp_and_loopback() {
        let cfg = Config::from_args(serve_args(&[])).unwrap();
        assert!(matches!(cfg.store, StoreConfig::Memory));
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(cfg.auth.hash_params, HashParams::OWASP);
        assert_eq!(cfg.server.max_body_bytes, 64 * 1024);
        assert!(cfg.server.shell, "the web shell is on on loopback");
    }

    #[test]
    fn the_shell_is_off_off_loopback_unless_asked_for() {
        let shell = |args: &[&str]| Config::from_args(serve_args(args)).unwrap().server.shell;
        assert!(shell(&["--listen", "[::1]:8787"]));
        assert!(!shell(&["--listen", "0.0.0.0:8787"]));
        assert!(!shell(&["--listen", "10.1.2.3:8787"]));
        assert!(shell(&["--listen", "0.0.0.0:8787", "--shell"]));
        assert!(shell(&["--listen", "0.0.0.0:8787", "--shell=true"]));
        assert!(!shell(&["--listen", "127.0.0.1:8787", "--shell=false"]));
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        for (args, flag) in [
            (vec!["--admin-secret", "short"], "--admin-secret"),
            (vec!["--database-url", "not a url"], "--database-url"),
            (
                vec!["--min-password-length", "10", "--max-password-length", "5"],
                "--min-password-length",
            ),
            (vec!["--hash-memory-kib", "1"], "--hash-memory-kib"),
        ] {
            let e = Config::from_args(serve_args(&args)).unwrap_err();
            assert!(e.to_string().contains(flag), "{e}");
        }
    }

    #[test]
    fn bad_database_urls_say_why_and_never_show_the_password() {
        for (url, reason) in [
            ("not a url", "expected postgres://user:password@host:port/database"),
            ("mysql://app:pw-SECRET-1@db.example/sesame", "scheme"),
            ("postgres://app:pw-SECRET-1@db.example:54x2/sesame", "port"),
            ("postgres://app:pw-SECRET-1@db.example:0/sesame", "port"),
            ("postgres://app:pw-SECRET-1@/sesame", "no host"),
            ("postgres://app:pw-SECRET-1@[::1/sesame", "IPv6"),
            // A forgotten `@host`: the password sits where a port belongs.
            ("postgres://app:pw-SECRET-1", "port"),
            ("postgres://app:pw SECRET-1@db.example/sesame", "whitespace"),
        ] {
            let e =
                Config::from_args(serve_args(&["--database-url", url])).unwrap_err().to_string();
            assert!(e.contains("--database-url"), "{url}: {e}");
            assert!(e.contains(reason), "{url}: expected {reason:?} in {e}");
            assert!(!e.contains("SECRET"), "{url}: the password leaked: {e}");
        }
        for url in [
            "postgres://app:pw@db.example:5432/sesame",
            "postgresql://app@127.0.0.1/sesame?sslmode=disable",
            "postgres://app:pw@[::1]:5432/sesame",
            "postgres://app:pw@h1:5432,h2:5433/sesame",
            "postgres:///sesame?host=/var/run/postgresql",
            "host=127.0.0.1 user=app dbname=sesame",
        ] {
            assert!(pg_config(url, 1, Duration::from_secs(1)).is_ok(), "{url} is valid");
        }
    }

    #[test]
    fn help_is_grouped_by_topic_and_states_the_real_rules() {
        let top = Cli::command().render_help().to_string();
        assert!(top.contains("serve") && top.contains("key"), "{top}");
        assert!(!top.contains("--hash-memory-kib"), "serve flags stay out of the top level: {top}");
        assert!(top.contains("sesame serve --help"), "{top}");
        let mut cmd = Cli::command();
        let serve = cmd.find_subcommand_mut("serve").expect("serve").render_help().to_string();
        let at = |s: &str| serve.find(s).unwrap_or_else(|| panic!("{s} missing from\n{serve}"));
        for (heading, flag) in [
            ("Server:", "--listen"),
            ("Storage:", "--database-url"),
            ("Hashing:", "--hash-memory-kib"),
            ("Throttling:", "--login-rate-per-ip"),
            ("Observability:", "--metrics-listen"),
        ] {
            assert!(at(heading) < at(flag), "{flag} under {heading}");
        }
        assert!(serve.contains("16 to 512 characters, no whitespace"), "{serve}");
        // The serve flags still work without the command.
        let cli = Cli::try_parse_from(["sesame", "--listen", "127.0.0.1:9"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen.port(), 9);
        for argv in [&["sesame", "key", "list"][..], &["sesame", "key", "revoke", "123"]] {
            let mut argv = argv.to_vec();
            argv.extend(["--database-url", "postgres://a@b/c"]);
            assert!(matches!(
                Cli::try_parse_from(argv).expect("parses").command,
                Some(Command::Key { .. })
            ));
        }
    }
}
