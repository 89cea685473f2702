//! The global injection queue: tasks scheduled from outside the runtime's workers, and the
//! overflow of full local queues.
//!
//! # Design
//!
//! A `VecDeque` under a mutex, moved in batches, as Go's global run queue (`sched.runq` under
//! `sched.lock`: `runqputslow` spills half a local queue in one acquisition, `globrunqget` takes
//! a fair share in one) and tokio's inject queue. The traffic on this queue is mostly batches:
//! a goroutine spawning a million others spills 129 tasks at a time, and an idle worker takes
//! up to 128 at a time, so one lock acquisition per batch beats a lock-free queue's one CAS per
//! task in each direction (measured in the commit that introduced it). The queue costs 8 bytes
//! a task, and its buffer is given back when it empties after a burst.
//!
//! `len` mirrors the length outside the lock so that workers can look at the queue (the
//! every-61st-tick check, the last searcher before parking) without taking the lock. It is
//! written only under the lock; a reader may see a stale value, which is harmless: an empty
//! queue read as non-empty costs one lock acquisition, and a push read as missing is covered
//! by the notification that follows every push (`Shared::schedule_remote`), whose RMW on the
//! idle state orders it after the push.

use super::queue::Overflow;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use std::collections::VecDeque;

/// A buffer left this large by a burst is freed when the queue empties.
const KEEP_CAPACITY: usize = 4096;

pub(crate) struct Inject<T> {
    queue: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Self {
        Inject {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, VecDeque<T>> {
        // No code panics while holding the lock (pushes and pops of pointers) except on
        // allocation failure; a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, task: T) {
        let mut q = self.lock();
        q.push_back(task);
        self.len.store(q.len(), Release);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.lock();
        let t = q.pop_front();
        self.after_pop(&mut q);
        t
    }

    /// Pops up to `max` tasks under one acquisition of the lock, handing each to `f` in FIFO
    /// order. `f` must not touch this queue (it runs under its lock).
    pub(crate) fn pop_batch(&self, max: usize, mut f: impl FnMut(T)) -> usize {
        if max == 0 || self.is_empty() {
            return 0;
        }
        let mut q = self.lock();
        let n = max.min(q.len());
        for t in q.drain(..n) {
            f(t);
        }
        self.after_pop(&mut q);
        n
    }

    fn after_pop(&self, q: &mut VecDeque<T>) {
        if q.is_empty() && q.capacity() > KEEP_CAPACITY {
            *q = VecDeque::new();
        }
        self.len.store(q.len(), Release);
    }

    /// The number of queued tasks (possibly stale, see the module docs).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Overflow<T> for Inject<T> {
    fn push_batch(&self, tasks: impl Iterator<Item = T>) {
        let mut q = self.lock();
        q.extend(tasks);
        self.len.store(q.len(), Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_in_batches_and_capacity_given_back() {
        let q = Inject::new();
        q.push_batch(0..10_000usize);
        q.push(10_000);
        assert_eq!(q.len(), 10_001);
        assert_eq!(q.pop(), Some(0));
        let mut got = Vec::new();
        assert_eq!(q.pop_batch(128, |t| got.push(t)), 128);
        assert_eq!(got, (1..129).collect::<Vec<_>>());
        let mut rest = Vec::new();
        while q.pop_batch(1000, |t| rest.push(t)) > 0 {}
        assert_eq!(rest, (129..=10_000).collect::<Vec<_>>());
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
        assert!(q.lock().capacity() <= KEEP_CAPACITY);
    }
}
