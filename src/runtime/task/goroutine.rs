//! The wrapper future of every goroutine: catches the user future's panics (in `poll` and in
//! its destructor), honours `JoinHandle::abort`, keeps the task's state for `runtime::dump`,
//! and registers the task in its runtime's registry the first time it waits.
//!
//! # Algorithm
//!
//! `Goroutine::poll`:
//! 1. if `aborted` is set, complete as cancelled (the future is dropped with the wrapper);
//! 2. poll the user future under `catch_unwind`, with the task's status slot current
//!    (`wait::polling`), so that a gorun leaf future records why it waits;
//! 3. on `Pending`, if the task is not registered yet: insert a clone of the task's waker and
//!    its metadata pointer into the registry, publish the key (`key.swap`, SeqCst), and read
//!    `aborted` again (`fetch_or(false)`, SeqCst). If it is set, complete as cancelled instead
//!    of returning `Pending`. A closed registry (shutdown) refuses the insert: complete as
//!    cancelled too.
//!
//! `Goroutine::drop` drops the user future in place (under `catch_unwind`), removes the
//! registry entry if there is one, and counts the goroutine as finished.
//!
//! # Invariants
//!
//! - The metadata `poll` and `drop` find (`runnable::current`) is the task's own: async-task
//!   polls and drops a task's future only inside its `Runnable`'s `run` or drop, which make
//!   the metadata current (see `runnable`). It lives, pinned in the task, until the task is
//!   deallocated, after this wrapper is dropped.
//! - A goroutine that returned `Pending` once is registered until its wrapper is dropped (the
//!   key is written once; only `drop` removes the entry, or shutdown's `close_and_take`). So
//!   `abort`, shutdown and `dump` find every waiting goroutine there, whatever it waits on.
//! - The abort pair (see `registry`): the registering poll writes `key` then reads `aborted`;
//!   `abort` writes `aborted` then reads `key`. All four are SeqCst read-modify-writes, so one
//!   side sees the other's write.
//! - `fut` is structurally pinned: never moved out, dropped in place exactly once.

use super::{runnable, Contained, GoroutineOutput, JoinError, TaskMeta, UNREGISTERED};
use super::{STATE_MASK, STATE_RUNNING, STATE_WAITING};
use crate::loom::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use crate::runtime::{wait, PanicPolicy};
use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The user's future, with panics caught and `abort` honoured; exactly as big as it (the
/// metadata is found through `runnable::current`).
pub(super) struct Goroutine<F: Future> {
    /// Dropped in place by `Goroutine::drop`, under `catch_unwind`: async-task aborts the
    /// process if dropping a task's future panics, and a panicking `Drop` in a goroutine must
    /// be contained like any other panic.
    fut: ManuallyDrop<F>,
}

impl<F: Future> Goroutine<F> {
    pub(super) fn new(fut: F) -> Self {
        Goroutine {
            fut: ManuallyDrop::new(fut),
        }
    }
}

fn cancelled<T>(meta: &TaskMeta) -> Poll<GoroutineOutput<T>> {
    Poll::Ready(Contained::new(Err(JoinError::cancelled(meta.id))))
}

impl<F: Future> Future for Goroutine<F> {
    type Output = GoroutineOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of `self` and is dropped
        // in place.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: used within this poll only (the registry keeps it beside the task's waker).
        let meta = unsafe { runnable::current() };
        if meta.aborted.load(Acquire) {
            return cancelled(meta);
        }
        // SAFETY: see above: `fut` stays pinned inside the pinned `Goroutine`.
        let fut = unsafe { Pin::new_unchecked(&mut *this.fut) };
        // `polling` marks the task running (and not waiting on anything yet).
        match wait::polling(&meta.status, || {
            catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
        }) {
            Ok(Poll::Pending) => {
                if meta.key.load(Relaxed) == UNREGISTERED {
                    // First wait: register, then look at `aborted` again (the abort pair).
                    match meta.shared.registry.insert(meta, cx.waker().clone()) {
                        Some(key) => {
                            meta.key.swap(key, SeqCst);
                        }
                        None => return cancelled(meta),
                    }
                    if meta.aborted.fetch_or(false, SeqCst) {
                        return cancelled(meta);
                    }
                }
                // Unless a wake-up already marked it runnable during the poll. A load and a
                // store, not a CAS: a wake landing between them leaves a runnable task shown as
                // waiting in a dump until it runs, which is harmless for a diagnostic and keeps
                // a locked instruction off every poll.
                let status = meta.status.load(Relaxed);
                if status & STATE_MASK == STATE_RUNNING {
                    meta.status
                        .store(status & wait::WAIT_MASK | STATE_WAITING, Relaxed);
                }
                Poll::Pending
            }
            Ok(Poll::Ready(v)) => {
                super::dead::completing(meta, cx.waker());
                Poll::Ready(Contained::new(Ok(v)))
            }
            Err(payload) => {
                report_panic(meta, &*payload, "");
                super::dead::completing(meta, cx.waker());
                Poll::Ready(Contained::new(Err(JoinError::panic(meta.id, payload))))
            }
        }
    }
}

impl<F: Future> Drop for Goroutine<F> {
    fn drop(&mut self) {
        // SAFETY: used within this drop only.
        let meta = unsafe { runnable::current() };
        let fut = &mut self.fut;
        // SAFETY: `fut` is dropped exactly once, here, in place (it is pinned: it must not move,
        // and it does not); nothing touches it afterwards.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(fut) }));
        if let Err(payload) = dropped {
            report_panic(meta, &*payload, " (while dropping it)");
        }
        let key = meta.key.load(Relaxed);
        if key != UNREGISTERED {
            meta.shared.registry.remove(meta, key);
        }
        meta.shared.live_add(-1);
    }
}

/// Prints `goroutine N panicked: MSG`, and exits with status 2 under `PanicPolicy::Abort`.
fn report_panic(meta: &TaskMeta, payload: &(dyn Any + Send), when: &str) {
    let msg = panic_message(payload);
    eprintln!("goroutine {} panicked{when}: {msg}", meta.id);
    if meta.shared.config.panic_policy == PanicPolicy::Abort {
        eprintln!("gorun: PanicPolicy::Abort: exiting with status 2");
        std::process::exit(2);
    }
}

/// A blocking closure as a future that completes in its first poll.
pub(super) struct BlockingFn<F>(pub(super) Option<F>);

// The closure is never pinned structurally: it is moved out before being called.
impl<F> Unpin for BlockingFn<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingFn<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        Poll::Ready(f())
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// The size of a goroutine's wrapper future around `fut`, and of `fut` itself (for the size
/// test in `time::sleep`, which may name the sync and time layers that this one may not).
#[cfg(all(test, not(loom)))]
pub(crate) fn goroutine_sizes<F: Future>(fut: &F) -> (usize, usize) {
    (
        std::mem::size_of::<Goroutine<F>>(),
        std::mem::size_of_val(fut),
    )
}
