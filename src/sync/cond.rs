//! `Cond`: a condition variable for gorun's async [`Mutex`], Go's `sync.Cond`.
//!
//! # Algorithm
//!
//! Go's `notifyList` idea: a waiter *registers first, then unlocks*, so a `signal` issued by
//! anyone who took the mutex after the unlock cannot be missed. The waiters wait in a FIFO
//! [`WaitList`] behind a small lock; `signal` unlinks the oldest and marks it notified,
//! `broadcast` does so for all of them, and each woken waiter then re-locks the mutex (queuing
//! fairly behind other lockers) before `wait` returns its guard.
//!
//! # Invariants
//!
//! - A node is linked iff its waiter has not been notified; a notified node is unlinked and
//!   marked, and its owner removes it.
//! - A waiter that is dropped after being notified but before `wait` returned (still
//!   registered, or already re-locking the mutex) passes the notification on (calls `signal`),
//!   so a `signal` is never lost to cancellation.
//!   As with Go, callers must re-check their condition in a loop: wake-ups can come from
//!   `broadcast` or from such a forwarded signal.
//!
//! # Rejected
//!
//! - Go's ticket counters (`wait`/`notify` numbers): they exist to avoid allocating a node per
//!   waiter; the slab reuses its nodes, so the plain list is as cheap and simpler.

use crate::loom::Unpoison;
use crate::util::wake_list::store_waker;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::mutex::{Lock, Mutex, MutexGuard};
use super::waitlist::{WaitList, WakeList};
use crate::loom::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard};

struct Waiter {
    waker: Option<Waker>,
    notified: bool,
}

/// A condition variable: goroutines wait (releasing a [`Mutex`]) until another one
/// [`signal`](Cond::signal)s or [`broadcast`](Cond::broadcast)s. Go's `sync.Cond`.
///
/// ```
/// use gorun::sync::{Cond, Mutex};
/// use std::sync::Arc;
/// futures::executor::block_on(async {
///     let state = Arc::new((Mutex::new(false), Cond::new()));
///     let s = state.clone();
///     let t = std::thread::spawn(move || {
///         *s.0.lock_blocking() = true;
///         s.1.signal();
///     });
///     let (m, c) = &*state;
///     let mut ready = m.lock().await;
///     while !*ready {
///         ready = c.wait(ready).await;
///     }
///     t.join().unwrap();
/// });
/// ```
pub struct Cond {
    /// Waiters not yet notified, oldest first (plus notified nodes their owners will remove).
    waiters: StdMutex<WaitList<Waiter>>,
}

impl Cond {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// let c = gorun::sync::Cond::new();
    /// c.signal(); // nobody waits: nothing happens
    /// ```
    pub fn new() -> Self {
        Cond {
            waiters: StdMutex::new(WaitList::new()),
        }
    }

    fn lock(&self) -> StdMutexGuard<'_, WaitList<Waiter>> {
        self.waiters.lock().unpoison()
    }

    /// Releases `guard`'s mutex, waits for a `signal` or `broadcast`, re-locks the mutex and
    /// returns the new guard. Wake-ups may be spurious: re-check the condition in a loop.
    ///
    /// ```
    /// use gorun::sync::{Cond, Mutex};
    /// use std::sync::Arc;
    /// futures::executor::block_on(async {
    ///     let pair = Arc::new((Mutex::new(0), Cond::new()));
    ///     let p = pair.clone();
    ///     let t = std::thread::spawn(move || {
    ///         *p.0.lock_blocking() = 5;
    ///         p.1.broadcast();
    ///     });
    ///     let mut g = pair.0.lock().await;
    ///     while *g != 5 {
    ///         g = pair.1.wait(g).await;
    ///     }
    ///     t.join().unwrap();
    /// });
    /// ```
    pub fn wait<'c, 'a, T: ?Sized>(&'c self, guard: MutexGuard<'a, T>) -> CondWait<'c, 'a, T> {
        CondWait {
            cond: self,
            mutex: guard.mutex,
            state: State::Start(Some(guard)),
        }
    }

    /// Wakes the longest-waiting goroutine, if any.
    ///
    /// ```
    /// let c = gorun::sync::Cond::new();
    /// c.signal();
    /// ```
    pub fn signal(&self) {
        let mut list = self.lock();
        let mut wakers = WakeList::new();
        if let Some(key) = list.front() {
            notify(&mut list, key, &mut wakers);
        }
        drop(list);
        wakers.wake();
    }

    /// Wakes every waiting goroutine.
    ///
    /// ```
    /// let c = gorun::sync::Cond::new();
    /// c.broadcast();
    /// ```
    pub fn broadcast(&self) {
        let mut list = self.lock();
        let mut wakers = WakeList::new();
        while let Some(key) = list.front() {
            notify(&mut list, key, &mut wakers);
        }
        drop(list);
        wakers.wake();
    }
}

