//! The per-worker local run queue: a bounded single-producer, multi-consumer ring buffer.
//!
//! # Algorithm
//!
//! This is Go's `runq` (runtime/proc.go: `runqput`, `runqget`, `runqgrab`), with atomic slots
//! so that a thief's speculative read is not a data race in Rust's memory model.
//!
//! - `buf` has `CAP` slots holding raw task pointers; `head` and `tail` are free-running `u32`
//!   counters (indices are taken modulo `CAP`), so `tail - head` is the number of queued tasks.
//! - Only the owning worker writes `tail` and writes slots; it pushes at `tail`.
//! - The owner pops and thieves steal at `head`, and every consumer claims its tasks with one
//!   compare-and-swap on `head`. A thief first copies the slots `head..head+n` into its own
//!   queue (beyond its own `tail`, invisible to anyone), then CASes `head` forward by `n`; only
//!   on success does it publish them by advancing its own `tail`.
//! - When the owner's queue is full, it claims half of it with one CAS on `head` and moves that
//!   half, plus the new task, to the global injection queue in one batch.
//!
//! # Invariants
//!
//! 1. `0 <= tail - head <= CAP` at every instant.
//! 2. A slot in `head..tail` is written only by the owner and only before `tail` is advanced
//!    past it (release), so a consumer that loaded `tail` (acquire) reads the written pointer.
//! 3. The owner overwrites slot `i % CAP` only when it has seen `head > i - CAP`; so a consumer
//!    that read a slot which was then overwritten will fail its CAS from the old `head`, and
//!    discards what it read. Every task is therefore taken by exactly one consumer.
//! 4. A thief steals at most half (rounded up) of the victim's tasks, and only into an empty
//!    queue of its own, so its copy never overruns its own buffer.
//!
//! # Rejected
//!
//! tokio's queue packs two heads (`steal`, `real`) into one word so that a steal can copy after
//! claiming; that allows stealing into a non-empty queue but costs two CASes per steal and is
//! harder to model. A `Mutex<VecDeque>` per worker is simpler but puts a lock on every push and
//! pop of the hot path.

use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};
use std::ptr::{self, NonNull};

/// Slots per local queue (Go and tokio use 256). Loom explores a tiny one.
#[cfg(not(loom))]
pub(crate) const CAP: usize = 256;
#[cfg(loom)]
pub(crate) const CAP: usize = 4;

const MASK: u32 = (CAP - 1) as u32;

/// What a queue can hold: an owned pointer-sized task handle.
pub(crate) trait Task: Sized {
    fn into_raw(self) -> NonNull<()>;
    /// # Safety
    /// `ptr` must come from `into_raw` of the same type and be converted back exactly once.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;
}

/// Where a full local queue spills half of its tasks.
pub(crate) trait Overflow<T> {
    fn push_batch(&self, tasks: impl Iterator<Item = T>);
}

pub(crate) struct Queue<T: Task> {
    /// Next slot to consume; advanced by CAS by the owner (pop) and by thieves (steal).
    head: AtomicU32,
    /// Next slot to fill; written only by the owner.
    tail: AtomicU32,
    buf: Box<[AtomicPtr<()>]>,
    _marker: std::marker::PhantomData<T>,
}

// SAFETY: the queue moves owned `T`s between threads; with `T: Send` that is sound, and all
// shared state is atomics (the algorithm above makes each task taken exactly once).
unsafe impl<T: Task + Send> Send for Queue<T> {}
// SAFETY: as above; `&Queue` only exposes atomic operations.
unsafe impl<T: Task + Send> Sync for Queue<T> {}

