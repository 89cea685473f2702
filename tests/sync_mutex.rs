//! gorun::sync::Mutex: mutual exclusion, fairness, cancellation, blocking use.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::noop_waker;
use gorun::sync::Mutex;

mod common;
use common::run_on_tokio as run;

#[test]
fn ten_thousand_tasks_increment_to_exactly_ten_thousand() {
    run(async {
        let m = Arc::new(Mutex::new(0u64));
        let tasks: Vec<_> = (0..10_000)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    let mut g = m.lock().await;
                    let v = *g;
                    tokio::task::yield_now().await; // hold the lock across a suspension
                    *g = v + 1;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, 10_000);
    });
}

#[test]
fn threads_with_lock_blocking_never_overlap() {
    let m = Arc::new(Mutex::new(0u64));
    let inside = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (m, inside) = (m.clone(), inside.clone());
            std::thread::spawn(move || {
                for _ in 0..5_000 {
                    let mut g = m.lock_blocking();
                    assert_eq!(inside.fetch_add(1, SeqCst), 0);
                    *g += 1;
                    inside.fetch_sub(1, SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), 20_000);
}

#[test]
fn try_lock_fails_while_held() {
    let m = Mutex::new(1);
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
    assert!(m.try_lock().is_ok());
}

#[test]
fn a_newcomer_may_barge_but_the_woken_waiter_keeps_its_place() {
    // Go's normal mode: an unlock wakes the oldest waiter but does not hand it the lock, so a
    // running task may take it first; the waiter then goes back to the front of the queue.
    let m = Mutex::new(1);
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let g = m.try_lock().unwrap();
    let mut first = Box::pin(m.lock());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    let mut second = Box::pin(m.lock());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    drop(g);
    let barger = m
        .try_lock()
        .expect("a running task may take a just-released lock");
    assert!(
        first.as_mut().poll(&mut cx).is_pending(),
        "lost to the barger"
    );
    drop(barger);
    // `first` kept its place ahead of `second`.
    assert!(second.as_mut().poll(&mut cx).is_pending());
    let g = match first.as_mut().poll(&mut cx) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("the oldest waiter did not get the lock"),
    };
    drop(g);
    assert!(matches!(second.as_mut().poll(&mut cx), Poll::Ready(_)));
}

#[test]
fn a_waiter_passed_over_for_over_a_millisecond_gets_the_lock_handed_to_it() {
    // Go's starvation mode: no waiter starves behind bargers.
    let m = Mutex::new(1);
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let g = m.try_lock().unwrap();
    let mut waiter = Box::pin(m.lock());
    assert!(waiter.as_mut().poll(&mut cx).is_pending());
    std::thread::sleep(std::time::Duration::from_millis(3));
    drop(g);
    let barger = m.try_lock().unwrap();
    // Woken, loses again after >1 ms of waiting: the mutex turns to handoff.
    assert!(waiter.as_mut().poll(&mut cx).is_pending());
    drop(barger);
    assert!(
        m.try_lock().is_err(),
        "starvation mode: the lock was handed to the waiter"
    );
    let g = match waiter.as_mut().poll(&mut cx) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("waiter not handed the lock"),
    };
    drop(g);
    // The queue is empty again: back to normal mode.
    assert!(m.try_lock().is_ok());
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let m = Mutex::new(Vec::new());
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let held = m.try_lock().unwrap();
    let mut futs: Vec<_> = (0..5).map(|_| Box::pin(m.lock())).collect();
    for f in &mut futs {
        assert!(f.as_mut().poll(&mut cx).is_pending());
    }
    drop(held);
    // Only the oldest waiter may complete; poll them newest first to prove it.
    let mut first = None;
    for (i, f) in futs.iter_mut().enumerate().rev() {
        let ready = f.as_mut().poll(&mut cx);
        assert_eq!(ready.is_ready(), i == 0, "waiter {i}");
        if let Poll::Ready(g) = ready {
            first = Some(g);
        }
    }
    first.unwrap().push(0);
    for (i, f) in futs.iter_mut().enumerate().skip(1) {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(mut g) => g.push(i),
            Poll::Pending => panic!("waiter {i} not served in order"),
        }
    }
    assert_eq!(*m.try_lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[test]
fn cancelling_pending_locks_under_contention_leaks_nothing() {
    run(async {
        let m = Arc::new(Mutex::new(0u64));
        let tasks: Vec<_> = (0..64u64)
            .map(|i| {
                let m = m.clone();
                tokio::spawn(async move {
                    for j in 0..200u64 {
                        if (i + j) % 3 == 0 {
                            // A lock attempt abandoned after a very short wait.
                            let _ = tokio::time::timeout(Duration::from_micros(10), m.lock()).await;
                        } else {
                            let mut g = m.lock().await;
                            *g += 1;
                            if j % 7 == 0 {
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
        // Every counted increment landed and the lock is free again, with nobody queued.
        let expected: u64 = (0..64u64)
            .map(|i| (0..200u64).filter(|j| (i + j) % 3 != 0).count() as u64)
            .sum();
        let g = m.try_lock().expect("lock leaked by a cancelled waiter");
        assert_eq!(*g, expected);
    });
}

#[test]
fn dropping_the_granted_but_unpolled_waiter_passes_the_lock_on() {
    let m = Mutex::new(());
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let held = m.try_lock().unwrap();
    let mut a = Box::pin(m.lock());
    let mut b = Box::pin(m.lock());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    drop(held); // handed to a
    drop(a); // a never saw it: must go to b
    match b.as_mut().poll(&mut cx) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("lock lost with the dropped waiter"),
    }
    assert!(m.try_lock().is_ok());
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let m = Mutex::new(5);
    send_sync(&m);
    let fut = m.lock();
    send(&fut);
    drop(fut);
    let g = m.try_lock().unwrap();
    send_sync(&g);
    assert_eq!(format!("{g:?}"), "5");
    assert_eq!(format!("{m:?}"), "Mutex { data: <locked> }");
    drop(g);
    assert_eq!(format!("{m:?}"), "Mutex { data: 5 }");
}
