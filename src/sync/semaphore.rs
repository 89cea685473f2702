//! The fair FIFO semaphore under `Mutex`, `RwMutex` and [`Semaphore`]: [`RawSemaphore`] and
//! its acquire future [`RawAcquire`].
//!
//! # Algorithm
//!
//! The shape of tokio's `batch_semaphore`: one atomic word holds the number of free permits,
//! and a FIFO list of waiters (a [`WaitList`] behind a lock) holds the tasks that asked for more
//! permits than were free. The word is `avail << 1 | WAITERS`; the `WAITERS` bit says that the
//! list is not empty.
//!
//! - **Fast acquire** (`try_acquire`): a compare-and-swap that takes `n` permits off the word if
//!   at least `n` are free. Uncontended, that is the one atomic operation of a lock.
//! - **Slow acquire**: under the list lock, take every free permit (even fewer than `n`), set
//!   `WAITERS`, and queue a waiter node for the rest. The node's `remaining` counts what it
//!   still needs.
//! - **Release**: a compare-and-swap that adds the permits to the word, unless `WAITERS` is set;
//!   then, under the lock, the permits are handed to the waiters from the front (a node may get
//!   part of its request and keep its place); a node that got everything is unlinked, marked
//!   `granted` and its waker woken. Whatever the queue did not need goes back to the word, and
//!   `WAITERS` is cleared once the queue is empty.
//! - **Cancel**: dropping a queued acquire future removes its node and *releases* the permits it
//!   had been given so far (all of them if it was already granted), which hands them on to the
//!   next waiters exactly as a release does. Nothing leaks and no wake-up is lost.
//! - **Doomed requests** (Go's `x/sync/semaphore.Weighted`: "don't make other Acquire calls
//!   block on one that's doomed to fail"): the lock also guards the *size*, every permit the
//!   semaphore has (created + `add_permits` − `forget`). A slow acquire of more than the size
//!   stores its node unlinked, in the `doomed` list, holding no permits: it waits without
//!   blocking anyone. `add_permits` grows the size and links the doomed requests that now fit
//!   at the back of the queue (in arrival order; they could not be served when the requests
//!   ahead of them came), then hands out the new and the free permits as a release does.
//!   `forget` shrinks the size and dooms the queued requests that no longer fit, handing the
//!   permits they had been assigned on.
//!
//! # Invariants
//!
//! 1. `WAITERS` is set iff the list has a linked node; it is only set or cleared under the lock.
//!    Doomed nodes are never linked and hold no permits.
//! 2. While `WAITERS` is set, the word is exactly `WAITERS` (no free permits): a release with
//!    waiters hands its permits to them. Hence the fast path cannot overtake a queued waiter (it
//!    finds no free permits), which is the FIFO guarantee, and nobody but a lock holder writes
//!    the word while `WAITERS` is set.
//! 3. Assignment goes front to back and the first node that is not satisfied stops it, so
//!    (revived doomed nodes join at the back) only the front node holds a partial assignment,
//!    and a cancelled front hands its partial permits to its successor.
//! 5. Every linked node asks for at most the size (a request is doomed, or doomed again by a
//!    `forget`, otherwise), so the front can always be served once the holders release: a
//!    request that can never be served never stands in front of others.
//! 4. Permits are conserved: free + held by guards + assigned to nodes is the number the
//!    semaphore was created with (plus `add_permits`), at every moment the lock is free.
//!
//! # Rejected
//!
//! - Barging (Go's `sync.Mutex` normal mode lets a newcomer take a just-released lock before the
//!   woken waiter): faster under heavy contention, but a waiter can be overtaken again and again;
//!   the API promises "no waiter starves", and direct handoff gives that with no timing
//!   heuristics.
//! - Taking the lock on every release (tokio does): an uncontended unlock would cost a lock and
//!   an unlock instead of one compare-and-swap.
//!
//! # Where the parts are
//!
//! This file holds the algorithm: [`RawSemaphore`], the acquire future [`RawAcquire`] that
//! `RwMutex` and [`Semaphore`] build on, and a unit test. The public [`Semaphore`] with its
//! `Acquire` future, `Permit` guard and `TryAcquireError` is in `weighted.rs`, thin wrappers
//! over these; the loom models are in `semaphore/loom_tests.rs`.
//!
//! [`Semaphore`]: super::Semaphore

use crate::loom::Unpoison;
use crate::util::wake_list::store_waker;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::waitlist::{WaitList, WakeList};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::runtime::coop;

const WAITERS: usize = 1;
const SHIFT: usize = 1;

