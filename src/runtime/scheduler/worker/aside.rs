//! Standing aside: a worker whose goroutines spend a quarter of their time waiting for a
//! lock held on another core hands its tasks to the injection queue and sleeps 1 ms (see
//! the `scheduler` module docs and `design.md`).

use super::{Core, Worker};
use crate::runtime::scheduler::queue::Overflow;
use std::time::{Duration, Instant};

/// Standing aside. Every [`ASIDE_CONTENDED`] contended lock acquisitions (channel locks and
/// timer wheels: `util::lock`), a worker looks at how long they waited since it last looked:
/// if that is [`ASIDE_SHARE`] percent of the time or more, its goroutines are fighting
/// goroutines on another core for one lock, and the second core only slows the first (every
/// acquisition moves the lock's and the channel's cache lines between the cores). If another
/// worker keeps running and at most half of the workers stand aside, it hands its queued
/// tasks to the injection queue and sleeps [`ASIDE`] (in the reactor if nobody drives it),
/// then carries on as before. Measured on `mpmc` (4 senders and 4 receivers on one channel,
/// 2 workers): 65 ms before, 38 after; on one worker 36. A worker pool of 1 us jobs waits
/// about 1% of its time and never stands aside.
pub(super) const ASIDE_CONTENDED: u32 = 64;
const ASIDE_SHARE: u64 = 25;
const ASIDE: Duration = Duration::from_millis(1);

impl Worker {
    /// `ASIDE_CONTENDED` more contended acquisitions (`n` so far, waiting `ns` in all): stand
    /// aside if they waited `ASIDE_SHARE` percent of the time since the last look.
    #[cold]
    pub(super) fn contention(&self, n: u32, ns: u64) {
        let now = Instant::now();
        let (_, ns0, since) = self.contended.get();
        let waited = u128::from(ns.wrapping_sub(ns0));
        let elapsed = now.saturating_duration_since(since).as_nanos();
        self.contended.set((n, ns, now));
        if waited * 100 < elapsed * u128::from(ASIDE_SHARE) {
            return;
        }
        if !self.shared.idle.try_stand_aside() {
            return;
        }
        crate::runtime::metrics::bump(&self.shared.counters[self.index].asides);
        // Our tasks go where the running workers look (a notification wakes a parked one if
        // nobody searches, as for any task made visible there).
        if self.has_local_work() {
            self.shared
                .inject
                .push_batch(std::iter::from_fn(|| self.pop_own()));
            self.shared.notify_parked();
        }
        // Not on the sleepers list: no notification is meant for us, and we stay counted as
        // unparked, so we look at every queue again when the timeout ends (or at once if the
        // reactor wakes tasks here, or the runtime shuts down).
        self.remote()
            .parker
            .park(&self.shared.driver_slot, Some(ASIDE));
        self.woke();
        self.shared.idle.end_stand_aside();
        let (n, ns) = crate::util::lock::contended();
        self.contended.set((n, ns, Instant::now()));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Returns `Pending` once, waking itself (`yield_now`, which lives above this layer).
    struct YieldOnce(bool);

    impl std::future::Future for YieldOnce {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if std::mem::replace(&mut self.0, true) {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    /// A goroutine whose lock acquisitions keep waiting (counted as if each had waited 1 ms)
    /// while another worker keeps running: its worker stands aside, its tasks go to the
    /// injection queue, and they still run to the end; the runtime then shuts down cleanly.
    #[test]
    fn a_worker_waiting_on_locks_stands_aside_and_its_tasks_still_run() {
        let rt = crate::runtime::Builder::new().workers(2).build().unwrap();
        let shared = rt.handle.shared.clone();
        let asides = {
            let shared = shared.clone();
            move || -> u64 { shared.counters.iter().map(|c| c.asides.load(Relaxed)).sum() }
        };
        let done = Arc::new(AtomicBool::new(false));
        let here = std::panic::Location::caller();
        // Keeps one worker running (never yields) until the other goroutine is done.
        let busy = {
            let done = done.clone();
            shared.spawn(
                async move {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while !done.load(Relaxed) && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                },
                here,
            )
        };
        // Siblings queued behind the contender on its worker: handed over, not lost.
        let siblings = Arc::new(AtomicU64::new(0));
        let spawned = Arc::new(AtomicU64::new(0));
        let contender = {
            let (done, siblings, spawned, asides) = (
                done.clone(),
                siblings.clone(),
                spawned.clone(),
                asides.clone(),
            );
            let inner = shared.clone();
            shared.spawn(
                async move {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while asides() == 0 && Instant::now() < deadline {
                        for _ in 0..super::ASIDE_CONTENDED {
                            crate::util::lock::count_contended(Duration::from_millis(1));
                        }
                        for _ in 0..8 {
                            spawned.fetch_add(1, Relaxed);
                            let siblings = siblings.clone();
                            drop(inner.spawn(
                                async move {
                                    siblings.fetch_add(1, Relaxed);
                                },
                                here,
                            ));
                        }
                        YieldOnce(false).await;
                    }
                    done.store(true, Relaxed);
                },
                here,
            )
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(busy.is_finished() && contender.is_finished()) {
            assert!(Instant::now() < deadline, "stuck");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(asides() > 0, "no worker stood aside");
        let spawned = spawned.load(Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        while siblings.load(Relaxed) < spawned || shared.live_count() > 0 {
            assert!(Instant::now() < deadline, "a sibling goroutine never ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            shared.idle.aside_count(),
            0,
            "a worker is still counted aside"
        );
        drop(rt);
    }
}
