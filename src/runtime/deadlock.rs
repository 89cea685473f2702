//! Deadlock detection: Go's "all goroutines are asleep - deadlock!".
//!
//! # When it fires
//!
//! A `block_on` (or `#[gorun::main]`) whose future is pending checks, at growing intervals
//! (1 ms up to 100 ms), whether anything in the process could still wake it. It declares a
//! deadlock only when all of this holds, twice in a row with the future polled once more in
//! between (so a wake-up racing with the check is never mistaken for silence):
//!
//! 1. every live gorun runtime is idle: all workers parked, every run queue empty, no
//!    `go_blocking` job queued or running, no pending timer and no registered I/O source
//!    (a `TcpListener`, a `tick` channel or a sleeping goroutine keeps the process alive);
//! 2. every thread of the process (`/proc/self/task`) is accounted for: gorun's own worker,
//!    blocking-pool and signal threads, plus the thread calling `block_on` — any other thread
//!    could call a waker later (a plain thread feeding a channel, another library's runtime),
//!    so its mere existence disables the verdict.
//!
//! Workers parked with empty queues and no reactor work can only be woken by new work, which
//! only a running thread can submit; condition 2 says there is none. So the state is final.
//!
//! # What it cannot see
//!
//! - Anything on a platform without `/proc/self/task` (detection is off there).
//! - A deadlock while any foreign thread exists (e.g. the test harness's threads, a thread
//!   blocked forever in `join`), while a timer or I/O source is registered (even one that will
//!   never lead to the blocked future), or between goroutines while `block_on`'s own future
//!   is still making progress: Go's checker has the same blind spots for timers, and does not
//!   know about foreign threads.
//! - A future that waits on something outside gorun that needs no thread (e.g. a signal):
//!   then no thread exists to wake it either, and the verdict is right.
//!
//! `Builder::detect_deadlock(false)` turns it off.

use super::scheduler::Shared;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Threads gorun started and that are alive (workers, blocking threads, the signal thread).
static GORUN_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Every live runtime, for the idle check (a goroutine of one runtime may wake another's).
static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Counts the current thread as one of gorun's while alive.
pub(crate) struct ThreadGuard(());

pub(crate) fn gorun_thread() -> ThreadGuard {
    GORUN_THREADS.fetch_add(1, SeqCst);
    ThreadGuard(())
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        GORUN_THREADS.fetch_sub(1, SeqCst);
    }
}

pub(crate) fn register_runtime(shared: &Arc<Shared>) {
    let mut all = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(shared));
}

pub(crate) fn unregister_runtime(shared: &Arc<Shared>) {
    let mut all = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared)));
}

/// Intervals between checks while a `block_on` future stays pending.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff(Duration::from_millis(1))
    }
    pub(crate) fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_millis(100));
        d
    }
}

fn runtime_idle(s: &Shared) -> bool {
    !s.is_shutdown()
        && s.idle.num_parked() == s.config.workers
        && !s.has_work()
        && s.blocking.is_idle()
        && !s.driver.driver.has_pending_work()
}

/// Whether nothing in the process can wake the calling `block_on` thread (conditions 1 and 2
/// of the module docs, checked once).
pub(crate) fn nothing_can_wake() -> bool {
    let runtimes: Vec<Arc<Shared>> = {
        let all = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().filter_map(|w| w.upgrade()).collect()
    };
    if !runtimes.iter().all(|s| runtime_idle(s)) {
        return false;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    let threads = dir.count();
    // Everyone but the caller must be one of ours.
    threads == GORUN_THREADS.load(SeqCst) + 1
}

/// The panic message, with every runtime's goroutine dump.
pub(crate) fn report(main_waits_on: Option<&str>) -> String {
    let mut out = String::from("all goroutines are asleep - deadlock!\n\n");
    // A `block_on` future is not a goroutine: it gets a line of its own. A main goroutine
    // (`#[gorun::main]`) is in the dump.
    if let Some(main_waits_on) = main_waits_on {
        out.push_str(&format!(
            "goroutine main [{main_waits_on}]: (the future given to block_on)\n\n"
        ));
    }
    out.push_str(&dump_all());
    out
}

/// The goroutine dump of every live runtime.
pub(crate) fn dump_all() -> String {
    let runtimes: Vec<Arc<Shared>> = {
        let all = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().filter_map(|w| w.upgrade()).collect()
    };
    runtimes
        .iter()
        .map(|s| super::dump::dump_shared(s))
        .collect()
}
