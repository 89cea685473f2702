//! The runtime: worker threads, the work-stealing scheduler, the blocking pool.

pub(crate) mod coop;
pub(crate) mod scaffold;
pub(crate) use scaffold::driver_handle;

use std::cell::Cell;

thread_local! {
    /// Set on runtime worker threads (and while a `block_on` drives a future), so that blocking
    /// calls made from there can panic with a clear message instead of deadlocking a worker.
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is one of gorun's worker threads.
pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER.try_with(|w| w.get()).unwrap_or(false)
}

#[allow(dead_code)]
pub(crate) fn set_on_worker_thread(on: bool) {
    ON_WORKER.with(|w| w.set(on));
}
