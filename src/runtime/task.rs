//! Goroutines as `async-task` tasks: metadata, the wrapper future that catches panics and
//! honours `abort`, the registry of live tasks, `JoinHandle` and `JoinError`.
//!
//! # Design
//!
//! A goroutine is an `async_task` allocation holding the user's future wrapped in
//! [`Goroutine`], plus a [`TaskMeta`] (id, spawn site, owning runtime, abort flag, state).
//! The schedule function captures nothing: it finds the runtime through the metadata. The
//! wrapper holds nothing but the future: it finds the metadata from its own address (see
//! "Layout" below), so a goroutine costs its future plus async-task's 64-byte header (with a
//! 24-byte `TaskMeta`); a million sleeping goroutines are 16 MB less than with a 32-byte
//! `TaskMeta` and a reference in the wrapper (their allocations fall to a smaller malloc size
//! class).
//!
//! Every task that has waited at least once (returned `Pending`) is in the runtime's
//! [`Registry`] with one of its wakers, as `async-executor` keeps its `active` slab, but
//! registered lazily: a goroutine that finishes in its first poll (most short ones) never
//! touches it, which keeps the registry's locks off the spawn path. The registry serves:
//! - shutdown: a task that is not in it is in a run queue (never polled, or woken), and the
//!   queues are drained; a task in it is woken after the workers stopped, so it is scheduled
//!   into the injection queue, which is drained too. Dropping a `Runnable` drops the future,
//!   so the destructors of tasks blocked forever (on a channel nobody will send on) run and
//!   nothing leaks;
//! - `JoinHandle::abort` (set the flag, wake the task if registered: its next poll returns
//!   `Cancelled`);
//! - `runtime::dump` (waiting goroutines).
//!
//! # Sleeping goroutines
//!
//! A goroutine parked in a [`Sleep`](crate::time::Sleep) with its own waker, on its own
//! runtime's driver, has no registry entry: the sleep's wheel entry already holds that waker,
//! so a million sleeping goroutines would otherwise pay for their waker twice (16 bytes and a
//! registry lock round trip each). The sleep marks its entry `task` and records its timer key
//! in a thread-local during the poll (`wait::record_sleep`); the goroutine's poll, on
//! `Pending`, stores `SLEEP_TAG | key` in its metadata instead of registering. The wheel then
//! serves the registry's three uses:
//! - shutdown takes the wakers of every `task` entry (`take_task_sleep_wakers`) with the
//!   registry's, and wakes them;
//! - `abort` wakes the entry its metadata names, if that entry still holds this task's waker
//!   (the metadata found from the waker is the task's own); if not, the sleep fired, which
//!   woke the task;
//! - `dump` lists the `task` entries whose task names them.
//!
//! A goroutine that waits in any other way (or whose sleep was not recorded in this poll)
//! registers as before, and stays registered. A sleep that completes or is dropped during the
//! poll that recorded it clears the record (`wait::forget_sleep`): its entry is gone and must
//! not stand for the goroutine.
//!
//! `num_goroutine` comes from per-thread counters instead (spawns minus finishes), so that
//! neither spawning nor finishing writes a cache line another worker writes.
//!
//! The registry is sharded by task id (one `Mutex<Slab>` per shard), by the id's *block*: ids
//! come to each thread in blocks of 1024, so the goroutines one worker spawns share a shard,
//! and a goroutine registered and finished on the worker that spawned it (the usual case: a
//! spawned goroutine goes to `runnext`) keeps that shard's lock in one core's cache.
//!
//! # Invariants
//!
//! - A task is registered, before its first `Pending` is returned, until its wrapper future
//!   is dropped (at completion or cancellation); its metadata, found from the entry's waker,
//!   is valid that long because that waker keeps the task allocation alive.
//! - `abort` vs. registration is a Dekker pair on (`aborted`, `key`): either `abort` sees the
//!   key and wakes the task, or the poll that registers sees the flag and completes as
//!   cancelled instead of returning `Pending`. All four accesses are SeqCst read-modify-writes
//!   (a swap, and `fetch_or` of nothing to read), which always see the latest value of their
//!   location: the pair then holds under loom too, whose plain SeqCst loads may see stale
//!   values (`task_loom` models it). The same holds for a sleep key: a poll that parks in a
//!   new sleep stores its key and then re-checks the flag; if `abort` read an older sleep key,
//!   that sleep has fired (a task is polled again only once woken), and the poll running since
//!   then re-checks the flag before it can park again.
//! - A `task` sleep entry holds the own waker of a goroutine of the wheel's runtime (checked by
//!   identity against the waker of the goroutine being polled, and its offset to the metadata
//!   checked before the key is published), so the metadata found from it is valid while the
//!   wheel's lock is held.
//! - Once a shard is closed (shutdown), nothing is inserted into it; a task that tries to
//!   register then completes as cancelled.
//! - Wakers taken out of the registry are woken only after its lock is released, because
//!   waking may drop a future whose destructor removes its own entry.

