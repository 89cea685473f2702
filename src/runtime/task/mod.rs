//! Goroutines as `async-task` tasks: the metadata every task carries, and spawning.
//!
//! # Design
//!
//! A goroutine is an `async_task` allocation holding the user's future wrapped in a
//! [`Goroutine`](goroutine::Goroutine) (which catches panics and honours `abort`), plus a
//! [`TaskMeta`] (id, spawn site, owning runtime, abort flag, registry key, state). gorun
//! reaches the metadata only through async-task's public API:
//! - the wrapper keeps the `&TaskMeta` that `Builder::spawn_unchecked` hands the closure
//!   building the future (async-task pins the metadata in the task before calling it, and the
//!   closure's signature, `FnOnce(&'a M) -> Fut` with `Fut: 'a`, lets the future borrow it for
//!   its whole life): one pointer per goroutine, the price of not depending on where
//!   async-task lays its fields out;
//! - the schedule function reads it from `Runnable::metadata`, `JoinHandle` from
//!   `Task::metadata`;
//! - the registry (`registry`) keeps, beside each waiting task's waker, the pointer the wrapper
//!   holds; that waker keeps the task, and with it the metadata, alive.
//!
//! Nothing depends on async-task's layout, so any future and output compile and run whatever
//! their size (async-task boxes large futures itself) and alignment.
//!
//! The schedule function captures nothing: it finds the runtime through the metadata.
//!
//! # Where a goroutine waits
//!
//! One mechanism: every task that has waited at least once (returned `Pending`) is in its
//! runtime's registry, whatever it waits on (a channel, a lock, a sleep, I/O, a foreign
//! future). Registration is lazy, on the first `Pending` (see `goroutine`), and the entry stays
//! until the wrapper is dropped. Shutdown, `JoinHandle::abort` and `runtime::dump` all find
//! waiting goroutines there and nowhere else (see `registry` for the protocol and its
//! invariants).
//!
//! `num_goroutine` comes from per-thread counters instead (spawns minus finishes), so that
//! neither spawning nor finishing writes a cache line another worker writes.
//!
//! # Files
//!
//! - `mod.rs`: [`TaskMeta`], ids, spawning, the live counters;
//! - `goroutine.rs`: the wrapper future (panics, abort, registration);
//! - `registry.rs`: the registry of waiting goroutines (abort, shutdown, dump);
//! - `join.rs`: [`JoinHandle`] and [`JoinError`];
//! - `abort_loom.rs`: the loom model of `abort` against registration, on this code.

#[cfg(all(test, loom))]
mod abort_loom;
mod goroutine;
mod join;
mod registry;

pub(crate) use goroutine::panic_message;
pub use join::{JoinError, JoinHandle};
pub(crate) use registry::{Registry, TaskInfo};

use super::scheduler::Shared;
use super::site;
use crate::loom::sync::atomic::{AtomicBool, AtomicU32};
use goroutine::{BlockingFn, Goroutine};
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// The `async-task` handle behind a [`JoinHandle`].
type RawHandle<T> = async_task::Task<GoroutineOutput<T>, TaskMeta>;

/// What a goroutine's task stores as its output.
type GoroutineOutput<T> = Contained<Result<T, JoinError>>;

/// A goroutine's output as async-task stores it. async-task drops an output nobody takes (a
/// detached goroutine's result) under an abort-on-panic guard; a panicking destructor there
/// is caught and reported instead of aborting the process.
pub(crate) struct Contained<T>(std::mem::ManuallyDrop<T>);

impl<T> Contained<T> {
    fn new(v: T) -> Self {
        Contained(std::mem::ManuallyDrop::new(v))
    }

    fn into_inner(mut self) -> T {
        // SAFETY: the value is taken exactly once; `forget` keeps `Drop` from touching it.
        let v = unsafe { std::mem::ManuallyDrop::take(&mut self.0) };
        std::mem::forget(self);
        v
    }
}

impl<T> Drop for Contained<T> {
    fn drop(&mut self) {
        let v = &mut self.0;
        // SAFETY: dropped exactly once, here (`into_inner` forgets `self` after taking it).
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            std::mem::ManuallyDrop::drop(v)
        }));
        if let Err(p) = dropped {
            eprintln!(
                "gorun: a goroutine's result panicked while being dropped: {}",
                panic_message(&*p)
            );
        }
    }
}

/// What a task is doing, for `runtime::dump`: the high bits of `TaskMeta::status` (the low
/// ones, `wait::WAIT_MASK`, say why it waits).
pub(crate) const STATE_RUNNABLE: u8 = 0;
pub(crate) const STATE_RUNNING: u8 = 1 << 4;
pub(crate) const STATE_WAITING: u8 = 2 << 4;
pub(crate) const STATE_MASK: u8 = 3 << 4;

/// `TaskMeta::key` of a task that has not registered (slab keys are far below it).
const UNREGISTERED: u32 = u32::MAX;

