//! `gorun::errgroup`: a group of goroutines working on parts of one task, with the first error
//! (Go's `golang.org/x/sync/errgroup`).
//!
//! ```
//! use gorun::errgroup::Group;
//!
//! gorun::block_on(async {
//!     let g = Group::<String>::new();
//!     for i in 0..4 {
//!         g.go(async move {
//!             if i == 2 { Err(format!("part {i} failed")) } else { Ok(()) }
//!         });
//!     }
//!     assert_eq!(g.wait().await, Err("part 2 failed".to_string()));
//! });
//! ```
//!
//! # Algorithm
//!
//! As in Go: a [`WaitGroup`] counts the group's goroutines; the first goroutine that returns
//! `Err` stores its error in a slot (later errors are dropped) and, for a group made by
//! [`Group::with_context`], cancels the group's context so that its siblings can stop early.
//! [`Group::wait`] waits for the `WaitGroup` to reach zero, cancels the context (as Go's
//! `Wait` does), and returns the stored error.
//!
//! **Limit.** Go's `SetLimit(n)` makes `Go` block the caller while `n` goroutines are active.
//! Blocking a worker thread would stall the runtime, so here [`Group::go`] never waits: it
//! spawns the goroutine at once, and that goroutine first waits, in FIFO order, for one of the
//! `n` permits of a fair [`Semaphore`] before it runs its future, and gives the permit back
//! when the future ends. So at most `n` of the group's futures *run* at once, while more
//! goroutines may exist, parked on the semaphore. [`Group::try_go`] takes a permit first and
//! spawns nothing when none is free, exactly like Go's `TryGo`.
//!
//! **Panics.** Go has no recovery here: a panicking goroutine crashes the program. A group
//! catches the panic of its future (the panic hook has printed it already), keeps the first
//! payload, cancels the group's context like an error does, and [`Group::wait`] re-raises it
//! with [`std::panic::resume_unwind`] once every goroutine has returned. A panic outranks an
//! error: `wait` panics even if an error came first. The runtime's
//! [`PanicPolicy`](crate::runtime::PanicPolicy) applies where `wait` re-raises it (a waiting
//! goroutine under `Abort` ends the process, as Go would); a panic in a group nobody waits for
//! is printed by the panic hook and otherwise dropped with the group.
//!
//! # Invariants
//!
//! 1. The `WaitGroup` counter is incremented before a goroutine is spawned and decremented
//!    only after that goroutine stored its outcome (error or panic) and released its permit,
//!    so `wait` sees every outcome of the goroutines it waited for.
//! 2. At most `limit` futures of the group run at once: a permit is held for the whole run of
//!    each future, and released on every exit path (return, panic, the goroutine being
//!    dropped by a runtime shutdown), by a guard.
//! 3. A limit's `users` (goroutines spawned under it and not finished) is what `set_limit`
//!    checks: setting a limit while the current one has users panics, as in Go
//!    (`len(g.sem) != 0`); removing it (`n < 0`) never does. A goroutine keeps the limit it
//!    was started under, so its permit goes back to the semaphore it came from.
//!
//! There is no loom model: the group adds no lock-free step or waker protocol of its own; it
//! composes `WaitGroup` and `Semaphore` (which have theirs) with one mutex-guarded slot.
//!
//! # Rejected
//!
//! - An `async fn go` that waits for a permit before spawning (Go's blocking `Go`): callers
//!   that spawn from synchronous code could not use it, and a forgotten `.await` would spawn
//!   nothing. The FIFO semaphore gives the same bound on running work.
//! - Returning a clone of the error from every `wait`: it would require `E: Clone`; the first
//!   `wait` that completes takes the error, later ones return `Ok(())`.

use crate::loom::Unpoison;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::FutureExt;

use crate::context::{CancelFunc, Context};
use crate::sync::{Semaphore, WaitGroup};

