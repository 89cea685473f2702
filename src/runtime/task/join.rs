//! [`JoinHandle`], a goroutine's result to await, and [`JoinError`], why it gave none.
//!
//! A `JoinHandle` wraps async-task's `FallibleTask` and keeps the task's metadata pointer from
//! `Task::metadata`, valid while the task handle is held. `abort` is the abort half of the
//! Dekker pair described in `registry`: it sets `aborted` (swap, SeqCst), then reads `key`
//! (`fetch_or(0)`, SeqCst) and, if the task is registered, wakes it through its entry.

use super::{Contained, RawHandle, TaskMeta, UNREGISTERED};
use crate::loom::sync::atomic::Ordering::SeqCst;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// An owned permission to await a goroutine's result.
///
/// Awaiting it gives `Ok(value)`, or a [`JoinError`] if the goroutine panicked or was
/// cancelled (by [`abort`](JoinHandle::abort) or runtime shutdown). Dropping it *detaches* the
/// goroutine: it keeps running, as a `go` statement's goroutine does in Go.
///
/// ```
/// # gorun::block_on(async {
/// let h = gorun::go(async { 6 * 7 });
/// assert_eq!(h.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    state: HandleState<T>,
}

/// 16 bytes (a million kept handles are 16 MB, not 24): `Done`'s id sits beside the niche of
/// `Running`'s task pointer.
enum HandleState<T> {
    Running {
        task: async_task::FallibleTask<Contained<Result<T, JoinError>>, TaskMeta>,
        /// The task's metadata, valid while `task` is held (it keeps the allocation alive).
        meta: NonNull<TaskMeta>,
    },
    /// The result was taken (the task handle dropped with it); the id stays for `id()`.
    Done { id: u64 },
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<JoinHandle<u64>>() == 16);

