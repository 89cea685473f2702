//! `Handle`: a cloneable reference to a runtime, and the thread-local "current runtime".

use super::scheduler::{worker, Shared};
use super::JoinHandle;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A handle to a runtime: spawn on it from anywhere, including threads it did not start.
///
/// ```
/// let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
/// let handle = rt.handle().clone();
/// let v = std::thread::spawn(move || {
///     let h = handle.go(async { 1 + 1 });
///     gorun::runtime::Builder::new().build().unwrap().block_on(h).unwrap()
/// }).join().unwrap();
/// assert_eq!(v, 2);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

thread_local! {
    /// The runtime entered on this thread by `block_on` or a blocking-pool thread.
    static ENTERED: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Restores the previously entered runtime when dropped.
pub(crate) struct EnterGuard(Option<Handle>);

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        let _ = ENTERED.try_with(|e| *e.borrow_mut() = prev);
    }
}

pub(crate) fn enter(handle: Handle) -> EnterGuard {
    EnterGuard(ENTERED.with(|e| e.borrow_mut().replace(handle)))
}

/// The error of [`Handle::try_current`] outside any runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no gorun runtime on this thread: not inside a goroutine, block_on or a blocking-pool thread")
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// The runtime the current goroutine (or `block_on`) runs on.
    ///
    /// # Panics
    /// Outside any runtime, with a message saying so.
    ///
    /// ```
    /// gorun::block_on(async {
    ///     let h = gorun::runtime::Handle::current();
    ///     assert_eq!(h.go(async { 5 }).await.unwrap(), 5);
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("Handle::current(): {e}"),
        }
    }

    /// The current runtime, or an error outside any.
    ///
    /// ```
    /// assert!(gorun::runtime::Handle::try_current().is_err());
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        if let Some(shared) = worker::current_shared() {
            return Ok(Handle { shared });
        }
        ENTERED
            .try_with(|e| e.borrow().clone())
            .ok()
            .flatten()
            .ok_or(TryCurrentError(()))
    }

    /// Spawns a goroutine on this runtime.
    ///
    /// ```
    /// let rt = gorun::runtime::Builder::new().build().unwrap();
    /// let h = rt.handle().go(async { "hi" });
    /// assert_eq!(rt.block_on(h).unwrap(), "hi");
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(fut, std::panic::Location::caller())
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = gorun::runtime::Builder::new().build().unwrap();
    /// let h = rt.handle().go_blocking(|| std::fs::metadata("/").is_ok());
    /// assert!(rt.block_on(h).unwrap());
    /// ```
    #[track_caller]
    pub fn go_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared
            .spawn_blocking(f, std::panic::Location::caller())
    }

    /// Live goroutines on this runtime (spawned ones not yet finished, plus futures being
    /// driven by `block_on`).
    pub fn num_goroutine(&self) -> usize {
        self.shared.live_count()
            + self
                .shared
                .block_on_count
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The driver reference shared by threads outside the workers.
    pub(crate) fn driver(&self) -> crate::reactor::DriverRef {
        self.shared.outside_driver.clone()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.config.workers)
            .finish_non_exhaustive()
    }
}