/// A group of goroutines whose first error is returned by [`wait`](Self::wait) (Go's
/// `errgroup.Group`). Clones share the group, so its goroutines may add more goroutines to it.
///
/// ```
/// use gorun::errgroup::Group;
/// gorun::block_on(async {
///     let g = Group::<std::io::Error>::new();
///     let g2 = g.clone();
///     g.go(async move {
///         g2.go(async { Ok(()) }); // spawned from inside the group
///         Ok(())
///     });
///     assert!(g.wait().await.is_ok());
/// });
/// ```
pub struct Group<E> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    /// Counts the goroutines spawned and not yet finished (after their outcome is stored).
    wg: WaitGroup,
    /// The same count as a plain number, for `Debug`.
    active: AtomicUsize,
    /// Guarded by its lock: the first error and the first panic payload.
    outcome: Mutex<Outcome<E>>,
    /// Cancels the context of a group made by `with_context`.
    cancel: Option<CancelFunc>,
    /// Guarded by its lock: the limit of `set_limit`, if any.
    limit: Mutex<Option<Arc<Limit>>>,
}

/// One `set_limit` bound: its semaphore, and how many goroutines were started under it and
/// have not finished (Go's `len(g.sem)`, plus ours parked for a permit).
struct Limit {
    sem: Semaphore,
    users: AtomicUsize,
}

struct Outcome<E> {
    err: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

/// Counts a goroutine against a limit until dropped (on return, panic or drop of the
/// goroutine), and gives its permit back if it holds one.
struct LimitGuard {
    limit: Arc<Limit>,
    holds_permit: bool,
}

impl LimitGuard {
    fn new(limit: Arc<Limit>, holds_permit: bool) -> Self {
        limit.users.fetch_add(1, SeqCst);
        LimitGuard {
            limit,
            holds_permit,
        }
    }
}

impl Drop for LimitGuard {
    fn drop(&mut self) {
        if self.holds_permit {
            self.limit.sem.release_detached(1);
        }
        self.limit.users.fetch_sub(1, SeqCst);
    }
}

/// Ends the goroutine's membership in the group when dropped: `active` and the `WaitGroup`.
struct DoneGuard<E: Send + 'static>(Arc<Inner<E>>);

impl<E: Send + 'static> Drop for DoneGuard<E> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, SeqCst);
        self.0.wg.done();
    }
}

