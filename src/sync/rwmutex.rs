//! `RwMutex<T>`: an async reader/writer lock, Go's `sync.RWMutex` holding its data.
//!
//! # Algorithm
//!
//! tokio's `RwLock` construction: a [`RawSemaphore`] with `MAX_READS` permits. A reader takes
//! one permit, a writer takes all `MAX_READS`. Because the semaphore is FIFO and its fast path
//! never overtakes a queued waiter, a writer that waits (having taken every permit that was
//! free and queued for the rest) blocks every reader that comes after it, as Go's `RWMutex`
//! does: readers cannot starve a writer, and the writer cannot starve the readers queued behind
//! it either, since they are served in order when it unlocks.
//!
//! # Invariants
//!
//! - Readers hold one permit each, a writer holds all of them: so either no writer and at most
//!   `MAX_READS` readers, or one writer and no reader, hold the lock at any time.
//! - `&T` is only reachable through a read guard, `&mut T` only through the write guard (or
//!   `&mut self`).
//!
//! # Rejected
//!
//! - Go's reader-count word with a writer-pending bias (`readerCount -= rwmutexMaxReaders`):
//!   needs a second semaphore for readers and one for the writer; the batch semaphore gives the
//!   same ordering with one queue, and tokio has shipped it for years.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::semaphore::{RawAcquire, RawSemaphore};
use super::TryLockError;
use crate::loom::cell::UnsafeCell;

/// How many readers can hold the lock at once (and how many permits a writer takes).
const MAX_READS: usize = (u32::MAX >> 3) as usize;

/// An async reader/writer lock owning its data: many readers or one writer; a waiting writer
/// blocks new readers, and every waiter is served in FIFO order. Go's `sync.RWMutex`.
///
/// ```
/// use gorun::sync::RwMutex;
/// futures::executor::block_on(async {
///     let m = RwMutex::new(1);
///     {
///         let a = m.read().await;
///         let b = m.read().await; // readers share the lock
///         assert_eq!(*a + *b, 2);
///     }
///     *m.write().await += 1;
///     assert_eq!(*m.read().await, 2);
/// });
/// ```
pub struct RwMutex<T: ?Sized> {
    sem: RawSemaphore,
    /// Guarded by `sem`: read through one permit, written through all `MAX_READS`.
    data: UnsafeCell<T>,
}

// SAFETY: the lock moves `T` between threads (`T: Send`) and lets several threads read it at
// once (`T: Sync`), like `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}

impl<T> RwMutex<T> {
    /// A new unlocked lock holding `value`.
    ///
    /// ```
    /// let m = gorun::sync::RwMutex::new("x");
    /// assert_eq!(m.into_inner(), "x");
    /// ```
    pub fn new(value: T) -> Self {
        RwMutex {
            sem: RawSemaphore::new(MAX_READS),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns its data.
    ///
    /// ```
    /// let m = gorun::sync::RwMutex::new(7);
    /// assert_eq!(m.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Waits for shared (read) access. Waits behind any queued writer.
    ///
    /// ```
    /// let m = gorun::sync::RwMutex::new(4);
    /// assert_eq!(*futures::executor::block_on(m.read()), 4);
    /// ```
    pub fn read(&self) -> ReadLock<'_, T> {
        ReadLock {
            lock: self,
            acquire: RawAcquire::new(&self.sem, 1),
        }
    }

    /// Waits for exclusive (write) access, in FIFO order with the other waiters.
    ///
    /// ```
    /// let m = gorun::sync::RwMutex::new(4);
    /// *futures::executor::block_on(m.write()) = 5;
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn write(&self) -> WriteLock<'_, T> {
        WriteLock {
            lock: self,
            acquire: RawAcquire::with_hint(&self.sem, MAX_READS, MAX_READS),
        }
    }