use super::scheduler::Shared;
use super::{site, PanicPolicy};
use crate::loom::Unpoison;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// The `async-task` handle behind a [`JoinHandle`].
type RawHandle<T> = async_task::Task<Contained<Result<T, JoinError>>, TaskMeta>;

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
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
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

/// Tags a `TaskMeta::key` that is the timer key of the sleep the task is parked in instead
/// of a registry key (timer keys are below 2^31, registry keys are kept below it).
const SLEEP_TAG: u32 = 1 << 31;

/// Per-task data stored inside the `async-task` allocation.
pub(crate) struct TaskMeta {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u64,
    /// Slab key in the registry shard chosen by `id`; or `SLEEP_TAG | timer key` while the
    /// task is not registered and last parked in that sleep; or `UNREGISTERED`. A registry
    /// key, once written (by a poll that returns `Pending`), stays.
    key: AtomicU32,
    /// The spawn site (`site::intern`), with `BLOCKING` set for a `go_blocking` task.
    site: u16,
    aborted: AtomicBool,
    /// What the task is doing (`STATE_*`) and, while it waits, why (`wait::Wait`, the low
    /// bits): written by the thread polling it, and set to `STATE_RUNNABLE` by a wake-up.
    pub(crate) status: AtomicU8,
}

/// `TaskMeta::site` of a blocking-pool task.
const BLOCKING: u16 = 0x8000;
const _: () = assert!(site::MAX_SITES < BLOCKING);

