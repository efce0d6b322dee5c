//! Graceful shutdown of served connections: [`Drain::watch`] wraps each connection, and
//! [`Drain::shutdown`] asks every watched connection to finish its in-flight requests and
//! close, then waits until all of them have.
//!
//! hyper-util's `GracefulShutdown` does the same through a `watch` channel whose receiver each
//! connection polls on every wake-up, which takes a mutex shared with other connections each
//! time (a cache line that moves between cores on every request). Here a connection registers
//! its task's waker once (again only if the task's waker changes) and otherwise reads one
//! atomic flag per poll. Not a general-purpose cancellation primitive.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hyper_util::server::graceful::GracefulConnection;

/// The shared side: the stop flag, the wakers of the watched connections, their number.
#[derive(Debug, Default)]
struct Inner {
    stopping: AtomicBool,
    wakers: Mutex<slab::Slab<Waker>>,
    live: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Watches connections for a graceful shutdown.
#[derive(Debug, Default, Clone)]
pub struct Drain {
    inner: Arc<Inner>,
}

impl Drain {
    /// A drain with no connections.
    pub fn new() -> Self {
        Drain::default()
    }

    /// Wraps `conn`: it runs as before until [`Drain::shutdown`], which asks it to close once
    /// its in-flight requests are answered.
    pub fn watch<C: GracefulConnection>(&self, conn: C) -> Watched<C> {
        self.inner.live.fetch_add(1, Ordering::SeqCst);
        Watched { conn: Box::pin(conn), inner: self.inner.clone(), slot: None, signalled: false }
    }

    /// Asks every watched connection to finish and close, and waits until all have ended.
    pub async fn shutdown(&self) {
        // The flag first: a connection registering its waker after this sees it (under the
        // lock), one registered before is woken below.
        self.inner.stopping.store(true, Ordering::SeqCst);
        let wakers: Vec<Waker> = match self.inner.wakers.lock() {
            Ok(w) => w.iter().map(|(_, w)| w.clone()).collect(),
            Err(_) => Vec::new(),
        };
        wakers.into_iter().for_each(Waker::wake);
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.inner.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// A connection under a [`Drain`].
pub struct Watched<C> {
    conn: Pin<Box<C>>,
    inner: Arc<Inner>,
    /// Its waker's key in `inner.wakers` and the waker registered there.
    slot: Option<(usize, Waker)>,
    /// Whether it was asked to shut down.
    signalled: bool,
}

impl<C> Watched<C> {
    fn unregister(&mut self) {
        if let Some((key, _)) = self.slot.take() {
            if let Ok(mut w) = self.inner.wakers.lock() {
                w.try_remove(key);
            }
        }
    }
}

impl<C: GracefulConnection> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = self.get_mut();
        if !this.signalled {
            let mut stopping = this.inner.stopping.load(Ordering::Acquire);
            if !stopping && !this.slot.as_ref().is_some_and(|(_, w)| w.will_wake(cx.waker())) {
                if let Ok(mut all) = this.inner.wakers.lock() {
                    let waker = cx.waker().clone();
                    match &mut this.slot {
                        Some((key, w)) => {
                            if let Some(registered) = all.get_mut(*key) {
                                registered.clone_from(&waker);
                            }
                            *w = waker;
                        }
                        None => this.slot = Some((all.insert(waker.clone()), waker)),
                    }
                    // Under the lock: a shutdown that set the flag before we registered has
                    // not woken anyone yet, or we see the flag now.
                    stopping = this.inner.stopping.load(Ordering::SeqCst);
                }
            }
            if stopping {
                this.signalled = true;
                this.unregister();
                this.conn.as_mut().graceful_shutdown();
            }
        }
        this.conn.as_mut().poll(cx)
    }
}

impl<C> Drop for Watched<C> {
    fn drop(&mut self) {
        self.unregister();
        if self.inner.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

impl<C> std::fmt::Debug for Watched<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").field("signalled", &self.signalled).finish()
    }
}
