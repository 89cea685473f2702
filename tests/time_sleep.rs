//! `sleep` never returns early and, on an idle runtime, is late by a few milliseconds at most.

use std::future::Future;
use std::time::{Duration, Instant};

use gorun::time::{sleep, sleep_until};

/// Runs `f` on a plain thread with `block_on`, failing the test after `secs` seconds.
fn run<F: Future + Send + 'static>(secs: u64, f: F) -> F::Output
where
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(futures::executor::block_on(f));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {secs}s"),
        Err(_) => panic!("the test future panicked"),
    }
}

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
