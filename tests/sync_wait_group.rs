//! gorun::sync::WaitGroup: counting, waiting, the negative-counter panic, rounds (epochs).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use futures::task::noop_waker;
use gorun::sync::WaitGroup;

mod common;
use common::run_on_tokio as run;

#[test]
fn wait_with_zero_counter_returns_at_once() {
    let wg = WaitGroup::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    assert!(Box::pin(wg.wait()).as_mut().poll(&mut cx).is_ready());
    wg.add(1);
    wg.done();
    assert!(Box::pin(wg.wait()).as_mut().poll(&mut cx).is_ready());
}

#[test]
fn done_below_zero_panics_with_gos_message() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    let err = std::panic::catch_unwind(|| wg.done()).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert_eq!(msg, "sync: negative WaitGroup counter");
    // The counter was restored: the group is still usable.
    wg.add(1);
    wg.done();
    wg.wait_blocking();
}

#[test]
fn ten_thousand_tasks_release_every_waiter() {
    run(async {
        let wg = WaitGroup::new();
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..10_000 {
            wg.add(1);
            let (wg, done) = (wg.clone(), done.clone());
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                done.fetch_add(1, SeqCst);
                wg.done();
            });
        }
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let wg = wg.clone();
                tokio::spawn(async move { wg.wait().await })
            })
            .collect();
        wg.wait().await;
        assert_eq!(done.load(SeqCst), 10_000);
        for w in waiters {
            w.await.unwrap();
        }
    });
}

#[test]
fn released_waiter_is_not_confused_by_a_later_add() {
    let wg = WaitGroup::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    wg.add(1);
    let mut waiter = Box::pin(wg.wait());
    assert!(waiter.as_mut().poll(&mut cx).is_pending());
    wg.done(); // releases the waiter ...
    wg.add(1); // ... and a new round starts before it runs
    assert!(waiter.as_mut().poll(&mut cx).is_ready());
    // A wait of the new round waits for the new round.
    let mut next = Box::pin(wg.wait());
    assert!(next.as_mut().poll(&mut cx).is_pending());
    wg.done();
    assert!(next.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn rounds_reuse_the_group() {
    run(async {
        let wg = WaitGroup::new();
        for round in 0..100 {
            for _ in 0..10 {
                wg.add(1);
                let wg = wg.clone();
                tokio::spawn(async move { wg.done() });
            }
            tokio::time::timeout(Duration::from_secs(5), wg.wait())
                .await
                .unwrap_or_else(|_| panic!("round {round} never finished"));
        }
    });
}

#[test]
fn cancelled_wait_leaves_nothing_behind() {
    let wg = WaitGroup::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    wg.add(1);
    let mut a = Box::pin(wg.wait());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    drop(a);
    let mut b = Box::pin(wg.wait());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    wg.done();
    assert!(b.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn wait_blocking_from_a_plain_thread() {
    let wg = WaitGroup::new();
    wg.add(3);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let wg = wg.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                wg.done();
            })
        })
        .collect();
    wg.wait_blocking();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn clones_share_the_counter_and_are_send_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let wg = WaitGroup::new();
    send_sync(&wg);
    let f = wg.wait();
    send_sync(&f);
    drop(f);
    let wg2 = wg.clone();
    wg.add(2);
    assert_eq!(format!("{wg2:?}"), "WaitGroup { count: 2 }");
    wg2.done();
    wg2.done();
    assert_eq!(format!("{wg:?}"), "WaitGroup { count: 0 }");
}

#[test]
fn wait_group_go_calls_done_even_when_the_goroutine_panics() {
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    let out = rt.block_on(async {
        gorun::time::timeout(std::time::Duration::from_secs(10), async {
            let wg = gorun::sync::WaitGroup::new();
            let ok = wg.go(async { 1 });
            let bad = wg.go(async {
                panic!("worker failed");
            });
            wg.wait().await;
            (ok.await.unwrap(), bad.await.unwrap_err().is_panic())
        })
        .await
        .expect("wg.wait() hung: done() was not called for the panicking goroutine")
    });
    assert_eq!(out, (1, true));
}

/// `wait` returns only after each `WaitGroup::go` goroutine's future, and what it owns, was
/// dropped: `done` comes after the future when the future is dropped unfinished. The waiter
/// is a plain thread, so it runs as soon as it is woken.
#[test]
fn wait_group_go_counts_done_after_the_future_is_dropped() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    struct CountOnDrop(Arc<AtomicUsize>);
    impl Drop for CountOnDrop {
        fn drop(&mut self) {
            // Give a waiter woken too early the time to look.
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.0.fetch_add(1, SeqCst);
        }
    }
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    let wg = gorun::sync::WaitGroup::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let w2 = wg.clone();
    let d2 = dropped.clone();
    rt.block_on(async move {
        // Goroutines that never finish, aborted: their futures are dropped unfinished, so the
        // guards go with the future's drop, not at the end of its body.
        for _ in 0..4 {
            let guard = CountOnDrop(d2.clone());
            let h = w2.go(async move {
                let _g = guard;
                std::future::pending::<()>().await;
            });
            h.abort();
        }
    });
    let waited = std::thread::spawn(move || {
        wg.wait_blocking();
        dropped.load(SeqCst)
    });
    assert_eq!(
        waited.join().unwrap(),
        4,
        "wait returned before a goroutine's future was dropped"
    );
    drop(rt);
}
