//! `Ticker` and `tick`: periodic values, dropped for a slow reader, Go's panics.

use std::time::{Duration, Instant};

use gorun::time::{sleep, tick, Ticker};

mod common;
use common::run;

#[test]
fn ticker_ticks_every_period() {
    run(10, async {
        let t0 = Instant::now();
        let t = Ticker::new(Duration::from_millis(10));
        for i in 1..=5u32 {
            t.c().recv().await.unwrap();
            assert!(
                t0.elapsed() >= Duration::from_millis(10) * i,
                "tick {i} early"
            );
        }
        t.stop();
    });
}

#[test]
fn tick_drops_ticks_for_a_slow_reader() {
    run(10, async {
        let c = tick(Duration::from_millis(5));
        sleep(Duration::from_millis(100)).await;
        // About 20 ticks came; the channel held one, the rest were dropped.
        assert!(c.try_recv().is_ok());
        assert!(c.try_recv().is_err(), "more than one tick was buffered");
        // Ticking goes on at the same pace afterwards.
        let t = Instant::now();
        c.recv().await.unwrap();
        assert!(t.elapsed() < Duration::from_millis(100));
    });
}

#[test]
fn stopped_ticker_sends_nothing_more() {
    run(10, async {
        let t = Ticker::new(Duration::from_millis(2));
        t.c().recv().await.unwrap();
        t.stop();
        sleep(Duration::from_millis(20)).await;
        assert!(t.c().try_recv().is_err());
    });
}

#[test]
fn ticker_reset_changes_the_period() {
    run(10, async {
        let t = Ticker::new(Duration::from_secs(3600));
        let t0 = Instant::now();
        t.reset(Duration::from_millis(5));
        t.c().recv().await.unwrap();
        t.c().recv().await.unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(10));
        assert!(t0.elapsed() < Duration::from_secs(60));
    });
}

#[test]
fn tick_below_resolution_rounds_up_to_one_ms() {
    run(10, async {
        let c = tick(Duration::from_nanos(1));
        let t0 = Instant::now();
        for _ in 0..5 {
            c.recv().await.unwrap();
        }
        assert!(t0.elapsed() >= Duration::from_millis(4));
    });
}

#[test]
#[should_panic(expected = "non-positive interval for NewTicker")]
fn ticker_with_zero_period_panics_like_go() {
    let _ = Ticker::new(Duration::ZERO);
}

#[test]
#[should_panic(expected = "non-positive interval for Ticker.Reset")]
fn ticker_reset_to_zero_panics_like_go() {
    let t = Ticker::new(Duration::from_secs(1));
    t.reset(Duration::ZERO);
}
