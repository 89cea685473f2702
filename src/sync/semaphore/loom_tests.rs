//! Loom models of the semaphore (`RawSemaphore`): acquire against release, cancellation at
//! every point, and a doomed request against the `add_permits` that makes it fit. Each checks
//! that the waiters are served, the permits are conserved and no node is left stored.

use super::*;
use crate::loom::sync::Arc;
use crate::loom::thread;
use futures::task::noop_waker;

/// Acquire vs release: the waiter is served exactly once and the count ends where it began.
#[test]
fn acquire_vs_release() {
    crate::loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(1));
        assert!(sem.try_acquire(1));
        let s2 = sem.clone();
        let t = thread::spawn(move || s2.release(1));
        crate::sync::blocking::loom_block_on(RawAcquire::new(&sem, 1));
        t.join().unwrap();
        assert_eq!(sem.available(), 0);
        sem.release(1);
        assert_eq!(sem.available(), 1);
        assert_eq!(sem.stored_nodes(), 0);
    });
}

/// Issue #13: a request larger than the size (doomed) against the `add_permits` that makes
/// it fit, with another small acquirer: the doomed request blocks nobody, and is served
/// once it fits, whatever the order (loom reports a deadlock otherwise).
#[test]
fn doomed_request_vs_add_permits() {
    crate::loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(1));
        let s2 = sem.clone();
        let adder = thread::spawn(move || s2.add_permits(1));
        let s3 = sem.clone();
        let small = thread::spawn(move || {
            crate::sync::blocking::loom_block_on(RawAcquire::new(&s3, 1));
            s3.release(1);
        });
        crate::sync::blocking::loom_block_on(RawAcquire::new(&sem, 2));
        adder.join().unwrap();
        sem.release(2);
        small.join().unwrap();
        assert_eq!(sem.available(), 2);
        assert_eq!(sem.stored_nodes(), 0);
    });
}

/// Acquire vs release vs cancel: a waiter that is dropped at any point (before, while or
/// after being granted) gives back everything; the other waiter is still served.
#[test]
fn acquire_release_cancel() {
    crate::loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(2));
        assert!(sem.try_acquire(2));
        let s2 = sem.clone();
        let canceller = thread::spawn(move || {
            let w = noop_waker();
            let mut cx = Context::from_waker(&w);
            let mut a = Box::pin(RawAcquire::new(&s2, 2));
            if a.as_mut().poll(&mut cx).is_ready() {
                // Both releases came first: the permits are ours to give back.
                s2.release(2);
            }
            drop(a);
        });
        let s3 = sem.clone();
        let releaser = thread::spawn(move || {
            s3.release(1);
            s3.release(1);
        });
        crate::sync::blocking::loom_block_on(RawAcquire::new(&sem, 1));
        canceller.join().unwrap();
        releaser.join().unwrap();
        sem.release(1);
        assert_eq!(sem.available(), 2);
        assert_eq!(sem.stored_nodes(), 0);
    });
}
