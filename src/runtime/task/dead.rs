//! Where a finished goroutine's memory is freed: on a worker that spawns (Go's `gfput` and
//! `gfget`, which recycle dead goroutines per P).
//!
//! # Why
//!
//! A goroutine's task is one allocation, made by the thread that spawns it and, without this,
//! freed by the thread that finishes it. When one worker spawns and another runs what it
//! spawned (a `go` loop, `WaitGroup`-style fan-out), every chunk is freed on a thread whose
//! allocator does not own it: glibc hands it back to the spawner's arena one chunk at a time,
//! and the spawner's next `malloc` takes it from there, so both threads hit the same free
//! lists and cache lines for every goroutine. Measured (1M goroutines, 2 workers): `malloc`
//! internals took 20x the samples they take on one worker, and the spawning loop ran at about
//! 390 ns a goroutine instead of 110.
//!
//! # Algorithm
//!
//! - A goroutine that finishes on a worker of its runtime, detached (async-task drops its
//!   output right there: [`output_dropped`]), keeps its task allocation alive with one waker
//!   clone (a task reference) in that worker's batch (`scheduler::worker::retire`), unless
//!   this thread spawned it (its id is from this thread's current block: the memory is this
//!   thread's already); async-task then frees nothing when it drops its own references. A
//!   goroutine whose `JoinHandle` is held is left alone: the handle frees it where it is
//!   dropped. A full batch ([`BATCH`]) goes to the runtime's list ([`DeadTasks`]), unless
//!   that holds [`MAX_BATCHES`] already: then the worker drops the batch itself (as before).
//! - A worker that spawns takes one batch from the list every [`REUSE_EVERY`] spawns (counted
//!   by its spawn counter, `Shared::live_add`) and drops it: the allocations are freed on the
//!   thread that is about to allocate, whose allocator keeps them at hand for the next
//!   spawns. One batch moves between threads under one lock.
//! - A worker about to park drops its batch and everything in the list, so an idle runtime
//!   holds no dead goroutine; a worker leaving its loop drops its batch; shutdown empties the
//!   list after the workers have left.
//!
//! # Invariants
//!
//! - Only memory is deferred: the goroutine's future was dropped when it finished, and its
//!   output is dropped (or handed to its `JoinHandle`) by async-task as before. Waking a
//!   finished task does nothing; a held waker only keeps the allocation.
//! - At most `MAX_BATCHES * BATCH` dead goroutines wait in the list, and `BATCH - 1` in each
//!   worker's batch: bounded memory whatever the program does.
//! - A dead task's metadata holds its runtime (`Arc<Shared>`), so the list must be emptied
//!   before the runtime can be freed: shutdown does, after the last worker left (no worker
//!   adds to it then).

use super::TaskMeta;
use crate::loom::sync::Mutex;
use crate::loom::Unpoison;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::Waker;

/// Dead goroutines a worker collects before handing them on.
pub(crate) const BATCH: usize = 64;
/// Batches the runtime's list holds at most.
pub(crate) const MAX_BATCHES: usize = 64;
/// A spawning worker takes a batch every this many spawns (faster than one other worker can
/// finish a batch: the list stays short).
pub(crate) const REUSE_EVERY: u32 = 16;

thread_local! {
    /// The goroutine that just finished on this worker, until async-task either drops its
    /// output (no `JoinHandle` left: keep it) or returns from its run (a handle holds it).
    static FINISHING: std::cell::Cell<Option<Waker>> = const { std::cell::Cell::new(None) };
}

/// The goroutine of `meta` finished in a poll with `waker`: remember it for
/// [`output_dropped`] if its memory would be freed on the wrong thread (this is a worker of
/// its runtime, and did not spawn it).
pub(super) fn completing(meta: &TaskMeta, waker: &Waker) {
    if super::spawned_here(meta.id)
        || !crate::runtime::scheduler::worker::is_running_worker_of(&meta.shared)
    {
        return;
    }
    let _ = FINISHING.try_with(|f| f.set(Some(waker.clone())));
}

