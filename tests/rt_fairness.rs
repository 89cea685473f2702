//! No goroutine can keep a worker to itself: yielding and always-ready loops let others run.
mod common;

use gorun::runtime::Builder;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;

#[test]
fn a_goroutine_yielding_in_a_loop_does_not_starve_another() {
    let _w = common::watchdog("yield_loop_does_not_starve", 20);
    let rt = Builder::new().workers(1).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicUsize::new(0));
    let (s, n) = (stop.clone(), spins.clone());
    let stop2 = stop.clone();
    rt.block_on(async move {
        let stop = stop2;
        let spinner = gorun::go(async move {
            while !s.load(Acquire) {
                n.fetch_add(1, Relaxed);
                gorun::yield_now().await;
            }
        });
        // On a single worker, this goroutine only runs if the spinner lets it.
        let stopper = gorun::go({
            let stop = stop.clone();
            async move { stop.store(true, Release) }
        });
        stopper.await.unwrap();
        spinner.await.unwrap();
    });
    assert!(stop.load(Acquire));
}

#[test]
fn an_always_ready_channel_loop_does_not_starve_another_goroutine() {
    let _w = common::watchdog("always_ready_channel_loop", 20);
    // The loop never waits: every recv is ready at once. Only the cooperative budget makes it
    // give the single worker up.
    let rt = Builder::new().workers(1).build().unwrap();
    let received = rt.block_on(async {
        let c = gorun::chan::chan::<u32>(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let (c2, s2) = (c.clone(), stop.clone());
        let busy = gorun::go(async move {
            let mut n = 0u64;
            while !s2.load(Acquire) {
                // Refill and drain: always ready, never Pending on its own.
                c2.try_send(1).ok();
                if c2.recv().await.is_some() {
                    n += 1;
                }
            }
            n
        });
        let other = gorun::go({
            let stop = stop.clone();
            async move { stop.store(true, Release) }
        });
        other.await.unwrap();
        busy.await.unwrap()
    });
    assert!(received > 0);
}

#[test]
fn injected_work_is_not_starved_by_local_ping_pong() {
    let _w = common::watchdog("injected_work_not_starved", 20);
    // Two goroutines hand a value back and forth through runnext forever; work submitted from
    // outside (the injection queue) must still run (the 61-tick check and the runnext cap).
    let rt = Builder::new().workers(1).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let a = gorun::chan::chan::<u32>(0);
    let b = gorun::chan::chan::<u32>(0);
    {
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        rt.go(async move {
            let mut v = 0;
            while !stop.load(Acquire) {
                if a.send(v).await.is_err() {
                    break;
                }
                v = b.recv().await.unwrap_or(0);
            }
            a.close();
        });
    }
    {
        let (a, b) = (a.clone(), b.clone());
        rt.go(async move {
            while let Some(v) = a.recv().await {
                if b.send(v + 1).await.is_err() {
                    break;
                }
            }
        });
    }
    let s = stop.clone();
    let h = rt.handle().go(async move { s.store(true, Release) });
    rt.block_on(h).unwrap();
    assert!(stop.load(Acquire));
    drop(rt);
}

/// Spins (never yielding the worker) until `flags` are all set, for at most `limit`; returns
/// whether they were. A goroutine that busy-waits like this is stuck in one poll: whatever is
/// queued behind it on its worker can only run if another worker takes it.
fn spin_until_set(flags: &[Arc<AtomicBool>], limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    while !flags.iter().all(|f| f.load(Acquire)) {
        if start.elapsed() > limit {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// `woken` goroutines each park on a channel of their own; then one goroutine wakes them all
/// (they queue on its worker: the first in `runnext`, the rest in the local queue, fewer than
/// a worker shares by notification) and busy-waits until every one of them has run. On two
/// workers the other worker must notice that the waker is stuck in one task and take them:
/// nothing else would run them.
fn woken_goroutines_behind_a_stuck_waker_run_elsewhere(woken: usize) -> bool {
    let rt = Builder::new().workers(2).build().unwrap();
    // All of it in a goroutine, so that the waker runs on a worker.
    let test = rt.go(async move {
        let chans: Vec<_> = (0..woken).map(|_| gorun::chan::chan::<()>(1)).collect();
        let flags: Vec<_> = (0..woken)
            .map(|_| Arc::new(AtomicBool::new(false)))
            .collect();
        let parked = Arc::new(AtomicUsize::new(0));
        for (c, f) in chans.iter().zip(&flags) {
            let (c, f, parked) = (c.clone(), f.clone(), parked.clone());
            drop(gorun::go(async move {
                parked.fetch_add(1, AcqRel);
                c.recv().await;
                f.store(true, Release);
            }));
        }
        // Let them reach their receive and park (a time, not a condition: if one has not
        // parked yet, its receive finds the value and the test checks less, not wrongly).
        while parked.load(Acquire) < woken {
            gorun::yield_now().await;
        }
        // Both workers go idle; the timer wakes this goroutine on one of them.
        gorun::time::sleep(std::time::Duration::from_millis(20)).await;
        // Stay on this worker a while without yielding, so that the other one, woken to take
        // the reactor over, has searched and parked again: nobody is looking for work.
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(5) {
            std::hint::spin_loop();
        }
        for c in &chans {
            c.try_send(()).unwrap();
        }
        spin_until_set(&flags, std::time::Duration::from_secs(20))
    });
    rt.block_on(test).unwrap()
}

#[test]
fn a_goroutine_woken_by_one_that_then_runs_long_is_taken_by_another_worker() {
    let _w = common::watchdog("woken_behind_stuck_waker", 60);
    assert!(
        woken_goroutines_behind_a_stuck_waker_run_elsewhere(1),
        "the woken goroutine never ran while its waker spun"
    );
}

#[test]
fn goroutines_queued_behind_a_long_running_one_are_taken_by_another_worker() {
    let _w = common::watchdog("queued_behind_stuck_waker", 60);
    assert!(
        woken_goroutines_behind_a_stuck_waker_run_elsewhere(5),
        "goroutines queued behind a spinning one never ran"
    );
}
