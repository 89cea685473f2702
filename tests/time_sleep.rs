//! `sleep` never returns early and, on an idle runtime, is late by a few milliseconds at most.

use std::time::{Duration, Instant};

use common::run;
use gorun::time::{sleep, sleep_until};

mod common;

#[test]
fn sleep_never_returns_early_and_is_late_by_a_few_ms() {
    let lateness = run(30, async {
        let mut late = Vec::new();
        for i in 0..40u64 {
            let d = Duration::from_micros(500 + i * 1_370);
            let t = Instant::now();
            sleep(d).await;
            let took = t.elapsed();
            assert!(took >= d, "sleep({d:?}) returned after {took:?}");
            late.push(took - d);
        }
        late
    });
    let mut sorted = lateness.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    // The machine is shared with other builds: judge the typical case, not the worst.
    assert!(
        median < Duration::from_millis(4),
        "median lateness {median:?}: {sorted:?}"
    );
}

#[test]
fn sleep_until_a_past_deadline_completes_at_once() {
    run(10, async {
        let t = Instant::now();
        sleep_until(t - Duration::from_millis(1)).await;
        sleep(Duration::ZERO).await;
        assert!(t.elapsed() < Duration::from_millis(50));
    });
}

#[test]
fn many_concurrent_sleeps_all_complete_on_time() {
    use futures::stream::{FuturesUnordered, StreamExt};
    run(30, async {
        let start = Instant::now();
        let mut all: FuturesUnordered<_> = (0..10_000u64)
            .map(|i| async move {
                let d = Duration::from_millis(i % 200);
                sleep(d).await;
                (d, start.elapsed())
            })
            .collect();
        let mut n = 0;
        while let Some((d, at)) = all.next().await {
            assert!(at >= d, "due at {d:?}, completed at {at:?}");
            n += 1;
        }
        assert_eq!(n, 10_000);
    });
}

#[test]
fn dropping_a_pending_sleep_cancels_it() {
    run(10, async {
        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(futures::poll!(s.as_mut()).is_pending());
        drop(s);
        // The runtime must still serve other timers after the cancel.
        let t = Instant::now();
        sleep(Duration::from_millis(5)).await;
        assert!(t.elapsed() >= Duration::from_millis(5));
    });
}

/// A worker parked towards a far timer in one wheel is woken for an earlier timer added to
/// another wheel: by another worker's goroutine, and by a thread outside the runtime.
#[test]
fn an_earlier_timer_in_another_wheel_wakes_the_parked_worker() {
    let _w = common::watchdog(
        "an_earlier_timer_in_another_wheel_wakes_the_parked_worker",
        60,
    );
    let rt = gorun::runtime::Builder::new().workers(4).build().unwrap();
    let h = rt.handle();
    // A far timer, so that the worker driving the reactor parks towards it.
    let far = h.go(async { sleep(Duration::from_secs(60)).await });
    std::thread::sleep(Duration::from_millis(50)); // let every worker go idle
    for round in 0..20 {
        // From this thread, which is not a worker (the runtime's shared wheel).
        let t = Instant::now();
        rt.block_on(async {
            gorun::time::timeout(Duration::from_secs(10), sleep(Duration::from_millis(5)))
                .await
                .expect("a 5 ms sleep in block_on did not end within 10 s")
        });
        let late = t.elapsed();
        assert!(
            late < Duration::from_millis(500),
            "round {round}: outside sleep took {late:?}"
        );
        // From a goroutine (some worker's wheel), while the others sleep.
        let t = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        h.go(async move {
            sleep(Duration::from_millis(5)).await;
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a goroutine's 5 ms sleep did not end within 10 s");
        let late = t.elapsed();
        assert!(
            late < Duration::from_millis(500),
            "round {round}: goroutine sleep took {late:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    far.abort();
}
