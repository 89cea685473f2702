//! The registry of waiting goroutines: the one place that says which goroutines of a runtime
//! wait, used by `JoinHandle::abort`, shutdown and `runtime::dump` alike.
//!
//! # Algorithm
//!
//! A task is registered by its wrapper's first poll that returns `Pending` (see `goroutine`),
//! as `async-executor` keeps its `active` slab, but lazily: a goroutine that finishes in its
//! first poll (most short ones) never touches the registry, which keeps its locks off the
//! spawn path. An entry is one of the task's own wakers and its metadata pointer (the
//! metadata its `Runnable` made current for the poll, see `runnable`). It stays until the
//! wrapper is dropped, whatever the task waits on next: a sleeping goroutine is registered
//! like any other.
//!
//! The registry is sharded (one `Mutex<Slab>` per shard) by the thread that registers: each
//! thread takes a shard number once (`thread_shard`), and a task's key names its shard in
//! its low `SHARD_BITS` bits and its slot above them. So two workers registering at once take
//! different locks, and a goroutine registered and finished on one worker (the usual case)
//! keeps that shard's lock in one core's cache. (Sharding by the task's id, as before,
//! put the goroutines one thread spawned into one shard, which both workers then locked at
//! once when the other stole half of them: a million sleeping goroutines spent 14% of their
//! CPU time in the registry, 3.5% of it spinning on a contended shard lock.)
//!
//! Its three uses:
//! - shutdown (`close_and_take`): closes every shard and wakes every registered task, which is
//!   then scheduled into the injection queue and dropped from there (dropping a `Runnable`
//!   drops the future), so the destructors of tasks blocked forever run and nothing leaks. A
//!   task that is not registered is in a run queue (never polled, or woken), and the queues
//!   are drained too;
//! - `JoinHandle::abort` (set the flag, then wake the task if it is registered: its next poll
//!   completes as cancelled);
//! - `runtime::dump` (`snapshot`: every waiting goroutine, with its state).
//!
//! # Invariants
//!
//! - An entry's metadata pointer is valid while the entry exists: the entry's waker keeps the
//!   task allocation, and so its metadata, alive. It is dereferenced only under the shard's
//!   lock, which `remove` also takes.
//! - A task's key, once published, names its own entry until the task removes it: keys are
//!   reused only after `remove`, and a closed shard takes no new entry. `wake` and `remove`
//!   still check the entry's metadata pointer, so a stale key is never someone else's entry.
//! - `abort` vs. registration is a Dekker pair on (`aborted`, `key`): either `abort` sees the
//!   key and wakes the task through its entry, or the registering poll sees the flag and
//!   completes as cancelled instead of returning `Pending`. All four accesses are SeqCst
//!   read-modify-writes (a swap, and `fetch_or` of nothing to read), which always see the
//!   latest value of their location: the pair then holds under loom too, whose plain SeqCst
//!   loads may see stale values (`abort_loom` checks it on this code).
//! - Once a shard is closed (shutdown), nothing is inserted into it; a task that tries to
//!   register then completes as cancelled.
//! - Wakers taken out of the registry are woken and dropped only after its lock is released,
//!   because waking may drop a future whose destructor removes its own entry.

use super::{TaskMeta, BLOCKING, STATE_MASK};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::Unpoison;
use crate::runtime::scheduler::CachePadded;
use crate::runtime::{site, wait};
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Waker;

pub(crate) struct Registry {
    /// One cache line pair per shard: unpadded, two workers' shards (56 bytes each) share a
    /// line, and every registration and removal on one core misses on the other's writes.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    mask: u32,
}

/// A key's low bits name its shard (so at most `1 << SHARD_BITS` shards), the rest its slot.
const SHARD_BITS: u32 = 6;
const SHARD_MASK: u32 = (1 << SHARD_BITS) - 1;
/// Slots per shard; the largest key stays below `UNREGISTERED`.
const MAX_SLOTS: usize = (super::UNREGISTERED >> SHARD_BITS) as usize;

/// This thread's shard number (before masking by a registry's shard count): threads take
/// consecutive numbers, so a runtime's workers, started together, get different shards.
#[cfg(not(loom))]
fn thread_shard() -> u32 {
    use std::cell::Cell;
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    thread_local! {
        static SHARD: Cell<u32> = const { Cell::new(u32::MAX) };
    }
    SHARD.with(|s| {
        let mut n = s.get();
        if n == u32::MAX {
            n = NEXT.fetch_add(1, Relaxed) & SHARD_MASK;
            s.set(n);
        }
        n
    })
}

