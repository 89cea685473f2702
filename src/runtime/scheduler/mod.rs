//! The multi-threaded work-stealing scheduler.
//!
//! # Algorithm (Go's `proc.go` and tokio's `multi_thread`)
//!
//! Each of N workers owns a bounded local queue ([`queue`], 256 slots, stealable) and a
//! `runnext` slot; there is one global injection queue ([`inject`]).
//!
//! - A task woken by the task running on a worker goes to that worker's `runnext`, displacing
//!   the previous occupant to the back of the local queue: a channel hand-off runs the receiver
//!   next on the same core, with the message hot in cache. `runnext` may run at most
//!   [`worker::MAX_RUNNEXT_STREAK`] times in a row before the local queue gets a turn, and
//!   thieves take it only in their last pass, so a fresh hand-off is not stolen at once.
//! - A task spawned on a worker goes to its `runnext` too, as in Go's `newproc` (a
//!   spawn-then-wait stays on one core); one spawned from outside the workers goes to the
//!   injection queue. A task that wakes itself (`yield_now`) goes to the back of the local
//!   queue; when that is full, half of it moves to the injection queue in one batch.
//! - Wakes from outside the runtime go to the injection queue. Every 61st tick a worker takes
//!   from the injection queue first, so it cannot starve; when its local queue is empty it
//!   takes a batch from there.
//! - An idle worker becomes a *searcher* (at most half of them at once) and steals half of a
//!   random victim's queue; finding nothing, it spins up to 20 µs while another worker is busy
//!   (taking only work that waits: `worker::Worker::spin_for_work`), then parks ([`idle`],
//!   [`park`]). New work wakes a parked worker only when nobody is searching; a searcher that
//!   finds work wakes the next.
//! - The first worker to park drives the reactor (epoll, timers); the others sleep on a
//!   condvar. A worker woken in the reactor with tasks to run wakes a sleeping one to park in
//!   the reactor in its place (Go's `wakeNetPoller`), so a task that runs long there does not
//!   hold up timers and I/O. Busy workers fire due timers every 8 ticks (one clock read; Go's
//!   `checkTimers`) and poll the reactor for I/O without blocking every 61 ticks.
//! - Each task poll gets a cooperative budget (`coop`).
//! - A worker whose goroutines spend a quarter of their time waiting for channel locks that
//!   goroutines on another worker hold *stands aside* for a millisecond: it hands its queued
//!   tasks to the injection queue and sleeps, if another worker keeps running
//!   (`worker::aside`): one core then runs the contended channel at one core's speed instead of
//!   two cores fighting over its cache lines.
//!
//! # Invariants
//!
//! - Every scheduled task is in exactly one place: a `runnext` slot, a local queue, the
//!   injection queue, or a worker's hands. (Queues take each task exactly once: `queue`.)
//! - No lost wake-up: see `idle`, `park` and the steps of `worker`'s loop; loom runs that loop
//!   itself (it is generic over its queues and driver) in `tests_loom`.
//! - After shutdown starts, no task is polled again; tasks are dropped instead. Shutdown runs
//!   on a thread that is not one of the runtime's workers (one of its own when `Runtime` is
//!   dropped on a worker), waits for the workers to leave their loops, cancels what is left,
//!   then closes the injection queue: a task woken later is cancelled (`reap`), so its
//!   `JoinHandle` resolves instead of waiting on a queue nobody drains.
//! - A wake from outside the workers holds its own reference to the runtime until its
//!   notification is done (`schedule`): the task it pushed may be dropped by shutdown's drain
//!   at once, and the runtime freed with it. Modelled under loom in `shutdown_loom`.

pub(crate) mod idle;
pub(crate) mod inject;
pub(crate) mod park;
pub(crate) mod queue;
pub(crate) mod worker;

#[cfg(all(test, loom))]
pub(crate) mod shutdown_loom;
#[cfg(all(test, loom))]
mod tests_loom;

use crate::runtime::blocking::BlockingPool;
use crate::runtime::task::{DeadTasks, Registry, Runnable, TaskMeta, STATE_RUNNABLE};
use crate::runtime::Config;
use idle::Idle;
use inject::Inject;
use park::{DriverSlot, Parker};
use queue::Queue;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicUsize, Ordering::*};
use worker::Pool;

/// Keeps a value on its own cache line pair (so per-thread counters do not false-share; 128
/// bytes because Intel's spatial prefetcher pulls lines in pairs).
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
use std::sync::{Arc, Condvar, Mutex};

impl queue::Task for Runnable {
    fn into_raw(self) -> NonNull<()> {
        Runnable::into_raw(self)
    }
    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller passes a pointer from `into_raw`, converted back once.
        unsafe { Runnable::from_raw(ptr) }
    }
}

/// The part of a worker that other threads see.
pub(crate) struct Remote {
    pub(crate) queue: Queue<Runnable>,
    /// A `Runnable` raw pointer or null; taken by `swap`.
    pub(crate) runnext: AtomicPtr<()>,
    pub(crate) parker: Parker,
    /// The worker's turn counter as of its latest turn (one per task it runs), for thieves
    /// measuring the pace at which it runs its queue (`worker::BACKLOG`).
    pub(crate) turns: AtomicU32,
}