// SAFETY: `meta` is only dereferenced while `task` keeps the allocation alive, and `TaskMeta`
// is `Sync`; the rest is `FallibleTask`, which is `Send`/`Sync` for `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` only reads `TaskMeta` atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(super) fn new(task: RawHandle<T>) -> Self {
        let meta = NonNull::from(task.metadata());
        JoinHandle {
            state: HandleState::Running {
                task: task.fallible(),
                meta,
            },
        }
    }

    /// The task's metadata, while the task handle is held.
    fn meta(&self) -> Option<&TaskMeta> {
        match &self.state {
            // SAFETY: `meta` is valid while `task` is held (see the field's comment), and
            // the returned reference borrows `self`, which holds it.
            HandleState::Running { meta, .. } => Some(unsafe { meta.as_ref() }),
            HandleState::Done { .. } => None,
        }
    }

    /// Cancels the goroutine: its future is dropped at its next scheduling point (or at once,
    /// if it is waiting), and awaiting this handle gives a `JoinError` whose
    /// [`is_cancelled`](JoinError::is_cancelled) is true. A goroutine that already finished
    /// keeps its result.
    ///
    /// ```
    /// # gorun::block_on(async {
    /// let h = gorun::go(std::future::pending::<()>());
    /// h.abort();
    /// assert!(h.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        let Some(meta) = self.meta() else { return };
        meta.aborted.swap(true, SeqCst);
        let key = meta.key.fetch_or(0, SeqCst);
        // Unregistered: it never waited, and the poll that registers it will see the flag.
        if key != UNREGISTERED {
            meta.shared.registry.wake(meta, key);
        }
    }

    /// Whether the goroutine has finished (returned, panicked or was cancelled).
    ///
    /// ```
    /// # gorun::block_on(async {
    /// let h = gorun::go(async {});
    /// while !h.is_finished() { gorun::yield_now().await; }
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.state {
            HandleState::Running { task, .. } => task.is_finished(),
            HandleState::Done { .. } => true,
        }
    }

    /// The goroutine's id, as shown by [`runtime::dump`](crate::runtime::dump()) and in panic
    /// messages.
    pub fn id(&self) -> u64 {
        match &self.state {
            HandleState::Running { .. } => self.meta().map_or(0, |m| m.id),
            HandleState::Done { id } => *id,
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id();
        let HandleState::Running { task, .. } = &mut self.state else {
            panic!("JoinHandle polled after completion");
        };
        match Pin::new(task).poll(cx) {
            Poll::Pending => crate::runtime::pending(crate::runtime::Wait::Join),
            Poll::Ready(out) => {
                // Drops the task handle (and with it, the allocation) now.
                self.state = HandleState::Done { id };
                Poll::Ready(
                    out.map_or_else(|| Err(JoinError::cancelled(id)), Contained::into_inner),
                )
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let HandleState::Running { task, .. } =
            std::mem::replace(&mut self.state, HandleState::Done { id: 0 })
        {
            task.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a goroutine gave no value: it panicked, or it was cancelled.
///
/// ```
/// # gorun::runtime::Builder::new().build().unwrap().block_on(async {
/// let err = gorun::go(async { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// # });
/// ```
pub struct JoinError(Box<ErrorInner>);

/// Boxed, so that a goroutine's output `Result<T, JoinError>` is as small as it can be: the
/// output shares the task's allocation with the future, and a finished goroutine whose
/// `JoinHandle` is kept holds that allocation (a million spawned `go(async move { i })` kept
/// for a later join: 16 bytes of output each instead of 32). The box is only made for a
/// goroutine that panicked or was cancelled.
struct ErrorInner {
    id: u64,
    repr: Repr,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Result<u64, JoinError>>() == 16);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Result<(), JoinError>>() == 8);

enum Repr {
    Cancelled,
    Panic(SyncPayload),
}

/// The panic payload, made `Sync` by never handing out a shared reference to it.
struct SyncPayload(Box<dyn Any + Send + 'static>);

// SAFETY: the payload leaves only by value (`into_panic`, `try_into_panic`). Through `&self`
// the only uses are `type_id` (reads no data) and downcasts to `&'static str` or `String`,
// which are `Sync`; no `&dyn Any` escapes, so sharing `&JoinError` cannot race on a `!Sync`
// payload.
unsafe impl Sync for SyncPayload {}

impl JoinError {
    pub(crate) fn cancelled(id: u64) -> JoinError {
        JoinError(Box::new(ErrorInner {
            id,
            repr: Repr::Cancelled,
        }))
    }

    pub(super) fn panic(id: u64, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError(Box::new(ErrorInner {
            id,
            repr: Repr::Panic(SyncPayload(payload)),
        }))
    }

    /// Whether the goroutine panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.0.repr, Repr::Panic(_))
    }

    /// Whether the goroutine was cancelled (`abort` or runtime shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.0.repr, Repr::Cancelled)
    }

    /// The id of the goroutine this error is about.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The panic payload, to re-raise it with `std::panic::resume_unwind` (Go's `recover`
    /// value). Panics if the goroutine was cancelled instead.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancelled goroutine's error")
    }

    /// The panic payload, or the error itself if the goroutine was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        if self.is_cancelled() {
            return Err(self);
        }
        let Repr::Panic(p) = self.0.repr else {
            unreachable!("not cancelled, so panicked")
        };
        Ok(p.0)
    }

    fn message(&self) -> Option<&str> {
        match &self.0.repr {
            Repr::Panic(p) => {
                let any: &(dyn Any + Send) = &*p.0;
                if let Some(s) = any.downcast_ref::<&'static str>() {
                    Some(s)
                } else {
                    any.downcast_ref::<String>().map(|s| s.as_str())
                }
            }
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.repr, self.message()) {
            (Repr::Cancelled, _) => write!(f, "goroutine {} was cancelled", self.0.id),
            (Repr::Panic(_), Some(m)) => write!(f, "goroutine {} panicked: {m}", self.0.id),
            (Repr::Panic(_), None) => write!(f, "goroutine {} panicked", self.0.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.repr, self.message()) {
            (Repr::Cancelled, _) => write!(f, "JoinError::Cancelled({})", self.0.id),
            (Repr::Panic(_), Some(m)) => write!(f, "JoinError::Panic({}, {m:?})", self.0.id),
            (Repr::Panic(_), None) => write!(f, "JoinError::Panic({}, ..)", self.0.id),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}
