//! The worker loop: find a task (runnext, local queue, injection queue, steal), run it with a
//! cooperative budget, park when there is nothing to do. See the `scheduler` module docs for
//! the algorithm; this file holds the per-worker state, which only its own thread touches.
//!
//! # Files
//!
//! - `worker.rs`: the per-worker state (`Worker`), its thread-local, its queues, stealing,
//!   and the worker's side of the loop (`Core for Worker`);
//! - `worker/protocol.rs`: the loop itself, generic over its queues and driver
//!   (`run_loop`, `search`, `run_task`, `wait_for_work`, and the traits `Pool` and `Core`),
//!   the steps that decide whether a wake-up can be lost;
//! - `worker/aside.rs`: standing aside, when a worker's goroutines spend their time waiting
//!   for a lock held on another core.

mod aside;
pub(crate) mod protocol;

pub(crate) use protocol::{run_loop, Core, Pool};

use super::{Remote, Shared};
use crate::loom::Unpoison;
use crate::runtime::coop;
use crate::runtime::task::Runnable;
use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times in a row `runnext` may run before the local queue gets a turn (two
/// goroutines ping-ponging through `runnext` must not starve the rest of the queue).
pub(crate) const MAX_RUNNEXT_STREAK: u32 = 16;

/// A searcher takes another worker's `runnext` (the task that worker runs next) only if, at the
/// pace that worker has run tasks over the last [`WINDOW`] or more, it would wait this long:
/// a fresh hand-off between two goroutines is left where it is (it runs next, on the core that
/// has its data), but not one behind a goroutine stuck in a long poll.
const BACKLOG: Duration = Duration::from_micros(5);

/// How long a searcher spins, looking again, while another worker is busy, before it parks.
const SPIN: Duration = Duration::from_micros(20);

/// Pause instructions between two looks of a spinning searcher.
const SPIN_PAUSES: u32 = 256;

/// The shortest time over which a searcher measures another worker's pace (its turn counter).
const WINDOW: Duration = Duration::from_micros(20);

/// A worker that parks while another is busy wakes after this long to see whether the other
/// is stuck in one task with a task in its `runnext`: nothing announces a `runnext` to the
/// other workers (Go's `sysmon` plays this part).
const WATCH: Duration = Duration::from_millis(1);

/// Every this many ticks a worker looks at the injection queue first and polls the reactor.
const GLOBAL_CHECK_INTERVAL: u32 = 61;

/// Every this many ticks a busy worker looks at the wheels' earliest-deadline hints and, if one
/// has passed (a clock read, only while some timer is scheduled), fires the due timers itself
/// (Go's `checkTimers`, which runs at every `schedule`; a clock read per task would cost the
/// shortest tasks a fifth of their time).
const TIMER_CHECK_INTERVAL: u32 = 8;

/// A busy worker polls the reactor (for timers) at most this often, I/O aside.
const DRIVER_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// While I/O sources are registered, a busy worker polls the reactor for their events every
/// `io_gap` ticks: `IO_GAP_MIN` after a poll that found events (or could not poll: another
/// thread drives the reactor), doubling after each that found none, up to `IO_GAP_MAX`.
const IO_GAP_MIN: u32 = 16;
const IO_GAP_MAX: u32 = 1024;

pub(crate) struct Worker {
    shared: Arc<Shared>,
    /// This worker's own reference to the driver (see `reactor::DriverRef`).
    driver: crate::reactor::DriverRef,
    index: usize,
    tick: Cell<u32>,
    runnext_streak: Cell<u32>,
    searching: Cell<bool>,
    last_driver_poll: Cell<Instant>,
    /// The tick of the next I/O poll, and the current gap (see `IO_GAP_MIN`).
    io_poll_at: Cell<u32>,
    io_gap: Cell<u32>,
    /// Goroutines that finished here, kept for a spawner to free (`task::dead`).
    dead: RefCell<Vec<std::task::Waker>>,
    /// Per worker, its turn counter when this worker last measured it, and when: the start of
    /// the window over which this one measures that worker's pace (`backlogged`).
    seen: RefCell<Box<[(u32, Instant)]>>,
    /// The last search left a `runnext` to its busy owner: park with [`WATCH`] as timeout.
    watching: Cell<bool>,
    /// `lock::contended()` when last measured, and when.
    contended: Cell<(u32, u64, Instant)>,
}

thread_local! {
    static CURRENT: Cell<*const Worker> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with the worker running on this thread, if any: the one place that reads
/// `CURRENT` (also during thread-local destruction, when it reads as no worker).
#[inline]
fn with_current<R>(f: impl FnOnce(&Worker) -> R) -> Option<R> {
    let w = CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null());
    // SAFETY: a non-null pointer in CURRENT points to the `Worker` on this thread's stack,
    // alive for as long as it is installed (see `run`); `f` runs on this thread, within that.
    let w: &Worker = unsafe { w.as_ref() }?;
    Some(f(w))
}

/// The worker running on this thread, if it belongs to `shared`'s runtime.
#[inline]
pub(crate) fn current_of(shared: &Shared) -> Option<*const Worker> {
    with_current(|w| ptr::eq(&*w.shared, shared).then_some(w as *const Worker)).flatten()
}

/// Runs `f` with the runtime whose worker runs on this thread, without touching its reference
/// count (the spawn hot path: a clone and a drop of the `Arc` are two contended atomic
/// operations per `go`).
#[inline]
pub(crate) fn with_current_shared<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> Option<R> {
    with_current(|w| f(&w.shared))
}

/// The runtime whose worker runs on this thread, if any.
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    with_current(|w| w.shared.clone())
}

