//! The worker loop, generic over its queues and driver (see the `worker` module docs).
//!
//! # Why generic
//!
//! The steps that decide whether a wake-up can be lost are written once, as generic
//! functions ([`run_loop`], [`search`], [`run_task`], [`wait_for_work`], and
//! [`Pool::notify_parked`]), over two traits: [`Pool`] (the runtime-wide part: the idle state,
//! the parkers, the driver slot, "is there work anywhere") and [`Core`] (one worker: its own
//! queues, stealing, running a task). The real [`Worker`](super::Worker) and
//! [`Shared`](super::super::Shared) implement them; so do the loom model's stand-ins in
//! `tests_loom.rs` (counters for queues, a condvar for the reactor), so the model runs these
//! very functions, not a copy of them. The real instantiation is the only one outside tests
//! and adds no atomic or lock. The hot steps (`run_loop`, `run_task`, the `Core` methods a
//! turn calls, `notify_parked`) are `#[inline]`: trait-impl methods do not get the
//! single-caller inlining the old private methods got, and without the hint the loop, the
//! local pop and `Queue::push_back` fell out of line (+10% instructions on `yield`). With it,
//! the loop compiles to one function as before (callgrind: within 1% on `yield` and
//! `pingpong`; see the commit that split it). `search` and `wait_for_work` are left to the
//! compiler.
//!
//! The protocol ([`idle`](super::super::idle), [`park`](super::super::park)), in the loop's
//! terms:
//!
//! 1. A worker with no task of its own announces itself as a searcher (unless half of the
//!    workers search) and only then looks at the others' queues ([`search`]).
//! 2. A searcher that finds a task stops searching *before* running it; if it was the last
//!    searcher it wakes a parked worker to search in its place ([`run_task`]).
//! 3. A worker that parks first removes itself from the counters and puts itself on the
//!    sleepers list; if it was the last searcher it then re-checks every queue and, finding
//!    work, wakes a worker for it ([`wait_for_work`]).
//! 4. New work wakes a parked worker only when nobody searches ([`Pool::notify_parked`]).
//! 5. A worker woken in the reactor with tasks of its own leaves the reactor to the others: it
//!    wakes one to park there in its place (Go's `wakeNetPoller`), so a task that runs long
//!    does not hold timers and I/O up.

use super::super::idle::Idle;
use super::super::park::{Drive, DriverSlot, Parker};
use std::cell::Cell;

/// The runtime-wide side of the worker loop: what every worker shares
/// ([`Shared`](super::super::Shared); in the loom model, its stand-in).
pub(crate) trait Pool {
    /// What a worker sleeps in besides its condvar (the reactor).
    type Driver: Drive;
    /// Which workers are parked and how many search.
    fn idle(&self) -> &Idle;
    /// The parker of worker `idx`.
    fn parker(&self, idx: usize) -> &Parker;
    /// How many workers there are.
    fn num_workers(&self) -> usize;
    /// The driver and the flag saying whether a thread drives it.
    fn driver_slot(&self) -> &DriverSlot<Self::Driver>;
    /// No task runs any more: the workers leave their loops.
    fn is_shutdown(&self) -> bool;
    /// Whether any queue holds a task (the last searcher's re-check before it sleeps).
    fn has_work(&self) -> bool;

    /// Wakes a parked worker if nobody is searching for work (step 4): the one new work calls
    /// after publishing it. The worker picked is already counted as unparked and searching.
    #[inline]
    fn notify_parked(&self) {
        if let Some(idx) = self.idle().worker_to_notify() {
            self.parker(idx).unpark(self.driver_slot());
        }
    }

    /// Wakes every worker and the driver (shutdown).
    fn unpark_all(&self) {
        for idx in 0..self.num_workers() {
            self.parker(idx).unpark(self.driver_slot());
        }
        self.driver_slot().driver.unpark();
    }
}

