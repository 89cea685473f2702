//! Goroutines whatever their future's size and their output's alignment, and goroutines that
//! poll one `Sleep` with two wakers: each runs, is aborted, is listed by `dump`, and is
//! dropped at shutdown.
mod common;

use gorun::runtime::{Builder, Runtime};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

fn rt() -> Runtime {
    Builder::new().workers(2).build().unwrap()
}

/// Sets its flag when dropped (a goroutine's future was dropped).
struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Release);
    }
}

/// Aborts `h` and checks that it ends as cancelled within 5 s.
async fn abort_and_join<T>(h: gorun::JoinHandle<T>) {
    h.abort();
    let err = gorun::time::timeout(Duration::from_secs(5), h)
        .await
        .expect("abort did not wake the goroutine")
        .err()
        .expect("an aborted waiting goroutine gave a value");
    assert!(err.is_cancelled());
}

#[repr(align(256))]
struct Align256(u64);

#[repr(align(4096))]
struct Align4096(u64);

/// A goroutine whose output is `make()`: it returns through its `JoinHandle`, properly
/// aligned; one waiting on a channel is aborted; one waiting is dropped when the runtime shuts
/// down.
fn check_output<T: Send + 'static>(make: fn() -> T, read: fn(&T) -> u64, case: u64) {
    let rt = rt();
    rt.block_on(async move {
        let h = gorun::go(async move {
            gorun::yield_now().await;
            make()
        });
        let v = h.await.unwrap();
        assert_eq!(&v as *const T as usize % std::mem::align_of::<T>(), 0);
        assert_eq!(read(&v), case);

        let c = gorun::chan::chan::<u8>(0);
        let c2 = c.clone();
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let h = gorun::go(async move {
            let _d = d;
            c2.recv().await;
            make()
        });
        common::dump_listing(h.id(), "chan receive").await;
        abort_and_join(h).await;
        assert!(dropped.load(Acquire), "case {case}: aborted, not dropped");
        drop(c);
    });
    check_dropped_at_shutdown(rt, "waiting", move || async move {
        std::future::pending::<()>().await;
        make()
    });
}

/// Spawns `make()` on `rt`, waits until `dump` lists it as waiting on `state`, shuts `rt` down
/// and checks that its future was dropped.
fn check_dropped_at_shutdown<F: Future + Send + 'static>(
    rt: Runtime,
    state: &'static str,
    make: impl FnOnce() -> F + Send + 'static,
) where
    F::Output: Send + 'static,
{
    let dropped = Arc::new(AtomicBool::new(false));
    let d = SetOnDrop(dropped.clone());
    let h = rt.go(async move {
        let _d = d;
        make().await
    });
    let id = h.id();
    rt.block_on(async move {
        common::dump_listing(id, state).await;
    });
    drop(rt);
    assert!(dropped.load(Acquire), "not dropped at shutdown");
    assert!(gorun::block_on(h).err().expect("cancelled").is_cancelled());
}

#[test]
fn goroutines_with_outputs_aligned_to_256_and_4096_run_abort_and_drop() {
    let _w = common::watchdog("outputs_aligned_to_256_and_4096", 60);
    check_output(|| Align256(256), |a| a.0, 256);
    check_output(|| Align4096(4096), |a| a.0, 4096);
}

/// A future holding `N` bytes across a wait: it runs to completion, is aborted while waiting,
/// and is dropped at shutdown.
fn check_big_future<const N: usize>() {
    let rt = rt();
    rt.block_on(async {
        let h = gorun::go(async {
            let big = [7u8; N];
            gorun::yield_now().await;
            big.iter().map(|&b| b as usize).sum::<usize>()
        });
        assert_eq!(h.await.unwrap(), 7 * N);

        let c = gorun::chan::chan::<u8>(0);
        let c2 = c.clone();
        let h = gorun::go(async move {
            let big = [1u8; N];
            c2.recv().await;
            big.len()
        });
        common::dump_listing(h.id(), "chan receive").await;
        abort_and_join(h).await;
        drop(c);
    });
    check_dropped_at_shutdown(rt, "waiting", || async {
        let big = [3u8; N];
        std::future::pending::<()>().await;
        big.len()
    });
}

