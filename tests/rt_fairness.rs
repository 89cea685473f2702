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
