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
//! idle state orders it after the push. Only the workers' own looks use `len`; shutdown's
//! drains ([`drain`](Inject::drain), [`close_and_drain`](Inject::close_and_drain)) always take
//! the lock, so that a push is either seen by a drain or ordered after it by the lock.
//!
//! # Closing (shutdown)
//!
//! Shutdown closes the queue under its lock and takes what is left in the same acquisition
//! (tokio's `Inject::close`). From then on a remote [`push`](Inject::push) is refused and hands
//! the task back (the caller cancels it: its `JoinHandle` resolves as cancelled instead of
//! waiting on a queue nobody will drain). Overflow from a worker's local queue is still
//! accepted: that worker is alive and drains the queue again as it leaves its loop.

use super::queue::Overflow;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::loom::Unpoison;
use std::collections::VecDeque;

/// A buffer left this large by a burst is freed when the queue empties.
const KEEP_CAPACITY: usize = 4096;

pub(crate) struct Inject<T> {
    queue: Mutex<Queue<T>>,
    len: AtomicUsize,
}

struct Queue<T> {
    tasks: VecDeque<T>,
    /// Set once by shutdown (see "Closing").
    closed: bool,
}

impl<T> std::ops::Deref for Queue<T> {
    type Target = VecDeque<T>;
    fn deref(&self) -> &VecDeque<T> {
        &self.tasks
    }
}

impl<T> std::ops::DerefMut for Queue<T> {
    fn deref_mut(&mut self) -> &mut VecDeque<T> {
        &mut self.tasks
    }
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Self {
        Inject {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                closed: false,
            }),
            len: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, Queue<T>> {
        // No code panics while holding the lock (pushes and pops of pointers) except on
        // allocation failure; a poisoned queue is still consistent.
        self.queue.lock().unpoison()
    }

    /// Queues `task`, or hands it back if the queue is closed (the runtime shut down).
    pub(crate) fn push(&self, task: T) -> Result<(), T> {
        let mut q = self.lock();
        if q.closed {
            return Err(task);
        }
        q.push_back(task);
        self.len.store(q.len(), Release);
        Ok(())
    }

    /// Takes every queued task, under the lock (whatever `len` says).
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut q = self.lock();
        let all: Vec<T> = q.tasks.drain(..).collect();
        self.after_pop(&mut q);
        all
    }

    /// Closes the queue to remote pushes and takes every queued task, in one acquisition.
    pub(crate) fn close_and_drain(&self) -> Vec<T> {
        let mut q = self.lock();
        q.closed = true;
        let all: Vec<T> = q.tasks.drain(..).collect();
        self.after_pop(&mut q);
        all
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

    fn after_pop(&self, q: &mut Queue<T>) {
        if q.is_empty() && q.capacity() > KEEP_CAPACITY {
            q.tasks = VecDeque::new();
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
        q.push(10_000).unwrap();
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

    #[test]
    fn a_closed_queue_refuses_remote_pushes_and_accepts_overflow() {
        let q = Inject::new();
        q.push(1).unwrap();
        assert_eq!(q.close_and_drain(), vec![1]);
        assert_eq!(q.push(2), Err(2));
        // A live worker's overflow still lands, for that worker's own exit drain.
        q.push_batch(3..5);
        assert_eq!(q.drain(), vec![3, 4]);
        assert!(q.is_empty());
    }
}
