//! A coarse timer for HTTP/1's header-read timeout.
//!
//! hyper arms the header-read timeout for every request on a keep-alive connection (the wait
//! for the next request's head) and drops it as soon as the head is parsed. With tokio's timer
//! that is, per request, a boxed `tokio::time::Sleep` registered in and removed from the timer
//! wheel, and idle workers that park with a timer pending: about 10% of the server's CPU per
//! request on the memory path (BENCHMARKS.md). The timeout itself (30 s by default) needs no
//! precision, so [`CoarseTimer`] keeps pending sleeps in a few sharded slabs (one short lock to
//! add a waker, one to remove it; each thread adds to its own shard) and one ticker thread
//! wakes the expired ones every [`TICK`]: a timeout fires up to two ticks late, never early.
//!
//! The slabs, the clock and the ticker are process-wide: a sleep holds no reference count (one
//! shared counter touched by every request on every core is what this avoids), and reads the
//! time from the ticker's clock (an atomic it advances every tick) rather than the system's.
//! Not a general-purpose timer: HTTP/2 keeps tokio's.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// How often expired sleeps are woken: a timeout fires at most two ticks late.
pub const TICK: Duration = Duration::from_millis(250);

/// Independent slabs, so that workers rarely wait on each other's lock.
const SHARDS: usize = 8;

type Shard = Mutex<slab::Slab<(Instant, Waker)>>;

/// The process's pending sleeps and clock.
struct Wheel {
    shards: [Shard; SHARDS],
    /// `start` plus the milliseconds the ticker last saw: never ahead of the system's
    /// monotonic clock, at most a tick behind it.
    start: Instant,
    millis: AtomicU64,
}

impl Wheel {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.millis.load(Ordering::Acquire))
    }

    fn advance(&self) -> Instant {
        let ms = self.start.elapsed().as_millis() as u64;
        self.millis.store(ms, Ordering::Release);
        self.start + Duration::from_millis(ms)
    }

    /// Advances the clock, then wakes the sleeps whose deadline passed (a woken sleep reads a
    /// time at or past its deadline and removes itself).
    fn tick(&self) {
        let now = self.advance();
        for shard in &self.shards {
            if let Ok(s) = shard.lock() {
                s.iter().filter(|(_, (d, _))| *d <= now).for_each(|(_, (_, w))| w.wake_by_ref());
            }
        }
    }
}

/// The wheel, with its ticker thread started on first use.
fn wheel() -> &'static Wheel {
    static WHEEL: OnceLock<Wheel> = OnceLock::new();
    static TICKER: OnceLock<()> = OnceLock::new();
    let w = WHEEL.get_or_init(|| Wheel {
        shards: std::array::from_fn(|_| Mutex::new(slab::Slab::new())),
        start: Instant::now(),
        millis: AtomicU64::new(0),
    });
    TICKER.get_or_init(|| {
        let spawned = std::thread::Builder::new().name("sesame-timer".into()).spawn(|| loop {
            std::thread::sleep(TICK);
            wheel().tick();
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the header-timeout ticker");
        }
    });
    w
}

/// A [`Timer`] for deadlines that may fire up to two [`TICK`]s late (a handle to the
/// process-wide wheel; cheap to create and clone).
#[derive(Clone, Copy, Debug)]
pub struct CoarseTimer(());

impl CoarseTimer {
    /// A timer (starts the process's ticker thread if it is not running yet).
    pub fn start() -> Self {
        let _ = wheel();
        CoarseTimer(())
    }
}

impl Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        // The clock may be up to a tick behind: the deadline is a tick later, so that a
        // timeout never fires early.
        self.sleep_until(wheel().now() + duration + TICK)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(CoarseSleep { deadline, slot: None })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        if let Some(s) = sleep.as_mut().downcast_mut_pin::<CoarseSleep>() {
            s.get_mut().reset(new_deadline);
        }
    }
}

/// A pending deadline of a [`CoarseTimer`].
struct CoarseSleep {
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
            if let Ok(mut s) = wheel().shards[shard].lock() {
                s.try_remove(key);
            }
        }
    }

    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some((shard, key)) = self.slot {
            if let Ok(mut s) = wheel().shards[shard].lock() {
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
        let w = wheel();
        if w.now() >= this.deadline {
            this.remove();
            return Poll::Ready(());
        }
        match this.slot {
            None => {
                let shard = SHARD.with(|s| *s);
                if let Ok(mut s) = w.shards[shard].lock() {
                    let key = s.insert((this.deadline, cx.waker().clone()));
                    this.slot = Some((shard, key));
                }
            }
            Some((shard, key)) => {
                if let Ok(mut s) = w.shards[shard].lock() {
                    if let Some((_, waker)) = s.get_mut(key) {
                        if !waker.will_wake(cx.waker()) {
                            waker.clone_from(cx.waker());
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
    async fn fires_after_the_deadline_within_two_ticks() {
        let t = CoarseTimer::start();
        let started = Instant::now();
        t.sleep(Duration::from_millis(100)).await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_millis(100) + TICK * 4, "{took:?}");
    }

    #[tokio::test]
    async fn a_dropped_or_reset_sleep_leaves_nothing_behind() {
        let t = CoarseTimer::start();
        let mut s = t.sleep(Duration::from_secs(30));
        assert!(futures_util::poll!(s.as_mut()).is_pending());
        let slot = s.as_mut().downcast_mut_pin::<CoarseSleep>().and_then(|s| s.slot);
        let (shard, key) = slot.expect("registered when polled");
        assert!(wheel().shards[shard].lock().unwrap().contains(key));
        // A deadline in the past (the wheel's clock may be a tick behind the system's).
        t.reset(&mut s, wheel().now());
        assert!(futures_util::poll!(s.as_mut()).is_ready());
        assert!(!wheel().shards[shard].lock().unwrap().contains(key), "removed once fired");
        let mut s2 = t.sleep(Duration::from_secs(30));
        assert!(futures_util::poll!(s2.as_mut()).is_pending());
        let (shard2, key2) = s2
            .as_mut()
            .downcast_mut_pin::<CoarseSleep>()
            .and_then(|s| s.slot)
            .expect("registered when polled");
        drop(s2);
        assert!(!wheel().shards[shard2].lock().unwrap().contains(key2), "removed when dropped");
        drop(s);
    }
}
