//! `WaitGroup`: wait for a collection of goroutines to finish, Go's `sync.WaitGroup`.
//!
//! # Algorithm
//!
//! One 64-bit atomic word and a FIFO list of waiters behind a lock:
//!
//! ```text
//!  63            32 31                 1   0
//! +----------------+--------------------+---+
//! |    counter     |       epoch        | W |
//! +----------------+--------------------+---+
//! ```
//!
//! - `done()` is one `fetch_sub` of the counter. Only the one that takes the counter from 1 to
//!   0 while `W` ("someone waits") is set goes further: it locks the list and releases the
//!   waiters of that epoch. As in Go, a `done()` that reaches zero with nobody waiting costs
//!   nothing more.
//! - `wait()` returns at once if the counter is zero. Otherwise, under the lock, it sets `W`
//!   with a compare-and-swap that also reads the counter (so it cannot miss a zero crossing:
//!   both are read-modify-writes of the same word) and queues a node tagged with the epoch.
//! - The *epoch* (Go has none; Go panics "WaitGroup is reused before previous Wait has
//!   returned" instead) separates rounds: the zero crossing of epoch `e` releases only nodes
//!   tagged `e` or older. The first operation after a crossing that still has `W` set moves the
//!   word to epoch `e + 1` and clears `W`: either the crossing `done()` itself, under the lock,
//!   or an `add()` that finds the counter at zero with `W` set (it starts the next round). So a
//!   `wait()` that arrives after a new `add()` is tagged `e + 1` and is not released by the
//!   old crossing, and a waiter already released is never "un-released" by a later `add()`
//!   (its node carries the verdict).
//! - `add()` is a compare-and-swap loop (it must bump the epoch atomically with the increment
//!   when it starts a new round); it is called by the spawner, so it rarely contends.
//!
//! # Invariants
//!
//! 1. `W` is only set by a waiter under the lock, after checking the counter is non-zero.
//! 2. A word with counter 0 and `W` set means a crossing whose `done()` has not yet taken the
//!    lock; it stays so until that `done()` or an `add()` bumps the epoch.
//! 3. Every node tagged with epoch `e` is queued before the crossing of `e` (invariant 1 plus
//!    the bump), and released by the crossing `done()` of `e` (or of a later epoch).
//! 4. A negative counter is never left behind: the `done()` that finds zero restores the word
//!    and panics with Go's message.
//!
//! # Rejected
//!
//! - Go's layout (counter and waiter *count* in one word, then a semaphore): releasing waiters
//!   needs the waiter count reset atomically with the crossing, which Go gets by declaring a
//!   concurrent `Add` misuse and panicking. The epoch makes that case well defined instead.
//! - Taking the lock in every `done()`: a million goroutines finishing at once would all queue on
//!   it.

use crate::loom::Unpoison;
use crate::util::wake_list::store_waker;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::waitlist::{WaitList, WakeList};
use crate::loom::sync::atomic::{AtomicU64, Ordering::*};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::runtime::coop;

const WAITING: u64 = 1;
const EPOCH_ONE: u64 = 2;
const EPOCH_MASK: u64 = 0xFFFF_FFFE;
const COUNT_SHIFT: u32 = 32;
const COUNT_ONE: u64 = 1 << COUNT_SHIFT;
const MAX_COUNT: u64 = u32::MAX as u64;

#[inline]
fn count(word: u64) -> u64 {
    word >> COUNT_SHIFT
}

#[inline]
fn epoch(word: u64) -> u32 {
    ((word & EPOCH_MASK) >> 1) as u32
}

/// Whether epoch `a` is `b` or older (31-bit wrapping order).
#[inline]
fn epoch_le(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) & 0x7FFF_FFFF) < 0x4000_0000
}

/// A queued `wait()`. Guarded by `Inner::waiters`.
struct Waiter {
    epoch: u32,
    waker: Option<Waker>,
    /// Set (and the node unlinked) by the crossing that ends `epoch`.
    released: bool,
}

struct Inner {
    /// `counter << 32 | epoch << 1 | WAITING`; see the module invariants.
    state: AtomicU64,
    /// Queued waiters, oldest first (epochs non-decreasing).
    waiters: Mutex<WaitList<Waiter>>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, WaitList<Waiter>> {
        self.waiters.lock().unpoison()
    }

