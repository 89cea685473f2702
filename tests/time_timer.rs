//! `Timer`, `after`, `after_func` and `timeout` behave as in Go.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gorun::time::{after, after_func, sleep, timeout, Elapsed, Timer};

mod common;
use common::run;

#[test]
fn timer_fires_once_after_its_duration() {
    run(10, async {
        let t0 = Instant::now();
        let t = Timer::new(Duration::from_millis(20));
        let at = t.c().recv().await.unwrap();
        assert!(at >= t0 + Duration::from_millis(20));
        sleep(Duration::from_millis(30)).await;
        assert!(t.c().try_recv().is_err(), "a one-shot timer fires once");
    });
}

#[test]
fn stop_on_a_pending_timer_returns_true_and_nothing_arrives() {
    run(10, async {
        let t = Timer::new(Duration::from_millis(10));
        assert!(t.stop());
        sleep(Duration::from_millis(30)).await;
        assert!(t.c().try_recv().is_err());
        assert!(!t.stop(), "already stopped");
    });
}

#[test]
fn stop_after_the_value_was_received_returns_false() {
    run(10, async {
        let t = Timer::new(Duration::from_millis(1));
        t.c().recv().await.unwrap();
        assert!(!t.stop());
    });
}

#[test]
fn stop_after_firing_but_before_receiving_discards_the_stale_value() {
    // Go 1.23 semantics: no stale value can be received after Stop returns, and Stop reports
    // true because the firing had not been observed.
    run(10, async {
        let t = Timer::new(Duration::from_millis(1));
        sleep(Duration::from_millis(20)).await;
        assert!(t.stop());
        assert!(t.c().try_recv().is_err());
    });
}

/// A timer's channel is made on the first `c()`: one that fired before anyone looked keeps its
/// firing time and delivers it then, once.
#[test]
fn a_timer_looked_at_only_after_it_fired_delivers_its_firing_time_once() {
    run(10, async {
        let t0 = Instant::now();
        let t = Timer::new(Duration::from_millis(1));
        sleep(Duration::from_millis(20)).await;
        let looked = Instant::now();
        let at = t.c().try_recv().expect("the firing time was kept");
        assert!(at >= t0 + Duration::from_millis(1), "fired early");
        assert!(at <= looked, "the time of the firing, not of the look");
        sleep(Duration::from_millis(10)).await;
        assert!(t.c().try_recv().is_err(), "a one-shot timer fires once");
        assert!(!t.stop(), "fired and received");
    });
}

/// `reset` of a timer that fired unobserved (no channel yet) reports it as not fired and
/// discards the kept time: only the new firing arrives.
#[test]
fn reset_after_an_unobserved_firing_discards_it_and_fires_again() {
    run(10, async {
        let t = Timer::new(Duration::from_millis(1));
        sleep(Duration::from_millis(20)).await;
        let reset_at = Instant::now();
        assert!(
            t.reset(Duration::from_millis(15)),
            "the firing was not observed"
        );
        let at = t.c().recv().await.unwrap();
        assert!(
            at >= reset_at + Duration::from_millis(15),
            "the stale firing arrived"
        );
        assert!(t.c().try_recv().is_err());
    });
}

/// `c()` racing the firing on another thread (the channel made while the wheel fires): every
/// timer delivers exactly one value, whichever came first.
#[test]
fn looking_at_a_timer_while_it_fires_delivers_exactly_one_value() {
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(async {
        for round in 0..200u64 {
            let t = Arc::new(Timer::new(Duration::from_micros(round % 40 * 25)));
            let t2 = t.clone();
            let looker = gorun::go_blocking(move || {
                let _ = t2.c();
            });
            let at = timeout(Duration::from_secs(10), t.c().recv())
                .await
                .expect("a timer looked at while firing never delivered")
                .unwrap();
            let _ = at;
            looker.await.unwrap();
            assert!(t.c().try_recv().is_err(), "round {round}: two values");
            assert!(!t.stop(), "round {round}: fired and received");
        }
    });
}

#[test]
fn reset_on_a_pending_timer_moves_it_and_it_fires_once() {
    run(10, async {
        let t0 = Instant::now();
        let t = Timer::new(Duration::from_millis(10));
        assert!(t.reset(Duration::from_millis(60)));
        let at = t.c().recv().await.unwrap();
        assert!(
            at >= t0 + Duration::from_millis(60),
            "fired at the old deadline"
        );
        sleep(Duration::from_millis(20)).await;
        assert!(t.c().try_recv().is_err());
    });
}

#[test]
fn reset_after_firing_returns_false_and_fires_again() {
    run(10, async {
        let t = Timer::new(Duration::from_millis(1));
        t.c().recv().await.unwrap();
        assert!(!t.reset(Duration::from_millis(5)));
        t.c().recv().await.unwrap();
        assert!(!t.reset(Duration::ZERO));
        t.c().recv().await.unwrap();
    });
}

#[test]
fn a_dropped_timer_still_fires_for_a_kept_receiver() {
    run(10, async {
        let t = Timer::new(Duration::from_millis(5));
        let c = t.c().clone();
        drop(t);
        assert!(c.recv().await.is_some());
    });
}

