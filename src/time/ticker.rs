//! [`Ticker`] and [`tick`]: periodic timers whose channel drops ticks a slow reader misses.

use std::time::{Duration, Instant};

use super::sleep::deadline_after;
use crate::chan::{chan, Receiver};
use crate::reactor::{DriverRef, TimerAction};

/// The timer resolution: 1 ms.
const RESOLUTION: Duration = Duration::from_millis(1);

/// A period in wheel ticks (whole milliseconds, rounded up, at least 1).
fn period_ticks(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(1_000_000).max(1)).min(u64::MAX as u128) as u64
}

/// Sends the time on its channel every period (Go's `time.Ticker`). The channel holds one
/// value: ticks a slow reader misses are dropped, and the phase is kept. Periods below the
/// 1 ms resolution are rounded up to it. Dropping the ticker stops it.
///
/// ```
/// use gorun::time::{Duration, Ticker};
/// futures::executor::block_on(async {
///     let t = Ticker::new(Duration::from_millis(5));
///     for _ in 0..3 {
///         t.c().recv().await;
///     }
///     t.stop();
/// });
/// ```
pub struct Ticker {
    driver: DriverRef,
    key: u32,
    rx: Receiver<Instant>,
}

impl Ticker {
    /// A ticker with period `d`.
    ///
    /// # Panics
    ///
    /// If `d` is zero, with `non-positive interval for NewTicker`, as Go does.
    ///
    /// ```should_panic
    /// gorun::time::Ticker::new(std::time::Duration::ZERO);
    /// ```
    pub fn new(d: Duration) -> Ticker {
        assert!(!d.is_zero(), "non-positive interval for NewTicker");
        let ch = chan::<Instant>(1);
        let driver = crate::runtime::driver_handle();
        let key = driver.timer_start(
            TimerAction::Chan {
                chan: super::timer_chan::weak(&ch),
                period: period_ticks(d),
                detached: false,
            },
            d.max(RESOLUTION),
        );
        Ticker {
            driver,
            key,
            rx: ch.receiver(),
        }
    }

    /// The channel the ticks are sent on (works in `select!`).
    ///
    /// ```
    /// use gorun::time::{Duration, Ticker};
    /// let t = Ticker::new(Duration::from_millis(1));
    /// assert!(futures::executor::block_on(t.c().recv()).is_some());
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker: no tick is sent after it returns, and a tick not yet received is
    /// discarded. Does not close the channel.
    ///
    /// ```
    /// use gorun::time::{Duration, Ticker};
    /// let t = Ticker::new(Duration::from_millis(1));
    /// t.stop();
    /// std::thread::sleep(Duration::from_millis(10));
    /// assert!(t.c().try_recv().is_err());
    /// ```
    pub fn stop(&self) {
        self.driver.timer_disarm(self.key);
        let _ = self.rx.try_recv();
    }

    /// Stops the ticker and restarts it with period `d`, the next tick `d` from now.
    ///
    /// # Panics
    ///
    /// If `d` is zero, with `non-positive interval for Ticker.Reset`, as Go does.
    ///
    /// ```
    /// use gorun::time::{Duration, Ticker};
    /// let t = Ticker::new(Duration::from_secs(3600));
    /// t.reset(Duration::from_millis(2));
    /// assert!(futures::executor::block_on(t.c().recv()).is_some());
    /// ```
    pub fn reset(&self, d: Duration) {
        assert!(!d.is_zero(), "non-positive interval for Ticker.Reset");
        self.stop();
        self.driver.timer_arm(
            self.key,
            deadline_after(d.max(RESOLUTION)),
            Some(period_ticks(d)),
        );
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.driver.timer_remove(self.key);
    }
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker").finish_non_exhaustive()
    }
}

/// A channel receiving the time every `d` (Go's `time.Tick`); ticks a slow reader misses are
/// dropped. `d` below the 1 ms resolution (zero included) is rounded up to it. The ticker
/// cannot be stopped, but once every receiver is dropped it stops at its next tick, as Go 1.23
/// collects it (use [`Ticker`] to stop one explicitly).
///
/// ```
/// use gorun::time::{tick, Duration};
/// futures::executor::block_on(async {
///     let c = tick(Duration::from_millis(2));
///     c.recv().await;
///     c.recv().await;
/// });
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    let ch = chan::<Instant>(1);
    let driver = crate::runtime::driver_handle();
    // A detached entry frees itself after firing: nobody needs its key.
    driver.timer_start(
        TimerAction::Chan {
            chan: super::timer_chan::weak(&ch),
            period: period_ticks(d),
            detached: true,
        },
        d.max(RESOLUTION),
    );
    ch.receiver()
}
