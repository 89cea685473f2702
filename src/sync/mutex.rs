//! `Mutex<T>`: an async mutual-exclusion lock, Go's `sync.Mutex` holding its data.
//!
//! # Algorithm
//!
//! A [`RawMutex`] (Go's `sync.Mutex` algorithm: barging in normal mode, handoff in starvation
//! mode; see `raw_mutex`) plus an `UnsafeCell<T>`. Uncontended, `lock` is one compare-and-swap
//! and unlock another.
//!
//! # Invariants
//!
//! - At most one `MutexGuard` exists per mutex at any time: a guard is only created once the
//!   raw mutex is ours, and it unlocks when dropped. All access to `data` goes through a guard
//!   (or through `&mut self`/`self`, which exclude every guard).
//! - The raw mutex's lock (Acquire) and unlock (Release, or the waiter list's lock on handoff)
//!   order the previous holder's writes before the next holder's reads.
//!
//! # Rejected
//!
//! - A `std::sync::Mutex` held across `.await`: blocks the worker thread instead of the task.
//! - Strict FIFO handoff (the semaphore's discipline, which `RwMutex` keeps): every contended
//!   lock becomes a park and a wake-up; measured 4-5x slower than Go's `sync.Mutex`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::raw_mutex::{LockState, RawMutex};
use crate::loom::cell::UnsafeCell;
use crate::runtime::coop;

/// An async mutex that owns its data: Go's `sync.Mutex`, with its fairness (a waiter passed
/// over for more than 1 ms gets the lock handed to it, so no waiter starves) and one atomic
/// operation to lock or unlock when uncontended.
///
/// ```
/// use gorun::sync::Mutex;
/// futures::executor::block_on(async {
///     let m = Mutex::new(0);
///     *m.lock().await += 1;
///     assert_eq!(*m.lock().await, 1);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    /// Guarded by `raw`: accessed only by the holder of the lock.
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `T` from thread to thread (so it needs `T: Send`) and only ever lets
// one thread at a time reach it (so `T: Sync` is not needed), exactly like `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared access to the mutex gives exclusive, one-at-a-time access to `T`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = gorun::sync::Mutex::new(vec![1, 2]);
    /// assert_eq!(m.into_inner(), [1, 2]);
    /// ```
    pub fn new(value: T) -> Self {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its data.
    ///
    /// ```
    /// let m = gorun::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock, in FIFO order with the other waiters, and returns its guard.
    /// Dropping the future before it completes leaves the mutex exactly as it would have been.
    ///
    /// ```
    /// use gorun::sync::Mutex;
    /// futures::executor::block_on(async {
    ///     let m = Mutex::new(String::new());
    ///     m.lock().await.push_str("go");
    ///     assert_eq!(&*m.lock().await, "go");
    /// });
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            state: LockState::default(),
            done: false,
        }
    }

    /// Takes the lock if it is free (and not being handed to a starving waiter).
    ///
    /// ```
    /// let m = gorun::sync::Mutex::new(1);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        if self.raw.try_lock() {
            Ok(MutexGuard::new(self))
        } else {
            Err(TryLockError)
        }
    }

    /// Locks from synchronous code, parking the thread until the lock is ours. Panics if
    /// called on a gorun worker thread (use `lock().await` there).
    ///
    /// ```
    /// let m = gorun::sync::Mutex::new(1);
    /// *m.lock_blocking() += 1;
    /// assert_eq!(*m.lock_blocking(), 2);
    /// ```
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        super::blocking::block_on("Mutex::lock_blocking", "lock().await", self.lock())
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds the mutex.
    ///
    /// ```
    /// let mut m = gorun::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard, so this is the only access to `data`.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Whether the lock is held now (a snapshot, for diagnostics).
    ///
    /// ```
    /// let m = gorun::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    fn unlock(&self) {
        self.raw.unlock();
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future returned by [`Mutex::lock`]; resolves to the guard.
///
/// ```
/// let m = gorun::sync::Mutex::new(3);
/// let fut: gorun::sync::Lock<'_, i32> = m.lock();
/// assert_eq!(*futures::executor::block_on(fut), 3);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    state: LockState,
    done: bool,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = self.get_mut();
        assert!(!this.done, "Lock polled after completion");
        let unit = std::task::ready!(coop::proceed(cx));
        match this.mutex.raw.poll_lock(&mut this.state, cx) {
            Poll::Ready(()) => {
                this.done = true;
                Poll::Ready(MutexGuard::new(this.mutex))
            }
            Poll::Pending => {
                unit.refund();
                crate::runtime::pending(crate::runtime::Wait::Mutex)
            }
        }
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        if !self.done {
            self.mutex.raw.cancel(&mut self.state);
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").field("done", &self.done).finish()
    }
}

/// Exclusive access to a [`Mutex`]'s data; unlocks when dropped.
///
/// ```
/// let m = gorun::sync::Mutex::new(vec![1]);
/// let mut g = m.lock_blocking();
/// g.push(2);
/// drop(g);
/// assert_eq!(m.into_inner(), [1, 2]);
/// ```
#[must_use = "dropping a MutexGuard unlocks it at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
    /// Makes the guard `Sync` only for `T: Sync` (it hands out `&T`), `Send` for `T: Send`.
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and `&mut self` excludes other uses of it.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// [`Mutex::try_lock`] found the mutex locked (or waiters queued).
///
/// ```
/// assert_eq!(gorun::sync::TryLockError.to_string(), "lock is held");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError;

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lock is held")
    }
}

impl std::error::Error for TryLockError {}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    /// Two lockers, one contended: both increments land and the lock ends free.
    #[test]
    fn two_lockers() {
        crate::loom::model(|| {
            let m = Arc::new(Mutex::new(0));
            let m2 = m.clone();
            let t = thread::spawn(move || {
                *crate::sync::blocking::loom_block_on(m2.lock()) += 1;
            });
            *crate::sync::blocking::loom_block_on(m.lock()) += 1;
            t.join().unwrap();
            assert_eq!(*m.try_lock().unwrap(), 2);
        });
    }
}