// Every byte of the metadata is paid once per goroutine (a million sleeping goroutines), and
// so is every byte of a registry entry. With 24 bytes the task header is 64 (see "Layout").
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<TaskMeta>() == 24);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Entry>() == 16);

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

    /// Allocates the task running `fut` (see "Layout"): a future aligned beyond what the
    /// layout probe checked, or one async-task would box itself, is boxed first.
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
        if !Goroutine::<F>::IN_PLACE {
            self.build_task_in_place(Box::pin(fut), location, blocking, schedule)
        } else {
            self.build_task_in_place(fut, location, blocking, schedule)
        }
    }

    fn build_task_in_place<F, S>(
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
        // The schedule function takes no room in the task (it finds the runtime through the
        // metadata), as the layout probe assumes.
        const { assert!(std::mem::size_of::<S>() == 0) };
        assert!(
            Goroutine::<F>::IN_PLACE,
            "gorun: a future too large or too aligned to be kept in its task was not boxed"
        );
        layout_of(self);
        let site = site::intern(location) | if blocking { BLOCKING } else { 0 };
        let meta = TaskMeta::new(self.clone(), next_task_id(), site);
        // SAFETY: `spawn_unchecked` lifts the `Send`/`'static` checks of `spawn`. They hold
        // here: `F` is `Send + 'static` and the schedule closure is `Send + Sync + 'static`.
        let (runnable, task) = unsafe {
            async_task::Builder::new().metadata(meta).spawn_unchecked(
                |_| Goroutine {
                    fut: std::mem::ManuallyDrop::new(fut),
                },
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

/// The user's future, with panics caught and `abort` honoured. It finds its task's metadata
/// from its own place in the task allocation (see "Layout"), so it is exactly as big as the
/// user's future.
struct Goroutine<F: Future> {
    /// Dropped in place by `Goroutine::drop`, under `catch_unwind`: async-task aborts the
    /// process if dropping a task's future panics, and a panicking `Drop` in a goroutine must
    /// be contained like any other panic.
    fut: std::mem::ManuallyDrop<F>,
}

impl<F: Future> Goroutine<F> {
    /// The alignment of the task allocation's union of future and output, which async-task
    /// places right after the header (and the zero-sized schedule function).
    const UNION_ALIGN: usize = {
        let f = std::mem::align_of::<Self>();
        let r = std::mem::align_of::<Result<GoroutineOutput<F::Output>, Box<dyn Any + Send>>>();
        if f > r {
            f
        } else {
            r
        }
    };

    /// Whether the task keeps this future in place, where `meta` looks for it: async-task
    /// boxes a future of `MAX_IN_PLACE_SIZE` bytes or more itself, and the layout probe checked
    /// alignments up to `MAX_PROBED_ALIGN`; `build_task` boxes the others first.
    const IN_PLACE: bool =
        Self::UNION_ALIGN <= MAX_PROBED_ALIGN && std::mem::size_of::<Self>() < MAX_IN_PLACE_SIZE;

    /// The metadata of the task this future lives in.
    fn meta(&self) -> &TaskMeta {
        let layout = layout();
        let to_future = layout.header.next_multiple_of(Self::UNION_ALIGN);
        // SAFETY: async-task keeps this future in the task allocation `to_future` bytes after
        // its start, and the metadata `layout.meta` bytes after it (as the layout probe checked
        // for every alignment up to `MAX_PROBED_ALIGN`, and `build_task` boxes futures aligned
        // beyond that); the metadata lives, unchanged but for its atomics, for as long as the
        // future does. The pointer is derived from `self` outside `self`'s bytes, within the
        // same allocation (the `container_of` pattern).
        unsafe {
            &*(self as *const Self)
                .cast::<u8>()
                .wrapping_sub(to_future)
                .wrapping_add(layout.meta)
                .cast::<TaskMeta>()
        }
    }
}

/// What a goroutine's task stores as its output.
type GoroutineOutput<T> = Contained<Result<T, JoinError>>;

impl<F: Future> Future for Goroutine<F> {
    type Output = GoroutineOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of `self` and is dropped
        // in place.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: the metadata is not part of the future: no `&mut` overlaps it.
        let meta = unsafe { &*(this.meta() as *const TaskMeta) };
        // async-task polls a task with its own waker, which points at the task allocation: a
        // cheap check that the metadata was found where it is.
        check_meta_offset(meta, cx.waker());
        if meta.aborted.load(Acquire) {
            return Poll::Ready(Contained::new(Err(JoinError::cancelled(meta.id))));
        }
        // SAFETY: see above: `fut` stays pinned inside the pinned `Goroutine`.
        let fut = unsafe { Pin::new_unchecked(&mut *this.fut) };
        let own = super::wait::OwnWaker::new(cx.waker(), meta.shared.driver());
        // `polling` marks the task running (and not waiting on anything yet).
        match super::wait::polling(&meta.status, Some(own), || {
            catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
        }) {
            Ok(Poll::Pending) => {
                let key = meta.key.load(Relaxed);
                if key == UNREGISTERED || key & SLEEP_TAG != 0 {
                    // Not in the registry. A goroutine parked in a sleep with its own waker
                    // stays out of it: the wheel entry stands for it (see "Sleeping
                    // goroutines"). Otherwise it registers now. Either way `aborted` is
                    // checked again after publishing where it waits (see the invariants).
                    if let Some(sleep) = super::wait::take_sleep() {
                        meta.key.swap(SLEEP_TAG | sleep, SeqCst);
                    } else {
                        match meta.shared.registry.insert(meta.id, cx.waker().clone()) {
                            Some(key) => {
                                meta.key.swap(key as u32, SeqCst);
                            }
                            None => {
                                return Poll::Ready(Contained::new(Err(JoinError::cancelled(
                                    meta.id,
                                ))))
                            }
                        }
                    }
                    if meta.aborted.fetch_or(false, SeqCst) {
                        return Poll::Ready(Contained::new(Err(JoinError::cancelled(meta.id))));
                    }
                }
                // Unless a wake-up already marked it runnable during the poll. A load and a
                // store, not a CAS: a wake landing between them leaves a runnable task shown as
                // waiting in a dump until it runs, which is harmless for a diagnostic and keeps
                // a locked instruction off every poll.
                let status = meta.status.load(Relaxed);
                if status & STATE_MASK == STATE_RUNNING {
                    meta.status
                        .store(status & super::wait::WAIT_MASK | STATE_WAITING, Relaxed);
                }
                Poll::Pending
            }
            Ok(Poll::Ready(v)) => Poll::Ready(Contained::new(Ok(v))),
            Err(payload) => {
                report_panic(meta, &*payload, "");
                Poll::Ready(Contained::new(Err(JoinError::panic(meta.id, payload))))
            }
        }
    }
}

impl<F: Future> Drop for Goroutine<F> {
    fn drop(&mut self) {
        // SAFETY: the metadata is not part of the future: no `&mut` overlaps it.
        let meta = unsafe { &*(self.meta() as *const TaskMeta) };
        let fut = &mut self.fut;
        // SAFETY: `fut` is dropped exactly once, here, in place (it is pinned: it must not move,
        // and it does not); nothing touches it afterwards.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            std::mem::ManuallyDrop::drop(fut)
        }));
        if let Err(payload) = dropped {
            report_panic(meta, &*payload, " (while dropping it)");
        }
        let key = meta.key.load(Relaxed);
        if key & SLEEP_TAG == 0 {
            meta.shared.registry.remove(meta.id, key as usize, meta);
        }
        meta.shared.live_add(-1);
    }
}

