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

/// The guard of [`Handle::enter`]: while it lives, this thread's current runtime is the
/// entered one; dropping it restores the previous one. Not `Send`: it must be dropped on the
/// thread that entered.
///
/// ```
/// let rt = gorun::runtime::Runtime::new().unwrap();
/// assert!(gorun::runtime::Handle::try_current().is_err());
/// {
///     let _guard = rt.handle().enter();
///     assert!(gorun::runtime::Handle::try_current().is_ok());
/// }
/// assert!(gorun::runtime::Handle::try_current().is_err());
/// ```
#[must_use = "the runtime is only entered while the guard lives"]
pub struct EnterGuard {
    prev: Option<Handle>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = ENTERED.try_with(|e| *e.borrow_mut() = prev);
    }
}

pub(crate) fn enter(handle: Handle) -> EnterGuard {
    EnterGuard {
        prev: ENTERED.with(|e| e.borrow_mut().replace(handle)),
        _not_send: std::marker::PhantomData,
    }
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

    /// Makes this the current runtime of this thread until the guard is dropped: `go`,
    /// `go_blocking`, timers (`sleep`, `after`, `tick`, ...) and sockets created meanwhile
    /// use it — for a thread gorun did not start, such as a tokio worker running a request
    /// handler. (On a gorun worker thread, the worker's own runtime stays current.)
    ///
    /// ```
    /// let rt = gorun::runtime::Builder::new().workers(1).thread_name("pool").build().unwrap();
    /// let handle = rt.handle().clone();
    /// std::thread::spawn(move || {
    ///     let _guard = handle.enter();
    ///     let h = gorun::go(async { std::thread::current().name().map(String::from) });
    ///     let name = futures::executor::block_on(h).unwrap().unwrap();
    ///     assert!(name.starts_with("pool-worker-"));
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn enter(&self) -> EnterGuard {
        enter(self.clone())
    }

    /// Spawns a goroutine on this runtime, from any thread (a goroutine of another runtime,
    /// a tokio task, a plain thread).
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