/// The largest number of permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// A queued acquirer. Guarded by `RawSemaphore::waiters`.
struct Waiter {
    /// The whole request.
    n: usize,
    /// Permits still to be assigned to this waiter.
    remaining: usize,
    /// The task to wake once `remaining` reaches zero.
    waker: Option<Waker>,
    /// Set (and the node unlinked) when `remaining` reached zero: the permits are the owner's.
    granted: bool,
    /// The request is larger than the semaphore's size: the node is unlinked, holds no
    /// permits, and its key is in `Queue::doomed`.
    doomed: bool,
}

/// The waiters and the size, behind one lock.
struct Queue {
    /// Served waiters, oldest first.
    list: WaitList<Waiter>,
    /// Keys of the doomed waiters (stored, unlinked), oldest first.
    doomed: Vec<usize>,
    /// Every permit the semaphore has: created, plus added, minus forgotten.
    size: usize,
}

/// The semaphore proper, without permit guards; `Mutex` and friends build their guards on it.
pub(crate) struct RawSemaphore {
    /// `avail << SHIFT | WAITERS`; see the module invariants.
    state: AtomicUsize,
    /// Queued acquirers, oldest first, and the size.
    waiters: Mutex<Queue>,
}

impl RawSemaphore {
    pub(crate) fn new(permits: usize) -> Self {
        assert!(
            permits <= MAX_PERMITS,
            "sync: a Semaphore holds at most {MAX_PERMITS} permits, asked for {permits}"
        );
        RawSemaphore {
            state: AtomicUsize::new(permits << SHIFT),
            waiters: Mutex::new(Queue {
                list: WaitList::new(),
                doomed: Vec::new(),
                size: permits,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while the lock is held, but if it ever did the list is still
        // consistent (every mutation is completed before anything that can panic).
        self.waiters.lock().unpoison()
    }

    /// Free permits now.
    pub(crate) fn available(&self) -> usize {
        self.state.load(Acquire) >> SHIFT
    }

    /// Takes `n` permits if that many are free and nobody is queued. One compare-and-swap when
    /// `expect` is the exact number of free permits (the mutex passes 1).
    #[inline]
    pub(crate) fn try_acquire_expect(&self, n: usize, expect: usize) -> bool {
        if n == 0 {
            return true;
        }
        let mut cur = expect << SHIFT;
        loop {
            if cur >> SHIFT < n {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(cur, cur - (n << SHIFT), Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes `n` permits if that many are free and nobody is queued.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        self.try_acquire_expect(n, self.state.load(Relaxed) >> SHIFT)
    }

    /// Gives back `n` permits, handing them to queued waiters first. One compare-and-swap when
    /// nobody waits and `expect` is the exact number of free permits (the mutex passes 0).
    #[inline]
    pub(crate) fn release_expect(&self, n: usize, expect: usize) {
        if n == 0 {
            return;
        }
        let mut cur = expect << SHIFT;
        loop {
            if cur & WAITERS != 0 {
                return self.release_slow(n);
            }
            let next = add_checked(cur, n);
            match self
                .state
                .compare_exchange_weak(cur, next, Release, Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives back `n` permits, handing them to queued waiters first.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        self.release_expect(n, self.state.load(Relaxed) >> SHIFT)
    }

    #[cold]
    fn release_slow(&self, n: usize) {
        let mut q = self.lock();
        let wakers = self.release_locked(&mut q.list, n);
        drop(q);
        wakers.wake();
    }

    /// Adds `n` new permits (the size grows): doomed requests that now fit join the queue, in
    /// arrival order, and the permits are handed out as a release does.
    pub(crate) fn add_permits(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut q = self.lock();
        assert!(
            q.size <= MAX_PERMITS && n <= MAX_PERMITS - q.size,
            "sync: Semaphore permit count overflow (more than {MAX_PERMITS} permits)"
        );
        q.size += n;
        let size = q.size;
        let Queue { list, doomed, .. } = &mut *q;
        let mut give = n;
        if doomed.iter().any(|&k| list.get_mut(k).n <= size) {
            // Take the free permits off the word and set `WAITERS` (invariants 1 and 2 hold
            // again once the revived requests are linked, still under the lock); the permits
            // are then handed out front to back with the new ones.
            let mut cur = self.state.load(Acquire);
            loop {
                match self
                    .state
                    .compare_exchange_weak(cur, WAITERS, AcqRel, Acquire)
                {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
            give += cur >> SHIFT;
            doomed.retain(|&k| {
                let w = list.get_mut(k);
                if w.n > size {
                    return true;
                }
                w.doomed = false;
                w.remaining = w.n;
                list.relink_back(k);
                false
            });
        }
        let wakers = self.release_locked(list, give);
        drop(q);
        wakers.wake();
    }

    /// `n` permits held by a caller are gone for good (the size shrinks): queued requests that
    /// no longer fit give back what they were assigned and become doomed, so they block
    /// nobody.
    pub(crate) fn forget(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut q = self.lock();
        debug_assert!(q.size >= n, "forgot more permits than the semaphore has");
        q.size -= n.min(q.size);
        let size = q.size;
        let Queue { list, doomed, .. } = &mut *q;
        let mut freed = 0;
        let mut any = false;
        for k in list.linked_keys() {
            let w = list.get_mut(k);
            if w.n <= size {
                continue;
            }
            freed += w.n - w.remaining;
            w.remaining = w.n;
            w.doomed = true;
            list.unlink(k);
            doomed.push(k);
            any = true;
        }
        if any {
            // Hands the freed permits on (and clears `WAITERS` if nobody is left queued).
            let wakers = self.release_locked(list, freed);
            drop(q);
            wakers.wake();
        }
    }

    /// Hands `n` permits to the waiters in FIFO order and returns the rest to the word; clears
    /// `WAITERS` if the list ends up empty (also when `n == 0`, for a cancelled front node).
    fn release_locked(&self, list: &mut WaitList<Waiter>, mut n: usize) -> WakeList {
        let mut wakers = WakeList::new();
        while n > 0 {
            let Some(key) = list.front() else { break };
            let w = list.get_mut(key);
            let take = n.min(w.remaining);
            w.remaining -= take;
            n -= take;
            if w.remaining != 0 {
                break;
            }
            w.granted = true;
            if let Some(waker) = w.waker.take() {
                wakers.push(waker);
            }
            list.unlink(key);
        }
        if list.is_empty() {
            let cur = self.state.load(Relaxed);
            if cur & WAITERS != 0 {
                // Invariant 2: the word is exactly WAITERS and only lock holders write it.
                debug_assert_eq!(cur, WAITERS);
                self.state.store(n << SHIFT, Release);
            } else if n > 0 {
                // Fast-path acquirers and releasers may race with us: add with a CAS loop.
                let mut cur = cur;
                loop {
                    let next = add_checked(cur, n);
                    match self
                        .state
                        .compare_exchange_weak(cur, next, Release, Relaxed)
                    {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
            }
        } else {
            debug_assert_eq!(n, 0, "permits left over while a waiter still needs some");
        }
        wakers
    }

    /// Polls an acquisition of `n` permits; `slot` is the future's queue position.
    /// `hint`, if given, is the expected number of free permits (see `try_acquire_expect`).
    pub(crate) fn poll_acquire(
        &self,
        cx: &mut Context<'_>,
        n: usize,
        hint: Option<usize>,
        slot: &mut Slot,
    ) -> Poll<()> {
        coop::poll_op(cx, |cx| self.poll_acquire_now(cx, n, hint, slot))
    }

    /// [`poll_acquire`](Self::poll_acquire) without the cooperative budget.
    fn poll_acquire_now(
        &self,
        cx: &mut Context<'_>,
        n: usize,
        hint: Option<usize>,
        slot: &mut Slot,
    ) -> Poll<()> {
        match *slot {
            Slot::Idle => {
                let got = match hint {
                    Some(expect) => self.try_acquire_expect(n, expect),
                    None => self.try_acquire(n),
                };
                if got {
                    *slot = Slot::Done;
                    return Poll::Ready(());
                }
                assert!(
                    n <= MAX_PERMITS,
                    "sync: cannot acquire {n} permits, a Semaphore holds at most {MAX_PERMITS}"
                );
                let mut q = self.lock();
                if n > q.size {
                    // Doomed (Go's Weighted: "don't make other Acquire calls block on one
                    // that's doomed to fail"): wait outside the queue, taking no permits,
                    // until `add_permits` makes the request fit.
                    let key = q.list.insert_unlinked(Waiter {
                        n,
                        remaining: n,
                        waker: Some(cx.waker().clone()),
                        granted: false,
                        doomed: true,
                    });
                    q.doomed.push(key);
                    *slot = Slot::Queued(key);
                    return Poll::Pending;
                }
                // Under the lock: take what is free; if it is not enough, queue for the rest.
                let mut cur = self.state.load(Acquire);
                let taken = loop {
                    let avail = cur >> SHIFT;
                    let (next, taken) = if avail >= n {
                        (cur - (n << SHIFT), n)
                    } else {
                        (WAITERS, avail)
                    };
                    match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                        Ok(_) => break taken,
                        Err(actual) => cur = actual,
                    }
                };
                if taken == n {
                    *slot = Slot::Done;
                    return Poll::Ready(());
                }
                let key = q.list.push_back(Waiter {
                    n,
                    remaining: n - taken,
                    waker: Some(cx.waker().clone()),
                    granted: false,
                    doomed: false,
                });
                *slot = Slot::Queued(key);
                Poll::Pending
            }
            Slot::Queued(key) => {
                let mut q = self.lock();
                let w = q.list.get_mut(key);
                if w.granted {
                    q.list.remove(key);
                    *slot = Slot::Done;
                    return Poll::Ready(());
                }
                drop(store_waker(&mut w.waker, cx.waker()));
                Poll::Pending
            }
            Slot::Done => panic!("sync: acquire future polled after completion"),
        }
    }

    /// Withdraws a pending acquisition (its future is dropped): permits it was given are
    /// released to the next waiters.
    pub(crate) fn cancel(&self, n: usize, slot: &mut Slot) {
        if let Slot::Queued(key) = *slot {
            *slot = Slot::Done;
            let mut q = self.lock();
            let (w, _) = q.list.remove(key);
            if w.doomed {
                // Holds no permits and blocks nobody.
                q.doomed.retain(|&k| k != key);
                return;
            }
            let given = if w.granted { n } else { n - w.remaining };
            let wakers = self.release_locked(&mut q.list, given);
            drop(q);
            wakers.wake();
        }
    }

    /// Queued waiters (for `Debug`).
    fn queued(&self) -> usize {
        let q = self.lock();
        q.list.linked_len() + q.doomed.len()
    }

    #[cfg(test)]
    pub(crate) fn stored_nodes(&self) -> usize {
        self.lock().list.stored()
    }
}

#[inline]
fn add_checked(cur: usize, n: usize) -> usize {
    let avail = cur >> SHIFT;
    assert!(
        n <= MAX_PERMITS && avail <= MAX_PERMITS - n,
        "sync: Semaphore permit count overflow (more than {MAX_PERMITS} permits)"
    );
    cur + (n << SHIFT)
}

impl fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("waiters", &self.queued())
            .finish()
    }
}

/// Where an acquire future stands. Owned by the future; the key is valid while `Queued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Idle,
    Queued(usize),
    Done,
}

/// The future of [`RawSemaphore`] acquisition; cancels itself on drop.
pub(crate) struct RawAcquire<'a> {
    sem: &'a RawSemaphore,
    pub(super) n: usize,
    /// Expected free permits for the first compare-and-swap (`None`: load the word first).
    hint: Option<usize>,
    slot: Slot,
}

impl<'a> RawAcquire<'a> {
    #[inline]
    pub(crate) fn new(sem: &'a RawSemaphore, n: usize) -> Self {
        RawAcquire {
            sem,
            n,
            hint: None,
            slot: Slot::Idle,
        }
    }

    /// Like `new`, guessing that exactly `expect` permits are free (one CAS when right).
    pub(crate) fn with_hint(sem: &'a RawSemaphore, n: usize, expect: usize) -> Self {
        RawAcquire {
            sem,
            n,
            hint: Some(expect),
            slot: Slot::Idle,
        }
    }

    /// Whether the future has completed (its permits now belong to the caller).
    pub(crate) fn is_done(&self) -> bool {
        self.slot == Slot::Done
    }
}

impl Future for RawAcquire<'_> {
    type Output = ();
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.sem.poll_acquire(cx, this.n, this.hint, &mut this.slot)
    }
}

impl Drop for RawAcquire<'_> {
    fn drop(&mut self) {
        self.sem.cancel(self.n, &mut self.slot);
    }
}

impl fmt::Debug for RawAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.n)
            .field("state", &self.slot)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn cancelled_front_passes_partial_permits_on() {
        let sem = RawSemaphore::new(3);
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        assert!(sem.try_acquire(2));
        // a wants 3: takes the 1 free permit and queues for 2.
        let mut a = Box::pin(RawAcquire::new(&sem, 3));
        assert!(a.as_mut().poll(&mut cx).is_pending());
        let mut b = Box::pin(RawAcquire::new(&sem, 2));
        assert!(b.as_mut().poll(&mut cx).is_pending());
        assert_eq!(sem.available(), 0);
        drop(a);
        // a's one permit went to b, which still needs one.
        assert!(b.as_mut().poll(&mut cx).is_pending());
        sem.release(2);
        assert!(b.as_mut().poll(&mut cx).is_ready());
        drop(b);
        assert_eq!(sem.available(), 1);
        sem.release(2);
        assert_eq!(sem.available(), 3);
        assert_eq!(sem.stored_nodes(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