/// State shared by the workers, handles and tasks of one runtime.
pub(crate) struct Shared {
    /// Each on its own lines: a worker writes its queue's `tail` and its `runnext` on every
    /// push, and sharing a line with the next worker's made every push a cache miss there.
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) inject: CachePadded<Inject<Runnable>>,
    pub(crate) idle: CachePadded<Idle>,
    /// The reactor, and the flag saying whether a thread drives it (see `park`).
    pub(crate) driver_slot: DriverSlot<Arc<crate::reactor::Driver>>,
    /// The driver reference of threads that are not this runtime's workers.
    pub(crate) outside_driver: crate::reactor::DriverRef,
    pub(crate) registry: Registry,
    /// Finished goroutines whose memory waits for a spawning worker (`task::dead`).
    pub(crate) dead: DeadTasks,
    pub(crate) blocking: BlockingPool,
    pub(crate) config: Config,
    /// No goroutine runs any more: set by shutdown, or when the main goroutine returns.
    pub(crate) shutdown: AtomicBool,
    /// Futures being driven by `block_on` (counted by `num_goroutine`, like Go's main).
    pub(crate) block_on_count: AtomicUsize,
    /// The id of the main goroutine (`#[gorun::main]`'s body; 0 if none), marked in dumps.
    pub(crate) main_goroutine: std::sync::atomic::AtomicU64,
    /// `Runtime::shutdown` has begun (claimed by the one thread that does it). `shutdown`
    /// is set right after; it is also set, without this, when the main goroutine returns: as
    /// in Go the program is over and no goroutine runs any more, and the thread that waited
    /// for main then drops the runtime, which does the rest.
    pub(crate) shutdown_begun: AtomicBool,
    /// Live-goroutine counters: one slot per worker and a last one for other threads; a
    /// spawn adds 1 to its thread's slot, a finish subtracts 1 from its own (see `task`).
    pub(crate) live: Box<[CachePadded<AtomicIsize>]>,
    /// `runtime::metrics` counters, laid out as `live` (see `runtime::metrics`).
    pub(crate) counters: Box<[CachePadded<crate::runtime::metrics::Counters>]>,
    /// Workers that have left their loop; guarded by its lock, signalled on `exited_cv`.
    pub(crate) exited: Mutex<usize>,
    pub(crate) exited_cv: Condvar,
    #[cfg(loom)]
    pub(crate) in_schedule: loom_check::Counter,
}

impl park::Drive for Arc<crate::reactor::Driver> {
    fn poll(&self, timeout: Option<std::time::Duration>) -> usize {
        crate::reactor::Driver::poll(self, timeout)
    }
    fn unpark(&self) {
        crate::reactor::Driver::unpark(self)
    }
    fn timers_may_be_due(&self) -> bool {
        crate::reactor::Driver::timers_may_be_due(self)
    }
    fn fire_timers(&self) {
        crate::reactor::Driver::fire_due_timers(self)
    }
}

impl Shared {
    pub(crate) fn new(config: Config, driver: crate::reactor::Driver) -> Shared {
        let driver = Arc::new(driver);
        let n = config.workers;
        Shared {
            remotes: (0..n)
                .map(|_| {
                    CachePadded(Remote {
                        queue: Queue::new(),
                        runnext: AtomicPtr::new(ptr::null_mut()),
                        turns: AtomicU32::new(0),
                        parker: Parker::new(),
                    })
                })
                .collect(),
            inject: CachePadded(Inject::new()),
            idle: CachePadded(Idle::new(n)),
            outside_driver: Arc::new(driver.clone()),
            driver_slot: DriverSlot::new(driver),
            registry: Registry::new(n),
            dead: DeadTasks::new(),
            blocking: BlockingPool::new(config.max_blocking_threads),
            config,
            shutdown: AtomicBool::new(false),
            block_on_count: AtomicUsize::new(0),
            main_goroutine: std::sync::atomic::AtomicU64::new(0),
            shutdown_begun: AtomicBool::new(false),
            live: (0..=n).map(|_| CachePadded(AtomicIsize::new(0))).collect(),
            counters: (0..=n).map(|_| CachePadded(Default::default())).collect(),
            exited: Mutex::new(0),
            exited_cv: Condvar::new(),
            #[cfg(loom)]
            in_schedule: Default::default(),
        }
    }

    /// Shutting down, or the main goroutine returned (which ends every goroutine as well).
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    /// Schedules a task that was just spawned.
    pub(crate) fn schedule_new(&self, runnable: Runnable) {
        match worker::current_of(self) {
            // SAFETY: `current_of` returns the worker running on this thread.
            Some(w) => unsafe { (*w).spawn_local(runnable) },
            // A spawn that lost the race with shutdown (the injection queue is closed): cancel
            // it here. Safe: a spawner holds no lock that the dropped future could need.
            None => {
                if let Err(r) = self.schedule_remote(runnable) {
                    drop(r);
                }
            }
        }
    }

