//! gorun::sync::Once: one run for many concurrent callers; panic and cancellation semantics.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use futures::task::noop_waker;
use futures::FutureExt;
use gorun::sync::Once;

mod common;
use common::run_on_tokio as run;

#[test]
fn concurrent_callers_run_once_and_wait_for_the_first() {
    run(async {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (once, runs, finished) = (once.clone(), runs.clone(), finished.clone());
                tokio::spawn(async move {
                    once.call_once(async {
                        runs.fetch_add(1, SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        finished.store(1, SeqCst);
                    })
                    .await;
                    // Every caller returns only after the first run finished.
                    assert_eq!(finished.load(SeqCst), 1);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(runs.load(SeqCst), 1);
        assert!(once.is_completed());
    });
}

#[test]
fn a_panicking_call_counts_as_done() {
    let once = Once::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(once.call_once(async { panic!("init failed") }))
    }));
    assert!(r.is_err());
    assert!(once.is_completed());
    let mut ran = false;
    futures::executor::block_on(once.call_once(async { ran = true }));
    assert!(!ran);
}

#[test]
fn a_cancelled_call_lets_the_next_caller_run() {
    let once = Once::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    {
        let mut first = Box::pin(once.call_once(futures::future::pending::<()>()));
        assert!(first.poll_unpin(&mut cx).is_pending());
        assert!(!once.is_completed());
    } // dropped midway
    let mut ran = false;
    futures::executor::block_on(once.call_once(async { ran = true }));
    assert!(ran);
    assert!(once.is_completed());
}

#[test]
fn call_once_future_is_send() {
    fn send<T: Send>(_: &T) {}
    let once = Once::new();
    let f = once.call_once(async {});
    send(&f);
    drop(f);
    assert_eq!(format!("{once:?}"), "Once { completed: false }");
}

/// Issue #13: a pending `call_once` dropped while the thread unwinds from an unrelated panic
/// did not complete: the `Once` must stay not done (Go: done only once `f` returned).
#[test]
fn a_call_dropped_during_an_unrelated_unwind_is_not_done() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let once = Once::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let w = futures::task::noop_waker();
        let mut fut = Box::pin(once.call_once(std::future::pending::<()>()));
        assert_eq!(
            fut.as_mut().poll(&mut Context::from_waker(&w)),
            Poll::Pending
        );
        panic!("unrelated"); // unwinding drops `fut`
    }));
    assert!(r.is_err());
    assert!(
        !once.is_completed(),
        "a cancelled call marked the Once done"
    );
    let mut ran = false;
    futures::executor::block_on(once.call_once(async { ran = true }));
    assert!(ran, "the next caller must run its own f");
}

/// A call whose `f` panicked counts as done even when the future is dropped only after the
/// panic was caught (as gorun's runtime does with a panicking goroutine).
#[test]
fn a_panicking_call_dropped_after_the_catch_is_done() {
    use std::future::Future;
    use std::task::Context;
    let once = Once::new();
    let w = futures::task::noop_waker();
    let mut fut = Box::pin(once.call_once(async { panic!("init failed") }));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = fut.as_mut().poll(&mut Context::from_waker(&w));
    }));
    assert!(r.is_err());
    drop(fut); // not panicking any more
    assert!(
        once.is_completed(),
        "f panicked: Go's Do considers it returned"
    );
}
