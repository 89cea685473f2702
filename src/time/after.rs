//! [`after`]: a channel that receives one value after a duration.

use std::time::{Duration, Instant};

use crate::chan::{chan, Receiver};
use crate::reactor::TimerAction;

/// A channel that receives the current time once, after `d` (Go's `time.After`); use it in
/// `select!` for a timeout. Its timer frees itself when it fires, and, as in Go 1.23, is
/// collected soon after every receiver is dropped: `select! { .., recv(after(d)) -> _ => .. }`
/// in a loop does not pile up timers until `d` passes.
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
            chan: super::timer_chan::weak(&ch),
            period: 0,
            detached: true,
        },
        d,
    );
    ch.receiver()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::time::{sleep, Ticker, Timer};

    fn rt() -> crate::runtime::Runtime {
        crate::runtime::Builder::new().workers(2).build().unwrap()
    }

    fn entries() -> usize {
        crate::runtime::driver_handle().timer_entries()
    }

    /// `select! { recv(c) -> .., recv(after(d)) -> .. }` in a loop: each iteration's timer is
    /// collected, instead of living (with its channel) until `d` passes.
    #[test]
    fn after_in_a_select_loop_does_not_accumulate() {
        rt().block_on(async {
            let c = crate::chan::chan::<u32>(1);
            for i in 0..20_000u32 {
                c.try_send(i).unwrap();
                crate::select! {
                    recv(c) -> v => assert_eq!(v, Some(i)),
                    recv(after(Duration::from_secs(3600))) -> _ => unreachable!(),
                }
            }
            let n = entries();
            assert!(n <= 2 * 4096 + 1, "{n} timer entries for 0 live timers");
        });
    }

    /// A burst of `after`s dropped at once is collected as the driver keeps firing timers,
    /// though no timer is started again.
    #[test]
    fn dropped_afters_are_collected_while_the_driver_runs() {
        rt().block_on(async {
            let held: Vec<_> = (0..20_000)
                .map(|_| after(Duration::from_secs(3600)))
                .collect();
            assert!(entries() >= 20_000);
            drop(held);
            let done = crate::time::timeout(Duration::from_secs(60), async {
                while entries() > 100 {
                    sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert!(done.is_ok(), "{} entries left", entries());
        });
    }

    /// A dropped `Timer` or `Ticker` frees its entry at once; a `Timer` whose receiver was
    /// cloned keeps running and delivers to the clone.
    #[test]
    fn dropped_timers_free_their_entry_unless_their_channel_is_held() {
        rt().block_on(async {
            let base = entries();
            let t = Timer::new(Duration::from_secs(3600));
            let k = Ticker::new(Duration::from_secs(3600));
            assert_eq!(entries(), base + 2);
            drop(t);
            drop(k);
            assert_eq!(entries(), base);
            let t = Timer::new(Duration::from_millis(5));
            let rx = t.c().clone();
            drop(t);
            assert_eq!(entries(), base + 1);
            let v = crate::time::timeout(Duration::from_secs(30), rx.recv()).await;
            assert!(matches!(v, Ok(Some(_))), "the clone got the value");
        });
    }

    /// A `tick` whose receivers are all dropped stops (at its next tick).
    #[test]
    fn a_dropped_tick_stops() {
        rt().block_on(async {
            let base = entries();
            let c = crate::time::tick(Duration::from_millis(1));
            c.recv().await;
            assert_eq!(entries(), base + 1);
            drop(c);
            // Wait without timers of our own (a sleep's entry would count), up to about 30 s.
            for _ in 0..30_000 {
                if entries() == base {
                    return;
                }
                crate::go_blocking(|| std::thread::sleep(Duration::from_millis(1)))
                    .await
                    .unwrap();
            }
            panic!("the tick kept running");
        });
    }
}
