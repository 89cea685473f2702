//! Which of gorun's threads exist and which are awake: the counts behind the deadlock
//! detector (`runtime::deadlock`, whose module docs give the argument they serve).
//!
//! Every thread gorun starts counts itself while alive ([`gorun_thread`]); every scheduler
//! thread (worker, blocking-pool thread, shutdown thread) also counts itself awake
//! ([`sched_thread`]) except while it is blocked in one of three waits ([`asleep`]): a worker's
//! condvar, the reactor's `epoll_wait`, an idle blocking thread's condvar. Waking from one, a
//! thread adds itself to the awake count and then bumps the epoch, before it touches anything.
//! They live here, below the reactor, because the reactor's `epoll_wait` is one of those waits;
//! the runtime re-exports the guards (`runtime::deadlock::{asleep, gorun_thread, sched_thread}`)
//! and reads the counts. All operations are SeqCst.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Threads gorun started and that are alive (workers, blocking threads, the signal thread).
static GORUN_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Scheduler threads (see [`sched_thread`]) not blocked in one of the waits [`asleep`] marks.
static AWAKE: AtomicUsize = AtomicUsize::new(0);

/// Bumped by every scheduler thread as it starts, wakes or exits.
static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread is a scheduler thread (counted in `AWAKE`).
    static SCHED: Cell<bool> = const { Cell::new(false) };
}

/// Counts the current thread as one of gorun's scheduler threads (awake) while alive.
pub(crate) struct SchedGuard(ThreadGuard);

pub(crate) fn sched_thread() -> SchedGuard {
    let ours = gorun_thread();
    AWAKE.fetch_add(1, SeqCst);
    EPOCH.fetch_add(1, SeqCst);
    SCHED.with(|s| s.set(true));
    SchedGuard(ours)
}

impl Drop for SchedGuard {
    fn drop(&mut self) {
        let _ = SCHED.try_with(|s| s.set(false));
        EPOCH.fetch_add(1, SeqCst);
        AWAKE.fetch_sub(1, SeqCst);
    }
}

/// Marks the current scheduler thread asleep until dropped: only around a blocking wait,
/// with nothing in hand (see the module docs). A no-op on other threads.
pub(crate) struct AsleepGuard(bool);

pub(crate) fn asleep() -> AsleepGuard {
    let sched = SCHED.try_with(|s| s.get()).unwrap_or(false);
    if sched {
        AWAKE.fetch_sub(1, SeqCst);
    }
    AsleepGuard(sched)
}

impl Drop for AsleepGuard {
    fn drop(&mut self) {
        if self.0 {
            AWAKE.fetch_add(1, SeqCst);
            EPOCH.fetch_add(1, SeqCst);
        }
    }
}

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

/// The epoch: bumped by every scheduler thread as it starts, wakes or exits.
pub(crate) fn epoch() -> u64 {
    EPOCH.load(SeqCst)
}

/// Scheduler threads not blocked in a wait [`asleep`] marks.
pub(crate) fn awake() -> usize {
    AWAKE.load(SeqCst)
}

/// gorun's threads alive.
pub(crate) fn gorun_threads() -> usize {
    GORUN_THREADS.load(SeqCst)
}
