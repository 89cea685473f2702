//! Spawning goroutines, joining them, and their results.
mod common;

use gorun::runtime::{Builder, Runtime};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

fn rt(workers: usize) -> Runtime {
    Builder::new().workers(workers).build().unwrap()
}

/// Sets its flag when dropped (a goroutine's future was dropped).
struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Release);
    }
}

#[test]
fn a_million_goroutines_all_complete() {
    let _w = common::watchdog("a_million_goroutines_all_complete", 120);
    let rt = rt(2);
    let n = 1_000_000;
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    rt.block_on(async move {
        let wg_done = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let d = d.clone();
            let w = wg_done.clone();
            handles.push(gorun::go(async move {
                d.fetch_add(1, Relaxed);
                w.fetch_add(1, Relaxed);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(done.load(Relaxed), n);
}

#[test]
fn nested_spawns_reach_the_bottom() {
    let _w = common::watchdog("nested_spawns_reach_the_bottom", 30);
    fn spawn_tree(depth: u32) -> gorun::JoinHandle<u64> {
        gorun::go(async move {
            if depth == 0 {
                return 1;
            }
            let a = spawn_tree(depth - 1);
            let b = spawn_tree(depth - 1);
            a.await.unwrap() + b.await.unwrap()
        })
    }
    let leaves = rt(2).block_on(async { spawn_tree(12).await.unwrap() });
    assert_eq!(leaves, 1 << 12);
}

#[test]
fn chain_of_goroutines_each_spawning_the_next() {
    let _w = common::watchdog("chain_of_goroutines_each_spawning_the_next", 30);
    fn link(left: u32, done: Arc<AtomicBool>) {
        gorun::go(async move {
            if left == 0 {
                done.store(true, Release);
            } else {
                link(left - 1, done);
            }
        });
    }
    let done = Arc::new(AtomicBool::new(false));
    let rt = rt(2);
    let d = done.clone();
    // Under valgrind (`GORUN_TEST_SCALE=small`) 100,000 links take 20-30 s, at the watchdog's
    // limit: CI aborted there once.
    let links = if common::small() { 10_000 } else { 100_000 };
    rt.block_on(async move {
        link(links, d.clone());
        while !d.load(Acquire) {
            gorun::yield_now().await;
        }
    });
    assert!(done.load(Acquire));
}

#[test]
fn values_come_back_through_join_handles() {
    let _w = common::watchdog("values_come_back_through_join_handles", 20);
    let out = rt(2).block_on(async {
        let s = gorun::go(async { String::from("gopher") });
        let v = gorun::go(async { vec![1, 2, 3] });
        (s.await.unwrap(), v.await.unwrap())
    });
    assert_eq!(out, ("gopher".to_string(), vec![1, 2, 3]));
}

#[test]
fn abort_cancels_a_waiting_goroutine_and_drops_its_future() {
    let _w = common::watchdog("abort_cancels_a_waiting_goroutine", 20);
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (d, s) = (dropped.clone(), started.clone());
    let err = rt(2).block_on(async move {
        let h = gorun::go(async move {
            let _guard = SetOnDrop(d);
            s.store(true, Release);
            std::future::pending::<()>().await;
        });
        while !started.load(Acquire) {
            gorun::yield_now().await;
        }
        h.abort();
        h.await.unwrap_err()
    });
    assert!(err.is_cancelled());
    assert!(!err.is_panic());
    assert!(
        dropped.load(Acquire),
        "the aborted goroutine's future was not dropped"
    );
}

#[test]
fn abort_after_completion_keeps_the_result() {
    let _w = common::watchdog("abort_after_completion_keeps_the_result", 20);
    let v = rt(2).block_on(async {
        let h = gorun::go(async { 9 });
        while !h.is_finished() {
            gorun::yield_now().await;
        }
        h.abort();
        h.await
    });
    assert_eq!(v.unwrap(), 9);
}

#[test]
fn dropping_the_handle_detaches_the_goroutine() {
    let _w = common::watchdog("dropping_the_handle_detaches_the_goroutine", 20);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let rt = rt(2);
    rt.block_on(async move {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        drop(gorun::go(async move {
            // Keep running well after the handle is gone.
            for _ in 0..100 {
                gorun::yield_now().await;
            }
            r.store(true, Release);
            tx.send(()).unwrap();
        }));
        gorun::go_blocking(move || rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .await
            .unwrap();
    });
    assert!(ran.load(Acquire));
}

#[test]
fn a_panicking_goroutine_does_not_stop_the_others() {
    let _w = common::watchdog("a_panicking_goroutine_does_not_stop_the_others", 20);
    let rt = rt(2);
    let (errs, oks) = rt.block_on(async {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                gorun::go(async move {
                    if i % 10 == 0 {
                        panic!("goroutine failed on purpose: {i}");
                    }
                    i
                })
            })
            .collect();
        let (mut errs, mut oks) = (0, 0);
        for h in hs {
            match h.await {
                Ok(_) => oks += 1,
                Err(e) => {
                    assert!(e.is_panic());
                    assert!(e.to_string().contains("failed on purpose"), "{e}");
                    errs += 1;
                }
            }
        }
        (errs, oks)
    });
    assert_eq!((errs, oks), (10, 90));
    // The workers survived: the runtime still runs goroutines.
    assert_eq!(rt.block_on(gorun::go(async { 5 })).unwrap(), 5);
}

#[test]
fn into_panic_returns_the_payload() {
    let _w = common::watchdog("into_panic_returns_the_payload", 20);
    let err = rt(1)
        .block_on(gorun::go(async { std::panic::panic_any(17u32) }))
        .unwrap_err();
    assert_eq!(*err.into_panic().downcast::<u32>().unwrap(), 17);
}

#[test]
fn num_goroutine_counts_live_goroutines() {
    let _w = common::watchdog("num_goroutine_counts_live_goroutines", 20);
    let rt = rt(2);
    rt.block_on(async {
        let base = gorun::num_goroutine();
        assert!(base >= 1, "block_on's future counts as a goroutine");
        let hs: Vec<_> = (0..10)
            .map(|_| gorun::go(std::future::pending::<()>()))
            .collect();
        assert_eq!(gorun::num_goroutine(), base + 10);
        for h in &hs {
            h.abort();
        }
        for h in hs {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        assert_eq!(gorun::num_goroutine(), base);
    });
}

#[test]
fn go_blocking_runs_on_the_blocking_pool() {
    let _w = common::watchdog("go_blocking_runs_on_the_blocking_pool", 20);
    let rt = Builder::new()
        .workers(1)
        .max_blocking_threads(4)
        .build()
        .unwrap();
    let names = rt.block_on(async {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                gorun::go_blocking(|| {
                    std::thread::sleep(Duration::from_millis(20));
                    std::thread::current().name().unwrap_or("").to_string()
                })
            })
            .collect();
        let mut names = vec![];
        for h in hs {
            names.push(h.await.unwrap());
        }
        names
    });
    assert!(names.iter().all(|n| n.contains("blocking")), "{names:?}");
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert!(
        distinct.len() <= 4,
        "more blocking threads than the bound: {distinct:?}"
    );
}

#[test]
fn a_panicking_blocking_closure_gives_a_join_error() {
    let _w = common::watchdog("a_panicking_blocking_closure_gives_a_join_error", 20);
    let rt = rt(1);
    let err = rt
        .block_on(gorun::go_blocking(|| -> u8 { panic!("blocking boom") }))
        .unwrap_err();
    assert!(err.is_panic());
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("panic in Drop");
    }
}

#[test]
fn a_goroutine_whose_state_panics_in_drop_is_contained() {
    let _w = common::watchdog("panic_in_drop_contained", 20);
    let rt = rt(2);
    let v = rt.block_on(async {
        // Completes; async-task drops the finished future afterwards, and that drop panics.
        struct ReadyThenPanicOnDrop(PanicOnDrop);
        impl std::future::Future for ReadyThenPanicOnDrop {
            type Output = i32;
            fn poll(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<i32> {
                std::task::Poll::Ready(1)
            }
        }
        let a = gorun::go(ReadyThenPanicOnDrop(PanicOnDrop));
        // Cancelled while waiting; dropping its state panics.
        let b = gorun::go(async {
            let _p = PanicOnDrop;
            std::future::pending::<()>().await;
        });
        gorun::yield_now().await;
        b.abort();
        let _ = b.await;
        a.await.unwrap()
    });
    assert_eq!(v, 1);
    // Shutdown with a goroutine whose state panics in Drop: contained too.
    rt.go(async {
        let _p = PanicOnDrop;
        std::future::pending::<()>().await;
    });
    std::thread::sleep(Duration::from_millis(10));
    drop(rt);
}

/// Waits until `runtime::dump()` lists goroutine `id` as `[state]`, checks that it is listed
/// only once, and returns that dump.
async fn listed_once_as(id: u64, state: &str) -> String {
    let dump = common::dump_listing(id, state).await;
    assert_eq!(
        dump.matches(&format!("goroutine {id} [")).count(),
        1,
        "listed more than once:\n{dump}"
    );
    dump
}

/// Aborts `h` and checks that it ends as cancelled within 5 s; returns how long that took.
async fn abort_and_join(h: gorun::JoinHandle<()>) -> Duration {
    let t = std::time::Instant::now();
    h.abort();
    let err = gorun::time::timeout(Duration::from_secs(5), h)
        .await
        .expect("abort did not wake the goroutine")
        .unwrap_err();
    assert!(err.is_cancelled());
    t.elapsed()
}

/// A goroutine parked in a sleep is registered like any waiter; abort must wake it at once,
/// both in its first sleep and in a later one.
#[test]
fn abort_cancels_a_sleeping_goroutine_at_once() {
    let _w = common::watchdog("abort_cancels_a_sleeping_goroutine_at_once", 20);
    for slept_before in [false, true] {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let took = rt(2).block_on(async move {
            let h = gorun::go(async move {
                let _guard = SetOnDrop(d);
                if slept_before {
                    gorun::time::sleep(Duration::from_millis(1)).await;
                }
                gorun::time::sleep(Duration::from_secs(3600)).await;
            });
            listed_once_as(h.id(), "sleep").await;
            abort_and_join(h).await
        });
        assert!(
            took < Duration::from_secs(5),
            "slept_before={slept_before}: {took:?}"
        );
        assert!(
            dropped.load(Acquire),
            "slept_before={slept_before}: future not dropped"
        );
    }
}

/// A goroutine that slept and then waits on a channel is registered like any other waiter:
/// listed once, as waiting on the channel, and abortable.
#[test]
fn a_goroutine_that_slept_then_waits_on_a_channel_is_listed_once_and_abortable() {
    let _w = common::watchdog("slept_then_waits_on_a_channel", 20);
    rt(2).block_on(async {
        let c = gorun::chan::chan::<u8>(0);
        let c2 = c.clone();
        let h = gorun::go(async move {
            gorun::time::sleep(Duration::from_millis(2)).await;
            c2.recv().await;
        });
        listed_once_as(h.id(), "chan receive").await;
        abort_and_join(h).await;
        drop(c);
    });
}

/// A goroutine registered first (it waited on a channel) and sleeping afterwards keeps its
/// registry entry: listed once, as sleeping.
#[test]
fn a_registered_goroutine_that_sleeps_is_listed_once() {
    let _w = common::watchdog("a_registered_goroutine_that_sleeps", 20);
    rt(2).block_on(async {
        let c = gorun::chan::chan::<u8>(0);
        let c2 = c.clone();
        let h = gorun::go(async move {
            c2.recv().await;
            gorun::time::sleep(Duration::from_secs(3600)).await;
        });
        gorun::time::sleep(Duration::from_millis(2)).await;
        c.send(1).await.unwrap();
        listed_once_as(h.id(), "sleep").await;
        abort_and_join(h).await;
    });
}

/// A sleep polled and then dropped within one poll of the goroutine, which then waits on a
/// channel: the goroutine must register like any waiter (the dropped sleep's entry is gone and
/// cannot stand for it), so abort wakes it and the dump lists it.
#[test]
fn a_sleep_dropped_in_the_same_poll_does_not_stand_for_the_goroutine() {
    use std::future::Future;
    let _w = common::watchdog("a_sleep_dropped_in_the_same_poll", 20);
    for complete_it in [false, true] {
        rt(2).block_on(async move {
            let c = gorun::chan::chan::<u8>(0);
            let c2 = c.clone();
            let h = gorun::go(async move {
                let d = if complete_it {
                    Duration::from_millis(1)
                } else {
                    Duration::from_secs(3600)
                };
                let mut s = Box::pin(gorun::time::sleep(d));
                // Poll it once (it parks this goroutine's waker in the wheel), then, when
                // completing it, poll it again after its deadline within the same poll.
                std::future::poll_fn(|cx| {
                    let _ = s.as_mut().poll(cx);
                    if complete_it {
                        std::thread::sleep(Duration::from_millis(3));
                        assert!(s.as_mut().poll(cx).is_ready());
                    }
                    std::task::Poll::Ready(())
                })
                .await;
                drop(s);
                c2.recv().await;
            });
            listed_once_as(h.id(), "chan receive").await;
            abort_and_join(h).await;
            drop(c);
        });
    }
}

/// A goroutine's metadata is found whatever its future's alignment and size: for each
/// alignment and for large futures (which async-task boxes), a goroutine runs, waits, is
/// listed by `dump` with its spawn site, is aborted, and one spawned on a shut-down runtime is
/// dropped without ever being polled, leaving the runtime's goroutine count as it was.
#[test]
fn goroutines_of_any_alignment_find_their_metadata() {
    let _w = common::watchdog("goroutines_of_any_alignment", 60);
    macro_rules! each_alignment {
        ($($n:literal),*) => {$({
            #[repr(align($n))]
            struct Aligned(u64);
            check_alignment(|| Aligned($n), |a| a.0, $n);
        })*};
    }
    each_alignment!(1, 8, 16, 32, 64, 128, 256, 4096);
    // Futures too large to be kept in the task allocation (async-task boxes them), and one
    // just small enough.
    struct Big<const N: usize>([u64; N]);
    check_alignment(|| Big([7; 4096]), |b| b.0[4095], 7);
    check_alignment(|| Big([9; 250]), |b| b.0[249], 9);
}

fn check_alignment<A: Send + 'static>(make: fn() -> A, read: fn(&A) -> u64, case: u64) {
    let rt = rt(2);
    let handle = rt.handle().clone();
    rt.block_on(async move {
        let base = gorun::num_goroutine();
        // Runs to completion, keeping the aligned value across a wait.
        let h = gorun::go(async move {
            let a = make();
            gorun::yield_now().await;
            assert_eq!(&a as *const A as usize % std::mem::align_of::<A>(), 0);
            read(&a)
        });
        assert_eq!(h.await.unwrap(), case);
        // Waits on a channel: listed with its spawn site, then aborted.
        let c = gorun::chan::chan::<u8>(0);
        let c2 = c.clone();
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let line = line!() + 1;
        let h = gorun::go(async move {
            let (_a, _d) = (make(), d);
            c2.recv().await;
        });
        let dump = listed_once_as(h.id(), "chan receive").await;
        let site = format!("goroutine {} [chan receive]:\n\tcreated at ", h.id());
        let at = &dump[dump.find(&site).expect("listed") + site.len()..];
        assert!(
            at.starts_with(&format!("{}:{line}:", file!())),
            "case {case}: wrong spawn site in\n{dump}"
        );
        abort_and_join(h).await;
        assert!(dropped.load(Acquire));
        drop(c);
        assert_eq!(gorun::num_goroutine(), base, "case {case}");
    });
    drop(rt);
    // Spawned after shutdown: dropped at once, unpolled, by its own `Drop`, which must find
    // the runtime's goroutine counter through the metadata.
    let dropped = Arc::new(AtomicBool::new(false));
    let d = SetOnDrop(dropped.clone());
    let h = handle.go(async move {
        let _a = make();
        let _d = d;
        std::future::pending::<()>().await;
    });
    assert!(dropped.load(Acquire), "case {case}: not dropped");
    assert_eq!(handle.num_goroutine(), 0, "case {case}");
    assert!(gorun::block_on(h).unwrap_err().is_cancelled());
}

/// Goroutines that registered from every worker (the registry's shards are the registering
/// threads') are all listed in a dump, each once, and every one of them can be aborted.
#[test]
fn goroutines_waiting_on_every_worker_are_listed_and_abortable() {
    let _w = common::watchdog("goroutines_waiting_on_every_worker", 60);
    const N: usize = 400;
    rt(4).block_on(async {
        let parked = gorun::sync::WaitGroup::new();
        parked.add(N);
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let parked = parked.clone();
                gorun::go(async move {
                    // Spread the first waits over the workers: some goroutines wait at once,
                    // others after yielding (when another worker may have stolen them).
                    for _ in 0..i % 3 {
                        gorun::yield_now().await;
                    }
                    let c = gorun::chan::chan::<()>(0);
                    parked.done();
                    c.recv().await;
                })
            })
            .collect();
        parked.wait().await;
        let ids: Vec<u64> = handles.iter().map(|h| h.id()).collect();
        for &id in &ids {
            listed_once_as(id, "chan receive").await;
        }
        for h in handles {
            abort_and_join(h).await;
        }
        assert_eq!(gorun::num_goroutine(), 1, "every aborted goroutine is gone");
    });
}

