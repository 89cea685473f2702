//! The public weighted semaphore, Go's `x/sync/semaphore.Weighted`: [`Semaphore`], its
//! [`Acquire`] future, the [`Permit`] guard and [`TryAcquireError`].
//!
//! Each is a thin wrapper over the fair FIFO [`RawSemaphore`] (`semaphore.rs`, where the
//! algorithm and its invariants are): `Semaphore` owns one, `Acquire` drives a
//! [`RawAcquire`] (whose drop gives back whatever it had been assigned), and a `Permit`
//! releases its permits when dropped, unless `forget` keeps them for good (shrinking the
//! semaphore's size) or `detach` hands them to the caller to give back with
//! `release_detached`. Permits are conserved on every path: taken by `try_acquire` or a
//! completed `Acquire`, they are held by exactly one `Permit` until it is dropped (released),
//! forgotten or detached.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::semaphore::{RawAcquire, RawSemaphore, MAX_PERMITS};

/// A counting semaphore with fair (FIFO) waiting: Go's `x/sync/semaphore.Weighted`.
///
/// [`acquire(n)`](Semaphore::acquire) waits until `n` permits are free *and* every earlier
/// waiter has been served, so a large request is never starved by a stream of small ones. The
/// [`Permit`] it returns gives the permits back when dropped.
///
/// ```
/// use gorun::sync::Semaphore;
/// futures::executor::block_on(async {
///     let sem = Semaphore::new(3);
///     let a = sem.acquire(2).await;
///     assert!(sem.try_acquire(2).is_err());
///     drop(a);
///     assert_eq!(sem.try_acquire(3).unwrap().num_permits(), 3);
/// });
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold (`usize::MAX >> 3`).
    ///
    /// ```
    /// assert!(gorun::sync::Semaphore::MAX_PERMITS >= u32::MAX as usize);
    /// ```
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    /// A semaphore with `permits` free permits. Panics above [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let sem = gorun::sync::Semaphore::new(10);
    /// assert_eq!(sem.available_permits(), 10);
    /// ```
    pub fn new(permits: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::new(permits),
        }
    }

    /// Waits for `n` permits, in FIFO order with the other waiters. Dropping the future before
    /// it completes gives back whatever part of `n` it had already been assigned. Panics if `n`
    /// exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// A request for more permits than the semaphore has in all (created, plus
    /// [`add_permits`](Self::add_permits), minus [`Permit::forget`]) can never be served. As
    /// with Go's `Weighted.Acquire` (which waits for its context instead), it waits *without*
    /// holding a place in the queue, so it blocks nobody; drop it (e.g. in a `select!` or a
    /// `timeout`) to give up. If `add_permits` later makes it fit, it joins the queue then.
    ///
    /// ```
    /// use gorun::sync::Semaphore;
    /// futures::executor::block_on(async {
    ///     let sem = Semaphore::new(4);
    ///     let p = sem.acquire(3).await;
    ///     assert_eq!(sem.available_permits(), 1);
    ///     drop(p);
    ///     assert_eq!(sem.available_permits(), 4);
    /// });
    /// ```
    pub fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            raw: RawAcquire::new(&self.raw, n),
        }
    }

    /// Takes `n` permits now if that many are free and nobody is waiting (a waiting acquirer
    /// is never overtaken).
    ///
    /// ```
    /// use gorun::sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire(1).unwrap();
    /// assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError);
    /// drop(p);
    /// assert!(sem.try_acquire(1).is_ok());
    /// ```
    pub fn try_acquire(&self, n: usize) -> Result<Permit<'_>, TryAcquireError> {
        if self.raw.try_acquire(n) {
            Ok(Permit { sem: self, n })
        } else {
            Err(TryAcquireError)
        }
    }

    /// Adds `n` permits (Go's `Release(n)` without a matching acquire), serving waiters first;
    /// the semaphore's size grows by `n`, so a waiting request that was larger than the size
    /// may now be served. Panics if the total would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let sem = gorun::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.raw.add_permits(n);
    }

    /// Gives back `n` permits taken by a [`Permit::detach`] (the size does not change).
    pub(crate) fn release_detached(&self, n: usize) {
        self.raw.release(n);
    }

    /// The number of free permits now (zero while anyone is waiting).
    ///
    /// ```
    /// let sem = gorun::sync::Semaphore::new(5);
    /// let _p = sem.try_acquire(2).unwrap();
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.raw.available()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}

/// The future returned by [`Semaphore::acquire`].
///
/// ```
/// use gorun::sync::Semaphore;
/// let sem = Semaphore::new(1);
/// let fut: gorun::sync::Acquire<'_> = sem.acquire(1);
/// let permit = futures::executor::block_on(fut);
/// assert_eq!(permit.num_permits(), 1);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    raw: RawAcquire<'a>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let this = self.get_mut();
        match Pin::new(&mut this.raw).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Permit {
                sem: this.sem,
                n: this.raw.n,
            }),
            Poll::Pending => crate::runtime::pending(crate::runtime::Wait::Semaphore),
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
///
/// ```
/// use gorun::sync::Semaphore;
/// let sem = Semaphore::new(2);
/// {
///     let p = sem.try_acquire(2).unwrap();
///     assert_eq!(p.num_permits(), 2);
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "dropping a Permit releases it at once"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Permit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = gorun::sync::Semaphore::new(3);
    /// assert_eq!(sem.try_acquire(3).unwrap().num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Keeps the permits taken for good: they are not returned on drop, and the semaphore's
    /// size shrinks by as many. A waiting request that no longer fits the size stops blocking
    /// the others (see [`Semaphore::acquire`]).
    ///
    /// ```
    /// let sem = gorun::sync::Semaphore::new(3);
    /// sem.try_acquire(1).unwrap().forget();
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn forget(mut self) {
        self.sem.raw.forget(self.n);
        self.n = 0;
    }

    /// Lets go of the guard but not of the permits: they stay taken (the size does not
    /// change) until [`Semaphore::release_detached`] gives them back.
    pub(crate) fn detach(mut self) -> usize {
        std::mem::take(&mut self.n)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.sem.raw.release(self.n);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("permits", &self.n).finish()
    }
}

/// [`Semaphore::try_acquire`] found too few free permits (or earlier waiters queued).
///
/// ```
/// let e = gorun::sync::TryAcquireError;
/// assert_eq!(e.to_string(), "no permits available");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryAcquireError;

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no permits available")
    }
}

impl std::error::Error for TryAcquireError {}