/// Prints `goroutine N panicked: MSG`, and exits with status 2 under `PanicPolicy::Abort`.
fn report_panic(meta: &TaskMeta, payload: &(dyn Any + Send), when: &str) {
    let msg = panic_message(payload);
    eprintln!("goroutine {} panicked{when}: {msg}", meta.id);
    if meta.shared.config.panic_policy == PanicPolicy::Abort {
        eprintln!("gorun: PanicPolicy::Abort: exiting with status 2");
        std::process::exit(2);
    }
}

/// A blocking closure as a future that completes in its first poll.
struct BlockingFn<F>(Option<F>);

// The closure is never pinned structurally: it is moved out before being called.
impl<F> Unpin for BlockingFn<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingFn<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        Poll::Ready(f())
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

// ---------------------------------------------------------------------------------------------
// Registry

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    mask: u64,
}

struct Shard {
    tasks: slab::Slab<Entry>,
    closed: bool,
}

/// A registered task: one of its own wakers, which keeps the allocation alive. 16 bytes: the
/// task's metadata is found from the waker (see [`meta_of`]) instead of being stored beside it.
struct Entry {
    waker: Waker,
}

// ---------------------------------------------------------------------------------------------
// Layout

/// Where async-task puts things in a task allocation, in bytes from its start (what the
/// task's wakers point at): the end of the header, and the metadata inside the header.
///
/// async-task lays a task out as its header (which holds the metadata), then the schedule
/// function (zero-sized here: `build_task` checks it), then the union of the future and its
/// output at that union's alignment, and the header's type depends only on the metadata's
/// type. So the future's offset is `header` rounded up to the union's alignment, the same for
/// every goroutine whose future and output are as aligned, and the metadata's offset is the
/// same for all. [`probe_layout`] measures both from real tasks the first time a task is built,
/// and checks the rounding for every alignment up to [`MAX_PROBED_ALIGN`], so a change in
/// async-task's layout stops the program with a clear message instead of misreading memory.
/// Every poll checks again that the metadata a goroutine finds from its own address is the one
/// its waker points at (`check_meta_offset`).
struct TaskLayout {
    header: usize,
    meta: usize,
}

static LAYOUT: std::sync::OnceLock<TaskLayout> = std::sync::OnceLock::new();

/// The largest alignment of a future (with its output) kept in place in its task; more
/// aligned ones are boxed (they are rare: 128 covers cache-line padded types).
const MAX_PROBED_ALIGN: usize = 128;