#[test]
fn after_delivers_one_value_after_the_duration() {
    run(10, async {
        let t0 = Instant::now();
        let c = after(Duration::from_millis(15));
        let at = c.recv().await.unwrap();
        assert!(at >= t0 + Duration::from_millis(15));
        assert!(Instant::now() >= t0 + Duration::from_millis(15));
        sleep(Duration::from_millis(20)).await;
        assert!(c.try_recv().is_err());
    });
}

#[test]
fn after_func_runs_in_its_own_goroutine_and_stop_cancels_it() {
    run(10, async {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let t = after_func(Duration::from_millis(5), move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while runs.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "after_func never ran");
            sleep(Duration::from_millis(1)).await;
        }
        assert!(!t.stop());
        // Reset schedules it again.
        assert!(!t.reset(Duration::from_millis(5)));
        while runs.load(Ordering::SeqCst) == 1 {
            assert!(
                Instant::now() < deadline,
                "after_func did not run after reset"
            );
            sleep(Duration::from_millis(1)).await;
        }
        let r = runs.clone();
        let cancelled = after_func(Duration::from_millis(10), move || {
            r.fetch_add(100, Ordering::SeqCst);
        });
        assert!(cancelled.stop());
        sleep(Duration::from_millis(40)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn timeout_on_a_pending_future_elapses_on_time() {
    run(10, async {
        let t0 = Instant::now();
        let r: Result<(), Elapsed> =
            timeout(Duration::from_millis(20), std::future::pending()).await;
        assert!(r.is_err());
        assert!(t0.elapsed() >= Duration::from_millis(20));
        assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
    });
}

#[test]
fn timeout_returns_the_value_of_a_fast_future() {
    run(10, async {
        let r = timeout(Duration::from_secs(10), async {
            sleep(Duration::from_millis(2)).await;
            42
        })
        .await;
        assert_eq!(r, Ok(42));
    });
}

/// Each worker has its own timer wheel: timers made on different workers and on a plain thread
/// fire in time whichever wheel they are in, and can be stopped from any other thread.
#[test]
fn timers_from_every_worker_and_thread_fire_and_stop_anywhere() {
    let rt = gorun::runtime::Builder::new().workers(4).build().unwrap();
    let (fired, stopped) = rt.block_on(async {
        let made: Vec<_> = (0..64u64)
            .map(|i| {
                gorun::go(async move {
                    // Odd ones are stopped later, from a plain thread.
                    let t = Timer::new(Duration::from_millis(if i % 2 == 0 {
                        5 + i
                    } else {
                        60_000
                    }));
                    gorun::yield_now().await;
                    sleep(Duration::from_millis(1 + i % 7)).await;
                    t
                })
            })
            .collect();
        let mut timers = Vec::new();
        for h in made {
            timers.push(h.await.unwrap());
        }
        let (odd, even): (Vec<_>, Vec<_>) = timers
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 1);
        let stopped = gorun::go_blocking(move || odd.iter().filter(|(_, t)| t.stop()).count());
        let mut fired = 0;
        for (_, t) in even {
            gorun::time::timeout(Duration::from_secs(10), t.c().recv())
                .await
                .expect("a timer did not fire within 10 s")
                .unwrap();
            fired += 1;
        }
        (fired, stopped.await.unwrap())
    });
    assert_eq!((fired, stopped), (32, 32));
    // And from a thread outside every runtime (the global runtime's shared wheel).
    run(10, async {
        let t = Timer::new(Duration::from_millis(10));
        let t2 = Timer::new(Duration::from_secs(60));
        assert!(std::thread::spawn(move || t2.stop()).join().unwrap());
        t.c().recv().await.unwrap();
    });
}

/// Go 1.23's contract under races: a timer's firing is observed exactly once, either by a
/// receive or by a `stop` that returns `true`, never both and never neither, and nothing can be
/// received after `stop` returns. Each round races the firing (0 to 2 ms), a receiver on another
/// goroutine, `stop` from a plain thread, and the first `c()` at a varying point (before the
/// firing, after it, or only after `stop`: the channel made late or never).
#[test]
fn a_firing_is_observed_exactly_once_by_a_receive_or_a_stop() {
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    let _w = common::watchdog(
        "a_firing_is_observed_exactly_once_by_a_receive_or_a_stop",
        120,
    );
    rt.block_on(async {
        for round in 0..240u64 {
            let t = Arc::new(Timer::new(Duration::from_micros(round * 7 % 2000)));
            let look_early = round % 3 == 0;
            let receiver = {
                let t = t.clone();
                gorun::go(async move {
                    if !look_early {
                        sleep(Duration::from_micros(round * 13 % 1500)).await;
                    }
                    // Bounded: ends 25 ms after the last possible firing or stop.
                    timeout(Duration::from_millis(30), t.c().recv())
                        .await
                        .is_ok()
                })
            };
            let stopper = {
                let t = t.clone();
                gorun::go_blocking(move || {
                    std::thread::sleep(Duration::from_micros(round * 11 % 2500));
                    t.stop()
                })
            };
            let stopped = stopper.await.unwrap();
            let received = receiver.await.unwrap();
            assert!(
                received != stopped,
                "round {round}: received {received}, stop returned {stopped}"
            );
            assert!(
                t.c().try_recv().is_err(),
                "round {round}: a value after stop"
            );
        }
    });
}