    /// The `done()` that ended epoch `e` with waiters: bump the epoch if no `add()` did, then
    /// release every node of epoch `e` or older.
    #[cold]
    fn release(&self, e: u32) {
        let mut list = self.lock();
        let mut cur = self.state.load(Relaxed);
        while count(cur) == 0 && cur & WAITING != 0 && epoch(cur) == e {
            let next = cur.wrapping_add(EPOCH_ONE) & EPOCH_MASK; // counter 0, W clear
            match self.state.compare_exchange(cur, next, AcqRel, Relaxed) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let mut wakers = WakeList::new();
        while let Some(key) = list.front() {
            let w = list.get_mut(key);
            if !epoch_le(w.epoch, e) {
                break;
            }
            w.released = true;
            if let Some(waker) = w.waker.take() {
                wakers.push(waker);
            }
            list.unlink(key);
        }
        drop(list);
        wakers.wake();
    }
}

/// Waits for a collection of goroutines to finish: Go's `sync.WaitGroup`. Clones share the
/// counter.
///
/// [`add(n)`](WaitGroup::add) before starting work, [`done()`](WaitGroup::done) when a piece
/// ends, [`wait().await`](WaitGroup::wait) until the counter is zero.
///
/// ```
/// use gorun::sync::WaitGroup;
/// futures::executor::block_on(async {
///     let wg = WaitGroup::new();
///     let mut threads = Vec::new();
///     for _ in 0..3 {
///         wg.add(1);
///         let wg = wg.clone();
///         threads.push(std::thread::spawn(move || wg.done()));
///     }
///     wg.wait().await;
///     for t in threads {
///         t.join().unwrap();
///     }
/// });
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

impl WaitGroup {
    /// A wait group with counter zero.
    ///
    /// ```
    /// let wg = gorun::sync::WaitGroup::new();
    /// wg.wait_blocking(); // zero: returns at once
    /// ```
    pub fn new() -> Self {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                waiters: Mutex::new(WaitList::new()),
            }),
        }
    }

    /// Adds `n` to the counter. Panics if the counter would exceed `u32::MAX`.
    ///
    /// ```
    /// let wg = gorun::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// wg.done();
    /// wg.wait_blocking();
    /// ```
    pub fn add(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as u64;
        let state = &self.inner.state;
        let mut cur = state.load(Relaxed);
        loop {
            let c = count(cur);
            assert!(
                n <= MAX_COUNT - c,
                "sync: WaitGroup counter overflow (more than {MAX_COUNT})"
            );
            let next = if c == 0 && cur & WAITING != 0 {
                // A crossing whose waiters are not released yet (invariant 2): start the next
                // epoch, so waiters queued from now on belong to the new round.
                (n << COUNT_SHIFT) | (cur.wrapping_add(EPOCH_ONE) & EPOCH_MASK)
            } else {
                cur + (n << COUNT_SHIFT)
            };
            match state.compare_exchange_weak(cur, next, AcqRel, Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Subtracts one from the counter, releasing the waiters when it reaches zero. Panics with
    /// `sync: negative WaitGroup counter` if the counter is already zero.
    ///
    /// ```
    /// let wg = gorun::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// assert!(std::panic::catch_unwind(|| wg.done()).is_err());
    /// ```
    #[inline]
    pub fn done(&self) {
        let prev = self.inner.state.fetch_sub(COUNT_ONE, AcqRel);
        let c = count(prev);
        if c == 1 && prev & WAITING != 0 {
            self.inner.release(epoch(prev));
        } else if c == 0 {
            self.inner.state.fetch_add(COUNT_ONE, Relaxed);
            panic!("sync: negative WaitGroup counter");
        }
    }

    /// Waits until the counter is zero. Returns at once if it is zero now. A waiter released by
    /// the counter reaching zero stays released even if an `add` follows before it runs.
    ///
    /// ```
    /// use gorun::sync::WaitGroup;
    /// futures::executor::block_on(async {
    ///     let wg = WaitGroup::new();
    ///     wg.add(1);
    ///     let wg2 = wg.clone();
    ///     let t = std::thread::spawn(move || wg2.done());
    ///     wg.wait().await;
    ///     t.join().unwrap();
    /// });
    /// ```
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            inner: &self.inner,
            slot: None,
        }
    }

    /// Waits from synchronous code, parking the thread. Panics if called on a gorun worker
    /// thread (use `wait().await` there).
    ///
    /// ```
    /// let wg = gorun::sync::WaitGroup::new();
    /// wg.add(1);
    /// let wg2 = wg.clone();
    /// std::thread::spawn(move || wg2.done());
    /// wg.wait_blocking();
    /// ```
    pub fn wait_blocking(&self) {
        super::blocking::block_on("WaitGroup::wait_blocking", "wait().await", self.wait())
    }

    /// Go 1.25's `wg.Go(f)`: `add(1)`, spawn `fut` as a goroutine, and `done()` when it ends —
    /// also when it panics or is cancelled (the `done` rides on the future's destructor).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// gorun::block_on(async {
    ///     let wg = gorun::sync::WaitGroup::new();
    ///     let n = Arc::new(AtomicUsize::new(0));
    ///     for _ in 0..10 {
    ///         let n = n.clone();
    ///         wg.go(async move { n.fetch_add(1, Ordering::Relaxed); });
    ///     }
    ///     wg.wait().await;
    ///     assert_eq!(n.load(Ordering::Relaxed), 10);
    /// });
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> crate::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.add(1);
        crate::go(WithDone {
            fut,
            _done: self.done_on_drop(),
        })
    }

    /// A guard that calls `done()` when dropped, also while unwinding from a panic or when the
    /// future holding it is dropped: what `WaitGroup::go` attaches to each goroutine.
    pub(crate) fn done_on_drop(&self) -> DoneOnDrop {
        DoneOnDrop(self.clone())
    }

    /// The counter now (a snapshot, for `Debug` and tests).
    fn count(&self) -> u64 {
        count(self.inner.state.load(Relaxed))
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// Calls [`WaitGroup::done`] when dropped (see `WaitGroup::done_on_drop`).
pub(crate) struct DoneOnDrop(WaitGroup);

pin_project_lite::pin_project! {
    /// `WaitGroup::go`'s goroutine: `fut`, then `done()` when it is dropped (completed,
    /// panicked or cancelled). A struct, not `async move { let _d = guard; fut.await }`: an
    /// async block keeps its captured `fut` and the `fut` it awaits in separate fields, so
    /// every goroutine carried its future twice (a 56-byte future made a 136-byte goroutine,
    /// 64 bytes now). Fields drop in order: the future first, then the guard.
    struct WithDone<F> {
        #[pin]
        fut: F,
        _done: DoneOnDrop,
    }
}

impl<F: std::future::Future> std::future::Future for WithDone<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// The future returned by [`WaitGroup::wait`].
///
/// ```
/// let wg = gorun::sync::WaitGroup::new();
/// let fut: gorun::sync::Wait<'_> = wg.wait();
/// futures::executor::block_on(fut);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    inner: &'a Inner,
    /// The queued node's key, once queued.
    slot: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match coop::poll_op(cx, |cx| this.poll_wait(cx)) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => crate::runtime::pending(crate::runtime::Wait::WaitGroup),
        }
    }
}

