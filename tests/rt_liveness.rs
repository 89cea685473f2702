//! Every wait ends: shutdown from inside the runtime, timers and I/O while a worker is busy.
mod common;

use gorun::runtime::Builder;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

struct CountOnDrop(Arc<AtomicUsize>);
impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A goroutine that drops the last reference to its own runtime: the drop returns at once
/// (a worker cannot wait for itself, nor for a `go_blocking` job that waits on the test), and
/// the shutdown still completes: every goroutine is cancelled once the job returns.
#[test]
fn dropping_the_runtime_from_its_own_goroutine_does_not_block_that_worker() {
    let _w = common::watchdog("drop_runtime_from_own_goroutine", 60);
    let rt = Arc::new(Builder::new().workers(2).build().unwrap());
    let dropped = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let g = CountOnDrop(dropped.clone());
        rt.go(async move {
            let _g = g;
            std::future::pending::<()>().await;
        });
    }
    // A blocking job that returns only when the test says so.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (job_started_tx, job_started_rx) = mpsc::channel::<()>();
    rt.handle().go_blocking(move || {
        job_started_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(30));
    });
    job_started_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let handle = rt.handle().clone();
    let rt2 = rt.clone();
    drop(rt);
    handle.go(async move {
        drop(rt2); // the last reference: shuts down from this worker
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("dropping the runtime on its own worker blocked that worker");
    release_tx.send(()).unwrap();
    // The shutdown finishes on a thread of its own.
    let t = std::time::Instant::now();
    while dropped.load(SeqCst) < 10 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(dropped.load(SeqCst), 10, "goroutines were not cancelled");
}

#[allow(dead_code)]
fn unused(_: AtomicBool) {}
