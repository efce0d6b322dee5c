//! A coarse timer for HTTP/1's header-read timeout.
//!
//! hyper arms the header-read timeout for every request on a keep-alive connection (the wait
//! for the next request's head) and drops it as soon as the head is parsed. With tokio's timer
//! that is, per request, a boxed `tokio::time::Sleep` registered in and removed from the timer
//! wheel, and idle workers that park with a timer pending: about 10% of the server's CPU per
//! request on the memory path (BENCHMARKS.md). The timeout itself (30 s by default) needs no
//! precision, so [`CoarseTimer`] keeps pending sleeps in a few sharded slabs (one short lock to
//! add a waker, one to remove it) and one background task wakes the expired ones every
//! [`TICK`]: a timeout fires up to two ticks late. The sleeps read the time from the ticker's
//! clock (an atomic it advances every tick) rather than the system's: no clock read per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// How often expired sleeps are woken: a timeout fires at most this late.
pub const TICK: Duration = Duration::from_millis(250);

/// Independent slabs, so that workers rarely wait on each other's lock.
const SHARDS: usize = 8;

type Shard = Mutex<slab::Slab<(Instant, Waker)>>;

/// A [`Timer`] for deadlines that may fire up to two [`TICK`]s late. Needs a tokio runtime (its
/// ticker task is spawned on creation and ends when the timer and its sleeps are gone).
#[derive(Clone, Debug)]
pub struct CoarseTimer {
    inner: Arc<Inner>,
}

/// What the timer, its sleeps and its ticker share (one reference count per sleep).
#[derive(Debug)]
struct Inner {
    shards: [Shard; SHARDS],
    clock: Clock,
}

/// The ticker's clock: `start` plus the milliseconds the ticker last saw, never ahead of the
/// system's monotonic clock and at most a tick behind it.
#[derive(Debug)]
struct Clock {
    start: Instant,
    millis: AtomicU64,
}

impl Clock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.millis.load(Ordering::Acquire))
    }

    fn advance(&self) -> Instant {
        let ms = self.start.elapsed().as_millis() as u64;
        self.millis.store(ms, Ordering::Release);
        self.start + Duration::from_millis(ms)
    }
}

impl CoarseTimer {
    /// A timer, with its ticker spawned on the current tokio runtime.
    pub fn start() -> Self {
        let inner = Arc::new(Inner {
            shards: std::array::from_fn(|_| Mutex::new(slab::Slab::new())),
            clock: Clock { start: Instant::now(), millis: AtomicU64::new(0) },
        });
        tokio::spawn(tick(Arc::downgrade(&inner)));
        CoarseTimer { inner }
    }
}

/// Advances the clock and wakes the sleeps whose deadline passed, every [`TICK`], while the
/// timer or a sleep lives.
async fn tick(inner: Weak<Inner>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        // Advanced before waking: a woken sleep reads a time at or past its deadline.
        let now = inner.clock.advance();
        for shard in inner.shards.iter() {
            if let Ok(s) = shard.lock() {
                // A woken sleep sees its deadline passed and removes itself.
                s.iter().filter(|(_, (d, _))| *d <= now).for_each(|(_, (_, w))| w.wake_by_ref());
            }
        }
    }
}

impl Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        // The clock may be up to a tick behind: the deadline is a tick later, so that a
        // timeout never fires early.
        self.sleep_until(self.inner.clock.now() + duration + TICK)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(CoarseSleep { inner: self.inner.clone(), deadline, slot: None })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        if let Some(s) = sleep.as_mut().downcast_mut_pin::<CoarseSleep>() {
            s.get_mut().reset(new_deadline);
        }
    }
}

/// A pending deadline of a [`CoarseTimer`].
struct CoarseSleep {
    inner: Arc<Inner>,
    deadline: Instant,
    /// Shard and key of its waker, once polled.
    slot: Option<(usize, usize)>,
}

thread_local! {
    /// The shard this thread adds to: threads spread round-robin over the shards.
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

impl CoarseSleep {
    fn remove(&mut self) {
        if let Some((shard, key)) = self.slot.take() {
            if let Ok(mut s) = self.inner.shards[shard].lock() {
                s.try_remove(key);
            }
        }
    }

    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some((shard, key)) = self.slot {
            if let Ok(mut s) = self.inner.shards[shard].lock() {
                if let Some((d, _)) = s.get_mut(key) {
                    *d = deadline;
                }
            }
        }
    }
}

impl Sleep for CoarseSleep {}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.inner.clock.now() >= this.deadline {
            this.remove();
            return Poll::Ready(());
        }
        match this.slot {
            None => {
                let shard = SHARD.with(|s| *s);
                if let Ok(mut s) = this.inner.shards[shard].lock() {
                    let key = s.insert((this.deadline, cx.waker().clone()));
                    this.slot = Some((shard, key));
                }
            }
            Some((shard, key)) => {
                if let Ok(mut s) = this.inner.shards[shard].lock() {
                    if let Some((_, w)) = s.get_mut(key) {
                        if !w.will_wake(cx.waker()) {
                            w.clone_from(cx.waker());
                        }
                    }
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_after_the_deadline_within_a_tick() {
        let t = CoarseTimer::start();
        let started = Instant::now();
        t.sleep(Duration::from_millis(100)).await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_millis(100) + TICK * 4, "{took:?}");
        assert!(t.inner.shards.iter().all(|s| s.lock().unwrap().is_empty()), "removed once fired");
    }

    #[tokio::test]
    async fn a_dropped_or_reset_sleep_leaves_nothing_behind() {
        let t = CoarseTimer::start();
        let mut s = t.sleep(Duration::from_secs(30));
        assert!(futures_util::poll!(s.as_mut()).is_pending());
        assert_eq!(t.inner.shards.iter().map(|s| s.lock().unwrap().len()).sum::<usize>(), 1);
        // A deadline in the past (the ticker's clock may be a tick behind the system's).
        t.reset(&mut s, t.inner.clock.now());
        assert!(futures_util::poll!(s.as_mut()).is_ready());
        let s2 = t.sleep(Duration::from_secs(30));
        drop(s2);
        assert!(t.inner.shards.iter().all(|s| s.lock().unwrap().is_empty()));
        drop(s);
    }
}
