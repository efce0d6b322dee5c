//! Queries in Fauna's language (FQL, via `sesame-fql`): [`Engine::query`] runs one
//! `POST /query/1` body as exactly one store transaction, on a query thread with a large stack,
//! with the caller's rights. A query that fails or aborts writes nothing; one that loses a
//! serialization conflict is run again (a bounded number of times). Not HTTP: the server maps
//! headers to [`QueryOptions`] and the answer's status and body to a response.

mod acting;
pub(crate) mod convert;
mod host;
mod passwords;
mod rights;
mod roles;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sesame_fql::{Code, Format, Limits, QueryError};

use crate::{AuthError, Caller, Engine};
pub(crate) use host::EngineHost;
pub use rights::FILTER_SCAN_BOUND;

/// An error of the transaction host, for the engine's other surfaces.
pub(crate) fn query_to_auth(e: QueryError) -> AuthError {
    match e.code {
        Code::PermissionDenied => AuthError::PermissionDenied,
        Code::DocumentNotFound => AuthError::not_found(e.message),
        Code::ConstraintFailure if !e.constraint_failures.is_empty() => {
            AuthError::InvalidDefinition {
                message: e.message,
                failures: e
                    .constraint_failures
                    .into_iter()
                    .map(|f| sesame_model::RoleFault {
                        path: f.paths.into_iter().next().unwrap_or_default(),
                        message: f.message,
                    })
                    .collect(),
            }
        }
        Code::ConstraintFailure => AuthError::ConstraintFailure { message: e.message },
        Code::InternalError => AuthError::Internal(e.message.into()),
        Code::TimeOut => AuthError::invalid(
            "The request ran out of time deciding role predicates; read fewer documents at once.",
        ),
        _ => AuthError::invalid(e.message),
    }
}

/// How one query runs.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Simple (default) or tagged JSON for the result.
    pub format: Format,
    /// Wall-clock budget (from `X-Query-Timeout-Ms`), bounded by [`MAX_QUERY_TIME`].
    pub timeout: Option<Duration>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions { format: Format::Simple, timeout: None }
    }
}

/// The longest a query may run, whatever the client asks.
pub const MAX_QUERY_TIME: Duration = Duration::from_secs(30);

/// How long a REST operation decided by role predicates may take in all.
pub const REST_ROLE_TIME: Duration = Duration::from_secs(10);

/// How many times a query that lost a serialization conflict is run in all.
const MAX_ATTEMPTS: u32 = 5;

/// A query's answer: the HTTP status and the JSON body of Fauna's protocol.
#[derive(Debug, Clone)]
pub struct QueryAnswer {
    /// 200, or the error code's status (400 for query errors, 401, 440, 503…).
    pub status: u16,
    /// `{data | error, summary, txn_ts, stats, schema_version}`.
    pub body: Json,
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads queries run on: each with a large stack (the evaluator recurses), fed by one
/// queue. Started on the first query.
#[derive(Debug)]
pub(crate) struct QueryPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl QueryPool {
    fn start() -> QueryPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8) * 4;
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sesame-query-{i}"))
                .stack_size(QUERY_STACK)
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a query thread");
            }
        }
        QueryPool { jobs: Mutex::new(tx) }
    }
}

/// A query thread's stack: what the evaluator needs in an unoptimised build (a release build
/// needs a quarter of it); address space, not memory, until used.
const QUERY_STACK: usize = 64 * 1024 * 1024;

fn answer(e: &QueryError) -> QueryAnswer {
    QueryAnswer {
        status: e.http_status(),
        body: serde_json::json!({ "error": sesame_fql::error_json(e, None) }),
    }
}

/// The query threads, started on first use.
fn pool() -> &'static QueryPool {
    static POOL: OnceLock<QueryPool> = OnceLock::new();
    POOL.get_or_init(QueryPool::start)
}