/// The reactor of the runtime whose worker runs on this thread (one reference-count increment,
/// on the driver only: the hot path of `sleep`, `after` and `Timer::new`).
pub(crate) fn current_driver() -> Option<crate::reactor::DriverRef> {
    with_current(|w| w.driver.clone())
}

/// Whether this thread is a worker of `shared`'s runtime, which is not shutting down.
pub(crate) fn is_running_worker_of(shared: &Shared) -> bool {
    with_current(|w| ptr::eq(&*w.shared, shared)).unwrap_or(false) && !shared.is_shutdown()
}

/// Keeps a finished goroutine (one of its wakers) in this worker's batch for a spawner to
/// free (see `task::dead`); only called where `is_running_worker_of` held for its runtime.
pub(crate) fn retire(waker: std::task::Waker) {
    with_current(|w| w.retire(waker));
}

/// Runs worker `index` of `shared` until shutdown.
pub(crate) fn run(shared: Arc<Shared>, index: usize) {
    let _ours = crate::runtime::deadlock::sched_thread();
    let n_workers = shared.remotes.len();
    let worker = Worker {
        driver: Arc::new(shared.driver().clone()),
        shared,
        index,
        tick: Cell::new(0),
        runnext_streak: Cell::new(0),
        searching: Cell::new(false),
        last_driver_poll: Cell::new(Instant::now()),
        io_poll_at: Cell::new(IO_GAP_MIN),
        io_gap: Cell::new(IO_GAP_MIN),
        dead: RefCell::new(Vec::new()),
        seen: RefCell::new(vec![(0, Instant::now()); n_workers].into_boxed_slice()),
        watching: Cell::new(false),
        contended: Cell::new((0, 0, Instant::now())),
    };
    struct Uninstall;
    impl Drop for Uninstall {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|c| c.set(ptr::null()));
            crate::runtime::set_on_worker_thread(false);
        }
    }
    CURRENT.with(|c| c.set(&worker));
    crate::runtime::set_on_worker_thread(true);
    // Timers this worker's goroutines create go into its own wheel.
    worker.shared.driver().bind_worker(index);
    let uninstall = Uninstall;
    run_loop(&worker);
    // Shutdown: drop what is left in our queues (their futures' destructors may schedule
    // more, locally or remotely; keep draining until empty).
    // The injection queue too: a worker that outlived shutdown's wait (a long poll) may have
    // spilled its queue there after shutdown drained it.
    loop {
        while let Some(t) = worker.pop_own() {
            drop(t);
        }
        let left = worker.shared.inject.drain();
        if left.is_empty() {
            break;
        }
        drop(left);
    }
    drop(uninstall);
    // Dead goroutines kept here or in the list (`task::dead`): their metadata holds the
    // runtime. Shutdown empties the list too, after the last worker left.
    worker.release_dead();
    let shared = worker.shared.clone();
    drop(worker);
    let mut exited = shared.exited.lock().unpoison();
    *exited += 1;
    shared.exited_cv.notify_all();
}