impl Wait<'_> {
    /// One look at the group: `Ready` once the counter is zero, else registered to be woken.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let this = self;
        let inner = this.inner;
        if let Some(key) = this.slot {
            let mut list = inner.lock();
            let w = list.get_mut(key);
            if w.released {
                list.remove(key);
                this.slot = None;
                return Poll::Ready(());
            }
            drop(store_waker(&mut w.waker, cx.waker()));
            return crate::runtime::pending(crate::runtime::Wait::WaitGroup);
        }
        if count(inner.state.load(Acquire)) == 0 {
            return Poll::Ready(());
        }
        let mut list = inner.lock();
        let mut cur = inner.state.load(Acquire);
        let e = loop {
            if count(cur) == 0 {
                return Poll::Ready(());
            }
            match inner
                .state
                .compare_exchange(cur, cur | WAITING, AcqRel, Acquire)
            {
                Ok(_) => break epoch(cur),
                Err(actual) => cur = actual,
            }
        };
        this.slot = Some(list.push_back(Waiter {
            epoch: e,
            waker: Some(cx.waker().clone()),
            released: false,
        }));
        crate::runtime::pending(crate::runtime::Wait::WaitGroup)
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let Some(key) = self.slot.take() else { return };
        let mut list = self.inner.lock();
        list.remove(key);
        if list.is_empty() {
            // Nobody waits any more: clear W, unless a crossing is pending (counter zero),
            // whose `done()` will bump the epoch and clear it (invariant 2).
            let state = &self.inner.state;
            let mut cur = state.load(Relaxed);
            while count(cur) != 0 && cur & WAITING != 0 {
                match state.compare_exchange(cur, cur & !WAITING, Relaxed, Relaxed) {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("queued", &self.slot.is_some())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn a_wait_group_goroutine_carries_its_future_once() {
        let wg = WaitGroup::new();
        let payload = [7u64; 6];
        let fut = async move { std::hint::black_box(payload).len() };
        let size = std::mem::size_of_val(&fut);
        let with = WithDone {
            fut,
            _done: {
                wg.add(1);
                wg.done_on_drop()
            },
        };
        assert_eq!(
            std::mem::size_of_val(&with),
            size + std::mem::size_of::<DoneOnDrop>()
        );
        drop(with);
        assert_eq!(wg.count(), 0, "dropping it called done()");
    }

    #[test]
    fn epoch_order_wraps() {
        assert!(epoch_le(5, 5));
        assert!(epoch_le(5, 6));
        assert!(!epoch_le(6, 5));
        assert!(epoch_le(0x7FFF_FFFF, 0));
    }

    /// A wait queued after a crossing's `add` is not released by that crossing.
    #[test]
    fn late_waiter_is_not_released_by_pending_crossing() {
        let wg = WaitGroup::new();
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        wg.add(1);
        let mut a = Box::pin(wg.wait());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        // Simulate the crossing `done()` between its decrement and its lock.
        let prev = wg.inner.state.fetch_sub(COUNT_ONE, AcqRel);
        assert_eq!(count(prev), 1);
        wg.add(1); // new round: bumps the epoch
        let mut b = Box::pin(wg.wait());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        wg.inner.release(epoch(prev)); // the crossing `done()` catches up
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        wg.done();
        assert!(b.as_mut().poll(&mut cx).is_ready());
        assert_eq!(wg.inner.lock().stored(), 0);
        assert_eq!(wg.inner.state.load(Relaxed) & WAITING, 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::thread;

    /// done() on another thread vs wait(): the waiter always returns, nothing stays queued.
    #[test]
    fn done_vs_wait() {
        crate::loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(2);
            let a = wg.clone();
            let b = wg.clone();
            let t1 = thread::spawn(move || a.done());
            let t2 = thread::spawn(move || b.done());
            crate::sync::blocking::loom_block_on(wg.wait());
            t1.join().unwrap();
            t2.join().unwrap();
            assert_eq!(wg.count(), 0);
            assert_eq!(wg.inner.lock().stored(), 0);
        });
    }

    /// A new round (`add`) races with the crossing of the previous one: the old waiter is
    /// released, a waiter of the new round is only released by the new round's `done()`.
    #[test]
    fn new_round_vs_crossing() {
        use futures::task::noop_waker;
        crate::loom::model(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            let a = wg.clone();
            let old_waiter = thread::spawn(move || {
                crate::sync::blocking::loom_block_on(a.wait());
            });
            let b = wg.clone();
            let finisher = thread::spawn(move || b.done());
            wg.add(1);
            // The counter stays >= 1 until our own done(): this wait cannot be released yet,
            // whatever the crossing of the first round is doing.
            let mut w = Box::pin(wg.wait());
            let noop = noop_waker();
            assert!(w
                .as_mut()
                .poll(&mut Context::from_waker(&noop))
                .is_pending());
            wg.done();
            crate::sync::blocking::loom_block_on(w);
            old_waiter.join().unwrap();
            finisher.join().unwrap();
            assert_eq!(wg.count(), 0);
            assert_eq!(wg.inner.lock().stored(), 0);
        });
    }
}