impl<E: Send + 'static> Group<E> {
    /// An empty group with no context and no limit.
    ///
    /// ```
    /// let g = gorun::errgroup::Group::<String>::new();
    /// assert_eq!(gorun::block_on(g.wait()), Ok(()));
    /// ```
    pub fn new() -> Self {
        Self::make(None)
    }

    /// A group and a context derived from `ctx` that is cancelled when a goroutine of the
    /// group returns an error (or panics), or when [`wait`](Self::wait) returns, whichever
    /// comes first (Go's `errgroup.WithContext`).
    ///
    /// ```
    /// use gorun::context::{Context, ContextError};
    /// use gorun::errgroup::Group;
    /// gorun::block_on(async {
    ///     let (g, ctx) = Group::<&str>::with_context(&Context::background());
    ///     g.go(async { Err("boom") });
    ///     let c = ctx.clone();
    ///     g.go(async move {
    ///         c.done().recv().await; // a sibling stops when the context is cancelled
    ///         Ok(())
    ///     });
    ///     assert_eq!(g.wait().await, Err("boom"));
    ///     assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// });
    /// ```
    pub fn with_context(ctx: &Context) -> (Self, Context) {
        let (ctx, cancel) = ctx.with_cancel();
        (Self::make(Some(cancel)), ctx)
    }

    fn make(cancel: Option<CancelFunc>) -> Self {
        Group {
            inner: Arc::new(Inner {
                wg: WaitGroup::new(),
                active: AtomicUsize::new(0),
                outcome: Mutex::new(Outcome {
                    err: None,
                    panic: None,
                }),
                cancel,
                limit: Mutex::new(None),
            }),
        }
    }

    /// Limits the group to `n` futures running at once (Go's `SetLimit`). Beyond the limit,
    /// [`go`](Self::go) still spawns at once, but the goroutine waits (FIFO) for a running one
    /// to finish before it starts its future; [`try_go`](Self::try_go) spawns nothing.
    ///
    /// As in Go, a negative `n` removes the limit, and `n == 0` lets no goroutine run:
    /// `try_go` returns `false`, and a goroutine started by `go` never runs its future (Go's
    /// `Go` blocks forever), so `wait` does not return.
    ///
    /// # Panics
    /// When setting a limit (`n >= 0`) while goroutines started under the current limit are
    /// still active, as Go does (`errgroup: modify limit while N goroutines in the group are
    /// still active`). Goroutines started while there was no limit do not count.
    ///
    /// ```
    /// use gorun::errgroup::Group;
    /// gorun::block_on(async {
    ///     let g = Group::<()>::new();
    ///     g.set_limit(1);
    ///     let gate = gorun::chan::chan::<()>(0);
    ///     let c = gate.clone();
    ///     assert!(g.try_go(async move { c.recv().await; Ok(()) }));
    ///     g.go(async { Ok(()) }); // spawned now, runs once the first one returns
    ///     assert!(!g.try_go(async { Ok(()) }), "the one slot is taken");
    ///     gate.close();
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    pub fn set_limit(&self, n: isize) {
        let mut limit = self.inner.limit.lock().unpoison();
        let Ok(n) = usize::try_from(n) else {
            *limit = None;
            return;
        };
        if let Some(l) = &*limit {
            let active = l.users.load(SeqCst);
            if active != 0 {
                drop(limit);
                panic!(
                    "errgroup: modify limit while {active} goroutines in the group are still active"
                );
            }
        }
        *limit = Some(Arc::new(Limit {
            sem: Semaphore::new(n),
            users: AtomicUsize::new(0),
        }));
    }

    /// Runs `fut` in a new goroutine of the group (Go's `g.Go`). Its `Err` becomes the group's
    /// error if it is the first one, and cancels the group's context. Never waits, even at the
    /// limit (see [`set_limit`](Self::set_limit)).
    ///
    /// ```
    /// use gorun::errgroup::Group;
    /// gorun::block_on(async {
    ///     let g = Group::<String>::new();
    ///     g.go(async { Ok(()) });
    ///     g.go(async { Err("no".to_string()) });
    ///     assert_eq!(g.wait().await.unwrap_err(), "no");
    /// });
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let limit = self
            .inner
            .limit
            .lock()
            .unpoison()
            .clone()
            .map(|l| LimitGuard::new(l, false));
        let done = self.enter();
        // Under a limit, the goroutine first waits for a permit (the wait is boxed: it borrows
        // the limit's semaphore, which the goroutine owns).
        let acquire = limit.as_ref().map(|l| {
            let limit = l.limit.clone();
            Box::pin(async move {
                limit.sem.acquire(1).await.detach();
            }) as Pin<Box<dyn Future<Output = ()> + Send>>
        });
        crate::go(Member {
            acquire,
            fut: AssertUnwindSafe(fut).catch_unwind(),
            limit,
            done,
        });
    }

    /// Runs `fut` in a new goroutine of the group only if the limit allows one more to run
    /// now; returns whether it did (Go's `g.TryGo`). Without a limit it always spawns.
    ///
    /// ```
    /// use gorun::errgroup::Group;
    /// gorun::block_on(async {
    ///     let g = Group::<()>::new();
    ///     g.set_limit(1);
    ///     let tx = gorun::chan::chan::<()>(0);
    ///     let c = tx.clone();
    ///     assert!(g.try_go(async move { c.recv().await; Ok(()) }));
    ///     assert!(!g.try_go(async { Ok(()) }));
    ///     tx.close();
    ///     g.wait().await.unwrap();
    ///     assert!(g.try_go(async { Ok(()) }), "free again");
    ///     g.wait().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn try_go<F>(&self, fut: F) -> bool
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let permit = match self.inner.limit.lock().unpoison().clone() {
            Some(l) => {
                match l.sem.try_acquire(1) {
                    Ok(p) => {
                        p.detach();
                    }
                    Err(_) => return false,
                }
                Some(LimitGuard::new(l, true))
            }
            None => None,
        };
        let done = self.enter();
        crate::go(Member {
            acquire: None,
            fut: AssertUnwindSafe(fut).catch_unwind(),
            limit: permit,
            done,
        });
        true
    }

    /// Counts a goroutine in (before it is spawned).
    fn enter(&self) -> DoneGuard<E> {
        self.inner.active.fetch_add(1, SeqCst);
        self.inner.wg.add(1);
        DoneGuard(self.inner.clone())
    }

    /// Waits until every goroutine of the group has returned, cancels the group's context,
    /// and returns the first error (Go's `g.Wait`). The error is handed to the first `wait`
    /// that completes after it occurred; a later `wait` returns `Ok(())` unless a new error
    /// came. Goroutines may be added again after `wait` returns.
    ///
    /// # Panics
    /// Re-raises (with [`std::panic::resume_unwind`]) the first panic of a goroutine of the
    /// group, after every goroutine has returned.
    ///
    /// ```
    /// use gorun::errgroup::Group;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// gorun::block_on(async {
    ///     let g = Group::<()>::new();
    ///     let n = Arc::new(AtomicUsize::new(0));
    ///     for _ in 0..10 {
    ///         let n = n.clone();
    ///         g.go(async move { n.fetch_add(1, Ordering::SeqCst); Ok(()) });
    ///     }
    ///     g.wait().await.unwrap();
    ///     assert_eq!(n.load(Ordering::SeqCst), 10, "wait waited for all of them");
    /// });
    /// ```
    pub async fn wait(&self) -> Result<(), E> {
        self.inner.wg.wait().await;
        if let Some(c) = &self.inner.cancel {
            c.cancel();
        }
        let mut out = self.inner.outcome.lock().unpoison();
        if let Some(p) = out.panic.take() {
            drop(out);
            std::panic::resume_unwind(p);
        }
        match out.err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

pin_project_lite::pin_project! {
    /// One goroutine of a group: waits for its permit if `acquire` is set, runs `fut` (panics
    /// caught) and records its outcome. A struct, not an async block: an async block that
    /// awaits a captured future stores it twice (the capture and the awaited value), and this
    /// one stored it three times. Fields drop in order: the permit wait, the future, then the
    /// limit (freeing the permit), and `done` last, so `wait` returns only after the
    /// goroutine's future and permit are gone.
    struct Member<E, F>
    where
        E: Send,
        E: 'static,
    {
        acquire: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
        #[pin]
        fut: futures::future::CatchUnwind<AssertUnwindSafe<F>>,
        limit: Option<LimitGuard>,
        done: DoneGuard<E>,
    }
}
impl<E: Send + 'static, F: Future<Output = Result<(), E>>> Future for Member<E, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = self.project();
        if let Some(acquire) = this.acquire {
            std::task::ready!(acquire.as_mut().poll(cx));
            *this.acquire = None;
            if let Some(l) = this.limit {
                l.holds_permit = true;
            }
        }
        let outcome = std::task::ready!(this.fut.poll(cx));
        record(&this.done.0, outcome);
        Poll::Ready(())
    }
}