/// async-task (4.7) boxes a future of this many bytes or more and keeps the box in the task:
/// such a goroutine is boxed by `build_task` instead, so the wrapper in the task is always
/// where `Goroutine::meta` looks. The layout probe checks that a future just below this size
/// is kept in place.
const MAX_IN_PLACE_SIZE: usize = 2048;

/// The layout, measured by the first task built in this process.
#[inline]
fn layout() -> &'static TaskLayout {
    LAYOUT
        .get()
        .expect("gorun: a goroutine exists before the task layout was measured")
}

/// The layout, measured now if it was not yet (with a probe task of `shared`).
#[inline]
fn layout_of(shared: &Arc<Shared>) -> &'static TaskLayout {
    LAYOUT.get_or_init(|| probe_layout(shared))
}

/// Builds and runs (on this thread) a probe task for each alignment from 8 to
/// `MAX_PROBED_ALIGN`, and one just below `MAX_IN_PLACE_SIZE`, each recording where its future
/// and metadata are; checks that they are where [`TaskLayout`] says.
#[cold]
fn probe_layout(shared: &Arc<Shared>) -> TaskLayout {
    use std::cell::Cell;

    /// A future that records its offset and its metadata's from the task start.
    struct Probe<'a, A> {
        meta: &'a TaskMeta,
        out: &'a Cell<(usize, usize)>,
        _filler: A,
    }
    impl<A> Future for Probe<'_, A> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let base = cx.waker().data() as usize;
            let me = &*self as *const Self as usize;
            let meta = self.meta as *const TaskMeta as usize;
            self.out
                .set((me.wrapping_sub(base), meta.wrapping_sub(base)));
            Poll::Ready(())
        }
    }
    /// Runs a probe whose `filler` gives it its alignment (or its size).
    fn probe<A: Send + 'static>(shared: &Arc<Shared>, filler: A) -> (usize, usize) {
        let out = Cell::new((usize::MAX, usize::MAX));
        let meta = TaskMeta::new(shared.clone(), 0, site::UNKNOWN);
        // SAFETY: the probe borrows `out` and the task's own metadata; it is polled to
        // completion below, on this thread, before `out` goes away (it never waits, so it is
        // never scheduled). The schedule function is zero-sized, as for every goroutine.
        let (runnable, task) = unsafe {
            async_task::Builder::new().metadata(meta).spawn_unchecked(
                |meta| Probe {
                    meta,
                    out: &out,
                    _filler: filler,
                },
                async_task::WithInfo(|_: Runnable, _: async_task::ScheduleInfo| {}),
            )
        };
        runnable.run();
        assert!(task.is_finished(), "gorun: the layout probe did not run");
        drop(task);
        out.get()
    }
    #[repr(align(16))]
    struct A16;
    #[repr(align(32))]
    struct A32;
    #[repr(align(64))]
    struct A64;
    #[repr(align(128))]
    struct A128;
    const _: () = assert!(MAX_PROBED_ALIGN == 128);

    let (header, meta) = probe(shared, ());
    let layout = TaskLayout { header, meta };
    // The largest future (with the probe's two references) kept in place.
    let big = probe(shared, [0u64; MAX_IN_PLACE_SIZE / 8 - 3]);
    assert!(
        big == (header, meta),
        "gorun: async-task boxes futures smaller than {MAX_IN_PLACE_SIZE} bytes"
    );
    for (align, (future, m)) in [
        (16, probe(shared, A16)),
        (32, probe(shared, A32)),
        (64, probe(shared, A64)),
        (128, probe(shared, A128)),
    ] {
        assert!(
            future == layout.header.next_multiple_of(align) && m == layout.meta,
            "gorun: async-task lays out tasks as this version of gorun does not expect \
             (a future aligned to {align} at {future}, header {header})"
        );
    }
    layout
}

/// Checks that `meta` is the metadata of the task whose own `waker` this is: a goroutine
/// about to be found through its waker alone (a registry entry, a sleep entry) is checked so
/// at every poll.
#[inline]
fn check_meta_offset(meta: &TaskMeta, waker: &Waker) {
    let offset = (meta as *const TaskMeta as usize).wrapping_sub(waker.data() as usize);
    let expected = layout().meta;
    if offset != expected {
        meta_offset_mismatch(offset, expected);
    }
}