    /// Schedules from a thread that is not one of this runtime's workers; hands the task back
    /// if the runtime has shut down (its injection queue is closed).
    ///
    /// The caller must keep `self` alive by a reference of its own, not the task's: once
    /// pushed, the task may be taken and dropped by shutdown's drain at once.
    pub(crate) fn schedule_remote(&self, runnable: Runnable) -> Result<(), Runnable> {
        self.inject.push(runnable)?;
        self.notify_parked();
        Ok(())
    }

    /// Wakes a parked worker if nobody is searching for work ([`Pool::notify_parked`]).
    #[inline]
    pub(crate) fn notify_parked(&self) {
        Pool::notify_parked(self)
    }

    /// Whether a queue holds a task that a searcher would take now (used by the last searcher
    /// before it parks): the injection queue or a local queue. A `runnext` is left to its
    /// owner, which put it there while running and will run it before it parks (only a
    /// worker's own thread does); a searcher that left one parks with a timeout, to look again
    /// in case the owner is stuck in one task (see `worker::Worker::steal`).
    pub(crate) fn has_work(&self) -> bool {
        !self.inject.is_empty() || self.remotes.iter().any(|r| !r.queue.is_empty())
    }

    /// Wakes every worker and the driver (shutdown).
    pub(crate) fn unpark_all(&self) {
        Pool::unpark_all(self)
    }

    /// The runtime's reactor.
    pub(crate) fn driver(&self) -> &Arc<crate::reactor::Driver> {
        &self.driver_slot.driver
    }
}

impl Pool for Shared {
    type Driver = Arc<crate::reactor::Driver>;

    #[inline]
    fn idle(&self) -> &Idle {
        &self.idle
    }

    #[inline]
    fn parker(&self, idx: usize) -> &Parker {
        &self.remotes[idx].parker
    }

    #[inline]
    fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    #[inline]
    fn driver_slot(&self) -> &DriverSlot<Self::Driver> {
        &self.driver_slot
    }

    #[inline]
    fn is_shutdown(&self) -> bool {
        Shared::is_shutdown(self)
    }

    #[inline]
    fn has_work(&self) -> bool {
        Shared::has_work(self)
    }
}

/// The schedule function of every goroutine (called when its waker fires).
///
/// The schedule function is zero-sized: async-task holds no reference to the runtime while it
/// runs, only the task's metadata does. On a worker, the worker's own reference keeps the
/// runtime alive. From any other thread the task, once pushed, may at once be drained and
/// dropped by a shutdown racing with us, and the runtime freed with it: so we take a reference
/// of our own first, and drop it only after the notification.
pub(crate) fn schedule(runnable: Runnable, woken_while_running: bool) {
    let meta: &TaskMeta = runnable.metadata();
    meta.status.store(STATE_RUNNABLE, Relaxed);
    if let Some(w) = worker::current_of(&meta.shared) {
        // SAFETY: `current_of` returns the worker running on this thread.
        unsafe { (*w).schedule_local(runnable, woken_while_running) };
        return;
    }
    let shared = meta.shared.clone();
    #[cfg(loom)]
    let _in = loom_check::InSchedule::enter(&shared);
    if let Err(r) = shared.schedule_remote(runnable) {
        reap(r);
    }
}

/// Cancels a task woken after its runtime shut down. Not on the waking thread: the waker may
/// be called with a lock held that the task's destructors need (a plain thread waking a
/// goroutine under its own mutex), so the task is dropped on a thread of its own (an
/// uncommon path: only wakes that race with or follow a shutdown come here).
fn reap(task: Runnable) {
    #[cfg(not(loom))]
    {
        use crate::loom::Unpoison;
        let cell = Arc::new(Mutex::new(Some(task)));
        let c2 = cell.clone();
        let spawned = std::thread::Builder::new()
            .name("gorun-reaper".into())
            .spawn(move || drop(c2.lock().unpoison().take()));
        if spawned.is_err() {
            // No thread to be had: drop it here rather than leak it.
            drop(cell.lock().unpoison().take());
        }
    }
    // Loom models cannot run plain threads: drop it here.
    #[cfg(loom)]
    drop(task);
}

/// Loom-only check that no runtime is freed while a schedule call uses it (the
/// use-after-free window of a foreign wake against shutdown).
#[cfg(loom)]
pub(crate) mod loom_check {
    use super::Shared;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[derive(Default)]
    pub(crate) struct Counter(AtomicUsize);

    pub(crate) struct InSchedule<'a>(&'a Shared);

    impl<'a> InSchedule<'a> {
        pub(crate) fn enter(s: &'a Shared) -> Self {
            s.in_schedule.0.fetch_add(1, SeqCst);
            InSchedule(s)
        }
    }

    impl Drop for InSchedule<'_> {
        fn drop(&mut self) {
            self.0.in_schedule.0.fetch_sub(1, SeqCst);
        }
    }

    impl Drop for Shared {
        fn drop(&mut self) {
            assert_eq!(
                self.in_schedule.0.swap(usize::MAX, SeqCst),
                0,
                "a runtime was freed while a schedule call was using it"
            );
        }
    }
}