impl<T: Task> Queue<T> {
    pub(crate) fn new() -> Self {
        Queue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: (0..CAP).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
            _marker: std::marker::PhantomData,
        }
    }

    /// Number of queued tasks (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Acquire);
        let tail = self.tail.load(Acquire);
        tail.wrapping_sub(head) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes a task at the tail; when full, moves half of the queue and `task` to `overflow`.
    ///
    /// # Safety
    /// Only the owning worker thread may call `push_back`, `pop` and be the `dst` of a steal.
    pub(crate) unsafe fn push_back(&self, task: T, overflow: &impl Overflow<T>) {
        let raw = task.into_raw();
        loop {
            let head = self.head.load(Acquire);
            // Only this thread writes `tail`.
            let tail = self.tail.load(Relaxed);
            if tail.wrapping_sub(head) < CAP as u32 {
                self.buf[(tail & MASK) as usize].store(raw.as_ptr(), Relaxed);
                self.tail.store(tail.wrapping_add(1), Release);
                return;
            }
            // Full: claim the older half, then hand it and the new task over in one batch.
            let half = (CAP / 2) as u32;
            if self
                .head
                .compare_exchange(head, head.wrapping_add(half), AcqRel, Acquire)
                .is_err()
            {
                // A thief took some tasks: there is room now.
                continue;
            }
            let buf = &self.buf;
            let batch = (0..half)
                .map(move |i| {
                    let p = buf[(head.wrapping_add(i) & MASK) as usize].load(Relaxed);
                    // SAFETY: the CAS above made slots head..head+half ours alone; each held a
                    // pointer from `into_raw`, taken out exactly once here.
                    unsafe { T::from_raw(NonNull::new_unchecked(p)) }
                })
                // SAFETY: `raw` came from `into_raw` just above and is converted back once.
                .chain(std::iter::once(unsafe { T::from_raw(raw) }));
            overflow.push_batch(batch);
            return;
        }
    }

    /// Pops the task at the head.
    ///
    /// # Safety
    /// Only the owning worker thread may call this.
    pub(crate) unsafe fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Acquire);
        loop {
            let tail = self.tail.load(Relaxed);
            if tail == head {
                return None;
            }
            let p = self.buf[(head & MASK) as usize].load(Relaxed);
            match self
                .head
                .compare_exchange(head, head.wrapping_add(1), AcqRel, Acquire)
            {
                // SAFETY: the CAS made slot `head` ours (invariant 3); it holds a pointer from
                // `into_raw`, converted back once.
                Ok(_) => return Some(unsafe { T::from_raw(NonNull::new_unchecked(p)) }),
                Err(actual) => head = actual,
            }
        }
    }

    /// Steals half (rounded up) of `self`'s tasks into `dst` and returns one of them.
    ///
    /// # Safety
    /// Only `dst`'s owning worker may call this, and `dst` must be empty.
    pub(crate) unsafe fn steal_into(&self, dst: &Queue<T>) -> Option<T> {
        let dst_tail = dst.tail.load(Relaxed);
        debug_assert_eq!(
            dst_tail,
            dst.head.load(Acquire),
            "steal into a non-empty queue"
        );
        loop {
            let head = self.head.load(Acquire);
            let tail = self.tail.load(Acquire);
            let n = tail.wrapping_sub(head);
            let n = n - n / 2;
            if n == 0 {
                return None;
            }
            if n > (CAP / 2) as u32 {
                // head and tail were read at different moments and are inconsistent: retry.
                continue;
            }
            for i in 0..n {
                let p = self.buf[(head.wrapping_add(i) & MASK) as usize].load(Relaxed);
                dst.buf[(dst_tail.wrapping_add(i) & MASK) as usize].store(p, Relaxed);
            }
            if self
                .head
                .compare_exchange(head, head.wrapping_add(n), AcqRel, Acquire)
                .is_err()
            {
                continue;
            }
            let last = dst.buf[(dst_tail.wrapping_add(n - 1) & MASK) as usize].load(Relaxed);
            if n > 1 {
                dst.tail.store(dst_tail.wrapping_add(n - 1), Release);
            }
            // SAFETY: the CAS made the copied tasks ours; `last` is returned, not published.
            return Some(unsafe { T::from_raw(NonNull::new_unchecked(last)) });
        }
    }
}

