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