#[cold]
#[inline(never)]
fn meta_offset_mismatch(offset: usize, expected: usize) -> ! {
    panic!(
        "gorun: a goroutine's waker does not point at its task (async-task layout changed: \
         metadata at {offset}, expected {expected})"
    );
}

/// The metadata of the task `waker` wakes.
///
/// # Safety
/// `waker` must be a goroutine's own waker, checked by [`check_meta_offset`] (a registry
/// entry's, or a sleep entry's marked `task`), and the task must be kept alive meanwhile (the
/// caller holds the lock of the registry shard or wheel whose entry owns `waker`).
pub(crate) unsafe fn meta_of_waker(waker: &Waker) -> &TaskMeta {
    // SAFETY: `check_meta_offset` checked that `data + layout().meta` is this task's
    // metadata; the caller keeps the allocation alive.
    unsafe {
        &*(waker.data() as *const u8)
            .add(layout().meta)
            .cast::<TaskMeta>()
    }
}

/// The metadata of the task `entry` wakes.
///
/// # Safety
/// `entry` must be a registry entry and the caller must hold its shard's lock.
unsafe fn meta_of(entry: &Entry) -> &TaskMeta {
    // SAFETY: a registry entry's waker was checked at insertion; the lock keeps it alive.
    unsafe { meta_of_waker(&entry.waker) }
}

/// A snapshot of one live goroutine, for `dump`.
pub(crate) struct TaskInfo {
    pub(crate) id: u64,
    /// `None` if the process spawned at more sites than `site` names.
    pub(crate) location: Option<&'static Location<'static>>,
    pub(crate) state: u8,
    pub(crate) wait: u8,
    pub(crate) blocking: bool,
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        let n = (workers * 4).next_power_of_two();
        Registry {
            shards: (0..n)
                .map(|_| {
                    Mutex::new(Shard {
                        tasks: slab::Slab::new(),
                        closed: false,
                    })
                })
                .collect(),
            mask: n as u64 - 1,
        }
    }

    fn shard(&self, id: u64) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[((id >> ID_BLOCK_SHIFT) & self.mask) as usize]
            .lock()
            .unpoison()
    }

    fn insert(&self, id: u64, waker: Waker) -> Option<usize> {
        let mut shard = self.shard(id);
        if shard.closed {
            return None;
        }
        // The metadata found from `waker` is the task's own: the registering poll checked it
        // (`check_meta_offset`).
        let key = shard.tasks.insert(Entry { waker });
        assert!(key < SLEEP_TAG as usize, "gorun: registry shard overflow");
        Some(key)
    }

    fn remove(&self, id: u64, key: usize, meta: &TaskMeta) {
        let waker = {
            let mut shard = self.shard(id);
            match shard.tasks.get(key) {
                // SAFETY: a registry entry, under its shard's lock.
                Some(e) if std::ptr::eq(unsafe { meta_of(e) }, meta) => {
                    Some(shard.tasks.remove(key).waker)
                }
                _ => None,
            }
        };
        // Dropped outside the lock.
        drop(waker);
    }

    /// Wakes the task whose entry is `(id, key, meta)`, if it is still registered.
    fn wake(&self, id: u64, key: usize, meta: &TaskMeta) {
        let waker = {
            let shard = self.shard(id);
            match shard.tasks.get(key) {
                // SAFETY: a registry entry, under its shard's lock.
                Some(e) if std::ptr::eq(unsafe { meta_of(e) }, meta) => Some(e.waker.clone()),
                _ => None,
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Closes the registry to new tasks and takes the wakers of every live task.
    pub(crate) fn close_and_take(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for s in self.shards.iter() {
            let mut shard = s.lock().unpoison();
            shard.closed = true;
            all.extend(shard.tasks.drain().map(|e| e.waker));
        }
        all
    }

    /// Every registered goroutine.
    fn snapshot(&self) -> Vec<TaskInfo> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let shard = s.lock().unpoison();
            for (_, e) in shard.tasks.iter() {
                // SAFETY: a registry entry, under its shard's lock.
                out.push(TaskInfo::of(unsafe { meta_of(e) }));
            }
        }
        out
    }
}