/// A handle keeps its goroutine's id after its result was taken (the task itself is freed
/// then), reports it finished, and refuses to be polled again.
#[test]
fn a_joined_handle_keeps_its_id() {
    let _w = common::watchdog("a_joined_handle_keeps_its_id", 20);
    rt(2).block_on(async {
        let mut h = gorun::go(async { 7 });
        let id = h.id();
        assert!(id > 0);
        assert_eq!((&mut h).await.unwrap(), 7);
        assert_eq!(h.id(), id);
        assert!(h.is_finished());
        assert!(format!("{h:?}").contains(&format!("id: {id}")));
        let again = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(&mut h)).await;
        let msg = again.unwrap_err();
        let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
        assert_eq!(msg, "JoinHandle polled after completion");
    });
}

/// `try_into_panic` gives a cancelled goroutine's error back whole, and a panicked one's
/// payload.
#[test]
fn try_into_panic_keeps_a_cancelled_error_and_unwraps_a_panic() {
    let _w = common::watchdog("try_into_panic", 20);
    rt(2).block_on(async {
        let h = gorun::go(std::future::pending::<()>());
        let id = h.id();
        h.abort();
        let err = h.await.unwrap_err().try_into_panic().unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(err.id(), id);
        let p = gorun::go(async { std::panic::panic_any(5u8) })
            .await
            .unwrap_err()
            .try_into_panic()
            .unwrap();
        assert_eq!(*p.downcast::<u8>().unwrap(), 5);
    });
}
