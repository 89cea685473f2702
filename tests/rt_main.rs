//! `#[gorun::main]` and `#[gorun::test]` run their body as a goroutine (goroutine 1 of a
//! program, `[main]` in dumps) on a worker, as Go's `main` is a goroutine.

use gorun::chan::chan;

mod common;

/// The body runs on one of the runtime's workers, not on the thread that waits for it.
#[gorun::test(workers = 2)]
async fn the_body_runs_on_a_worker() {
    let h = gorun::go_blocking(|| std::thread::current().id());
    assert_ne!(h.await.unwrap(), std::thread::current().id());
    assert!(
        gorun::runtime::Handle::try_current().is_ok(),
        "a goroutine sees its runtime"
    );
    // A goroutine: blocking calls meant for plain threads refuse to run here.
    let c = chan::<u8>(1);
    c.try_send(1).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.recv_blocking()));
    assert!(r.is_err(), "recv_blocking must refuse a worker thread");
}

/// Go's `runtime.NumGoroutine()` in `main` counts `main` itself.
#[gorun::test]
async fn main_counts_as_one_goroutine() {
    assert_eq!(gorun::num_goroutine(), 1);
    let c = chan::<()>(0);
    let c2 = c.clone();
    let h = gorun::go(async move { c2.recv().await });
    gorun::yield_now().await;
    assert_eq!(gorun::num_goroutine(), 2);
    c.send(()).await.unwrap();
    h.await.unwrap();
}

/// A waiting main goroutine is listed in dumps, marked `[main]`.
#[gorun::test]
async fn the_body_is_listed_as_main_in_dumps() {
    let _w = common::watchdog("the_body_is_listed_as_main_in_dumps", 60);
    let c = chan::<String>(0);
    let c2 = c.clone();
    let me = gorun::runtime::dump();
    assert!(
        !me.contains("[main]"),
        "running goroutines are not listed:\n{me}"
    );
    gorun::go(async move {
        // Wait until main is parked on `c`, then hand it the dump that lists it.
        let mut tries = 0;
        let mut dump = gorun::runtime::dump();
        while !dump.contains("[main] [chan receive]") {
            tries += 1;
            assert!(tries < 5000, "main never listed:\n{dump}");
            gorun::time::sleep(std::time::Duration::from_millis(1)).await;
            dump = gorun::runtime::dump();
        }
        c2.send(dump).await.unwrap();
    });
    let dump = c.recv().await.unwrap();
    assert!(dump.contains("[main] [chan receive]:"), "{dump}");
}

/// A panic in the body fails the test with the panic's own message.
#[gorun::test]
#[should_panic(expected = "boom from main")]
async fn a_panic_in_the_body_is_resumed_on_the_waiting_thread() {
    gorun::yield_now().await;
    panic!("boom from main");
}

/// The body's return value comes back, `Result` included.
#[gorun::test]
async fn the_body_returns_its_result() -> Result<(), String> {
    let v = gorun::go(async { 41 }).await.map_err(|e| e.to_string())?;
    if v + 1 == 42 {
        Ok(())
    } else {
        Err(format!("got {v}"))
    }
}

/// Other goroutines still running when main returns are dropped with the runtime, as Go
/// ends the program when `main` returns.
#[test]
fn goroutines_left_running_when_main_returns_are_dropped() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    let v = rt.__run_main(async move {
        // The goroutine says when it holds its guard: a `yield_now` alone does not make it
        // run before main returns (the other worker may have stolen it and not polled it
        // yet, and then it is dropped before its body made the guard).
        let started = chan::<()>(0);
        let s = started.clone();
        gorun::go(async move {
            let _guard = SetOnDrop(d);
            s.send(()).await.unwrap();
            std::future::pending::<()>().await
        });
        started.recv().await.unwrap();
        7
    });
    assert_eq!(v, 7);
    drop(rt);
    assert!(dropped.load(Ordering::SeqCst));
}

/// When main returns no other goroutine runs any more (Go's program exits), even before the
/// runtime is dropped.
#[test]
fn no_goroutine_runs_after_main_returned() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let polls = Arc::new(AtomicU64::new(0));
    let (p, seen) = (polls.clone(), polls.clone());
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    rt.__run_main(async move {
        gorun::go(async move {
            loop {
                p.fetch_add(1, Ordering::SeqCst);
                gorun::yield_now().await;
            }
        });
        while seen.load(Ordering::SeqCst) < 100 {
            gorun::yield_now().await;
        }
    });
    let at_return = polls.load(Ordering::SeqCst);
    // Ample time for a goroutine that was wrongly left running to show (thousands of polls).
    std::thread::sleep(std::time::Duration::from_millis(50));
    let later = polls.load(Ordering::SeqCst);
    assert!(
        later <= at_return + 1,
        "a goroutine ran {} more times after main returned",
        later - at_return
    );
    drop(rt);
}
