//! [`Timer`] and [`after_func`]: one-shot timers with Go's `Stop`/`Reset` semantics.
//!
//! The timer's channel has capacity 1 and is fed by the wheel under the timer lock. `stop` and
//! `reset` unschedule the entry and drain the channel under that same lock: as in Go 1.23, once
//! they return no value prepared before the call can be received, and they report `true` if the
//! timer was pending *or* its value had not been received yet (from the receiver's point of view
//! the timer had not fired).
//!
//! The channel is made on the first [`Timer::c`]: until then the wheel entry (`Lazy`) keeps
//! the firing time itself, and `c` moves it into the new channel under the timer lock. A timer
//! that is only armed and stopped (a timeout that did not expire: the common case) costs its
//! entry and this struct, not a channel as well.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::sleep::deadline_after;
use crate::chan::{chan, Receiver};
use crate::reactor::{DriverRef, TimerAction};

/// A single event after a duration (Go's `time.Timer`). Its channel [`c`](Self::c) receives the
/// firing time.
///
/// Dropping a `Timer` frees it, unless a clone of its receiver is still held: then it still
/// fires and the clone gets the value (as Go 1.23 collects only timers nobody references).
/// Call [`stop`](Self::stop) to cancel it regardless.
///
/// ```
/// use gorun::time::{Duration, Timer};
/// futures::executor::block_on(async {
///     let t = Timer::new(Duration::from_millis(10));
///     let fired_at = t.c().recv().await.unwrap();
///     assert!(!t.stop(), "already fired and received");
///     # let _ = fired_at;
/// });
/// ```
pub struct Timer {
    driver: DriverRef,
    key: u32,
    /// The channel, made by the first [`c`](Self::c) (see the module docs).
    rx: OnceLock<Receiver<Instant>>,
    /// An `after_func` timer: nothing is ever sent on `rx`.
    func: bool,
}

// A `Timer` is 40 bytes; with its 40-byte wheel entry that is all a timer never looked at
// costs (see the module docs).
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Timer>() == 40);

impl Timer {
    /// A timer that sends the current time on its channel after `d`.
    ///
    /// ```
    /// use gorun::time::{Duration, Timer};
    /// let t = Timer::new(Duration::from_secs(60));
    /// assert!(t.stop());
    /// ```
    pub fn new(d: Duration) -> Timer {
        let driver = crate::runtime::driver_handle();
        let key = driver.timer_start(TimerAction::Lazy { fired: None }, d);
        Timer {
            driver,
            key,
            rx: OnceLock::new(),
            func: false,
        }
    }

    /// The channel the firing time is sent on (works in `select!`).
    ///
    /// ```
    /// use gorun::time::{Duration, Timer};
    /// let t = Timer::new(Duration::ZERO);
    /// let v = futures::executor::block_on(t.c().recv());
    /// assert!(v.is_some());
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        self.rx.get_or_init(|| {
            let ch = chan::<Instant>(1);
            if !self.func {
                self.driver
                    .timer_attach(self.key, super::timer_chan::weak(&ch));
            }
            ch.receiver()
        })
    }

    /// Stops the timer. Returns `true` if that prevented the firing from being observed: the
    /// timer was pending, or it had fired but its value was still in the channel (now removed).
    /// Does not close the channel.
    ///
    /// ```
    /// use gorun::time::{Duration, Timer};
    /// let t = Timer::new(Duration::from_secs(60));
    /// assert!(t.stop());
    /// assert!(!t.stop(), "a stopped timer is not pending");
    /// ```
    pub fn stop(&self) -> bool {
        self.driver.timer_stop(self.key)
    }

    /// Makes the timer fire `d` from now (again, if it already fired or was stopped); any value
    /// not yet received is discarded. Returns what [`stop`](Self::stop) would have returned.
    ///
    /// ```
    /// use gorun::time::{Duration, Timer};
    /// futures::executor::block_on(async {
    ///     let t = Timer::new(Duration::from_secs(60));
    ///     assert!(t.reset(Duration::from_millis(5)), "was pending");
    ///     t.c().recv().await;
    ///     assert!(!t.reset(Duration::from_millis(5)), "had fired");
    ///     t.c().recv().await;
    /// });
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        let was = self.stop();
        self.driver.timer_arm(self.key, deadline_after(d), None);
        was
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.driver.timer_detach(self.key);
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