impl Worker {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Keeps a finished goroutine (one of its wakers) in this worker's batch; hands a full
    /// batch to the runtime's list, or drops it here if the list is full.
    fn retire(&self, waker: std::task::Waker) {
        use crate::runtime::task::DEAD_BATCH;
        let full = {
            let mut dead = self.dead.borrow_mut();
            if dead.capacity() == 0 {
                dead.reserve_exact(DEAD_BATCH);
            }
            dead.push(waker);
            (dead.len() >= DEAD_BATCH).then(|| std::mem::take(&mut *dead))
        };
        // Dropped outside the borrow: freeing a task drops its metadata.
        if let Some(batch) = full {
            drop(self.shared.dead.hand_in(batch));
        }
    }

    /// Frees every dead goroutine this worker or the list holds (about to park, so that an
    /// idle runtime keeps none; or leaving the loop).
    fn release_dead(&self) {
        drop(self.dead.take());
        drop(self.shared.dead.take_all());
    }

    fn remote(&self) -> &Remote {
        &self.shared.remotes[self.index]
    }

    /// Every `GLOBAL_CHECK_INTERVAL` tasks: polls the reactor without blocking (if no other
    /// thread drives it) at most every `DRIVER_POLL_INTERVAL`, so that due timers fire even
    /// when no worker ever idles.
    fn maintenance(&self) {
        let now = Instant::now();
        if now.duration_since(self.last_driver_poll.get()) >= DRIVER_POLL_INTERVAL {
            self.last_driver_poll.set(now);
            self.shared.driver_slot.poll_now();
        }
    }

    /// Polls the reactor for I/O events between tasks, so that a busy worker takes its
    /// sockets' events itself instead of leaving them to a parked worker that must be woken
    /// (tokio's `event_interval`). A poll costs a system call (the `epoll_wait`), so the gap
    /// adapts: short while polls find events, growing while they find none (see `IO_GAP_MIN`).
    fn poll_io(&self, tick: u32) {
        let gap = if !self.shared.driver().has_io_sources() {
            IO_GAP_MAX
        } else {
            match self.shared.driver_slot.poll_now() {
                // Events: poll again soon. Another thread drives the reactor: trying again
                // costs one atomic load.
                Some(1..) | None => IO_GAP_MIN,
                Some(0) => (self.io_gap.get() * 2).min(IO_GAP_MAX),
            }
        };
        self.io_gap.set(gap);
        self.io_poll_at.set(tick.wrapping_add(gap));
    }

    fn take_runnext(&self) -> Option<Runnable> {
        let slot = &self.remote().runnext;
        // A plain load first: the swap is a locked instruction, and the slot is empty most of
        // the times a worker looks (every task that yields or was spawned from outside).
        if slot.load(Relaxed).is_null() {
            return None;
        }
        let p = slot.swap(ptr::null_mut(), AcqRel);
        // SAFETY: a non-null `runnext` holds a pointer from `Runnable::into_raw`, and the swap
        // made it ours alone.
        ptr::NonNull::new(p).map(|p| unsafe { Runnable::from_raw(p) })
    }