/// One worker's side of the loop: its own queues, stealing from the others, running a task
/// ([`Worker`](super::Worker); in the loom model, its stand-in). Only the worker's own thread
/// calls these.
pub(crate) trait Core {
    /// The runtime this worker belongs to.
    type Pool: Pool;
    /// What the queues hold.
    type Task;
    /// The runtime.
    fn pool(&self) -> &Self::Pool;
    /// This worker's index (its parker, its place on the sleepers list).
    fn index(&self) -> usize;
    /// Whether this worker is counted as a searcher in the idle state.
    fn searching(&self) -> &Cell<bool>;
    /// The start of a turn of the loop (between tasks: timers, reactor polls); returns the
    /// tick for [`next_task`](Core::next_task).
    fn begin_turn(&self) -> u32;
    /// A task from this worker's own queues (and, now and then, the injection queue).
    fn next_task(&self, tick: u32) -> Option<Self::Task>;
    /// A task from the other workers' queues or the injection queue (a searcher's look).
    fn steal(&self) -> Option<Self::Task>;
    /// Runs a task.
    fn run(&self, task: Self::Task);
    /// Whether this worker's own queues hold a task (after a wake-up).
    fn has_local_work(&self) -> bool;
    /// Counts a park (metrics).
    fn count_park(&self) {}
    /// Called before the worker parks (frees what it kept: `task::dead`).
    fn before_park(&self) {}
    /// Called each time the worker's parker returns.
    fn woke(&self) {}
    /// The timeout of the next park: `None`, or a time after which a park that ended with
    /// nothing for us searches again although nobody notified us (`Worker`: a busy worker's
    /// `runnext` may wait behind a long poll, and nothing announces it).
    fn park_timeout(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Runs worker `core` until its runtime shuts down.
#[inline]
pub(crate) fn run_loop<C: Core>(core: &C) {
    while !core.pool().is_shutdown() {
        let tick = core.begin_turn();
        if let Some(t) = core.next_task(tick) {
            run_task(core, t);
            continue;
        }
        if let Some(t) = search(core) {
            run_task(core, t);
            continue;
        }
        wait_for_work(core);
    }
}

/// Runs a task; a searcher stops searching first (step 2).
#[inline]
pub(crate) fn run_task<C: Core>(core: &C, task: C::Task) {
    let pool = core.pool();
    if core.searching().replace(false) && pool.idle().transition_from_searching() {
        // We were the last searcher and found work: there may be more, so wake another
        // worker to look for it (this is how a burst of work spreads over every core).
        pool.notify_parked();
    }
    core.run(task);
}

/// Looks for work on other workers, as a searcher (step 1): announces itself first, so that
/// a producer that misses the task's queue in our look sees us searching and relies on our
/// re-check when we park. Returns `None` at once if half of the workers already search.
pub(crate) fn search<C: Core>(core: &C) -> Option<C::Task> {
    if !core.searching().get() {
        if !core.pool().idle().transition_to_searching() {
            return None;
        }
        core.searching().set(true);
    }
    core.steal()
}

/// Parks the worker until there is work for it or the runtime shuts down (steps 3 and 5).
/// On return the worker is unparked in the idle state, and `searching` says whether it is
/// counted as a searcher.
pub(crate) fn wait_for_work<C: Core>(core: &C) {
    let pool = core.pool();
    let idx = core.index();
    core.count_park();
    core.before_park();
    let was_searching = core.searching().replace(false);
    if pool.idle().transition_to_parked(idx, was_searching) && pool.has_work() {
        // The last searcher must not sleep on work that appeared while it searched.
        pool.notify_parked();
    }
    loop {
        let timeout = core.park_timeout();
        let drove = pool.parker(idx).park(pool.driver_slot(), timeout);
        core.woke();
        if pool.is_shutdown() {
            return;
        }
        if core.has_local_work() {
            // Woken by the reactor (I/O, timer) with tasks scheduled on us.
            if !pool.idle().unpark_self(idx) {
                // A notifier took us off the list at the same time and counted us as a
                // searcher.
                core.searching().set(true);
            } else if drove {
                // We leave the reactor to run them, and one of them may run for long
                // without yielding while the other workers sleep on their condvars: wake
                // one (unless someone searches) so that it parks in the reactor in our
                // place and keeps timers and I/O on time (Go's `wakeNetPoller`). A woken
                // worker counted as a searcher does the same through the last-searcher
                // rule when it finds work.
                pool.notify_parked();
            }
            return;
        }
        if !pool.idle().is_parked(idx) {
            // Notified: the notifier counted us as a searcher.
            core.searching().set(true);
            return;
        }
        if timeout.is_some() {
            // Time to see whether an owner we left tasks to is too slow to run them (see
            // `Core::park_timeout`).
            if !pool.idle().unpark_self(idx) {
                core.searching().set(true);
            }
            return;
        }
        // Spurious wake-up, or the reactor fired with nothing for us: sleep again.
    }
}
