//! One facade for every atomic, lock, cell and thread the crate uses, so that the same code
//! runs on `std` and, with `RUSTFLAGS="--cfg loom"`, under the loom model checker.
//!
//! Modules import `crate::loom::sync::...` instead of `std::sync::...`. Under loom the types
//! come from `loom` and every interleaving of a model is explored; normally they are std's.

#![allow(unused_imports, dead_code)]

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
            Ordering,
        };
    }
}

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use std::sync::Weak;
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
            Ordering,
        };
    }
}

#[cfg(not(loom))]
pub(crate) mod thread {
    pub(crate) use std::thread::{current, park, spawn, yield_now, JoinHandle, Thread};
}

#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{current, park, spawn, yield_now, JoinHandle, Thread};
}

/// Poison-tolerant locking: `m.lock().unpoison()`, `cv.wait(g).unpoison()`. The crate's
/// internal locks (std's and loom's, which share std's `LockResult`) guard state that is
/// consistent at every point where code under them can panic (only allocation failure or a
/// destructor, if anything), so a panic in one thread must not make every later lock panic.
pub(crate) trait Unpoison<G> {
    /// The guard, whether or not the lock was poisoned.
    fn unpoison(self) -> G;
}

impl<G> Unpoison<G> for std::sync::LockResult<G> {
    #[inline]
    fn unpoison(self) -> G {
        self.unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `UnsafeCell` with loom's closure-based API, so accesses can be tracked by loom.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    #[cfg(not(loom))]
    #[derive(Debug, Default)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    #[cfg(not(loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Gives a shared raw pointer to the contents; the caller upholds aliasing.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Gives a mutable raw pointer to the contents; the caller upholds aliasing.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Runs `f` under the loom model checker, exploring every interleaving.
#[cfg(loom)]
pub(crate) fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    loom::model(f)
}

/// Like [`model`], but explores only interleavings with at most `bound` preemptions: the
/// bugs loom finds almost always need two or three, and larger models do not finish otherwise.
#[cfg(loom)]
pub(crate) fn model_bounded<F: Fn() + Sync + Send + 'static>(bound: usize, f: F) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b.check(f)
}
