//! The lock under [`Mutex`](super::Mutex): Go's `sync.Mutex` algorithm (normal and starvation
//! modes), for tasks instead of goroutines.
//!
//! # Algorithm (runtime/sema.go and sync/mutex.go)
//!
//! `state` holds four bits: `LOCKED`, `WOKEN` (a waiter has been woken and is about to retry,
//! so an unlock need not wake another), `STARVING` and `WAITERS` (the list has a queued
//! waiter). The waiters are a FIFO [`WaitList`] behind a small lock.
//!
//! - **Normal mode.** Locking is one compare-and-swap that sets `LOCKED` if neither `LOCKED`
//!   nor `STARVING` is set — also while others wait: a running task that locks and unlocks in a
//!   loop keeps its core and its cache (Go calls this barging). An unlock clears `LOCKED`; if
//!   a waiter is queued and none is already woken, it sets `WOKEN`, unlinks the oldest waiter
//!   and wakes it. The woken waiter retries; if a newcomer got there first, it goes back to the
//!   *front* of the queue.
//! - **Starvation mode.** A woken waiter that fails and has waited more than 1 ms sets
//!   `STARVING`. From then on an unlock does not release the lock: it hands it to the oldest
//!   waiter (`LOCKED` stays set, the waiter is told it owns the lock), and newcomers queue
//!   behind. The mode ends, as in Go, when a waiter that was handed the lock had waited less
//!   than 1 ms, or the queue is empty. So no waiter waits much longer than the queue ahead of
//!   it: fair, with the speed of barging whenever nobody starves.
//! - **Cancellation.** A queued waiter that is dropped unlinks itself. A woken one that is
//!   dropped gives `WOKEN` back and, if the lock is free, wakes the next waiter. One that was
//!   handed the lock (starvation mode) unlocks it, which hands it on.
//!
//! # Invariants
//!
//! 1. `WAITERS` is set iff the list has a linked node; it changes only under the list lock.
//! 2. At most one waiter is in the woken state (`WOKEN` set, node unlinked, status `Woken`),
//!    and `WOKEN` is set exactly while one is — except during an unlock's critical section
//!    that is about to pick it.
//! 3. While `STARVING` is set, `LOCKED` is only cleared by an unlock that finds the queue
//!    empty (then it clears `STARVING` too); otherwise ownership passes under the list lock.
//!    `STARVING` is cleared by that unlock, or by the owner a handoff made (while it holds
//!    `LOCKED`), never while the lock is free.
//! 4. The lock is held by exactly one party at a time: whoever set `LOCKED` by CAS, or the
//!    waiter an unlock marked `Granted` (which then owns the still-set `LOCKED`).
//!
//! # Rejected
//!
//! - Strict FIFO handoff on every contended unlock: fair but every lock under contention
//!   becomes a park and a wake-up, 4-5x slower than Go on the `mutex` benchmark.
//! - Unbounded spinning before parking: an async task should give the worker back. Only Go's
//!   short active spin is kept (4 x 30 hints, on a multi-core machine, from a worker, while
//!   nobody is queued), because a critical section of a few instructions on another core ends
//!   sooner than a park and a wake-up.

use crate::loom::Unpoison;
use crate::util::wake_list::store_waker;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::waitlist::WaitList;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Mutex, MutexGuard};

const LOCKED: usize = 1;
const WOKEN: usize = 2;
const STARVING: usize = 4;
const WAITERS: usize = 8;

/// How long a waiter may be overtaken before the mutex turns to handoff (Go: 1 ms).
#[cfg_attr(loom, allow(dead_code))]
const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Whether more than one core is available (spinning on a single core only delays the holder).
#[cfg(not(loom))]
fn multicore() -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Linked in the queue.
    Queued,
    /// Unlinked and woken by a normal-mode unlock: retry.
    Woken,
    /// Unlinked and handed the lock by a starvation-mode unlock: it is ours.
    Granted,
}

struct Node {
    status: Status,
    waker: Option<Waker>,
    #[cfg_attr(loom, allow(dead_code))]
    since: Instant,
    /// Times this waiter was woken and lost the race (loom's stand-in for elapsed time).
    #[cfg_attr(not(loom), allow(dead_code))]
    lost: u32,
}

pub(crate) struct RawMutex {
    state: AtomicUsize,
    /// Queued and woken waiters; see the invariants. Guarded by its lock.
    waiters: Mutex<WaitList<Node>>,
}

/// A pending lock: the waiter's key once it has queued.
#[derive(Debug, Default)]
pub(crate) struct LockState {
    key: Option<usize>,
}