impl Shared {
    /// Every waiting goroutine, by id: the registered ones and those a sleep's wheel entry
    /// stands for (see "Sleeping goroutines").
    pub(crate) fn waiting_tasks(&self) -> Vec<TaskInfo> {
        let mut out = self.registry.snapshot();
        self.driver().for_each_task_sleep(|key, waker| {
            // SAFETY: a `task` sleep entry, under its wheel's lock.
            let meta = unsafe { meta_of_waker(waker) };
            // Listed here only while it stands for the task (not a registered task's sleep).
            if meta.key.load(Relaxed) == SLEEP_TAG | key {
                out.push(TaskInfo::of(meta));
            }
        });
        out.sort_by_key(|t| t.id);
        out
    }
}

impl TaskInfo {
    fn of(meta: &TaskMeta) -> TaskInfo {
        let status = meta.status.load(Relaxed);
        TaskInfo {
            id: meta.id,
            location: site::location(meta.site & !BLOCKING),
            state: status & STATE_MASK,
            wait: status & super::wait::WAIT_MASK,
            blocking: meta.site & BLOCKING != 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JoinHandle and JoinError

/// An owned permission to await a goroutine's result.
///
/// Awaiting it gives `Ok(value)`, or a [`JoinError`] if the goroutine panicked or was
/// cancelled (by [`abort`](JoinHandle::abort) or runtime shutdown). Dropping it *detaches* the
/// goroutine: it keeps running, as a `go` statement's goroutine does in Go.
///
/// ```
/// # gorun::block_on(async {
/// let h = gorun::go(async { 6 * 7 });
/// assert_eq!(h.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    /// `None` once the result was taken.
    task: Option<async_task::FallibleTask<Contained<Result<T, JoinError>>, TaskMeta>>,
    /// The task's metadata; valid while `task` is `Some` (the task handle keeps the
    /// allocation alive).
    meta: *const TaskMeta,
    id: u64,
}

// SAFETY: `meta` is only dereferenced while `task` keeps the allocation alive, and `TaskMeta`
// is `Sync`; the rest is `FallibleTask`, which is `Send`/`Sync` for `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` only reads `TaskMeta` atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    fn new(task: RawHandle<T>) -> Self {
        let meta: *const TaskMeta = task.metadata();
        let id = task.metadata().id;
        JoinHandle {
            task: Some(task.fallible()),
            meta,
            id,
        }
    }

    /// The task's metadata, while the task handle is held.
    fn meta(&self) -> Option<&TaskMeta> {
        // SAFETY: `meta` is valid while `task` is `Some` (see the field's comment).
        self.task.as_ref().map(|_| unsafe { &*self.meta })
    }