    fn pop_local(&self) -> Option<Runnable> {
        // SAFETY: this thread owns its local queue.
        unsafe { self.remote().queue.pop() }
    }

    /// A task from this worker's own queues, `runnext` first (emptying them: shutdown, and
    /// standing aside).
    fn pop_own(&self) -> Option<Runnable> {
        self.take_runnext().or_else(|| self.pop_local())
    }

    /// Takes a task from the injection queue and moves a fair share of the rest into the
    /// local queue.
    fn take_from_inject(&self) -> Option<Runnable> {
        let inject = &self.shared.inject;
        if inject.is_empty() {
            return None;
        }
        let first = inject.pop()?;
        let queue = &self.remote().queue;
        let share = inject.len() / self.shared.remotes.len();
        // Never more than the local queue has room for: a push that overflowed would spill
        // into the injection queue, whose lock `pop_batch` holds.
        let room = super::queue::CAP - queue.len();
        let n = share.min(super::queue::CAP / 2).min(room);
        let moved = inject.pop_batch(n, |t| {
            // SAFETY: this thread owns its local queue, which has room for the whole batch
            // (only this thread adds to it), so the push does not overflow.
            unsafe { queue.push_back(t, &NoOverflow) }
        });
        if moved > 0 {
            self.shared.notify_parked();
        }
        Some(first)
    }

    /// Schedules a task woken on this worker's thread.
    pub(crate) fn schedule_local(&self, task: Runnable, yielded: bool) {
        if yielded || self.shared.is_shutdown() {
            self.push_local(task);
            return;
        }
        let prev = self
            .remote()
            .runnext
            .swap(Runnable::into_raw(task).as_ptr(), AcqRel);
        if let Some(prev) = ptr::NonNull::new(prev) {
            // SAFETY: as in `take_runnext`: the swap handed us the previous occupant.
            self.push_local(unsafe { Runnable::from_raw(prev) });
        }
    }

    /// Pushes onto the back of the local queue and, if a worker is parked and nobody
    /// searches, wakes one to steal it. The notification is not needed for liveness (this
    /// worker is running and will pop the task itself), so the cheap check is enough to skip.
    pub(crate) fn push_local(&self, task: Runnable) {
        // SAFETY: this thread owns its local queue.
        unsafe { self.remote().queue.push_back(task, &*self.shared.inject) };
        if self.shared.idle.may_need_wake() {
            self.shared.notify_parked();
        }
    }

    /// Whether `queued` tasks waiting for worker `v` would wait [`BACKLOG`] or more at the pace
    /// it has run tasks since this worker last measured it (at least [`WINDOW`] ago; `now`:
    /// this search's clock reading). A worker stuck in one poll has no pace: any task waits.
    fn backlogged(&self, v: usize, queued: usize, now: Instant) -> bool {
        let turns = self.shared.remotes[v].turns.load(Relaxed);
        let mut seen = self.seen.borrow_mut();
        let (last, since) = &mut seen[v];
        let dt = now.saturating_duration_since(*since);
        let ran = turns.wrapping_sub(*last);
        if ran == 0 {
            // In the same turn since we first saw it: every queued task has waited `dt`.
            return dt.as_nanos() * queued as u128 >= BACKLOG.as_nanos();
        }
        if dt < WINDOW {
            return false;
        }
        (*last, *since) = (turns, now);
        // queued * (dt / ran) >= BACKLOG, in integers.
        dt.as_nanos() * queued as u128 >= BACKLOG.as_nanos() * u128::from(ran)
    }

    /// Steals half of worker `v`'s local queue into ours (counted in the metrics); returns one
    /// of the tasks to run. Only while searching: our own local queue is then empty.
    fn steal_queue_of(&self, v: usize) -> Option<Runnable> {
        // SAFETY: this thread owns its local queue, which is empty (we only search when
        // `next_task` found nothing).
        let t = unsafe {
            self.shared.remotes[v]
                .queue
                .steal_into(&self.remote().queue)
        }?;
        crate::runtime::metrics::bump(&self.shared.counters[self.index].steals);
        Some(t)
    }

