//! gorun::errgroup: first error, waiting for all, context cancellation, limits, try_go, panics.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gorun::context::{Context, ContextError};
use gorun::errgroup::Group;
use gorun::time::{sleep, timeout};

const BOUND: Duration = Duration::from_secs(10);

#[gorun::test]
async fn empty_group_waits_ok() {
    let g = Group::<String>::new();
    assert_eq!(timeout(BOUND, g.wait()).await.unwrap(), Ok(()));
}

#[gorun::test]
async fn first_error_is_returned() {
    let g = Group::<u32>::new();
    g.go(async { Err(1) });
    g.go(async {
        sleep(Duration::from_millis(50)).await;
        Err(2)
    });
    g.go(async { Ok(()) });
    assert_eq!(timeout(BOUND, g.wait()).await.unwrap(), Err(1));
}

#[gorun::test]
async fn wait_waits_for_every_goroutine_even_after_an_error() {
    let g = Group::<&str>::new();
    let finished = Arc::new(AtomicUsize::new(0));
    g.go(async { Err("early") });
    for i in 0..20 {
        let f = finished.clone();
        g.go(async move {
            sleep(Duration::from_millis(5 + i)).await;
            f.fetch_add(1, SeqCst);
            Ok(())
        });
    }
    assert_eq!(timeout(BOUND, g.wait()).await.unwrap(), Err("early"));
    assert_eq!(finished.load(SeqCst), 20);
}

#[gorun::test]
async fn first_error_cancels_the_context() {
    let (g, ctx) = Group::<&str>::with_context(&Context::background());
    let c = ctx.clone();
    let saw_cancel = Arc::new(AtomicBool::new(false));
    let s = saw_cancel.clone();
    g.go(async move {
        gorun::select! {
            recv(c.done()) -> _ => s.store(c.err() == Some(ContextError::Canceled), SeqCst),
            recv(gorun::time::after(Duration::from_secs(60))) -> _ => {}
        }
        Ok(())
    });
    gorun::yield_now().await;
    assert_eq!(ctx.err(), None, "no error yet");
    g.go(async { Err("stop") });
    assert_eq!(timeout(BOUND, g.wait()).await.unwrap(), Err("stop"));
    assert!(saw_cancel.load(SeqCst), "the sibling saw the cancellation");
}

