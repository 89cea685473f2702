//! Dropping a runtime stops the workers, drops every unfinished goroutine and joins threads.
mod common;

use gorun::runtime::Builder;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct CountOnDrop(Arc<AtomicUsize>);
impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn shutdown_with_10000_pending_goroutines_runs_their_destructors() {
    let _w = common::watchdog("shutdown_with_10000_pending", 60);
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new().workers(2).build().unwrap();
    for _ in 0..10_000 {
        let guard = CountOnDrop(dropped.clone());
        let s = started.clone();
        rt.go(async move {
            let _g = guard;
            s.fetch_add(1, SeqCst);
            std::future::pending::<()>().await;
        });
    }
    // Let some of them start and block; the rest are still queued.
    let t = Instant::now();
    while started.load(SeqCst) < 100 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(rt);
    assert_eq!(dropped.load(SeqCst), 10_000);
}

/// Sleeping goroutines have no registry entry (the sleep's wheel entry stands for it); shutdown
/// must still cancel them and run their destructors.
#[test]
fn shutdown_with_sleeping_goroutines_runs_their_destructors() {
    let _w = common::watchdog("shutdown_with_sleeping_goroutines", 60);
    let dropped = Arc::new(AtomicUsize::new(0));
    let asleep = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new().workers(2).build().unwrap();
    let n = 10_000;
    for i in 0..n {
        let guard = CountOnDrop(dropped.clone());
        let a = asleep.clone();
        rt.go(async move {
            let _g = guard;
            if i % 2 == 0 {
                // Some wake once and park in a second sleep.
                gorun::time::sleep(Duration::from_millis(1)).await;
            }
            a.fetch_add(1, SeqCst);
            gorun::time::sleep(Duration::from_secs(3600)).await;
        });
    }
    let t = Instant::now();
    while asleep.load(SeqCst) < n && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(asleep.load(SeqCst), n, "not all goroutines went to sleep");
    let t = Instant::now();
    drop(rt);
    assert_eq!(dropped.load(SeqCst), n);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        t.elapsed()
    );
}

#[test]
fn goroutines_blocked_on_each_other_are_freed_at_shutdown() {
    let _w = common::watchdog("goroutines_blocked_on_each_other", 30);
    // Two goroutines each holding the other's waker-bearing future: a reference cycle that only
    // cancelling at shutdown can break.
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new().workers(2).build().unwrap();
    let d = dropped.clone();
    rt.block_on(async move {
        let a = gorun::go({
            let g = CountOnDrop(d.clone());
            async move {
                let _g = g;
                std::future::pending::<()>().await
            }
        });
        gorun::go({
            let g = CountOnDrop(d.clone());
            async move {
                let _g = g;
                let _ = a.await; // waits on the other forever
            }
        });
    });
    drop(rt);
    assert_eq!(dropped.load(SeqCst), 2);
}

#[test]
fn a_destructor_that_spawns_during_shutdown_does_not_hang_or_leak() {
    let _w = common::watchdog("destructor_spawns_during_shutdown", 30);
    struct SpawnOnDrop(Arc<AtomicUsize>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let c = self.0.clone();
            // The runtime is shutting down: the new goroutine is cancelled, its future dropped.
            drop(gorun::go(async move {
                c.fetch_add(100, SeqCst);
            }));
            self.0.fetch_add(1, SeqCst);
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new().workers(2).build().unwrap();
    let g = SpawnOnDrop(count.clone());
    rt.go(async move {
        let _g = g;
        std::future::pending::<()>().await
    });
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    assert_eq!(count.load(SeqCst) % 100, 1);
}

#[test]
fn join_handle_of_a_goroutine_dropped_at_shutdown_reports_cancelled() {
    let _w = common::watchdog("join_handle_after_shutdown", 30);
    let rt = Builder::new().workers(1).build().unwrap();
    let h = rt.go(std::future::pending::<()>());
    drop(rt);
    let rt2 = Builder::new().workers(1).build().unwrap();
    let err = rt2.block_on(h).unwrap_err();
    assert!(err.is_cancelled());
}

#[test]
fn spawning_on_a_shut_down_runtime_cancels_the_goroutine() {
    let _w = common::watchdog("spawn_after_shutdown", 30);
    let rt = Builder::new().workers(1).build().unwrap();
    let handle = rt.handle().clone();
    drop(rt);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let h = handle.go(async move { r.store(true, SeqCst) });
    let err = gorun::block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert!(!ran.load(SeqCst));
}

#[test]
fn shutdown_timeout_returns_even_if_a_blocking_job_is_stuck() {
    let _w = common::watchdog("shutdown_timeout_blocking_stuck", 30);
    let rt = Builder::new().workers(1).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    rt.handle().go_blocking(move || {
        s.store(true, SeqCst);
        let _ = rx.recv_timeout(Duration::from_secs(20));
    });
    while !started.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let t = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(200));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    drop(tx);
}

#[test]
fn a_waker_fired_from_a_foreign_thread_after_shutdown_is_harmless() {
    let _w = common::watchdog("waker_after_shutdown", 30);
    let (wtx, wrx) = std::sync::mpsc::channel::<std::task::Waker>();
    let rt = Builder::new().workers(1).build().unwrap();
    rt.go(std::future::poll_fn(move |cx| {
        let _ = wtx.send(cx.waker().clone());
        std::task::Poll::<()>::Pending
    }));
    let waker = wrx.recv_timeout(Duration::from_secs(10)).unwrap();
    drop(rt);
    std::thread::spawn(move || {
        waker.wake_by_ref();
        waker.wake();
    })
    .join()
    .unwrap();
}