impl RawMutex {
    pub(crate) fn new() -> RawMutex {
        RawMutex {
            state: AtomicUsize::new(0),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    fn list(&self) -> MutexGuard<'_, WaitList<Node>> {
        self.waiters.lock().unpoison()
    }

    /// One CAS: takes the lock if it is free and not in starvation mode.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let mut s = self.state.load(Relaxed);
        loop {
            if s & (LOCKED | STARVING) != 0 {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(s, s | LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(a) => s = a,
            }
        }
    }

    /// Go's active spinning (`sync_runtime_canSpin`): if the holder is likely running on
    /// another core (the lock is held, nobody is queued, we are on a multi-worker runtime), wait
    /// a few hundred cycles for it instead of paying a park and a wake-up. Bounded: 4 rounds of
    /// 30 spin hints, as in Go.
    fn spin_then_try(&self) -> bool {
        #[cfg(not(loom))]
        {
            if !crate::runtime::on_worker_thread() || !multicore() {
                return false;
            }
            for _ in 0..4 {
                let s = self.state.load(Relaxed);
                if s & (WAITERS | STARVING) != 0 {
                    return false;
                }
                for _ in 0..30 {
                    std::hint::spin_loop();
                }
                if self.try_lock() {
                    return true;
                }
            }
        }
        false
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Relaxed) & LOCKED != 0
    }

    fn starving_after(node: &Node) -> bool {
        #[cfg(loom)]
        {
            node.lost >= 1
        }
        #[cfg(not(loom))]
        {
            node.since.elapsed() >= STARVATION_THRESHOLD
        }
    }

    /// Polls a lock attempt; `st` lives in the lock future.
    pub(crate) fn poll_lock(&self, st: &mut LockState, cx: &mut Context<'_>) -> Poll<()> {
        let Some(key) = st.key else {
            if self.try_lock() || self.spin_then_try() {
                return Poll::Ready(());
            }
            let mut list = self.list();
            // Announce ourselves with a CAS that expects the lock still held: if it was
            // released meanwhile (by a fast unlock that saw no `WAITERS`), take it instead.
            let mut s = self.state.load(Relaxed);
            loop {
                if s & (LOCKED | STARVING) == 0 {
                    match self
                        .state
                        .compare_exchange_weak(s, s | LOCKED, Acquire, Relaxed)
                    {
                        Ok(_) => return Poll::Ready(()),
                        Err(a) => s = a,
                    }
                    continue;
                }
                match self
                    .state
                    .compare_exchange_weak(s, s | WAITERS, Relaxed, Relaxed)
                {
                    Ok(_) => break,
                    Err(a) => s = a,
                }
            }
            let key = list.push_back(Node {
                status: Status::Queued,
                waker: Some(cx.waker().clone()),
                since: Instant::now(),
                lost: 0,
            });
            st.key = Some(key);
            return Poll::Pending;
        };
        let mut list = self.list();
        let node = list.get_mut(key);
        match node.status {
            Status::Granted => {
                // Go's exit from starvation mode: the new owner waited less than the
                // threshold (handoff is no longer needed to be fair), or nobody is left.
                let starving = Self::starving_after(node);
                list.remove(key);
                if !starving || list.is_empty() {
                    self.state.fetch_and(!STARVING, Relaxed);
                }
                st.key = None;
                // Ownership came through the list lock: its release/acquire orders the
                // previous holder's writes before ours.
                Poll::Ready(())
            }
            Status::Queued => {
                drop(store_waker(&mut node.waker, cx.waker()));
                Poll::Pending
            }
            Status::Woken => {
                // We hold `WOKEN`. Either take the lock, or go back to the front of the queue,
                // each in one CAS that also clears `WOKEN`: the requeue CAS expects `LOCKED`,
                // so an unlock that ran meanwhile (and woke nobody, seeing `WOKEN`) makes it
                // fail and we retry the lock instead of sleeping on a free mutex. An unlock
                // after the requeue sees `WAITERS` without `WOKEN` and wakes the front — us —
                // once we release the list lock.
                node.lost += 1;
                let starve = Self::starving_after(node);
                let mut s = self.state.load(Relaxed);
                loop {
                    if s & (LOCKED | STARVING) == 0 {
                        match self.state.compare_exchange_weak(
                            s,
                            (s | LOCKED) & !WOKEN,
                            Acquire,
                            Relaxed,
                        ) {
                            Ok(_) => {
                                list.remove(key);
                                st.key = None;
                                return Poll::Ready(());
                            }
                            Err(a) => s = a,
                        }
                        continue;
                    }
                    let requeued = (s | WAITERS | if starve { STARVING } else { 0 }) & !WOKEN;
                    match self
                        .state
                        .compare_exchange_weak(s, requeued, Relaxed, Relaxed)
                    {
                        Ok(_) => break,
                        Err(a) => s = a,
                    }
                }
                let node = list.get_mut(key);
                node.status = Status::Queued;
                node.waker = Some(cx.waker().clone());
                list.relink_front(key);
                Poll::Pending
            }
        }
    }