impl<T: Task> Drop for Queue<T> {
    fn drop(&mut self) {
        // Whoever drops the queue owns it exclusively: drain as the owner.
        // SAFETY: `&mut self` proves no other thread can touch the queue.
        while let Some(t) = unsafe { self.pop() } {
            drop(t);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    impl Task for Box<usize> {
        fn into_raw(self) -> NonNull<()> {
            NonNull::from(Box::leak(self)).cast()
        }
        unsafe fn from_raw(ptr: NonNull<()>) -> Self {
            // SAFETY: the caller passes a pointer from `into_raw`, once.
            unsafe { Box::from_raw(ptr.as_ptr().cast()) }
        }
    }

    #[allow(clippy::vec_box)] // the queue's items are the boxes
    pub(crate) struct Spill(pub(crate) crate::loom::sync::Mutex<Vec<Box<usize>>>);
    impl Overflow<Box<usize>> for Spill {
        fn push_batch(&self, tasks: impl Iterator<Item = Box<usize>>) {
            self.0.lock().unwrap().extend(tasks);
        }
    }

    #[cfg(not(loom))]
    #[test]
    fn fifo_overflow_and_steal_account_for_every_task() {
        let q = Queue::<Box<usize>>::new();
        let spill = Spill(Default::default());
        let n = CAP * 3 + 7;
        for i in 0..n {
            // SAFETY: this thread is the only user of `q`.
            unsafe { q.push_back(Box::new(i), &spill) };
        }
        let thief = Queue::<Box<usize>>::new();
        let mut seen = vec![false; n];
        // SAFETY: this thread owns `thief`, which is empty.
        let first = unsafe { q.steal_into(&thief) }.unwrap();
        seen[*first] = true;
        // SAFETY: single-threaded use of both queues.
        while let Some(t) = unsafe { q.pop() } {
            assert!(!std::mem::replace(&mut seen[*t], true));
        }
        // SAFETY: as above.
        while let Some(t) = unsafe { thief.pop() } {
            assert!(!std::mem::replace(&mut seen[*t], true));
        }
        for t in spill.0.lock().unwrap().drain(..) {
            assert!(!std::mem::replace(&mut seen[*t], true));
        }
        assert!(seen.iter().all(|&s| s), "a task was lost");
    }

    #[cfg(not(loom))]
    #[test]
    fn concurrent_steals_take_each_task_once() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let total = 200_000usize;
        let q = Arc::new(Queue::<Box<usize>>::new());
        let spill = Arc::new(Spill(Default::default()));
        let taken = Arc::new((0..total).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let (q, taken, done) = (q.clone(), taken.clone(), done.clone());
                std::thread::spawn(move || {
                    let mine = Queue::<Box<usize>>::new();
                    loop {
                        // SAFETY: this thread owns `mine`, and drains it before stealing again.
                        match unsafe { q.steal_into(&mine) } {
                            Some(t) => {
                                taken[*t].fetch_add(1, Relaxed);
                                // SAFETY: owner of `mine`.
                                while let Some(t) = unsafe { mine.pop() } {
                                    taken[*t].fetch_add(1, Relaxed);
                                }
                            }
                            None if done.load(Acquire) => return,
                            None => std::hint::spin_loop(),
                        }
                    }
                })
            })
            .collect();
        for i in 0..total {
            // SAFETY: this thread is the queue's owner.
            unsafe { q.push_back(Box::new(i), &*spill) };
            if i % 3 == 0 {
                // SAFETY: owner.
                if let Some(t) = unsafe { q.pop() } {
                    taken[*t].fetch_add(1, Relaxed);
                }
            }
        }
        // SAFETY: owner.
        while let Some(t) = unsafe { q.pop() } {
            taken[*t].fetch_add(1, Relaxed);
        }
        done.store(true, Release);
        for t in thieves {
            t.join().unwrap();
        }
        for t in spill.0.lock().unwrap().drain(..) {
            taken[*t].fetch_add(1, Relaxed);
        }
        for (i, c) in taken.iter().enumerate() {
            assert_eq!(
                c.load(Relaxed),
                1,
                "task {i} taken {} times",
                c.load(Relaxed)
            );
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::tests::Spill;
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    /// The owner pushes past capacity (overflow) and pops while a thief steals: every task is
    /// taken exactly once.
    #[test]
    fn push_pop_steal_overflow() {
        crate::loom::model(|| {
            let q = Arc::new(Queue::<Box<usize>>::new());
            let spill = Spill(Default::default());
            for i in 0..3 {
                // SAFETY: the model's main thread owns `q`.
                unsafe { q.push_back(Box::new(i), &spill) };
            }
            let q2 = q.clone();
            let thief = thread::spawn(move || {
                let mine = Queue::<Box<usize>>::new();
                let mut got = vec![];
                // SAFETY: this thread owns `mine`, which is empty.
                if let Some(t) = unsafe { q2.steal_into(&mine) } {
                    got.push(*t);
                    // SAFETY: owner of `mine`.
                    while let Some(t) = unsafe { mine.pop() } {
                        got.push(*t);
                    }
                }
                got
            });
            let mut got = vec![];
            for i in 3..6 {
                // SAFETY: owner.
                unsafe { q.push_back(Box::new(i), &spill) };
            }
            // SAFETY: owner.
            if let Some(t) = unsafe { q.pop() } {
                got.push(*t);
            }
            got.extend(thief.join().unwrap());
            // SAFETY: owner.
            while let Some(t) = unsafe { q.pop() } {
                got.push(*t);
            }
            got.extend(spill.0.lock().unwrap().drain(..).map(|b| *b));
            got.sort();
            assert_eq!(got, (0..6).collect::<Vec<_>>());
        });
    }

    /// Two thieves race for the same tasks.
    #[test]
    fn two_thieves() {
        crate::loom::model(|| {
            let q = Arc::new(Queue::<Box<usize>>::new());
            let spill = Spill(Default::default());
            for i in 0..3 {
                // SAFETY: owner.
                unsafe { q.push_back(Box::new(i), &spill) };
            }
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || {
                        let mine = Queue::<Box<usize>>::new();
                        let mut got = vec![];
                        // SAFETY: this thread owns the empty `mine`.
                        if let Some(t) = unsafe { q.steal_into(&mine) } {
                            got.push(*t);
                            // SAFETY: owner of `mine`.
                            while let Some(t) = unsafe { mine.pop() } {
                                got.push(*t);
                            }
                        }
                        got
                    })
                })
                .collect();
            let mut got = vec![];
            // SAFETY: owner.
            if let Some(t) = unsafe { q.pop() } {
                got.push(*t);
            }
            for t in thieves {
                got.extend(t.join().unwrap());
            }
            // SAFETY: owner.
            while let Some(t) = unsafe { q.pop() } {
                got.push(*t);
            }
            got.sort();
            assert_eq!(got, vec![0, 1, 2]);
        });
    }
}