impl Engine {
    /// Runs `f` as `c` with a transaction host on a query thread: for operations of other
    /// surfaces whose rights come from user-defined roles (predicates need the evaluator, which
    /// is synchronous). A write transaction when `write`, else a read-only one; commits when `f`
    /// succeeds (and the roles it wrote name existing collections), rolls back otherwise,
    /// retries on contention, and writes the audit events after the commit.
    pub(crate) async fn in_host<T, F>(&self, c: &Caller, write: bool, f: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: Fn(&mut EngineHost<'_>) -> Result<T, AuthError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (engine, caller, rt) = (self.clone(), c.clone(), tokio::runtime::Handle::current());
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engine.run_in_host(&rt, &caller, write, &f)
            }));
            let r = r.unwrap_or_else(|_| {
                tracing::error!("an engine operation panicked on a query thread");
                Err(AuthError::Internal("panicked".into()))
            });
            let _ = tx.send(r);
        });
        let sent = pool().jobs.lock().map(|j| j.send(job).is_ok()).unwrap_or(false);
        if !sent {
            return Err(AuthError::Internal("no query thread".into()));
        }
        rx.await.unwrap_or_else(|_| Err(AuthError::Internal("query thread gone".into())))
    }

    fn run_in_host<T>(
        &self,
        rt: &tokio::runtime::Handle,
        c: &Caller,
        write: bool,
        f: &dyn Fn(&mut EngineHost<'_>) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let _rt = rt.enter();
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let begin = if write {
                rt.block_on(self.store.begin(self.clock.now()))
            } else {
                rt.block_on(self.store.begin_read(self.clock.now()))
            };
            let tx = begin.map_err(AuthError::from)?;
            let mut host = EngineHost {
                engine: self,
                rt,
                caller: c,
                tx: &*tx,
                schema: HashMap::new(),
                on_commit: Vec::new(),
                contention: false,
                read_only: !write,
                wants_write: false,
                roles: None,
                in_predicate: 0,
                roles_written: Vec::new(),
                filter_scanned: 0,
                deadline: Some(started + REST_ROLE_TIME),
            };
            let mut r = f(&mut host);
            if r.is_ok() {
                if let Err(e) = host.check_written_roles() {
                    r = Err(query_to_auth(e));
                }
            }
            let (contention, events) = (host.contention, std::mem::take(&mut host.on_commit));
            drop(host);
            let outcome = match r {
                Ok(v) if !contention => match rt.block_on(tx.commit()) {
                    Ok(()) => Ok(v),
                    Err(e) => Err(AuthError::from(e)),
                },
                Ok(_) => {
                    let _ = rt.block_on(tx.rollback());
                    Err(AuthError::Unavailable(sesame_store::StoreError::Contention(
                        "contention".into(),
                    )))
                }
                Err(e) => {
                    let _ = rt.block_on(tx.rollback());
                    Err(e)
                }
            };
            let retry = contention
                || matches!(
                    &outcome,
                    Err(AuthError::Unavailable(sesame_store::StoreError::Contention(_)))
                );
            match outcome {
                Ok(v) => {
                    for e in events {
                        rt.block_on(self.emit(e));
                    }
                    return Ok(v);
                }
                Err(_) if retry && attempts < MAX_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs one query (a `POST /query/1` body) as `c`, in one transaction.
    pub async fn query(&self, c: &Caller, body: Json, opts: QueryOptions) -> QueryAnswer {
        let pool = pool();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (engine, caller, rt) = (self.clone(), c.clone(), tokio::runtime::Handle::current());
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engine.run_query(&rt, &caller, &body, &opts)
            }));
            let r = r.unwrap_or_else(|_| {
                tracing::error!("a query panicked");
                answer(&QueryError::new(Code::InternalError, "Internal error."))
            });
            let _ = tx.send(r);
        });
        let sent = pool.jobs.lock().map(|j| j.send(job).is_ok()).unwrap_or(false);
        if !sent {
            return answer(&QueryError::new(Code::InternalError, "No query thread."));
        }
        rx.await
            .unwrap_or_else(|_| answer(&QueryError::new(Code::InternalError, "Internal error.")))
    }

    /// One query on this (query) thread: begin, evaluate, commit or roll back; again on
    /// contention.
    fn run_query(
        &self,
        rt: &tokio::runtime::Handle,
        c: &Caller,
        body: &Json,
        opts: &QueryOptions,
    ) -> QueryAnswer {
        // Some engine paths spawn (background audit writes): give this thread the runtime.
        let _rt = rt.enter();
        let started = Instant::now();
        let budget = opts.timeout.unwrap_or(MAX_QUERY_TIME).min(MAX_QUERY_TIME);
        let limits = Limits { deadline: Some(started + budget), ..Limits::default() };
        let options = sesame_fql::Options { format: opts.format, limits };
        let mut retries = 0u32;
        // Read-only first: most auth queries only read, and a read-only transaction takes no
        // writer lock on the memory store. The first write (checked before it has any effect)
        // sends the query to a write transaction.
        let mut read_only = true;
        loop {
            let begin = if read_only {
                rt.block_on(self.store.begin_read(self.clock.now()))
            } else {
                rt.block_on(self.store.begin(self.clock.now()))
            };
            let tx = match begin {
                Ok(tx) => tx,
                Err(e) => {
                    tracing::warn!(error = %e, "could not begin a query transaction");
                    return QueryAnswer {
                        status: 503,
                        body: serde_json::json!({"error": {"code": "unavailable",
                            "message": "The store is unavailable; try again later."}}),
                    };
                }
            };
            let mut host = EngineHost {
                engine: self,
                rt,
                caller: c,
                tx: &*tx,
                schema: HashMap::new(),
                on_commit: Vec::new(),
                contention: false,
                read_only,
                wants_write: false,
                roles: None,
                in_predicate: 0,
                roles_written: Vec::new(),
                filter_scanned: 0,
                deadline: options.limits.deadline,
            };
            let r = sesame_fql::run(&mut host, body, &options);
            // Roles written must name collections that exist now that the query is done.
            let schema = if r.ok { host.check_written_roles().err() } else { None };
            let (contention, events) = (host.contention, std::mem::take(&mut host.on_commit));
            let wants_write = host.wants_write;
            drop(host);
            if wants_write {
                let _ = rt.block_on(tx.rollback());
                read_only = false;
                continue;
            }
            if let Some(e) = schema.filter(|_| !contention) {
                let _ = rt.block_on(tx.rollback());
                return answer(&e);
            }
            let committed = if r.ok && !contention {
                match rt.block_on(tx.commit()) {
                    Ok(()) => Ok(()),
                    Err(sesame_store::StoreError::Contention(_)) => Err(true),
                    Err(e) => {
                        tracing::warn!(error = %e, "query commit failed");
                        Err(false)
                    }
                }
            } else {
                let _ = rt.block_on(tx.rollback());
                Err(contention)
            };
            match committed {
                Ok(()) => {
                    for e in events {
                        rt.block_on(self.emit(e));
                    }
                    let mut body = r.body;
                    finish_stats(&mut body, started, retries);
                    return QueryAnswer { status: r.status, body };
                }
                Err(true) if retries + 1 < MAX_ATTEMPTS => retries += 1,
                Err(true) => {
                    return QueryAnswer {
                        status: 409,
                        body: serde_json::json!({"error": {"code": "contended_transaction",
                            "message": "Transaction was aborted due to detection of concurrent modifications."}}),
                    }
                }
                Err(false) if r.ok => {
                    return QueryAnswer {
                        status: 503,
                        body: serde_json::json!({"error": {"code": "unavailable",
                            "message": "The store is unavailable; try again later."}}),
                    }
                }
                Err(false) => {
                    let mut body = r.body;
                    finish_stats(&mut body, started, retries);
                    return QueryAnswer { status: r.status, body };
                }
            }
        }
    }
}

fn finish_stats(body: &mut Json, started: Instant, retries: u32) {
    if let Some(stats) = body.get_mut("stats").and_then(Json::as_object_mut) {
        stats.insert("query_time_ms".into(), Json::from(started.elapsed().as_millis() as u64));
        stats.insert("contention_retries".into(), Json::from(retries));
    }
}
