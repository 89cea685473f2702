//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Aborts the whole test process with a message if not dropped within `secs`: a hung test
/// fails fast instead of stalling CI.
pub struct Watchdog(Arc<AtomicBool>);

pub fn watchdog(what: &'static str, secs: u64) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if d.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("WATCHDOG: test `{what}` did not finish within {secs} s: aborting");
        std::process::abort();
    });
    Watchdog(done)
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// `GORUN_TEST_SCALE=small`: a reduced run for slow instrumented runs (valgrind, see
/// `.ci/valgrind`); in the `stress_*` tests it wins over `STRESS_SCALE`.
pub fn small() -> bool {
    std::env::var("GORUN_TEST_SCALE").is_ok_and(|v| v == "small")
}

/// Whether tests run in an optimized build (big workloads are scaled down in debug).
pub fn release() -> bool {
    !cfg!(debug_assertions)
}

/// Runs `f` as a task on a 4-worker tokio runtime, failing the test after 30 s: gorun's sync
/// primitives are plain futures and must work on another executor too.
pub fn run_on_tokio<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), tokio::spawn(f))
            .await
            .expect("test timed out")
            .unwrap();
    });
}

/// Runs `f` with `futures::executor::block_on` on a plain thread (outside every gorun runtime),
/// failing the test after `secs` seconds instead of hanging.
pub fn run<F: std::future::Future + Send + 'static>(secs: u64, f: F) -> F::Output
where
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(futures::executor::block_on(f));
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {secs}s"),
        Err(_) => panic!("the test future panicked"),
    }
}

/// Waits (inside a gorun runtime, up to about 5 s) until `runtime::dump()` lists goroutine
/// `id` as `[state]`, and returns that dump.
pub async fn dump_listing(id: u64, state: &str) -> String {
    let entry = format!("goroutine {id} [{state}]");
    let mut tries = 0;
    let mut dump = gorun::runtime::dump();
    while !dump.contains(&entry) {
        tries += 1;
        assert!(tries < 5000, "never listed as [{state}]:\n{dump}");
        gorun::time::sleep(Duration::from_millis(1)).await;
        dump = gorun::runtime::dump();
    }
    dump
}

/// Runs `f` as the main goroutine of a fresh `workers`-worker runtime (Go's `GOMAXPROCS`),
/// failing after `secs` seconds (a gorun timeout, and a watchdog thread should the runtime
/// itself stop). Used by the ports of Go's tests.
pub fn run_go_test<F: std::future::Future<Output = ()> + Send + 'static>(
    name: &'static str,
    workers: usize,
    secs: u64,
    f: F,
) {
    let _dog = watchdog(name, secs + 30);
    let rt = gorun::runtime::Builder::new()
        .workers(workers)
        .build()
        .unwrap();
    rt.block_on(async move {
        gorun::time::timeout(Duration::from_secs(secs), gorun::go(f))
            .await
            .unwrap_or_else(|_| panic!("{name}: did not finish within {secs} s (hang)"))
            .unwrap();
    });
}

/// Makes closing `s` send a reset instead of a FIN (`SO_LINGER` with a zero timeout).
pub fn set_linger_zero(s: &impl std::os::fd::AsRawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid `linger` value of the size passed, on an open socket.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt(SO_LINGER)");
}
