//! The channel lock: a spin-then-yield lock for critical sections of a few dozen
//! instructions, as Go's channels use `runtime.lock` (spin, then yield, then sleep).
//!
//! Under contention a `std::sync::Mutex` parks the loser in the kernel (`futex`) and makes the
//! next unlock a system call; on the `mpmc` benchmark that was almost half of all the time.
//! A channel's critical section never blocks and never runs user code that could wait
//! (wakers are called after the lock is released), so a contended acquirer spins with
//! exponential backoff (see `SPIN_ROUNDS` for why the backoff runs long) and then yields its
//! thread until the holder is done.
//!
//! Invariants: `locked` is true exactly while a [`Guard`] exists; the acquiring CAS is
//! `Acquire` and the release store `Release`, so each holder sees the previous holder's
//! writes to `value`.
//!
//! Under loom it is loom's `Mutex`, whose interleavings loom explores.

#[cfg(loom)]
pub(crate) use loom_impl::{ChanLock, Guard};

#[cfg(not(loom))]
pub(crate) use std_impl::{ChanLock, Guard};

#[cfg(not(loom))]
mod std_impl {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicBool, Ordering::*};

    /// Spin rounds before yielding the thread; round `r` pauses `2^min(r, MAX_SPIN_SHIFT)`
    /// times before looking at the lock again (about 2,000 pauses in all before the first
    /// yield).
    ///
    /// The long tail of the backoff matters under sustained contention (4 senders and 4
    /// receivers on one channel, both workers busy): a waiter that keeps finding the lock
    /// taken looks less and less often, so the holder's core runs many operations in a row
    /// with the channel's cache lines to itself instead of handing them over at every
    /// operation, which is what made the contended case three times slower than one core
    /// alone. Go's lock gets the same effect by putting the waiter to sleep. Rounds stay
    /// short while the lock is only briefly taken (the first ones are 1, 2, 4 pauses).
    /// Measured on `mpmc`, interleaved: 7 rounds capped at 64 pauses: 164 ms; 12 rounds
    /// capped at 256: 129; 12 capped at 512: 104; 14 capped at 1024: 102 (Go: 105).
    const SPIN_ROUNDS: u32 = 12;
    const MAX_SPIN_SHIFT: u32 = 9;

    pub(crate) struct ChanLock<T> {
        locked: AtomicBool,
        /// Guarded by `locked`.
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock gives one thread at a time access to `value`, like `std::sync::Mutex`:
    // it needs `T: Send` to hand the value between threads, not `T: Sync`.
    unsafe impl<T: Send> Sync for ChanLock<T> {}
    // SAFETY: as above; moving the lock moves the `T`.
    unsafe impl<T: Send> Send for ChanLock<T> {}

    pub(crate) struct Guard<'a, T> {
        lock: &'a ChanLock<T>,
    }

    impl<T> ChanLock<T> {
        pub(crate) fn new(value: T) -> Self {
            ChanLock {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            Guard { lock: self }
        }

        #[cold]
        fn lock_contended(&self) {
            let mut backoff = 0u32;
            loop {
                while self.locked.load(Relaxed) {
                    if backoff < SPIN_ROUNDS {
                        for _ in 0..(1u32 << backoff.min(MAX_SPIN_SHIFT)) {
                            std::hint::spin_loop();
                        }
                        backoff += 1;
                    } else {
                        // The holder may have been preempted: give it our core.
                        std::thread::yield_now();
                    }
                }
                if self
                    .locked
                    .compare_exchange_weak(false, true, Acquire, Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
        }
    }

    impl<T> Deref for Guard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard exists only while `locked` is ours, so no other reference to
            // `value` exists.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for Guard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and `&mut self` makes this the only use of the guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for Guard<'_, T> {
        fn drop(&mut self) {
            self.lock.locked.store(false, Release);
        }
    }
}

#[cfg(loom)]
mod loom_impl {
    pub(crate) struct ChanLock<T>(loom::sync::Mutex<T>);
    pub(crate) type Guard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> ChanLock<T> {
        pub(crate) fn new(value: T) -> Self {
            ChanLock(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}
