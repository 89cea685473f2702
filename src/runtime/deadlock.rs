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
//! # Why a report is never false (Go runs `checkdead` under `sched.lock`)
//!
//! gorun has no global scheduler lock; instead every scheduler thread (worker, blocking-pool
//! thread, shutdown thread: [`sched_thread`]) is counted in `AWAKE` except while it is blocked
//! in one of three waits ([`asleep`]): a worker's condvar (`park`), the reactor's
//! `epoll_wait`, an idle blocking thread's condvar. Waking from one, a thread adds itself to
//! `AWAKE` and then bumps `EPOCH`, before it touches anything; a thread goes back to sleep
//! holding nothing (no task, no timer waker taken, no event undelivered). The check reads
//! `EPOCH`, then `AWAKE`, then the evidence (run queues, blocking jobs queued or running, under
//! the pool's lock, timers and I/O sources), then the thread count, then `EPOCH` again, and
//! says "deadlock" only if `AWAKE` was 0, there was no evidence, and `EPOCH` did not move. All
//! of these are SeqCst operations or lock acquisitions, so they fall in one total order:
//!
//! - a thread awake when `AWAKE` was read makes it non-zero; one that woke after that read
//!   bumped `EPOCH` after the first read of it, before touching anything: if it touched the
//!   evidence before the check read it, the second read of `EPOCH` sees the bump; if after,
//!   the check saw the evidence as it was, which held what woke the thread (a queued task, a
//!   pending timer, a registered source), or it woke for nothing and will sleep again;
//! - so while no `EPOCH` bump is seen, every scheduler thread was asleep with nothing in hand
//!   over the whole window, the evidence read in it is exact, and empty evidence means nothing
//!   queued, pending or registered could wake them; a non-scheduler thread of gorun's (the
//!   signal thread) waits only for a signal, and any other thread disables the verdict.
//!
//! A runtime stays in the list after it shuts down, until it is freed: threads it gave up on
//! (a blocking job still running) are awake, and its queues still count.
//!
//! # What it cannot see
//!
//! - Anything on a platform without `/proc/self/task` (detection is off there).
//! - A deadlock while any foreign thread exists (e.g. the test harness's threads, a thread
//!   blocked forever in `join`), while a timer or I/O source is registered (even one that will
//!   never lead to the blocked future), or between goroutines while `block_on`'s own future
//!   is still making progress: Go's checker has the same blind spots for timers, and does not
//!   know about foreign threads.
//! - A future that waits on something outside gorun that needs no thread: then no thread
//!   exists to wake it either, and the verdict is right. (A `gorun::signal` channel does have
//!   one, the signal thread: while any is registered, no deadlock is declared. Nor while a
//!   `gorun::io::stdin` read waits for the stdin thread.)
//!
//! `Builder::detect_deadlock(false)` turns it off.
//!
//! The thread counts (`GORUN_THREADS`, `AWAKE`, `EPOCH`) and their guards live in
//! `util::threads`, below the reactor, whose `epoll_wait` marks itself asleep there.

use super::scheduler::Shared;
use crate::loom::Unpoison;
use crate::util::threads;
pub(crate) use crate::util::threads::{asleep, gorun_thread, sched_thread};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// A goroutine waits for `gorun::io`'s stdin thread, which will wake it (set and cleared by
/// `io`, which sits above the runtime).
pub(crate) static STDIN_READING: AtomicBool = AtomicBool::new(false);

/// Every live runtime, for the idle check (a goroutine of one runtime may wake another's).
static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

pub(crate) fn register_runtime(shared: &Arc<Shared>) {
    let mut all = RUNTIMES.lock().unpoison();
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(shared));
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
    // (A shut-down runtime's workers have left its idle list: they are gone or awake.)
    (s.is_shutdown() || s.idle.num_parked() == s.config.workers)
        && !s.has_work()
        && s.blocking.is_idle()
        && !s.driver().has_pending_work()
}

/// Whether nothing in the process can wake the calling `block_on` thread (conditions 1 and 2
/// of the module docs, checked once).
pub(crate) fn nothing_can_wake() -> bool {
    let epoch = threads::epoch();
    if threads::awake() != 0 {
        return false;
    }
    let runtimes: Vec<Arc<Shared>> = {
        let all = RUNTIMES.lock().unpoison();
        all.iter().filter_map(|w| w.upgrade()).collect()
    };
    if !runtimes.iter().all(|s| runtime_idle(s)) {
        return false;
    }
    // A `gorun::signal` channel is registered: the signal thread may still send on it.
    if super::signal::WATCHERS.load(SeqCst) > 0 {
        return false;
    }
    // A goroutine waits for standard input: the stdin thread will wake it.
    if STDIN_READING.load(SeqCst) {
        return false;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    let threads = dir.count();
    // Everyone but the caller must be one of ours.
    threads == threads::gorun_threads() + 1 && threads::epoch() == epoch
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
        let all = RUNTIMES.lock().unpoison();
        all.iter().filter_map(|w| w.upgrade()).collect()
    };
    runtimes
        .iter()
        .map(|s| super::dump::dump_shared(s))
        .collect()
}
