//! A million goroutines alive at once: half blocked receiving on unbuffered channels, half
//! waiting on a WaitGroup; then every receiver gets exactly one value, the group is released, and
//! all of them complete. Prints the peak RSS (`VmHWM`) and the bytes per goroutine.
//!
//! A debug build runs 200,000 (CI's default, a few seconds); an optimized build or
//! `STRESS_SCALE` > 1 runs 1,000,000, `STRESS_SCALE` times over.
mod common;
mod stress_util;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gorun::chan::{chan, Chan};
use gorun::sync::WaitGroup;
use gorun::time::timeout;

fn goroutines() -> usize {
    if common::small() {
        20_000
    } else if stress_util::big() {
        1_000_000
    } else {
        200_000
    }
}

#[test]
fn a_million_goroutines_blocked_at_once_all_complete() {
    let _w = common::watchdog("stress_million", stress_util::budget(120));
    // `STRESS_SCALE` repeats the whole test, each time on a fresh runtime.
    for _ in 0..stress_util::scale() {
        million_blocked_then_released(goroutines());
    }
}

fn million_blocked_then_released(n: usize) {
    let base_kib = stress_util::proc_status_kib("VmRSS");
    let rt = stress_util::rt();
    let t0 = Instant::now();
    let (peak_alive, sum) = rt.block_on(async move {
        const CHANS: usize = 1_000;
        let chans: Vec<Chan<u64>> = (0..CHANS).map(|_| chan(0)).collect();
        let gate = WaitGroup::new();
        gate.add(1);
        let finished = WaitGroup::new();
        finished.add(n);
        let alive = Arc::new(AtomicUsize::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let (alive, finished) = (alive.clone(), finished.clone());
            if i % 2 == 0 {
                let (c, sum) = (chans[(i / 2) % CHANS].clone(), sum.clone());
                drop(gorun::go(async move {
                    alive.fetch_add(1, SeqCst);
                    let v = c
                        .recv()
                        .await
                        .expect("channel closed before its value came");
                    sum.fetch_add(v, Relaxed);
                    finished.done();
                }));
            } else {
                let gate = gate.clone();
                drop(gorun::go(async move {
                    alive.fetch_add(1, SeqCst);
                    gate.wait().await;
                    finished.done();
                }));
            }
        }
        // Every goroutine has started and is blocked: all alive at once.
        let t = Instant::now();
        while alive.load(SeqCst) < n {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "goroutines never started"
            );
            gorun::time::sleep(Duration::from_millis(2)).await;
        }
        let peak_alive = gorun::num_goroutine();
        assert!(peak_alive >= n, "num_goroutine() = {peak_alive} < {n}");
        eprintln!(
            "stress_million: {n} goroutines spawned and blocked in {:?}, VmRSS {} KiB",
            t0.elapsed(),
            stress_util::proc_status_kib("VmRSS")
        );
        // One value per receiver: the k-th receiver of a channel gets k+1. Round-robin over
        // the channels, so that each handed value has time to be picked up.
        let receivers = n.div_ceil(2);
        let count = |ci: usize| receivers / CHANS + usize::from(ci < receivers % CHANS);
        let (mut expected, mut slow) = (0u64, 0usize);
        for k in 0..count(0) as u64 {
            for (ci, c) in chans.iter().enumerate() {
                if k as usize >= count(ci) {
                    continue;
                }
                // An unbuffered `try_send` succeeds only if a receiver waits and no earlier
                // value is still being handed over on that channel (chan/state.rs, invariant 3);
                // otherwise wait in `send`.
                if let Err(e) = c.try_send(k + 1) {
                    slow += 1;
                    timeout(Duration::from_secs(10), c.send(e.into_inner()))
                        .await
                        .expect("a receiver went missing")
                        .unwrap();
                }
                expected += k + 1;
            }
        }
        for c in &chans {
            c.close();
        }
        eprintln!(
            "stress_million: values sent at {:?} ({slow} sends had to wait)",
            t0.elapsed()
        );
        gate.done();
        timeout(Duration::from_secs(60), finished.wait())
            .await
            .expect("not every goroutine completed");
        assert_eq!(
            sum.load(Relaxed),
            expected,
            "a value was lost or duplicated"
        );
        (peak_alive, expected)
    });
    let hwm = stress_util::proc_status_kib("VmHWM");
    eprintln!(
        "stress_million: {n} goroutines ({peak_alive} alive at peak) completed in {:?}; \
         peak RSS (VmHWM) {hwm} KiB, about {} bytes per goroutine above the {base_kib} KiB base",
        t0.elapsed(),
        (hwm.saturating_sub(base_kib) * 1024) / n as u64
    );
    assert!(sum > 0);
    let t = Instant::now();
    drop(rt);
    assert!(t.elapsed() < Duration::from_secs(10));
}