/// Under loom every model thread registers in shard 0: a process-wide counter would make the
/// lock a thread takes depend on earlier executions, and loom replays executions.
#[cfg(loom)]
fn thread_shard() -> u32 {
    0
}

struct Shard {
    tasks: slab::Slab<Entry>,
    closed: bool,
}

/// A registered task: one of its own wakers, which keeps the allocation alive, and its
/// metadata.
struct Entry {
    waker: Waker,
    meta: *const TaskMeta,
}

// SAFETY: `meta` points at a `TaskMeta`, which is `Sync`, and is only dereferenced under the
// shard's lock while `waker` keeps it alive (see the invariants): sending the entry to another
// thread is sending a `Waker` and a shared reference.
unsafe impl Send for Entry {}

#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Entry>() == 24);

/// A snapshot of one live goroutine, for `dump`.
pub(crate) struct TaskInfo {
    pub(crate) id: u64,
    /// `None` if the process spawned at more sites than `site` names.
    pub(crate) location: Option<&'static Location<'static>>,
    pub(crate) state: u8,
    pub(crate) wait: u8,
    pub(crate) blocking: bool,
}

impl TaskInfo {
    fn of(meta: &TaskMeta) -> TaskInfo {
        let status = meta.status.load(Relaxed);
        TaskInfo {
            id: meta.id,
            location: site::location(meta.site & !BLOCKING),
            state: status & STATE_MASK,
            wait: status & wait::WAIT_MASK,
            blocking: meta.site & BLOCKING != 0,
        }
    }
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        let n = (workers * 4).next_power_of_two().min(1 << SHARD_BITS);
        Registry {
            shards: (0..n)
                .map(|_| {
                    CachePadded(Mutex::new(Shard {
                        tasks: slab::Slab::new(),
                        closed: false,
                    }))
                })
                .collect(),
            mask: n as u32 - 1,
        }
    }

    fn shard(&self, key: u32) -> MutexGuard<'_, Shard> {
        self.shards[(key & SHARD_MASK) as usize].lock().unpoison()
    }

    /// Registers the task of `meta`, woken by `waker` (one of its own), in this thread's
    /// shard; its key, or `None` if the registry is closed.
    pub(super) fn insert(&self, meta: &TaskMeta, waker: Waker) -> Option<u32> {
        let shard_no = thread_shard() & self.mask;
        let mut shard = self.shards[shard_no as usize].lock().unpoison();
        if shard.closed {
            return None;
        }
        let slot = shard.tasks.insert(Entry { waker, meta });
        assert!(slot < MAX_SLOTS, "gorun: registry shard overflow");
        Some((slot as u32) << SHARD_BITS | shard_no)
    }

    /// The entry `key` if it is `meta`'s.
    fn entry_of<'a>(shard: &'a mut Shard, key: u32, meta: &TaskMeta) -> Option<&'a mut Entry> {
        shard
            .tasks
            .get_mut((key >> SHARD_BITS) as usize)
            .filter(|e| std::ptr::eq(e.meta, meta))
    }

    /// Removes the entry `key` of the task of `meta`, if it is still there.
    pub(super) fn remove(&self, meta: &TaskMeta, key: u32) {
        let waker = {
            let mut shard = self.shard(key);
            let mine = Self::entry_of(&mut shard, key, meta).is_some();
            mine.then(|| shard.tasks.remove((key >> SHARD_BITS) as usize).waker)
        };
        // Dropped outside the lock.
        drop(waker);
    }

    /// Wakes the task of `meta` through its entry `key`, if it is still registered.
    pub(super) fn wake(&self, meta: &TaskMeta, key: u32) {
        let waker = {
            let mut shard = self.shard(key);
            Self::entry_of(&mut shard, key, meta).map(|e| e.waker.clone())
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Closes the registry to new tasks and takes the wakers of every waiting task.
    pub(crate) fn close_and_take(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for s in self.shards.iter() {
            let mut shard = s.lock().unpoison();
            shard.closed = true;
            all.extend(shard.tasks.drain().map(|e| e.waker));
        }
        all
    }

    /// Every waiting goroutine, by id.
    pub(crate) fn snapshot(&self) -> Vec<TaskInfo> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let shard = s.lock().unpoison();
            for (_, e) in shard.tasks.iter() {
                // SAFETY: an entry's metadata is alive while the entry is, and the lock keeps
                // the entry (see the invariants).
                out.push(TaskInfo::of(unsafe { &*e.meta }));
            }
        }
        out.sort_by_key(|t| t.id);
        out
    }
}
