//! gorun::sync::Semaphore: weighted acquire, FIFO fairness, cancellation restores permits.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::noop_waker;
use gorun::sync::{Semaphore, TryAcquireError};

mod common;
use common::run_on_tokio as run;

#[test]
fn permits_return_on_drop() {
    let s = Semaphore::new(5);
    let a = s.try_acquire(2).unwrap();
    let b = s.try_acquire(3).unwrap();
    assert_eq!(s.available_permits(), 0);
    assert_eq!(s.try_acquire(1).unwrap_err(), TryAcquireError);
    drop(a);
    assert_eq!(s.available_permits(), 2);
    drop(b);
    assert_eq!(s.available_permits(), 5);
}

#[test]
fn large_request_is_not_starved_by_small_ones() {
    let s = Semaphore::new(2);
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let one = s.try_acquire(1).unwrap();
    let mut big = Box::pin(s.acquire(2));
    assert!(big.as_mut().poll(&mut cx).is_pending());
    // One permit is free but a small request may not jump the queue.
    assert!(s.try_acquire(1).is_err());
    let mut small = Box::pin(s.acquire(1));
    assert!(small.as_mut().poll(&mut cx).is_pending());
    drop(one);
    assert!(small.as_mut().poll(&mut cx).is_pending());
    let p = match big.as_mut().poll(&mut cx) {
        Poll::Ready(p) => p,
        Poll::Pending => panic!("big request starved"),
    };
    assert_eq!(p.num_permits(), 2);
    drop(p);
    assert!(small.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn cancelling_pending_acquires_under_contention_restores_every_permit() {
    run(async {
        const PERMITS: usize = 7;
        let s = Arc::new(Semaphore::new(PERMITS));
        let tasks: Vec<_> = (0..64usize)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    for j in 0..300usize {
                        let n = 1 + (i + j) % PERMITS;
                        if (i * 7 + j) % 4 == 0 {
                            // Abandon the request after a short wait, possibly after it was
                            // assigned some (or all) of its permits.
                            let _ =
                                tokio::time::timeout(Duration::from_micros(5), s.acquire(n)).await;
                        } else {
                            let p = s.acquire(n).await;
                            assert_eq!(p.num_permits(), n);
                            if j % 5 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            s.available_permits(),
            PERMITS,
            "permits leaked or duplicated"
        );
        assert!(s.try_acquire(PERMITS).is_ok());
    });
}

#[test]
fn holders_never_exceed_the_permit_count() {
    run(async {
        let s = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (s, inside) = (s.clone(), inside.clone());
                tokio::spawn(async move {
                    let _p = s.acquire(1).await;
                    assert!(inside.fetch_add(1, SeqCst) < 3);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.available_permits(), 3);
    });
}

#[test]
fn zero_permit_acquire_completes_at_once() {
    let s = Semaphore::new(0);
    let p = futures::executor::block_on(s.acquire(0));
    assert_eq!(p.num_permits(), 0);
}

#[test]
#[should_panic(expected = "cannot acquire")]
fn acquiring_more_than_the_maximum_panics() {
    let s = Semaphore::new(1);
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let mut f = Box::pin(s.acquire(Semaphore::MAX_PERMITS + 1));
    let _ = f.as_mut().poll(&mut cx);
}

#[test]
fn futures_are_send_and_debug() {
    fn send<T: Send>(_: &T) {}
    let s = Semaphore::new(1);
    let f = s.acquire(1);
    send(&f);
    assert!(format!("{f:?}").contains("Acquire"));
    drop(f);
    assert_eq!(format!("{s:?}"), "Semaphore { available: 1, waiters: 0 }");
}

/// Issue #13: a request larger than the semaphore's size can never be served. As in Go's
/// `x/sync/semaphore.Weighted` ("don't make other Acquire calls block on one that's doomed
/// to fail"), it waits without queueing: smaller requests behind it are served.
#[test]
fn a_request_larger_than_the_size_does_not_block_others() {
    use tokio_test::{assert_pending, assert_ready, task};
    let s = Semaphore::new(2);
    let mut doomed = task::spawn(s.acquire(3));
    assert_pending!(doomed.poll());
    assert_eq!(s.available_permits(), 2, "the doomed request took permits");
    let mut small = task::spawn(s.acquire(1));
    let p = assert_ready!(small.poll(), "blocked behind a doomed request");
    let q = s
        .try_acquire(1)
        .expect("try_acquire blocked behind a doomed request");
    drop((p, q));
    assert_pending!(doomed.poll());
    assert!(!doomed.is_woken());
    drop(doomed); // cancelling it gives nothing back and takes nothing
    assert_eq!(s.available_permits(), 2);
}

/// A request that only became possible through `add_permits` is served then.
#[test]
fn add_permits_serves_a_request_that_was_larger_than_the_size() {
    use tokio_test::{assert_pending, assert_ready, task};
    let s = Semaphore::new(0);
    let mut a = task::spawn(s.acquire(1));
    let mut b = task::spawn(s.acquire(2));
    let mut c = task::spawn(s.acquire(1));
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    assert_pending!(c.poll());
    s.add_permits(1); // size 1: a and c can be served, in arrival order
    assert!(a.is_woken());
    let pa = assert_ready!(a.poll());
    assert_pending!(c.poll());
    assert_pending!(b.poll());
    s.add_permits(1); // size 2: b can be served now; it queues behind c, which was queued
                      // when b could not be served, and the new permit goes to c
    assert!(c.is_woken());
    let pc = assert_ready!(c.poll());
    assert_pending!(b.poll());
    drop(pa);
    assert!(!b.is_woken(), "b still needs the permit c holds");
    drop(pc);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()));
    assert_eq!(s.available_permits(), 2);
}

/// `forget` shrinks the size: a queued request that no longer fits gives back the permits it
/// was assigned and stops blocking the queue; `add_permits` brings it back.
#[test]
fn forget_makes_a_queued_request_doomed_and_unblocks_the_others() {
    use tokio_test::{assert_pending, assert_ready, task};
    let s = Semaphore::new(3);
    let p = s.try_acquire(1).unwrap();
    let mut big = task::spawn(s.acquire(3));
    assert_pending!(big.poll()); // took 2, waits for 1 more
    let mut small = task::spawn(s.acquire(2));
    assert_pending!(small.poll());
    p.forget(); // size 2: `big` can never be served, `small` can
    assert!(small.is_woken());
    let ps = assert_ready!(small.poll());
    assert_pending!(big.poll());
    s.add_permits(1); // size 3 again
    assert_pending!(big.poll());
    drop(ps);
    assert!(big.is_woken());
    drop(assert_ready!(big.poll()));
    assert_eq!(s.available_permits(), 3);
}