    /// Cancels the goroutine: its future is dropped at its next scheduling point (or at once,
    /// if it is waiting), and awaiting this handle gives a `JoinError` whose
    /// [`is_cancelled`](JoinError::is_cancelled) is true. A goroutine that already finished
    /// keeps its result.
    ///
    /// ```
    /// # gorun::block_on(async {
    /// let h = gorun::go(std::future::pending::<()>());
    /// h.abort();
    /// assert!(h.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        let Some(meta) = self.meta() else { return };
        meta.aborted.swap(true, SeqCst);
        let key = meta.key.fetch_or(0, SeqCst);
        if key == UNREGISTERED {
            // Never waited: its next poll sees the flag.
        } else if key & SLEEP_TAG != 0 {
            // Parked in a sleep (or was: if that entry is gone or someone else's, the sleep
            // fired and woke the task, whose next poll sees the flag).
            let waker = meta
                .shared
                .driver()
                .task_sleep_waker(key & !SLEEP_TAG, |w| {
                    // SAFETY: a `task` entry holds a goroutine's own waker, under the wheel lock.
                    std::ptr::eq(unsafe { meta_of_waker(w) }, meta)
                });
            if let Some(w) = waker {
                w.wake();
            }
        } else {
            meta.shared.registry.wake(meta.id, key as usize, meta);
        }
    }

    /// Whether the goroutine has finished (returned, panicked or was cancelled).
    ///
    /// ```
    /// # gorun::block_on(async {
    /// let h = gorun::go(async {});
    /// while !h.is_finished() { gorun::yield_now().await; }
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// The goroutine's id, as shown by [`runtime::dump`](crate::runtime::dump) and in panic
    /// messages.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after completion");
        match Pin::new(task).poll(cx) {
            Poll::Pending => super::pending(super::Wait::Join),
            Poll::Ready(out) => {
                self.task = None;
                Poll::Ready(
                    out.map_or_else(|| Err(JoinError::cancelled(id)), Contained::into_inner),
                )
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a goroutine gave no value: it panicked, or it was cancelled.
///
/// ```
/// # gorun::runtime::Builder::new().build().unwrap().block_on(async {
/// let err = gorun::go(async { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// # });
/// ```
pub struct JoinError {
    id: u64,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(SyncPayload),
}

/// The panic payload, made `Sync` by never handing out a shared reference to it.
struct SyncPayload(Box<dyn Any + Send + 'static>);

// SAFETY: the payload leaves only by value (`into_panic`, `try_into_panic`). Through `&self`
// the only uses are `type_id` (reads no data) and downcasts to `&'static str` or `String`,
// which are `Sync`; no `&dyn Any` escapes, so sharing `&JoinError` cannot race on a `!Sync`
// payload.
unsafe impl Sync for SyncPayload {}

impl JoinError {
    pub(crate) fn cancelled(id: u64) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    fn panic(id: u64, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(SyncPayload(payload)),
        }
    }

    /// Whether the goroutine panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// Whether the goroutine was cancelled (`abort` or runtime shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The id of the goroutine this error is about.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The panic payload, to re-raise it with `std::panic::resume_unwind` (Go's `recover`
    /// value). Panics if the goroutine was cancelled instead.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancelled goroutine's error")
    }

    /// The panic payload, or the error itself if the goroutine was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.0),
            Repr::Cancelled => Err(self),
        }
    }

    fn message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(p) => {
                let any: &(dyn Any + Send) = &*p.0;
                if let Some(s) = any.downcast_ref::<&'static str>() {
                    Some(s)
                } else {
                    any.downcast_ref::<String>().map(|s| s.as_str())
                }
            }
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.message()) {
            (Repr::Cancelled, _) => write!(f, "goroutine {} was cancelled", self.id),
            (Repr::Panic(_), Some(m)) => write!(f, "goroutine {} panicked: {m}", self.id),
            (Repr::Panic(_), None) => write!(f, "goroutine {} panicked", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.message()) {
            (Repr::Cancelled, _) => write!(f, "JoinError::Cancelled({})", self.id),
            (Repr::Panic(_), Some(m)) => write!(f, "JoinError::Panic({}, {m:?})", self.id),
            (Repr::Panic(_), None) => write!(f, "JoinError::Panic({}, ..)", self.id),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}

/// The sizes that make a goroutine's task, for `time::sleep`'s test of the `sleep` benchmark's
/// goroutine (it can name `WaitGroup` and `Sleep`; the runtime, below them, cannot): async-task's
/// header with the metadata (measured by the first spawn, which must have happened), the
/// wrapper around `fut`, and `fut` itself; and the wrapped output of a `()` goroutine.
#[cfg(all(test, not(loom), target_pointer_width = "64"))]
pub(crate) fn goroutine_sizes<F: Future>(fut: &F) -> GoroutineSizes {
    GoroutineSizes {
        header: layout().header,
        wrapper: std::mem::size_of::<Goroutine<F>>(),
        future: std::mem::size_of_val(fut),
        output: std::mem::size_of::<Result<GoroutineOutput<()>, Box<dyn Any + Send>>>(),
    }
}

/// See [`goroutine_sizes`].
#[cfg(all(test, not(loom), target_pointer_width = "64"))]
pub(crate) struct GoroutineSizes {
    pub(crate) header: usize,
    pub(crate) wrapper: usize,
    pub(crate) future: usize,
    pub(crate) output: usize,
}