/// Records one goroutine's outcome in the group: the first error (cancelling the group's
/// context), or the first panic.
fn record<E>(inner: &Inner<E>, outcome: Result<Result<(), E>, Box<dyn Any + Send>>) {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let first = {
                let mut out = inner.outcome.lock().unpoison();
                let first = out.err.is_none();
                if first {
                    out.err = Some(e);
                }
                first
            };
            if first {
                if let Some(c) = &inner.cancel {
                    c.cancel();
                }
            }
        }
        Err(p) => {
            {
                let mut out = inner.outcome.lock().unpoison();
                if out.panic.is_none() {
                    out.panic = Some(p);
                }
            }
            if let Some(c) = &inner.cancel {
                c.cancel();
            }
        }
    }
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Self {
        Group {
            inner: self.inner.clone(),
        }
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Group::new()
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("active", &self.inner.active.load(SeqCst))
            .field("has_context", &self.inner.cancel.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_group_goroutine_carries_its_future_once() {
        let g = Group::<()>::new();
        let payload = [7u64; 6];
        let fut = async move {
            std::hint::black_box(payload);
            Ok::<(), ()>(())
        };
        let size = std::mem::size_of_val(&fut);
        let member = Member {
            acquire: None,
            fut: AssertUnwindSafe(fut).catch_unwind(),
            limit: None,
            done: g.enter(),
        };
        let overhead = std::mem::size_of::<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>()
            + std::mem::size_of::<Option<LimitGuard>>()
            + std::mem::size_of::<DoneGuard<()>>();
        assert_eq!(std::mem::size_of_val(&member), size + overhead);
        drop(member);
        assert_eq!(g.inner.active.load(SeqCst), 0, "dropping it counted it out");
    }
}