/// Per-task data stored inside the `async-task` allocation.
pub(crate) struct TaskMeta {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
    /// Slab key in the registry shard chosen by `id`, or `UNREGISTERED`. Written once, by the
    /// poll that first returns `Pending` (see `goroutine`); it stays while the wrapper lives.
    key: AtomicU32,
    /// The spawn site (`site::intern`), with `BLOCKING` set for a `go_blocking` task.
    site: u16,
    /// Set by `JoinHandle::abort` (the other half of the Dekker pair with `key`).
    aborted: AtomicBool,
    /// What the task is doing (`STATE_*`) and, while it waits, why (`wait::Wait`, the low
    /// bits): written by the thread polling it, and set to `STATE_RUNNABLE` by a wake-up. A
    /// diagnostic only (no protocol reads it), hence std's atomic even under loom.
    pub(crate) status: AtomicU8,
}

/// `TaskMeta::site` of a blocking-pool task.
const BLOCKING: u16 = 0x8000;
const _: () = assert!(site::MAX_SITES < BLOCKING);

// Every byte of the metadata is paid once per goroutine (a million sleeping goroutines).
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<TaskMeta>() == 24);

impl TaskMeta {
    fn new(shared: Arc<Shared>, id: u64, site: u16) -> TaskMeta {
        TaskMeta {
            shared,
            id,
            key: AtomicU32::new(UNREGISTERED),
            site,
            aborted: AtomicBool::new(false),
            status: AtomicU8::new(STATE_RUNNABLE),
        }
    }
}

/// Goroutine ids are handed to each thread in blocks of `1 << ID_BLOCK_SHIFT`.
const ID_BLOCK_SHIFT: u32 = 10;

/// Goroutine ids are unique in the process. Each thread takes them from the global counter in
/// blocks, so spawning does not contend on one cache line.
fn next_task_id() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    const BLOCK: u64 = 1 << ID_BLOCK_SHIFT;
    thread_local! {
        static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    RANGE.with(|r| {
        let (mut next, mut end) = r.get();
        if next == end {
            next = NEXT.fetch_add(BLOCK, Relaxed);
            end = next + BLOCK;
        }
        r.set((next + 1, end));
        next
    })
}

impl Shared {
    /// Spawns `fut` as a goroutine of this runtime.
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        fut: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, task) = self.build_task(fut, location, false, |r, info| {
            super::scheduler::schedule(r, info.woken_while_running)
        });
        if let Some(runnable) = runnable {
            self.schedule_new(runnable);
        }
        JoinHandle::new(task)
    }

    /// Runs the blocking closure `f` on the blocking pool.
    pub(crate) fn spawn_blocking<F, R>(
        self: &Arc<Self>,
        f: F,
        location: &'static Location<'static>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (runnable, task) =
            self.build_task(BlockingFn(Some(f)), location, true, |r: Runnable, _| {
                let shared = r.metadata().shared.clone();
                shared.blocking.push(r, &shared)
            });
        if let Some(runnable) = runnable {
            let shared = self.clone();
            shared.blocking.push(runnable, &shared);
        }
        JoinHandle::new(task)
    }

    /// Allocates the task running `fut`; `None` instead of its `Runnable` if the runtime is
    /// shut down (the task is then cancelled: its future is dropped at once).
    fn build_task<F, S>(
        self: &Arc<Self>,
        fut: F,
        location: &'static Location<'static>,
        blocking: bool,
        schedule: S,
    ) -> (Option<Runnable>, RawHandle<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Fn(Runnable, async_task::ScheduleInfo) + Send + Sync + 'static,
    {
        let site = site::intern(location) | if blocking { BLOCKING } else { 0 };
        let meta = TaskMeta::new(self.clone(), next_task_id(), site);
        // SAFETY: `spawn_unchecked` lifts the `Send`/`'static` checks of `spawn`, so that the
        // future may borrow the task's own metadata (async-task's documented use of the `&M`
        // it hands the closure: the metadata is pinned in the task and outlives the future).
        // The rest holds as `spawn` would check it: `F` is `Send + 'static`, `&TaskMeta` is
        // `Send` (`TaskMeta` is `Sync`), and the schedule closure is `Send + Sync + 'static`.
        let (runnable, task) = unsafe {
            async_task::Builder::new().metadata(meta).spawn_unchecked(
                |meta| Goroutine::new(meta, fut),
                async_task::WithInfo(schedule),
            )
        };
        self.live_add(1);
        if self.is_shutdown() {
            // The runtime is shut down: cancel the task now (drops the future).
            drop(runnable);
            return (None, task);
        }
        (Some(runnable), task)
    }

    /// Adjusts the live-goroutine count in this thread's counter slot.
    pub(crate) fn live_add(&self, n: isize) {
        match super::scheduler::worker::current_of(self) {
            Some(w) => {
                // SAFETY: `current_of` returns the worker running on this thread.
                let index = unsafe { (*w).index() };
                // Only this worker's thread writes its slot: a plain load and store, no
                // locked instruction (twice per goroutine).
                let slot = &self.live[index].0;
                slot.store(slot.load(Relaxed) + n, Relaxed);
                if n > 0 {
                    crate::runtime::metrics::bump(&self.counters[index].spawned);
                }
            }
            // Every other thread shares the last slot.
            None => {
                self.live[self.live.len() - 1].0.fetch_add(n, Relaxed);
                if n > 0 {
                    self.counters[self.live.len() - 1]
                        .spawned
                        .fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// Live goroutines: spawned and not yet finished.
    pub(crate) fn live_count(&self) -> usize {
        self.live
            .iter()
            .map(|c| c.0.load(Relaxed))
            .sum::<isize>()
            .max(0) as usize
    }
}
