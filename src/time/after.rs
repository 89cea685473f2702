//! [`after`]: a channel that receives one value after a duration.

use std::time::{Duration, Instant};

use crate::chan::{chan, Receiver};
use crate::reactor::TimerAction;

/// A channel that receives the current time once, after `d` (Go's `time.After`); use it in
/// `select!` for a timeout. Its timer frees itself when it fires.
///
/// ```
/// use gorun::time::{after, Duration, Instant};
/// futures::executor::block_on(async {
///     let t = Instant::now();
///     let at = after(Duration::from_millis(10)).recv().await.unwrap();
///     assert!(at >= t + Duration::from_millis(10));
/// });
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let ch = chan::<Instant>(1);
    let driver = crate::runtime::driver_handle();
    // A detached entry frees itself after firing: nobody needs its key.
    driver.timer_start(
        TimerAction::Chan {
            chan: ch.clone(),
            period: 0,
            detached: true,
        },
        d,
    );
    ch.receiver()
}
