//! Timers under bad input and at their limits: durations too large to represent, zero, stop
//! and reset after shutdown, and timers dropped in every state. Each must give a clear panic
//! (as Go does) or behave, never overflow, hang or leak.

use std::time::{Duration, Instant};

use gorun::time::{after, sleep, tick, timeout, Ticker, Timer};

mod common;
use common::run;

/// `Duration::MAX` (beyond any `Instant`) means "never": no overflow panic, nothing fires.
#[test]
fn durations_too_large_for_an_instant_mean_never() {
    run(30, async {
        let a = after(Duration::MAX);
        let t = Timer::new(Duration::MAX);
        let k = Ticker::new(Duration::MAX);
        let c = tick(Duration::MAX);
        let r = timeout(Duration::from_millis(20), async {
            gorun::select! {
                recv(a) -> _ => "after",
                recv(t.c()) -> _ => "timer",
                recv(k.c()) -> _ => "ticker",
                recv(c) -> _ => "tick",
            }
        })
        .await;
        assert!(r.is_err(), "{r:?} fired");
        assert!(timeout(Duration::from_millis(5), sleep(Duration::MAX))
            .await
            .is_err());
        assert!(t.stop(), "still pending");
        assert!(!t.reset(Duration::MAX), "it was stopped");
        assert!(t.stop(), "pending again after reset");
        k.reset(Duration::MAX);
        k.stop();
    });
}

/// Zero and tiny durations fire (rounded up to the 1 ms resolution where a period).
#[test]
fn zero_durations_fire() {
    run(30, async {
        let t0 = Instant::now();
        assert!(after(Duration::ZERO).recv().await.unwrap() >= t0);
        assert!(Timer::new(Duration::ZERO).c().recv().await.is_some());
        let c = tick(Duration::ZERO);
        c.recv().await;
        c.recv().await;
        let k = Ticker::new(Duration::from_nanos(1));
        k.c().recv().await;
        sleep(Duration::ZERO).await;
    });
}

#[test]
#[should_panic(expected = "non-positive interval for NewTicker")]
fn a_zero_ticker_panics_as_go_does() {
    let _ = Ticker::new(Duration::ZERO);
}

#[test]
#[should_panic(expected = "non-positive interval for Ticker.Reset")]
fn a_zero_ticker_reset_panics_as_go_does() {
    let t = Ticker::new(Duration::from_secs(1));
    t.reset(Duration::ZERO);
}

/// After its runtime shut down, a timer's methods return and its channel stays silent.
#[test]
fn timers_outlive_their_runtime_harmlessly() {
    let _w = common::watchdog("timers_outlive_their_runtime_harmlessly", 60);
    let rt = gorun::runtime::Builder::new().workers(1).build().unwrap();
    let (t, k, a) = rt.block_on(async {
        (
            Timer::new(Duration::from_millis(1)),
            Ticker::new(Duration::from_millis(1)),
            after(Duration::from_secs(3600)),
        )
    });
    drop(rt);
    let _ = t.stop();
    let _ = t.reset(Duration::from_millis(1));
    k.reset(Duration::from_millis(1));
    k.stop();
    std::thread::sleep(Duration::from_millis(5));
    assert!(a.try_recv().is_err());
    drop((t, k, a));
}

/// A value a timer sent before its runtime shut down is still removed by `stop` (Go 1.23: no
/// stale value after `Stop` returns, and `Stop` reports it as not yet observed).
#[test]
fn stop_after_shutdown_still_drains_a_value_sent_before() {
    let _w = common::watchdog("stop_after_shutdown_still_drains_a_value_sent_before", 60);
    let rt = gorun::runtime::Builder::new().workers(1).build().unwrap();
    let t = rt.block_on(async {
        let t = Timer::new(Duration::from_millis(1));
        let _ = t.c();
        gorun::time::sleep(Duration::from_millis(20)).await;
        t
    });
    drop(rt);
    assert!(t.stop(), "the fired value had not been received");
    assert!(t.c().try_recv().is_err(), "a stale value survived stop");

    // The same for a timer whose channel was never made (the entry keeps the time), and one
    // looked at only after the shutdown receives what fired before it.
    let rt = gorun::runtime::Builder::new().workers(1).build().unwrap();
    let (t, u) = rt.block_on(async {
        let t = Timer::new(Duration::from_millis(1));
        let u = Timer::new(Duration::from_millis(1));
        gorun::time::sleep(Duration::from_millis(20)).await;
        (t, u)
    });
    drop(rt);
    assert!(t.stop(), "the kept firing had not been received");
    assert!(t.c().try_recv().is_err(), "a stale value survived stop");
    assert!(
        u.c().try_recv().is_ok(),
        "the firing before shutdown was lost"
    );
    assert!(!u.stop());
}

/// Timers dropped while pending, fired-but-unreceived, stopped, or after delivering, many
/// times over, leave nothing running: a later sleep still works and nothing panics.
#[test]
fn timers_dropped_in_every_state() {
    run(60, async {
        for i in 0..600u32 {
            let t = Timer::new(Duration::from_millis((i % 3) as u64));
            match i % 4 {
                0 => {}
                1 => {
                    t.c().recv().await;
                }
                2 => {
                    t.stop();
                }
                _ => {
                    let _keep = t.c().clone();
                }
            }
            drop(t);
            let k = Ticker::new(Duration::from_millis(1 + (i % 2) as u64));
            if i % 2 == 0 {
                k.c().recv().await;
            }
            drop(k);
            drop(after(Duration::from_millis((i % 5) as u64)));
        }
        sleep(Duration::from_millis(2)).await;
    });
}