#[gorun::test]
async fn wait_cancels_the_context_even_without_errors() {
    let (g, ctx) = Group::<()>::with_context(&Context::background());
    g.go(async { Ok(()) });
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[gorun::test]
async fn parent_cancel_reaches_the_group_context() {
    let (parent, cancel) = Context::background().with_cancel();
    let (g, ctx) = Group::<()>::with_context(&parent);
    let c = ctx.clone();
    g.go(async move {
        c.done().recv().await;
        Ok(())
    });
    cancel.cancel();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

#[gorun::test(workers = 4)]
async fn set_limit_bounds_concurrency() {
    let g = Group::<()>::new();
    g.set_limit(3);
    let running = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let (running, max, total) = (running.clone(), max.clone(), total.clone());
        g.go(async move {
            let now = running.fetch_add(1, SeqCst) + 1;
            max.fetch_max(now, SeqCst);
            sleep(Duration::from_millis(2)).await;
            running.fetch_sub(1, SeqCst);
            total.fetch_add(1, SeqCst);
            Ok(())
        });
    }
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
    assert_eq!(total.load(SeqCst), 50);
    assert_eq!(max.load(SeqCst), 3, "exactly the limit ran at once");
}

#[gorun::test]
async fn try_go_refuses_at_the_limit_and_spawns_nothing() {
    let g = Group::<()>::new();
    g.set_limit(2);
    let gate = gorun::chan::chan::<()>(0);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let (gate, ran) = (gate.clone(), ran.clone());
        assert!(g.try_go(async move {
            ran.fetch_add(1, SeqCst);
            gate.recv().await;
            Ok(())
        }));
    }
    let r = ran.clone();
    assert!(!g.try_go(async move {
        r.fetch_add(100, SeqCst);
        Ok(())
    }));
    gate.close();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
    assert_eq!(ran.load(SeqCst), 2, "the refused future never ran");
    assert!(g.try_go(async { Ok(()) }), "slots are free again");
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

#[gorun::test]
async fn try_go_without_limit_always_spawns() {
    let g = Group::<()>::new();
    for _ in 0..100 {
        assert!(g.try_go(async { Ok(()) }));
    }
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

#[gorun::test]
async fn go_at_the_limit_does_not_block_the_caller() {
    let g = Group::<()>::new();
    g.set_limit(1);
    let gate = gorun::chan::chan::<()>(0);
    for _ in 0..10 {
        let gate = gate.clone();
        g.go(async move {
            gate.recv().await;
            Ok(())
        });
    }
    // We got here while the first goroutine holds the only slot.
    gate.close();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

#[gorun::test]
async fn set_limit_while_active_panics() {
    let g = Group::<()>::new();
    g.set_limit(3);
    let gate = gorun::chan::chan::<()>(0);
    let gc = gate.clone();
    g.go(async move {
        gc.recv().await;
        Ok(())
    });
    let g2 = g.clone();
    let r = std::panic::catch_unwind(move || g2.set_limit(4));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        msg,
        "errgroup: modify limit while 1 goroutines in the group are still active"
    );
    gate.close();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

#[gorun::test]
async fn goroutines_can_add_goroutines_through_a_clone() {
    let g = Group::<usize>::new();
    let g2 = g.clone();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    g.go(async move {
        for i in 0..10 {
            let n = n2.clone();
            g2.go(async move {
                sleep(Duration::from_millis(5)).await;
                n.fetch_add(1, SeqCst);
                if i == 7 {
                    Err(i)
                } else {
                    Ok(())
                }
            });
        }
        Ok(())
    });
    assert_eq!(timeout(BOUND, g.wait()).await.unwrap(), Err(7));
    assert_eq!(n.load(SeqCst), 10);
}

#[gorun::test]
async fn panic_in_a_goroutine_is_reraised_by_wait_after_all_return() {
    let (g, ctx) = Group::<()>::with_context(&Context::background());
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let c = ctx.clone();
    g.go(async move {
        c.done().recv().await; // the panic cancels the context
        sleep(Duration::from_millis(10)).await;
        f.store(true, SeqCst);
        Ok(())
    });
    g.go(async { panic!("part failed hard") });
    let waiter = gorun::go(async move { g.wait().await });
    let err = timeout(BOUND, waiter).await.unwrap().unwrap_err();
    assert!(err.is_panic());
    let msg = *err.into_panic().downcast::<&str>().unwrap();
    assert_eq!(msg, "part failed hard");
    assert!(
        finished.load(SeqCst),
        "wait re-raised only after every goroutine returned"
    );
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn group_is_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Group<String>>();
    check::<Group<std::io::Error>>();
    fn send_future<F: std::future::Future + Send>(_: F) {}
    let g = Group::<std::io::Error>::new();
    send_future(g.wait());
}

/// Issue #13, Go's `SetLimit(0)`: no goroutine may start. `TryGo` reports false; `Go` gets no
/// slot (Go's `Go` blocks forever; here the goroutine never runs its future).
#[gorun::test]
async fn a_limit_of_zero_lets_no_goroutine_run() {
    let g = Group::<()>::new();
    g.set_limit(0);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    assert!(!g.try_go(async move {
        r.store(true, SeqCst);
        Ok(())
    }));
    let r = ran.clone();
    g.go(async move {
        r.store(true, SeqCst);
        Ok(())
    });
    assert!(
        timeout(Duration::from_millis(50), g.wait()).await.is_err(),
        "wait returned although the goroutine could not run"
    );
    assert!(!ran.load(SeqCst));
}

/// Go's `SetLimit(n)` with a negative `n` removes the limit.
#[gorun::test]
async fn a_negative_limit_removes_the_limit() {
    let g = Group::<()>::new();
    g.set_limit(1);
    let gate = gorun::chan::chan::<()>(0);
    let gc = gate.clone();
    assert!(g.try_go(async move {
        gc.recv().await;
        Ok(())
    }));
    assert!(!g.try_go(async { Ok(()) }), "at the limit");
    gate.close();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
    g.set_limit(-1);
    let gate = gorun::chan::chan::<()>(0);
    for _ in 0..10 {
        let gc = gate.clone();
        assert!(g.try_go(async move {
            gc.recv().await;
            Ok(())
        }));
    }
    gate.close();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

/// As in Go (`len(g.sem) != 0`), only goroutines counted against a limit forbid changing
/// it; goroutines started while there was no limit do not.
#[gorun::test]
async fn set_limit_is_allowed_while_unlimited_goroutines_run() {
    let g = Group::<()>::new();
    let gate = gorun::chan::chan::<()>(0);
    let gc = gate.clone();
    g.go(async move {
        gc.recv().await;
        Ok(())
    });
    g.set_limit(2); // Go: allowed, the running goroutine holds no token
    gate.close();
    timeout(BOUND, g.wait()).await.unwrap().unwrap();
}

/// `wait` returns only after every goroutine's future (and what it owns) was dropped and its
/// permit given back: a goroutine may free resources in `Drop`.
#[gorun::test]
async fn wait_returns_after_every_future_and_permit_is_gone() {
    struct CountOnDrop(Arc<AtomicUsize>);
    impl Drop for CountOnDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(2));
            self.0.fetch_add(1, SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let g = Group::<()>::new();
    g.set_limit(2);
    for _ in 0..6 {
        let guard = CountOnDrop(dropped.clone());
        g.go(async move {
            let _g = guard;
            gorun::yield_now().await;
            Ok(())
        });
    }
    timeout(BOUND, g.wait()).await.expect("wait hung").unwrap();
    assert_eq!(
        dropped.load(SeqCst),
        6,
        "wait returned before a future was dropped"
    );
    assert!(g.try_go(async { Ok(()) }), "a permit was still held");
    assert!(g.try_go(async { Ok(()) }), "a permit was still held");
    timeout(BOUND, g.wait()).await.expect("wait hung").unwrap();
}