#[test]
fn goroutines_with_4k_and_64k_futures_run_abort_and_drop() {
    let _w = common::watchdog("4k_and_64k_futures", 60);
    check_big_future::<4096>();
    check_big_future::<65536>();
}

/// A waker that wakes another one (the goroutine's, so the goroutine still wakes up).
struct Forward(Waker);
impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.0.wake_by_ref();
    }
}

/// A goroutine that polls one hour-long `Sleep` with its own waker and then, in the same poll,
/// with another one (as a combinator that wraps wakers does). Before the registry was the
/// only record of where a goroutine waits, the first poll recorded the sleep as standing for
/// the goroutine and the second unmarked it, so the goroutine was neither registered nor
/// found in the wheel: abort was lost, dump omitted it and shutdown did not drop it.
/// `polled` is set once both polls are done.
async fn sleep_polled_with_two_wakers(polled: Arc<AtomicBool>) {
    let mut s = Box::pin(gorun::time::sleep(Duration::from_secs(3600)));
    std::future::poll_fn(|cx: &mut Context<'_>| {
        let _ = s.as_mut().poll(cx);
        let other = Waker::from(Arc::new(Forward(cx.waker().clone())));
        let r = s.as_mut().poll(&mut Context::from_waker(&other));
        polled.store(true, Release);
        r
    })
    .await;
}

#[test]
fn a_sleep_polled_with_two_wakers_in_one_poll_leaves_the_goroutine_listed() {
    let _w = common::watchdog("sleep_polled_with_two_wakers_dump", 30);
    rt().block_on(async {
        let h = gorun::go(sleep_polled_with_two_wakers(Arc::default()));
        common::dump_listing(h.id(), "sleep").await;
        h.abort();
    });
}

#[test]
fn a_sleep_polled_with_two_wakers_in_one_poll_leaves_the_goroutine_abortable() {
    let _w = common::watchdog("sleep_polled_with_two_wakers_abort", 30);
    rt().block_on(async {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = SetOnDrop(dropped.clone());
        let polled = Arc::new(AtomicBool::new(false));
        let p = polled.clone();
        let h = gorun::go(async move {
            let _d = d;
            sleep_polled_with_two_wakers(p).await;
        });
        let mut tries = 0;
        while !polled.load(Acquire) {
            tries += 1;
            assert!(tries < 5000, "the goroutine never polled its sleep");
            gorun::time::sleep(Duration::from_millis(1)).await;
        }
        // Let its poll return (and the goroutine park) before aborting it.
        gorun::time::sleep(Duration::from_millis(20)).await;
        abort_and_join(h).await;
        assert!(dropped.load(Acquire), "aborted, not dropped");
    });
}

#[test]
fn a_sleep_polled_with_two_wakers_in_one_poll_is_dropped_at_shutdown() {
    let _w = common::watchdog("sleep_polled_with_two_wakers_shutdown", 30);
    let rt = rt();
    let dropped = Arc::new(AtomicBool::new(false));
    let polled = Arc::new(AtomicBool::new(false));
    let (d, p) = (SetOnDrop(dropped.clone()), polled.clone());
    let h = rt.go(async move {
        let _d = d;
        sleep_polled_with_two_wakers(p).await;
    });
    let mut tries = 0;
    while !polled.load(Acquire) {
        tries += 1;
        assert!(tries < 5000, "the goroutine never polled its sleep");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Let its poll return (and the goroutine park) before shutting down.
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    assert!(dropped.load(Acquire), "not dropped at shutdown");
    assert!(gorun::block_on(h).unwrap_err().is_cancelled());
}
