//! [`sleep`] and [`sleep_until`]: a future that completes at a deadline.
//!
//! A `Sleep` is 24 bytes: the driver handle, its deadline in nanoseconds from the driver's
//! start (an `Instant` would take 16 bytes: the 8 bytes saved keep a sleeping goroutine's task
//! a 104-byte request, glibc's 112-byte chunk rather than 128, 16 MB for a million), and the
//! slab key and generation of its wheel entry (the entry, 40 bytes, holds the waker). The entry
//! is allocated on the first `Pending` poll and freed when it fires, or when the sleep is
//! dropped or reset before its deadline, so a cancelled sleep costs nothing afterwards.
//! Completion is decided by comparing `Instant::now()` with the deadline, never by a flag: the
//! wheel only wakes the task, so a sleep can neither complete early nor miss its wake-up (the
//! wheel fires an entry only once the clock has passed its deadline, see `reactor::timers`,
//! which also explains why a completed sleep leaves its entry to free itself).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use crate::reactor::DriverRef;

const NO_KEY: u32 = u32::MAX;

/// `gen` of a `Sleep` made by [`sleep`] with a positive duration and not polled yet (`gen` is
/// free while `key == NO_KEY`). Its first poll registers with the wheel without reading the
/// clock: the deadline was ahead at creation, and if it has passed since, the wheel fires the
/// entry at its next tick, so the sleep is at most a tick late, never early.
const FRESH: u32 = 1;

/// `now + d`, or a deadline about 30 years away if that overflows (`Duration::MAX`).
pub(crate) fn deadline_after(d: Duration) -> Instant {
    crate::reactor::deadline_from(Instant::now(), d)
}

/// Waits until `d` has elapsed (Go's `time.Sleep`). Never returns early; when the runtime is
/// idle it is late by about a millisecond at most.
///
/// ```
/// use gorun::time::{sleep, Duration, Instant};
/// futures::executor::block_on(async {
///     let t = Instant::now();
///     sleep(Duration::from_millis(20)).await;
///     assert!(t.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(d: Duration) -> Sleep {
    let mut s = sleep_until(deadline_after(d));
    if !d.is_zero() {
        // The deadline is in the future as of the clock reading just taken: the first poll
        // need not read the clock again (see `FRESH`).
        s.gen = FRESH;
    }
    s
}

/// Waits until `deadline`; completes at once if it has passed.
///
/// ```
/// use gorun::time::{sleep_until, Duration, Instant};
/// futures::executor::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    let driver = crate::runtime::driver_handle();
    Sleep {
        deadline: driver.instant_to_ns(deadline),
        driver,
        key: NO_KEY,
        gen: 0,
    }
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It uses the reactor of the runtime it was created on (outside any runtime, the global
/// one's). If that runtime shuts down first, the sleep never completes.
///
/// ```
/// use gorun::time::{sleep, Duration};
/// let s = sleep(Duration::from_secs(1));
/// assert!(!s.is_elapsed());
/// drop(s); // cancelled: its timer is freed at once
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    driver: DriverRef,
    /// The deadline, as [`Driver::instant_to_ns`](crate::reactor::Driver::instant_to_ns) counts it.
    deadline: i64,
    /// The wheel entry, or `NO_KEY` before the first pending poll and after completion.
    key: u32,
    /// The entry's generation (see `reactor::timers`).
    gen: u32,
}

impl Sleep {
    /// The instant this sleep completes at.
    ///
    /// ```
    /// use gorun::time::{sleep_until, Instant};
    /// let t = Instant::now();
    /// assert_eq!(sleep_until(t).deadline(), t);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.driver.ns_to_instant(self.deadline)
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use gorun::time::{sleep, Duration};
    /// assert!(sleep(Duration::ZERO).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.driver.has_passed(self.deadline)
    }

    /// Moves the deadline (the sleep may be reused after it completed).
    ///
    /// ```
    /// use gorun::time::{sleep, Duration, Instant};
    /// futures::executor::block_on(async {
    ///     let mut s = sleep(Duration::from_secs(3600));
    ///     s.reset(Instant::now() + Duration::from_millis(5));
    ///     (&mut s).await;
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.release();
        self.deadline = self.driver.instant_to_ns(deadline);
    }

    /// Frees the wheel entry, unless it fired (then it freed itself).
    fn release(&mut self) {
        if self.key != NO_KEY {
            self.driver.sleep_cancel(self.key, self.gen);
        }
        self.forget();
    }

    /// Forgets the entry (freed, fired, or never made).
    fn forget(&mut self) {
        (self.key, self.gen) = (NO_KEY, 0);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let unit = ready!(crate::runtime::coop::proceed(cx));
        let fresh = this.key == NO_KEY && this.gen == FRESH;
        if !fresh && this.is_elapsed() {
            // The entry fires once the deadline has passed, and frees itself then: no need to
            // take the wheel's lock (see `reactor::timers`).
            this.forget();
            return Poll::Ready(());
        }
        if this.key == NO_KEY {
            match this.driver.sleep_register(this.deadline, cx.waker()) {
                Some((key, gen)) => (this.key, this.gen) = (key, gen),
                // Shut down: never registered; later polls look at the clock themselves.
                None => {
                    this.gen = 0;
                    unit.refund();
                    return crate::runtime::pending(crate::runtime::Wait::Sleep);
                }
            }
        } else if !this
            .driver
            .sleep_update_waker(this.key, this.gen, cx.waker())
        {
            // Fired since we looked at the clock: the deadline has passed.
            this.forget();
            return Poll::Ready(());
        }
        unit.refund();
        crate::runtime::pending(crate::runtime::Wait::Sleep)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.release();
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    /// The goroutine wrapper adds nothing to the user's future (the `sleep` benchmark's: a
    /// `WaitGroup` and a `Sleep`): a million sleeping goroutines pay for their future and
    /// async-task's header with the metadata, nothing else.
    #[test]
    fn the_goroutine_wrapper_adds_nothing_to_a_sleeping_future() {
        let rt = crate::runtime::Builder::new().workers(1).build().unwrap();
        let _enter = rt.handle().enter();
        let wg = crate::sync::WaitGroup::new();
        let fut = async move {
            super::sleep(std::time::Duration::from_secs(1)).await;
            wg.done();
        };
        let (wrapper, future) = crate::runtime::goroutine_sizes(&fut);
        assert_eq!(wrapper, future, "the wrapper adds nothing");
    }

    #[test]
    fn sleep_is_small() {
        assert!(std::mem::size_of::<super::Sleep>() <= 24);
    }

    #[test]
    fn deadline_round_trips_exactly() {
        use std::time::{Duration, Instant};
        let now = Instant::now();
        for t in [
            now,
            now + Duration::from_nanos(1),
            now + Duration::from_secs(86_400 * 365 * 30),
            now.checked_sub(Duration::from_secs(5)).unwrap_or(now),
        ] {
            assert_eq!(super::sleep_until(t).deadline(), t);
        }
    }
}
