//! gorun::sync::Cond: signal wakes one waiter, broadcast wakes all, no lost signal.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::noop_waker;
use gorun::sync::{Cond, Mutex};

mod common;
use common::run_on_tokio as run;

#[test]
fn signal_wakes_exactly_one_waiter_oldest_first() {
    let m = Mutex::new(0);
    let c = Cond::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let mut a = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(a.as_mut().poll(&mut cx).is_pending());
    let mut b = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(b.as_mut().poll(&mut cx).is_pending());
    c.signal();
    assert!(
        b.as_mut().poll(&mut cx).is_pending(),
        "signal woke the newer waiter"
    );
    let g = match a.as_mut().poll(&mut cx) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("signal did not wake the oldest waiter"),
    };
    drop(g);
    assert!(b.as_mut().poll(&mut cx).is_pending());
    c.signal();
    assert!(b.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn wait_reacquires_the_mutex_before_returning() {
    let m = Mutex::new(0);
    let c = Cond::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let mut a = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(a.as_mut().poll(&mut cx).is_pending());
    let held = m.try_lock().expect("wait did not release the mutex");
    c.signal();
    assert!(
        a.as_mut().poll(&mut cx).is_pending(),
        "returned without the mutex"
    );
    drop(held);
    assert!(a.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn broadcast_wakes_every_waiter() {
    run(async {
        let pair = Arc::new((Mutex::new(false), Cond::new()));
        let woken = Arc::new(AtomicUsize::new(0));
        let waiting = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (pair, woken, waiting) = (pair.clone(), woken.clone(), waiting.clone());
                tokio::spawn(async move {
                    let (m, c) = &*pair;
                    let mut g = m.lock().await;
                    waiting.fetch_add(1, SeqCst);
                    while !*g {
                        g = c.wait(g).await;
                    }
                    woken.fetch_add(1, SeqCst);
                })
            })
            .collect();
        while waiting.load(SeqCst) < 20 {
            tokio::task::yield_now().await;
        }
        *pair.0.lock().await = true;
        pair.1.broadcast();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(woken.load(SeqCst), 20);
    });
}

#[test]
fn producer_consumer_loses_no_signal() {
    run(async {
        let pair = Arc::new((Mutex::new(Vec::<u32>::new()), Cond::new()));
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let pair = pair.clone();
                tokio::spawn(async move {
                    let (m, c) = &*pair;
                    let mut got = 0;
                    while got < 250 {
                        let mut g = m.lock().await;
                        while g.is_empty() {
                            g = c.wait(g).await;
                        }
                        g.pop();
                        got += 1;
                    }
                })
            })
            .collect();
        for i in 0..1000 {
            pair.0.lock().await.push(i);
            pair.1.signal();
            if i % 16 == 0 {
                tokio::task::yield_now().await;
            }
        }
        for t in consumers {
            t.await.unwrap();
        }
        assert!(pair.0.lock().await.is_empty());
    });
}

#[test]
fn a_dropped_notified_waiter_passes_the_signal_on() {
    let m = Mutex::new(());
    let c = Cond::new();
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let mut a = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(a.as_mut().poll(&mut cx).is_pending());
    let mut b = Box::pin(c.wait(m.try_lock().unwrap()));
    assert!(b.as_mut().poll(&mut cx).is_pending());
    c.signal(); // picks a
    drop(a); // a never acted on it
    assert!(b.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn wait_future_is_send_and_debug() {
    fn send<T: Send>(_: &T) {}
    let m = Mutex::new(1);
    let c = Cond::new();
    let f = c.wait(m.try_lock().unwrap());
    send(&f);
    assert_eq!(format!("{f:?}"), "CondWait { state: \"start\" }");
    drop(f);
    assert_eq!(format!("{c:?}"), "Cond { waiters: 0 }");
}

/// Issue #13: a waiter woken by `signal` that is dropped while it re-locks the mutex never
/// returns from `wait`, so the signal must move on to the next waiter.
#[test]
fn a_waiter_dropped_while_relocking_passes_the_signal_on() {
    use tokio_test::{assert_pending, assert_ready, task};
    let m = Mutex::new(());
    let c = Cond::new();
    let mut a = task::spawn(c.wait(m.try_lock().unwrap()));
    assert_pending!(a.poll());
    let mut b = task::spawn(c.wait(m.try_lock().unwrap()));
    assert_pending!(b.poll());
    let held = m.try_lock().unwrap(); // so a blocks re-locking
    c.signal(); // picks a
    assert!(a.is_woken());
    assert!(!b.is_woken());
    assert_pending!(a.poll(), "a is re-locking a held mutex");
    drop(a); // a is cancelled before it returned: the signal is not consumed
    assert!(b.is_woken(), "the signal a never acted on was lost");
    drop(held);
    drop(assert_ready!(b.poll()));
}
