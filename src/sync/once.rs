//! `Once`: run an async initialisation exactly once, Go's `sync.Once`.
//!
//! # Algorithm
//!
//! Go's `Once` shape: an atomic `done` flag for the fast path, and a (gorun, async) [`Mutex`]
//! for the slow path. `call_once` returns at once if `done` is set; otherwise it locks the
//! mutex, checks `done` again, runs the future, sets `done` and unlocks. Concurrent callers
//! queue on the mutex in FIFO order and find `done` set when their turn comes.
//!
//! # Invariants
//!
//! - `done` is set (Release) after the first future completes, before the mutex is unlocked;
//!   a caller that sees it set (Acquire) sees every effect of that future.
//! - If the running future *panics* (its `poll` unwinds), `done` is set anyway, as in Go ("if f
//!   panics, Do considers it to have returned"). If the running `call_once` future is *dropped*
//!   (cancelled) midway, `done` stays clear and the next queued caller runs its own future: a
//!   cancelled initialisation did not happen. The two are told apart by a flag set only while
//!   `f` is being polled, not by `thread::panicking()`: a call dropped while the thread unwinds
//!   from an unrelated panic was cancelled, not completed.
//!
//! # Rejected
//!
//! - `std::sync::Once`: it blocks the thread, and a future cannot run inside its closure.

use std::fmt;
use std::future::Future;

use super::Mutex;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};

/// Runs one async action exactly once, however many goroutines call
/// [`call_once`](Once::call_once) concurrently; the others wait until it has finished.
/// Go's `sync.Once`.
///
/// ```
/// use gorun::sync::Once;
/// futures::executor::block_on(async {
///     let once = Once::new();
///     let mut n = 0;
///     once.call_once(async { n += 1 }).await;
///     once.call_once(async { n += 1 }).await;
///     assert_eq!(n, 1);
///     assert!(once.is_completed());
/// });
/// ```
pub struct Once {
    done: AtomicBool,
    /// Serialises the slow path; guards nothing but the run of the first future.
    lock: Mutex<()>,
}

impl Once {
    /// A `Once` that has not run yet.
    ///
    /// ```
    /// assert!(!gorun::sync::Once::new().is_completed());
    /// ```
    pub fn new() -> Self {
        Once {
            done: AtomicBool::new(false),
            lock: Mutex::new(()),
        }
    }

    /// Runs `f` if no call has completed yet; otherwise drops it unpolled. Returns once the
    /// first call's future has completed (or panicked). If a running call is cancelled, the
    /// next caller runs its own `f`.
    ///
    /// ```
    /// use gorun::sync::Once;
    /// futures::executor::block_on(async {
    ///     let once = Once::new();
    ///     let mut log = Vec::new();
    ///     once.call_once(async { log.push("init") }).await;
    ///     assert_eq!(log, ["init"]);
    /// });
    /// ```
    pub async fn call_once<F: Future<Output = ()>>(&self, f: F) {
        if self.done.load(Acquire) {
            return;
        }
        let _guard = self.lock.lock().await;
        if self.done.load(Acquire) {
            return;
        }
        // `in_f` is set exactly while `f` is being polled. If the guard is dropped with it
        // set, `f`'s poll never returned: it panicked, and Go's `Do` counts that as done. A
        // guard dropped with it clear is a cancellation (also during some unrelated unwind):
        // `f` did not finish, so the `Once` stays not done.
        struct MarkOnPanic<'a> {
            done: &'a AtomicBool,
            in_f: bool,
        }
        impl Drop for MarkOnPanic<'_> {
            fn drop(&mut self) {
                if self.in_f {
                    self.done.store(true, Release);
                }
            }
        }
        let mut mark = MarkOnPanic {
            done: &self.done,
            in_f: false,
        };
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            mark.in_f = true;
            let r = f.as_mut().poll(cx);
            mark.in_f = false;
            r
        })
        .await;
        self.done.store(true, Release);
        drop(mark);
    }

    /// Whether a call has completed (or panicked).
    ///
    /// ```
    /// let once = gorun::sync::Once::new();
    /// futures::executor::block_on(once.call_once(async {}));
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.done.load(Acquire)
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}