    /// Shared access now, if no writer holds or waits for the lock.
    ///
    /// ```
    /// let m = gorun::sync::RwMutex::new(1);
    /// let r = m.try_read().unwrap();
    /// assert!(m.try_read().is_ok());
    /// assert!(m.try_write().is_err());
    /// drop(r);
    /// ```
    pub fn try_read(&self) -> Result<RwMutexReadGuard<'_, T>, TryLockError> {
        if self.sem.try_acquire(1) {
            Ok(RwMutexReadGuard {
                lock: self,
                _marker: PhantomData,
            })
        } else {
            Err(TryLockError)
        }
    }

    /// Exclusive access now, if nobody holds or waits for the lock.
    ///
    /// ```
    /// let m = gorun::sync::RwMutex::new(1);
    /// let w = m.try_write().unwrap();
    /// assert!(m.try_read().is_err());
    /// drop(w);
    /// assert!(m.try_read().is_ok());
    /// ```
    pub fn try_write(&self) -> Result<RwMutexWriteGuard<'_, T>, TryLockError> {
        if self.sem.try_acquire_expect(MAX_READS, MAX_READS) {
            Ok(RwMutexWriteGuard {
                lock: self,
                _marker: PhantomData,
            })
        } else {
            Err(TryLockError)
        }
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds the lock.
    ///
    /// ```
    /// let mut m = gorun::sync::RwMutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard.
        self.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> Self {
        RwMutex::new(T::default())
    }
}

impl<T> From<T> for RwMutex<T> {
    fn from(value: T) -> Self {
        RwMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwMutex");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future returned by [`RwMutex::read`].
///
/// ```
/// let m = gorun::sync::RwMutex::new(0);
/// let fut: gorun::sync::ReadLock<'_, i32> = m.read();
/// assert_eq!(*futures::executor::block_on(fut), 0);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ReadLock<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    acquire: RawAcquire<'a>,
}

impl<'a, T: ?Sized> Future for ReadLock<'a, T> {
    type Output = RwMutexReadGuard<'a, T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.acquire).poll(cx) {
            Poll::Ready(()) => Poll::Ready(RwMutexReadGuard {
                lock: this.lock,
                _marker: PhantomData,
            }),
            Poll::Pending => crate::runtime::pending(crate::runtime::Wait::RwMutexRead),
        }
    }
}

impl<T: ?Sized> fmt::Debug for ReadLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLock")
            .field("done", &self.acquire.is_done())
            .finish()
    }
}

/// The future returned by [`RwMutex::write`].
///
/// ```
/// let m = gorun::sync::RwMutex::new(0);
/// let fut: gorun::sync::WriteLock<'_, i32> = m.write();
/// *futures::executor::block_on(fut) = 9;
/// assert_eq!(m.into_inner(), 9);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WriteLock<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    acquire: RawAcquire<'a>,
}

impl<'a, T: ?Sized> Future for WriteLock<'a, T> {
    type Output = RwMutexWriteGuard<'a, T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.acquire).poll(cx) {
            Poll::Ready(()) => Poll::Ready(RwMutexWriteGuard {
                lock: this.lock,
                _marker: PhantomData,
            }),
            Poll::Pending => crate::runtime::pending(crate::runtime::Wait::RwMutexWrite),
        }
    }
}

impl<T: ?Sized> fmt::Debug for WriteLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteLock")
            .field("done", &self.acquire.is_done())
            .finish()
    }
}

/// Shared access to an [`RwMutex`]'s data; releases its read share when dropped.
///
/// ```
/// let m = gorun::sync::RwMutex::new(String::from("hi"));
/// let g: gorun::sync::RwMutexReadGuard<'_, String> = m.try_read().unwrap();
/// assert_eq!(g.len(), 2);
/// ```
#[must_use = "dropping a guard unlocks it at once"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    /// A read guard hands out `&T`: `Send`/`Sync` only for `T: Sync`.
    _marker: PhantomData<&'a T>,
}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard holds one permit; no write guard (which needs all of them) can
        // exist meanwhile, so only shared references to `data` are alive.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwMutex`]'s data; unlocks when dropped.
///
/// ```
/// let m = gorun::sync::RwMutex::new(vec![1]);
/// let mut g: gorun::sync::RwMutexWriteGuard<'_, Vec<i32>> = m.try_write().unwrap();
/// g.push(2);
/// drop(g);
/// assert_eq!(m.into_inner(), [1, 2]);
/// ```
#[must_use = "dropping a guard unlocks it at once"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    /// Hands out `&mut T` and `&T`.
    _marker: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write guard holds every permit: no other guard exists.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard holds every permit and `&mut self` excludes other uses.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release_expect(MAX_READS, 0);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