    /// Unlocks; wakes or hands over to a waiter as the mode requires.
    pub(crate) fn unlock(&self) {
        // Fast path: locked, nobody waiting or awake, normal mode.
        if self
            .state
            .compare_exchange(LOCKED, 0, Release, Relaxed)
            .is_ok()
        {
            return;
        }
        self.unlock_slow();
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut s = self.state.load(Relaxed);
        loop {
            debug_assert!(s & LOCKED != 0, "unlock of an unlocked gorun Mutex");
            if s & STARVING != 0 {
                return self.hand_off();
            }
            if s & WAITERS == 0 || s & WOKEN != 0 {
                // Nobody to wake, or a woken waiter will retry anyway.
                match self
                    .state
                    .compare_exchange_weak(s, s & !LOCKED, Release, Relaxed)
                {
                    Ok(_) => return,
                    Err(a) => {
                        s = a;
                        continue;
                    }
                }
            }
            // Release and claim the right to wake one waiter.
            match self
                .state
                .compare_exchange_weak(s, (s & !LOCKED) | WOKEN, Release, Relaxed)
            {
                Ok(_) => return self.wake_front(),
                Err(a) => s = a,
            }
        }
    }

    /// We hold `WOKEN` (the lock is released): wake the oldest waiter, or give `WOKEN` back.
    fn wake_front(&self) {
        let mut list = self.list();
        let Some(key) = list.front() else {
            // Every waiter left meanwhile.
            self.state.fetch_and(!WOKEN, Relaxed);
            return;
        };
        list.unlink(key);
        let node = list.get_mut(key);
        node.status = Status::Woken;
        let waker = node.waker.take();
        if list.is_empty() {
            self.state.fetch_and(!WAITERS, Relaxed);
        }
        drop(list);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Starvation mode: pass the (still locked) mutex to the oldest waiter.
    fn hand_off(&self) {
        let mut list = self.list();
        let Some(key) = list.front() else {
            // Queue empty: leave starvation mode and release.
            self.state.fetch_and(!(LOCKED | STARVING), Release);
            return;
        };
        list.unlink(key);
        let node = list.get_mut(key);
        node.status = Status::Granted;
        let waker = node.waker.take();
        if list.is_empty() {
            self.state.fetch_and(!(WAITERS | STARVING), Relaxed);
        }
        drop(list);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// A lock future dropped before completing.
    pub(crate) fn cancel(&self, st: &mut LockState) {
        let Some(key) = st.key.take() else { return };
        let mut list = self.list();
        let (node, was_linked) = list.remove(key);
        if was_linked && list.is_empty() {
            self.state.fetch_and(!WAITERS, Relaxed);
        }
        drop(list);
        match node.status {
            Status::Queued => {}
            Status::Woken => {
                // Give `WOKEN` back; if the lock is free and others wait, wake the next one.
                let s = self.state.fetch_and(!WOKEN, Relaxed) & !WOKEN;
                if s & LOCKED == 0 && s & WAITERS != 0 {
                    let claimed = self
                        .state
                        .fetch_update(Relaxed, Relaxed, |s| {
                            (s & (LOCKED | WOKEN) == 0).then_some(s | WOKEN)
                        })
                        .is_ok();
                    if claimed {
                        self.wake_front();
                    }
                }
            }
            // We own the lock: unlocking hands it on.
            Status::Granted => self.unlock(),
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    fn lock(m: &RawMutex) {
        let mut st = LockState::default();
        loom::future::block_on(std::future::poll_fn(|cx| m.poll_lock(&mut st, cx)));
    }

    /// Three lockers, each holding the lock for a counter increment: mutual exclusion and no
    /// lost wake-up (a loom deadlock), through normal mode, re-queueing and starvation mode.
    #[test]
    fn three_lockers() {
        crate::loom::model(|| {
            let m = Arc::new(RawMutex::new());
            let inside = Arc::new(AtomicUsize::new(0));
            let ths: Vec<_> = (0..2)
                .map(|_| {
                    let (m, inside) = (m.clone(), inside.clone());
                    thread::spawn(move || {
                        lock(&m);
                        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders");
                        inside.fetch_sub(1, SeqCst);
                        m.unlock();
                    })
                })
                .collect();
            lock(&m);
            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders");
            inside.fetch_sub(1, SeqCst);
            m.unlock();
            for t in ths {
                t.join().unwrap();
            }
            assert_eq!(m.state.load(SeqCst), 0);
        });
    }

    /// A waiter cancelled after an unlock may have woken it (or, in starvation mode, handed it
    /// the lock) passes the lock on: the other locker is never left asleep on a free mutex.
    #[test]
    fn cancelled_waiter_passes_the_lock_on() {
        crate::loom::model(|| {
            let m = Arc::new(RawMutex::new());
            assert!(m.try_lock());
            let m2 = m.clone();
            let other = thread::spawn(move || {
                lock(&m2);
                m2.unlock();
            });
            let waker = futures_noop();
            let mut cx = Context::from_waker(&waker);
            let mut st = LockState::default();
            let got = m.poll_lock(&mut st, &mut cx).is_ready();
            assert!(!got, "the lock is held by this thread");
            m.unlock();
            m.cancel(&mut st);
            other.join().unwrap();
            assert_eq!(m.state.load(SeqCst), 0);
        });
    }

    fn futures_noop() -> Waker {
        futures::task::noop_waker()
    }
}