/// Runs `f` in its own goroutine after `d` (Go's `time.AfterFunc`), on the runtime that owns
/// the timer: the current one when `after_func` is called, else the global one. The returned
/// timer's [`stop`](Timer::stop) cancels the call if it has not started;
/// [`reset`](Timer::reset) schedules it again (so `f` is `Fn`: it may run more than once).
/// Its channel never receives. Dropping the timer does not cancel the call.
///
/// ```
/// use gorun::time::{after_func, Duration};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// let ran = Arc::new(AtomicBool::new(false));
/// let r = ran.clone();
/// let t = after_func(Duration::from_millis(5), move || r.store(true, Ordering::SeqCst));
/// let start = std::time::Instant::now();
/// while !ran.load(Ordering::SeqCst) {
///     assert!(start.elapsed().as_secs() < 10);
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// assert!(!t.stop(), "it already ran");
/// ```
pub fn after_func<F>(d: Duration, f: F) -> Timer
where
    F: Fn() + Send + Sync + 'static,
{
    let driver = crate::runtime::driver_handle();
    let key = driver.timer_start(
        TimerAction::Func {
            f: Arc::new(on_owner(f)),
            detached: false,
        },
        d,
    );
    Timer {
        driver,
        key,
        rx: OnceLock::new(),
        func: true,
    }
}

/// Wraps an `after_func` callback so that, whichever thread fires the timer, it starts `f` in
/// its own goroutine (as Go does) on the runtime the timer belongs to: the current one when
/// `after_func` is called, else the global one. A timer normally fires on its owner's workers,
/// but a `reset` or an overdue `start` fires on the caller's thread, which may be a plain
/// thread or belong to another runtime; the wheel calls this wrapper there, and it only
/// spawns. The owner is held weakly: a timer never keeps its runtime alive, and a callback
/// whose runtime is gone does not run.
fn on_owner<F>(f: F) -> impl Fn() + Send + Sync + 'static
where
    F: Fn() + Send + Sync + 'static,
{
    let owner = Arc::downgrade(&crate::runtime::current_or_global().shared);
    let f = Arc::new(f);
    move || {
        let Some(shared) = owner.upgrade() else {
            return;
        };
        let f = f.clone();
        drop(crate::runtime::Handle { shared }.go(async move { f() }));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A timer that is only armed and stopped never makes its channel (the `timers` bench's
    /// memory), and still reports Go's results.
    #[test]
    fn a_timer_never_looked_at_makes_no_channel() {
        let rt = crate::runtime::Builder::new().workers(1).build().unwrap();
        rt.block_on(async {
            let t = Timer::new(Duration::from_secs(60));
            assert!(t.reset(Duration::from_secs(30)));
            assert!(t.stop());
            assert!(!t.stop());
            let fired = Timer::new(Duration::ZERO);
            assert!(fired.stop(), "fired at once, unobserved");
            assert!(t.rx.get().is_none() && fired.rx.get().is_none());
            let f = after_func(Duration::from_secs(60), || {});
            assert!(f.stop());
            assert!(f.rx.get().is_none());
            assert!(
                f.c().try_recv().is_err(),
                "an after_func timer's channel never receives"
            );
        });
    }

    /// Issue #13: an `after_func` callback runs on the runtime that owns the timer, even when
    /// the timer fires on a thread of another runtime (here: `reset` to zero, which fires at
    /// once on the caller's thread, from inside runtime B's `block_on`).
    #[test]
    fn after_func_runs_on_the_runtime_that_owns_the_timer() {
        let a = crate::runtime::Builder::new()
            .workers(1)
            .thread_name("owner-rt-a")
            .build()
            .unwrap();
        let b = crate::runtime::Builder::new()
            .workers(1)
            .thread_name("other-rt-b")
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel::<Option<String>>();
        let tx = std::sync::Mutex::new(tx);
        let t = a.block_on(async move {
            after_func(Duration::from_secs(3600), move || {
                let name = std::thread::current().name().map(str::to_owned);
                let _ = tx.lock().unwrap().send(name);
            })
        });
        b.block_on(async {
            assert!(t.reset(Duration::ZERO), "the timer was pending");
        });
        let name = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the after_func callback never ran")
            .unwrap_or_default();
        assert!(
            name.contains("owner-rt-a"),
            "the callback ran on thread {name:?}, not on the timer's runtime"
        );
        drop(t);
    }
}