    /// One look at the other workers' queues: steals half of a random victim's local queue,
    /// else takes from the injection queue, else, last, another worker's `runnext` if that
    /// worker is slow to run it (see [`BACKLOG`]).
    fn steal_once(&self) -> Option<Runnable> {
        let remotes = &self.shared.remotes;
        let n = remotes.len();
        let start = crate::rand::below(n as u32) as usize;
        let mut now = None;
        let mut clock = || *now.get_or_insert_with(Instant::now);
        // Set again below if this look leaves a `runnext` to its owner.
        self.watching.set(false);
        for i in 0..n {
            let v = (start + i) % n;
            if v == self.index {
                continue;
            }
            if let Some(t) = self.steal_queue_of(v) {
                return Some(t);
            }
        }
        if let Some(t) = self.take_from_inject() {
            return Some(t);
        }
        // Last pass: runnext slots, whose owners run them next unless they are slow to.
        for i in 0..n {
            let v = (start + i) % n;
            if v == self.index || remotes[v].runnext.load(Relaxed).is_null() {
                continue;
            }
            if !self.backlogged(v, 1, clock()) {
                self.watching.set(true);
                continue;
            }
            let p = remotes[v].runnext.swap(ptr::null_mut(), AcqRel);
            if let Some(p) = ptr::NonNull::new(p) {
                crate::runtime::metrics::bump(&self.shared.counters[self.index].steals);
                self.watching.set(false);
                // SAFETY: as in `take_runnext`.
                return Some(unsafe { Runnable::from_raw(p) });
            }
        }
        None
    }

    /// A searcher that found nothing spins for up to [`SPIN`] before it parks, while another
    /// worker is unparked: work that worker makes in the meantime is taken here, with no park,
    /// no system call to wake it and no context switch (Go's spinning M does the same, for
    /// the same reason). It looks every [`SPIN_PAUSES`] pause instructions (a couple of
    /// microseconds: looking more often slowed the worker it watched, whose queue's cache lines
    /// it kept pulling away), and takes:
    /// - the injection queue's tasks, which have no owner;
    /// - half of another worker's local queue, but only if that worker is slow to run it (see
    ///   [`BACKLOG`]): a worker running short hand-offs (`select` over senders it wakes) keeps
    ///   its tasks, and their data, on its core. Stealing them as the first look does made
    ///   `select` 2.2 times slower.
    ///
    /// It stays counted as a searcher throughout and parks, if it finds nothing, by the usual
    /// path (`wait_for_work`, whose last-searcher re-check sees any work that appeared), so the
    /// spin only delays a park by `SPIN`; no notification is lost to it.
    fn spin_for_work(&self) -> Option<Runnable> {
        // Every other worker parked: nobody can make work but a wake-up, which notifies.
        if self.shared.idle.num_parked() + 1 >= self.shared.remotes.len() {
            return None;
        }
        let began = Instant::now();
        loop {
            for _ in 0..SPIN_PAUSES {
                std::hint::spin_loop();
            }
            let now = Instant::now();
            if now.saturating_duration_since(began) >= SPIN {
                return None;
            }
            if let Some(t) = self.take_from_inject() {
                return Some(t);
            }
            // Only from a worker slow to run what it queued (see `BACKLOG`): a worker running
            // short hand-offs keeps its tasks, and their data, on its core.
            let remotes = &self.shared.remotes;
            for v in 0..remotes.len() {
                if v == self.index {
                    continue;
                }
                let queued = remotes[v].queue.len();
                if queued == 0 || !self.backlogged(v, queued, now) {
                    continue;
                }
                if let Some(t) = self.steal_queue_of(v) {
                    return Some(t);
                }
            }
        }
    }

