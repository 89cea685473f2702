//! Goroutines as `async-task` tasks: the metadata every task carries, and spawning.
//!
//! # Design
//!
//! A goroutine is an `async_task` allocation holding the user's future wrapped in a
//! [`goroutine::Goroutine`] (which catches panics and honours `abort`), plus a
//! [`TaskMeta`] (id, spawn site, owning runtime, abort flag, registry key, state). gorun
//! reaches the metadata only through async-task's public API, and spawns with its safe
//! `Builder::spawn`:
//! - the schedule function and the run queues read it from `Runnable::metadata`, and
//!   `JoinHandle` from `Task::metadata`;
//! - the wrapper finds it as the metadata of the `Runnable` being run or dropped on its thread
//!   (`runnable`: gorun's `Runnable` makes it current around `run` and its drop, the only
//!   places async-task polls or drops a task's future), so the wrapper adds nothing to the
//!   user's future. (Keeping the `&M` async-task hands the closure that builds the future
//!   would work too, at 8 bytes per goroutine: 16 MB more for a million sleeping ones, whose
//!   tasks would move up a malloc size class.)
//! - the registry (`registry`) keeps the metadata pointer beside each waiting task's waker,
//!   which keeps the task, and with it the metadata, alive.
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
//! - `runnable.rs`: gorun's `Runnable`, which makes its task's metadata current while it is
//!   run or dropped;
//! - `goroutine.rs`: the wrapper future (panics, abort, registration);
//! - `registry.rs`: the registry of waiting goroutines (abort, shutdown, dump);
//! - `dead.rs`: where a finished goroutine's memory is freed (on a worker that spawns);
//! - `join.rs`: [`JoinHandle`] and [`JoinError`];
//! - `abort_loom.rs`: the loom model of `abort` against registration, on this code.

#[cfg(all(test, loom))]
mod abort_loom;
mod dead;
mod goroutine;
mod join;
mod registry;
mod runnable;

pub(crate) use dead::{DeadTasks, BATCH as DEAD_BATCH, REUSE_EVERY as DEAD_REUSE_EVERY};
#[cfg(all(test, not(loom)))]
pub(crate) use goroutine::goroutine_sizes;
pub(crate) use goroutine::panic_message;
pub use join::{JoinError, JoinHandle};
pub(crate) use registry::{Registry, TaskInfo};
pub(crate) use runnable::Runnable;

use super::scheduler::Shared;
use super::site;
use crate::loom::sync::atomic::{AtomicBool, AtomicU32};
use goroutine::{BlockingFn, Goroutine};
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

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
        // async-task drops the output of a goroutine whose `JoinHandle` is gone: its memory
        // is freed where this worker decides (`dead`).
        dead::output_dropped();
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
    /// The registry key (shard and slot, see `registry`), or `UNREGISTERED`. Written once, by the
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

const ID_BLOCK: u64 = 1 << ID_BLOCK_SHIFT;

thread_local! {
    /// The rest of this thread's block of ids: `(next, end)`.
    static ID_RANGE: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Goroutine ids are unique in the process. Each thread takes them from the global counter in
/// blocks, so spawning does not contend on one cache line.
fn next_task_id() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    ID_RANGE.with(|r| {
        let (mut next, mut end) = r.get();
        if next == end {
            next = NEXT.fetch_add(ID_BLOCK, Relaxed);
            end = next + ID_BLOCK;
        }
        r.set((next + 1, end));
        next
    })
}

/// Whether goroutine `id` was spawned on this thread recently (its id is from this thread's
/// current block): then its memory came from this thread's allocator (`task::dead`).
pub(crate) fn spawned_here(id: u64) -> bool {
    ID_RANGE
        .try_with(|r| {
            let (_, end) = r.get();
            end != 0 && id < end && id >= end - ID_BLOCK
        })
        .unwrap_or(false)
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
        let (runnable, task) = async_task::Builder::new().metadata(meta).spawn(
            |_| Goroutine::new(fut),
            // Every `Runnable` of the task is wrapped at once (see `runnable`).
            async_task::WithInfo(move |r, info| schedule(Runnable::new(r), info)),
        );
        let runnable = Runnable::new(runnable);
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
                    let spawned = &self.counters[index].spawned;
                    let count = spawned.load(Relaxed).wrapping_add(1);
                    spawned.store(count, Relaxed);
                    // Every few spawns, free a batch of dead goroutines here, where the next
                    // spawns will allocate (`dead`).
                    if count % u64::from(DEAD_REUSE_EVERY) == 0 {
                        drop(self.dead.take_one());
                    }
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
