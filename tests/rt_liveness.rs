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

/// A goroutine that never yields, running on the worker that was driving the reactor (it was
/// woken by its timer), must not hold up other goroutines' timers: another worker takes the
/// reactor over (Go's `wakeNetPoller`). The busy loop ends when it sees the sleeper finish (or
/// after 10 s, which fails the test): no timing threshold.
#[test]
fn timers_fire_while_the_worker_that_drove_the_reactor_runs_a_long_poll() {
    let _w = common::watchdog("timers_while_long_poll", 60);
    let rt = Builder::new().workers(2).build().unwrap();
    for _ in 0..5 {
        let slept = Arc::new(AtomicBool::new(false));
        let (s1, s2) = (slept.clone(), slept.clone());
        let outcome = rt.block_on(async move {
            let busy = gorun::go(async move {
                // Woken by the reactor: runs on the worker that drove it.
                gorun::time::sleep(Duration::from_millis(5)).await;
                let t = std::time::Instant::now();
                while !s1.load(SeqCst) && t.elapsed() < Duration::from_secs(10) {
                    std::hint::spin_loop();
                }
                s1.load(SeqCst)
            });
            let sleeper = gorun::go(async move {
                gorun::time::sleep(Duration::from_millis(20)).await;
                s2.store(true, SeqCst);
            });
            sleeper.await.unwrap();
            busy.await.unwrap()
        });
        assert!(
            outcome,
            "the sleep completed only after the busy goroutine gave its worker back"
        );
    }
}

/// A worker that is never idle (one worker, a goroutine yielding in a loop) fires a due timer
/// within a few of its tasks (Go's `checkTimers` at every `schedule`; here every
/// `TIMER_CHECK_INTERVAL` = 8 ticks), not once a millisecond every 61 tasks. Counted in the
/// yielding goroutine's own polls after the timer is certainly due (its deadline plus one 1 ms
/// wheel tick), not in time: the OS descheduling the thread adds no polls. Before the change,
/// hundreds of polls went by; the bound leaves room for four checks.
#[test]
fn a_busy_worker_fires_due_timers_within_a_few_tasks() {
    let _w = common::watchdog("busy_worker_fires_timers", 60);
    let rt = Builder::new().workers(1).build().unwrap();
    for _ in 0..5 {
        let fired = Arc::new(AtomicBool::new(false));
        let f2 = fired.clone();
        let polls_after_due = rt.block_on(async move {
            let deadline = std::time::Instant::now() + Duration::from_millis(3);
            let sleeper = gorun::go(async move {
                gorun::time::sleep_until(deadline).await;
                fired.store(true, SeqCst);
            });
            let yielder = gorun::go(async move {
                let due = deadline + Duration::from_millis(1);
                let mut after = 0u32;
                while !f2.load(SeqCst) && after < 1_000_000 {
                    if std::time::Instant::now() >= due {
                        after += 1;
                    }
                    gorun::yield_now().await;
                }
                after
            });
            sleeper.await.unwrap();
            yielder.await.unwrap()
        });
        assert!(
            polls_after_due <= 32,
            "a due timer waited {polls_after_due} tasks of a busy worker"
        );
    }
}