/// async-task drops a goroutine's output (its `JoinHandle` is gone): if that goroutine just
/// finished here, keep it for a spawner (`worker::retire`).
pub(super) fn output_dropped() {
    if let Some(w) = FINISHING.try_with(|f| f.take()).ok().flatten() {
        crate::runtime::scheduler::worker::retire(w);
    }
}

/// A task's run is over: forget a finished goroutine that was not kept (its handle holds it).
pub(super) fn run_done() {
    let _ = FINISHING.try_with(|f| f.take());
}

/// The runtime's list of dead goroutines' batches.
pub(crate) struct DeadTasks {
    batches: Mutex<Vec<Vec<Waker>>>,
    /// `batches.len()`, read without the lock by spawners that find nothing to take.
    len: AtomicUsize,
}

impl DeadTasks {
    pub(crate) fn new() -> DeadTasks {
        DeadTasks {
            batches: Mutex::new(Vec::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// Adds a full batch; gives it back if the list is full (the caller drops it).
    pub(crate) fn hand_in(&self, batch: Vec<Waker>) -> Option<Vec<Waker>> {
        let mut b = self.batches.lock().unpoison();
        if b.len() >= MAX_BATCHES {
            return Some(batch);
        }
        b.push(batch);
        self.len.store(b.len(), Relaxed);
        None
    }

    /// One batch, if there is one and the lock is free (a spawner never waits for it).
    pub(crate) fn take_one(&self) -> Option<Vec<Waker>> {
        if self.len.load(Relaxed) == 0 {
            return None;
        }
        let mut b = self.batches.try_lock().ok()?;
        let batch = b.pop();
        self.len.store(b.len(), Relaxed);
        batch
    }

    /// Every batch (a worker about to park, shutdown).
    pub(crate) fn take_all(&self) -> Vec<Vec<Waker>> {
        if self.len.load(Relaxed) == 0 {
            return Vec::new();
        }
        let mut b = self.batches.lock().unpoison();
        self.len.store(0, Relaxed);
        std::mem::take(&mut *b)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn batch() -> Vec<Waker> {
        vec![futures::task::noop_waker(); BATCH]
    }

    #[test]
    fn the_list_is_bounded_and_gives_back_what_it_holds() {
        let d = DeadTasks::new();
        assert!(d.take_one().is_none());
        for _ in 0..MAX_BATCHES {
            assert!(d.hand_in(batch()).is_none());
        }
        assert!(d.hand_in(batch()).is_some(), "a full list refuses a batch");
        assert!(d.take_one().is_some());
        assert_eq!(d.take_all().len(), MAX_BATCHES - 1);
        assert!(d.take_one().is_none());
        assert!(d.take_all().is_empty());
    }

    /// Goroutines spawned on one worker and finished on the other are kept for the spawner;
    /// none is left behind: dropping the runtime frees it (a dead task's metadata holds it).
    #[test]
    fn a_runtime_with_dead_goroutines_kept_is_freed_when_dropped() {
        use std::sync::atomic::AtomicUsize;
        let rt = crate::runtime::Builder::new().workers(2).build().unwrap();
        let weak = Arc::downgrade(&rt.handle.shared);
        let done = Arc::new(AtomicUsize::new(0));
        let n = 20_000;
        let shared = rt.handle.shared.clone();
        let d = done.clone();
        let here = std::panic::Location::caller();
        // Detached goroutines spawned by one goroutine, so that the other worker runs many.
        drop(rt.handle.shared.spawn(
            async move {
                for _ in 0..n {
                    let d = d.clone();
                    drop(shared.spawn(
                        async move {
                            d.fetch_add(1, Relaxed);
                        },
                        here,
                    ));
                }
            },
            here,
        ));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while done.load(Relaxed) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the goroutines did not finish"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(rt);
        assert!(
            weak.upgrade().is_none(),
            "the runtime outlived its drop: dead goroutines still hold it"
        );
    }
}