fn notify(list: &mut WaitList<Waiter>, key: usize, wakers: &mut WakeList) {
    let w = list.get_mut(key);
    w.notified = true;
    if let Some(waker) = w.waker.take() {
        wakers.push(waker);
    }
    list.unlink(key);
}

impl Default for Cond {
    fn default() -> Self {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond")
            .field("waiters", &self.lock().linked_len())
            .finish()
    }
}

enum State<'a, T: ?Sized> {
    /// Not polled yet: still holds the caller's guard.
    Start(Option<MutexGuard<'a, T>>),
    /// Registered under this key, mutex released.
    Waiting(usize),
    /// Notified; re-locking the mutex.
    Locking(Lock<'a, T>),
    Done,
}

/// The future returned by [`Cond::wait`]; resolves to the re-acquired guard.
///
/// ```
/// use gorun::sync::{Cond, CondWait, Mutex};
/// let (m, c) = (Mutex::new(()), Cond::new());
/// let fut: CondWait<'_, '_, ()> = c.wait(m.try_lock().unwrap());
/// drop(fut); // dropping it unpolled just unlocks
/// assert!(m.try_lock().is_ok());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CondWait<'c, 'a, T: ?Sized> {
    cond: &'c Cond,
    mutex: &'a Mutex<T>,
    state: State<'a, T>,
}

impl<'a, T: ?Sized> Future for CondWait<'_, 'a, T> {
    type Output = MutexGuard<'a, T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // `CondWait` is `Unpin`: every field is a reference, a key or an `Unpin` future.
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Start(guard) => {
                    // Register before unlocking, so no signal after the unlock is missed.
                    let key = this.cond.lock().push_back(Waiter {
                        waker: Some(cx.waker().clone()),
                        notified: false,
                    });
                    drop(guard.take());
                    this.state = State::Waiting(key);
                    return crate::runtime::pending(crate::runtime::Wait::Cond);
                }
                State::Waiting(key) => {
                    let key = *key;
                    let mut list = this.cond.lock();
                    let w = list.get_mut(key);
                    if !w.notified {
                        drop(store_waker(&mut w.waker, cx.waker()));
                        return crate::runtime::pending(crate::runtime::Wait::Cond);
                    }
                    list.remove(key);
                    drop(list);
                    this.state = State::Locking(this.mutex.lock());
                }
                State::Locking(lock) => {
                    return match Pin::new(lock).poll(cx) {
                        Poll::Ready(g) => {
                            this.state = State::Done;
                            Poll::Ready(g)
                        }
                        Poll::Pending => crate::runtime::pending(crate::runtime::Wait::Cond),
                    };
                }
                State::Done => panic!("sync: Cond::wait future polled after completion"),
            }
        }
    }
}

impl<T: ?Sized> Drop for CondWait<'_, '_, T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Waiting(key) => {
                let mut list = self.cond.lock();
                let (w, _) = list.remove(key);
                drop(list);
                if w.notified {
                    // We were chosen but will never act on it: pass the signal on.
                    self.cond.signal();
                }
            }
            State::Locking(lock) => {
                // Notified, but dropped before `wait` returned: the caller never saw the
                // wake-up, so pass it on. Cancel the lock attempt first, so that a lock it
                // was handed is released before the next waiter tries to take it.
                drop(lock);
                self.cond.signal();
            }
            State::Start(_) | State::Done => {}
        }
    }
}

