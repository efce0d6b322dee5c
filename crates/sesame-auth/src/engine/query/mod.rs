//! Queries in Fauna's language (FQL, via `sesame-fql`): [`Engine::query`] runs one
//! `POST /query/1` body as exactly one store transaction, on a query thread with a large stack,
//! with the caller's rights. A query that fails or aborts writes nothing; one that loses a
//! serialization conflict is run again (a bounded number of times). Not HTTP: the server maps
//! headers to [`QueryOptions`] and the answer's status and body to a response.

mod convert;
mod host;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sesame_fql::{Code, Format, Limits, QueryError};

use crate::{Caller, Engine};
use host::EngineHost;

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

impl Engine {
    /// Runs one query (a `POST /query/1` body) as `c`, in one transaction.
    pub async fn query(
        self: &Arc<Self>,
        c: &Caller,
        body: Json,
        opts: QueryOptions,
    ) -> QueryAnswer {
        static POOL: OnceLock<QueryPool> = OnceLock::new();
        let pool = POOL.get_or_init(QueryPool::start);
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
            };
            let r = sesame_fql::run(&mut host, body, &options);
            let (contention, events) = (host.contention, std::mem::take(&mut host.on_commit));
            let wants_write = host.wants_write;
            drop(host);
            if wants_write {
                let _ = rt.block_on(tx.rollback());
                read_only = false;
                continue;
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