    /// A goroutine spawned by the running one goes to `runnext`, as in Go's `newproc`: a
    /// spawn-then-wait pattern (a chain, a fan-out the parent waits on) stays on this core.
    pub(crate) fn spawn_local(&self, task: Runnable) {
        self.schedule_local(task, false);
    }
}

impl Core for Worker {
    type Pool = Shared;
    type Task = Runnable;

    #[inline]
    fn pool(&self) -> &Shared {
        &self.shared
    }

    #[inline]
    fn index(&self) -> usize {
        self.index
    }

    #[inline]
    fn searching(&self) -> &Cell<bool> {
        &self.searching
    }

    #[inline]
    fn begin_turn(&self) -> u32 {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        // Our own line (queue tail, runnext); thieves read it only while they search.
        self.remote().turns.store(tick, Relaxed);
        if tick % TIMER_CHECK_INTERVAL == 0 {
            self.shared.driver_slot.fire_timers_if_due();
        }
        if tick % GLOBAL_CHECK_INTERVAL == 0 {
            self.maintenance();
        } else if tick.wrapping_sub(self.io_poll_at.get()) as i32 >= 0 {
            // (Reached or passed: a maintenance tick may have taken the exact one.)
            self.poll_io(tick);
        }
        tick
    }

    #[inline]
    fn next_task(&self, tick: u32) -> Option<Runnable> {
        if tick % GLOBAL_CHECK_INTERVAL == 0 {
            if let Some(t) = self.shared.inject.pop() {
                return Some(t);
            }
        }
        if self.runnext_streak.get() < MAX_RUNNEXT_STREAK {
            if let Some(t) = self.take_runnext() {
                self.runnext_streak.set(self.runnext_streak.get() + 1);
                return Some(t);
            }
        }
        self.runnext_streak.set(0);
        self.pop_local()
            .or_else(|| self.take_runnext())
            .or_else(|| self.take_from_inject())
    }

    /// One look at the others' queues (`steal_once`), then, if that found nothing and another
    /// worker is busy, a short spin (`spin_for_work`). When the look leaves a `runnext` to its
    /// busy owner, the park that follows has [`WATCH`] as timeout (`park_timeout`).
    fn steal(&self) -> Option<Runnable> {
        self.steal_once().or_else(|| self.spin_for_work())
    }

    #[inline]
    fn run(&self, task: Runnable) {
        crate::runtime::metrics::bump(&self.shared.counters[self.index].polls);
        coop::with_budget(|| task.run());
        let (n, ns) = crate::util::lock::contended();
        if n.wrapping_sub(self.contended.get().0) >= aside::ASIDE_CONTENDED {
            self.contention(n, ns);
        }
    }

    #[inline]
    fn has_local_work(&self) -> bool {
        !self.remote().queue.is_empty() || !self.remote().runnext.load(Acquire).is_null()
    }

    #[inline]
    fn count_park(&self) {
        crate::runtime::metrics::bump(&self.shared.counters[self.index].parks);
    }

    #[inline]
    fn before_park(&self) {
        self.release_dead();
    }

    #[inline]
    fn woke(&self) {
        self.last_driver_poll.set(Instant::now());
    }

    /// [`WATCH`] if the last search left a `runnext` to its busy owner, or if we will park in
    /// the reactor (nobody holds it) while another worker is busy: then we are the one that
    /// notices an owner stuck in one task with a task in its `runnext`, which no notification
    /// announces. Otherwise no timeout.
    fn park_timeout(&self) -> Option<Duration> {
        let busy_elsewhere = self.shared.idle.num_parked() < self.shared.remotes.len();
        let watch = self.watching.get() || (busy_elsewhere && !self.shared.driver_slot.is_taken());
        watch.then_some(WATCH)
    }
}

/// The overflow of a push that is known to fit.
struct NoOverflow;

impl super::queue::Overflow<Runnable> for NoOverflow {
    fn push_batch(&self, _: impl Iterator<Item = Runnable>) {
        unreachable!("gorun: a local queue overflowed while taking from the injection queue");
    }
}