impl<T: ?Sized> fmt::Debug for CondWait<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start(_) => "start",
            State::Waiting(_) => "waiting",
            State::Locking(_) => "locking",
            State::Done => "done",
        };
        f.debug_struct("CondWait").field("state", &state).finish()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use crate::sync::blocking::loom_block_on;

    /// A waiter that checks the condition, registers and unlocks can never miss the `signal`
    /// of a thread that sets the condition under the mutex: the classic lost wake-up.
    #[test]
    fn wait_vs_signal() {
        crate::loom::model(|| {
            let pair = Arc::new((Mutex::new(false), Cond::new()));
            let p = pair.clone();
            let setter = thread::spawn(move || {
                *loom_block_on(p.0.lock()) = true;
                p.1.signal();
            });
            let (m, c) = &*pair;
            loom_block_on(async {
                let mut g = m.lock().await;
                while !*g {
                    g = c.wait(g).await;
                }
            });
            setter.join().unwrap();
            assert_eq!(c.lock().stored(), 0);
        });
    }

    /// A notified waiter that is dropped before acting passes the signal to the other waiter.
    #[test]
    fn cancelled_waiter_forwards_signal() {
        use futures::task::noop_waker;
        crate::loom::model(|| {
            let pair = Arc::new((Mutex::new(()), Cond::new()));
            let registered = Arc::new(AtomicBool::new(false));
            let (p, r) = (pair.clone(), registered.clone());
            let other = thread::spawn(move || {
                let noop = noop_waker();
                let g = p.0.try_lock().unwrap();
                let mut w = Box::pin(p.1.wait(g));
                assert!(w
                    .as_mut()
                    .poll(&mut Context::from_waker(&noop))
                    .is_pending());
                r.store(true, SeqCst);
                drop(w); // cancelled: if it was signalled, the signal moves on
            });
            // Wait until the other waiter registered (and released the mutex).
            while !registered.load(SeqCst) {
                thread::yield_now();
            }
            let (m, c) = &*pair;
            let mut mine = Box::pin(c.wait(loom_block_on(m.lock())));
            let noop = noop_waker();
            assert!(mine
                .as_mut()
                .poll(&mut Context::from_waker(&noop))
                .is_pending());
            c.signal();
            // Whether the signal picked us or the cancelled waiter, we must be woken.
            drop(loom_block_on(mine));
            other.join().unwrap();
        });
    }

    /// Issue #13, "Cond signal against cancellation": waiter A is cancelled at any point
    /// around a `signal` that picks it, including after it saw the signal and started to
    /// re-lock the (held) mutex. The signal must then reach waiter B: B never sleeps forever
    /// (loom reports a deadlock if it does), and no node is left behind.
    #[test]
    fn cond_signal_vs_cancel_while_relocking() {
        use futures::task::noop_waker;
        crate::loom::model(|| {
            let pair = Arc::new((Mutex::new(()), Cond::new()));
            let a_registered = Arc::new(AtomicBool::new(false));
            let main_locked = Arc::new(AtomicBool::new(false));
            let (p, ar, ml) = (pair.clone(), a_registered.clone(), main_locked.clone());
            let a = thread::spawn(move || {
                let noop = noop_waker();
                let mut cx = Context::from_waker(&noop);
                let g = loom_block_on(p.0.lock());
                let mut w = Box::pin(p.1.wait(g));
                assert!(w.as_mut().poll(&mut cx).is_pending());
                ar.store(true, SeqCst);
                while !ml.load(SeqCst) {
                    thread::yield_now();
                }
                // The main thread holds the mutex now: if the signal came, this poll moves
                // on to re-locking and stays pending there.
                assert!(w.as_mut().poll(&mut cx).is_pending());
                drop(w); // cancelled before `wait` returned
            });
            while !a_registered.load(SeqCst) {
                thread::yield_now();
            }
            let (m, c) = &*pair;
            let noop = noop_waker();
            let mut b = Box::pin(c.wait(loom_block_on(m.lock())));
            assert!(b
                .as_mut()
                .poll(&mut Context::from_waker(&noop))
                .is_pending());
            let held = loom_block_on(m.lock());
            main_locked.store(true, SeqCst);
            c.signal(); // picks A, the older waiter, unless A is gone already
            a.join().unwrap();
            drop(held);
            drop(loom_block_on(b));
            assert_eq!(c.lock().stored(), 0);
        });
    }
}
