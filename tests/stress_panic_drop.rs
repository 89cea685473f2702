//! Goroutines that panic inside `Drop` implementations: when the goroutine finishes, when it is
//! aborted, when its detached result is discarded, and when the runtime shuts down. The runtime
//! must survive, report a `JoinError` where there is a handle to report to, and every other
//! goroutine must be unaffected.
mod common;
mod stress_util;

use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use gorun::time::timeout;
use stress_util::CountOnDrop;

/// Panics when dropped (unless the thread is already unwinding, which would abort).
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// Goroutines that must keep working while others panic: each counts `rounds` yields.
fn bystanders(n: usize, rounds: usize, count: &Arc<AtomicUsize>) -> Vec<gorun::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let c = count.clone();
            gorun::go(async move {
                for _ in 0..rounds {
                    gorun::yield_now().await;
                    c.fetch_add(1, Relaxed);
                }
            })
        })
        .collect()
}

/// After the panics: every worker still runs goroutines (more than workers, each blocking a
/// little, so that a dead worker would show as a hang).
async fn runtime_still_works() {
    let hs: Vec<_> = (0..64u64)
        .map(|i| gorun::go(async move { i * 2 }))
        .collect();
    let mut sum = 0;
    for h in hs {
        sum += timeout(Duration::from_secs(10), h)
            .await
            .expect("a goroutine never ran after the panics")
            .unwrap();
    }
    assert_eq!(sum, 63 * 64);
}

#[test]
fn a_local_that_panics_in_drop_at_return_gives_a_join_error() {
    let n = 200 * stress_util::scale() as usize;
    stress_util::run("stress_panic_drop_at_return", 30, async move {
        let count = Arc::new(AtomicUsize::new(0));
        let others = bystanders(8, 200, &count);
        let hs: Vec<_> = (0..n)
            .map(|i| {
                gorun::go(async move {
                    let _p = PanicOnDrop("drop panicked at return");
                    gorun::yield_now().await;
                    i
                })
            })
            .collect();
        for h in hs {
            let err = h.await.unwrap_err();
            assert!(err.is_panic(), "{err}");
            assert_eq!(
                *err.into_panic().downcast::<String>().unwrap(),
                "drop panicked at return"
            );
        }
        for h in others {
            h.await.unwrap();
        }
        assert_eq!(count.load(Relaxed), 8 * 200);
        runtime_still_works().await;
    });
}

/// A hand-written future (not an `async` block) keeps its fields until the task drops it after
/// `Ready`: a panic there must be contained like any other goroutine panic.
#[test]
fn a_hand_written_future_whose_field_panics_in_drop_after_ready_leaves_the_runtime_running() {
    struct Guarded {
        _p: PanicOnDrop,
    }
    impl std::future::Future for Guarded {
        type Output = u32;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<u32> {
            std::task::Poll::Ready(7)
        }
    }
    let n = 200 * stress_util::scale() as usize;
    stress_util::run("stress_panic_drop_after_ready", 30, async move {
        let count = Arc::new(AtomicUsize::new(0));
        let others = bystanders(8, 200, &count);
        let hs: Vec<_> = (0..n)
            .map(|_| {
                gorun::go(Guarded {
                    _p: PanicOnDrop("field of a finished future panicked in drop"),
                })
            })
            .collect();
        for h in hs {
            let r = timeout(Duration::from_secs(10), h)
                .await
                .expect("the goroutine never finished");
            // Either the value, or the destructor's panic reported as a JoinError.
            assert!(matches!(&r, Ok(7)) || r.as_ref().unwrap_err().is_panic());
        }
        for h in others {
            timeout(Duration::from_secs(10), h)
                .await
                .expect("a bystander stopped")
                .unwrap();
        }
        assert_eq!(count.load(Relaxed), 8 * 200);
        runtime_still_works().await;
    });
}

#[test]
fn an_aborted_goroutine_whose_future_panics_in_drop_leaves_the_runtime_running() {
    let n = 200 * stress_util::scale() as usize;
    stress_util::run("stress_panic_drop_on_abort", 30, async move {
        let count = Arc::new(AtomicUsize::new(0));
        let others = bystanders(8, 200, &count);
        let hs: Vec<_> = (0..n)
            .map(|_| {
                gorun::go(async move {
                    let _p = PanicOnDrop("drop panicked on abort");
                    std::future::pending::<()>().await
                })
            })
            .collect();
        gorun::yield_now().await;
        for h in &hs {
            h.abort();
        }
        for h in hs {
            let err = timeout(Duration::from_secs(10), h)
                .await
                .expect("an aborted goroutine never finished")
                .unwrap_err();
            assert!(err.is_cancelled() || err.is_panic(), "{err}");
        }
        for h in others {
            timeout(Duration::from_secs(10), h)
                .await
                .expect("a bystander stopped")
                .unwrap();
        }
        assert_eq!(count.load(Relaxed), 8 * 200);
        runtime_still_works().await;
    });
}

#[test]
fn a_detached_result_that_panics_in_drop_leaves_the_runtime_running() {
    let n = 200 * stress_util::scale() as usize;
    stress_util::run("stress_panic_drop_detached_result", 30, async move {
        let count = Arc::new(AtomicUsize::new(0));
        let others = bystanders(8, 200, &count);
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let r = ran.clone();
            // The handle is dropped at once: the result is discarded by the runtime.
            drop(gorun::go(async move {
                gorun::yield_now().await;
                r.fetch_add(1, SeqCst);
                PanicOnDrop("drop of a discarded result panicked")
            }));
        }
        while ran.load(SeqCst) < n {
            gorun::time::sleep(Duration::from_millis(1)).await;
        }
        for h in others {
            timeout(Duration::from_secs(10), h)
                .await
                .expect("a bystander stopped")
                .unwrap();
        }
        assert_eq!(count.load(Relaxed), 8 * 200);
        runtime_still_works().await;
    });
}

#[test]
fn shutdown_with_goroutines_that_panic_in_drop_still_drops_every_other_goroutine() {
    let _w = common::watchdog("stress_panic_drop_at_shutdown", 30);
    let n = 1_000 * stress_util::scale() as usize;
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = stress_util::rt();
    for i in 0..n {
        let g = CountOnDrop(dropped.clone());
        rt.go(async move {
            // Declared first: dropped last, after the panicking one.
            let _g = g;
            let _p = (i % 2 == 0).then_some(PanicOnDrop("drop panicked at shutdown"));
            std::future::pending::<()>().await
        });
    }
    std::thread::sleep(Duration::from_millis(50));
    let t = std::time::Instant::now();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rt)));
    assert!(
        res.is_ok(),
        "a destructor's panic escaped from dropping the runtime"
    );
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(
        dropped.load(SeqCst),
        n,
        "some goroutines were never dropped"
    );
}
