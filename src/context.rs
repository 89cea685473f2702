//! `gorun::context`: cancellation trees and deadlines, as in Go's `context` package.
//!
//! A [`Context`] carries a cancellation signal and an optional deadline across goroutines.
//! [`Context::background`] is the root that is never cancelled; [`Context::with_cancel`],
//! [`Context::with_timeout`] and [`Context::with_deadline`] derive children that are cancelled
//! when their [`CancelFunc`] is called, when their deadline passes, or when their parent is
//! cancelled, whichever comes first. [`Context::done`] is a channel closed on cancellation, so
//! it works in `select!`; [`Context::err`] says why.
//!
//! ```
//! use gorun::context::{Context, ContextError};
//! use gorun::time::Duration;
//!
//! gorun::block_on(async {
//!     let (ctx, cancel) = Context::background().with_cancel();
//!     let worker = gorun::go({
//!         let ctx = ctx.clone();
//!         async move {
//!             gorun::select! {
//!                 recv(ctx.done()) -> _ => ctx.err(),
//!                 recv(gorun::time::after(Duration::from_secs(60))) -> _ => None,
//!             }
//!         }
//!     });
//!     cancel.cancel();
//!     assert_eq!(worker.await.unwrap(), Some(ContextError::Canceled));
//! });
//! ```
//!
//! # Algorithm
//!
//! The shape of Go's `cancelCtx` (`context.go`): every derived context is a node with one lock
//! guarding its state: the error (set once, on cancellation), its `done` channel (created
//! lazily on the first [`Context::done`], as Go does), the set of its live children, and its
//! deadline timer.
//!
//! - **Derive**: lock the parent; if it is already cancelled, the child is born cancelled with
//!   the parent's error and is not registered; otherwise the child takes a slot in the parent's
//!   child slab (a [`slab::Slab`] of `Weak` references) and remembers the slot's key. The child
//!   holds its parent strongly (so a chain stays connected to the root however its middle
//!   handles are dropped); the parent holds its children weakly.
//! - **Cancel**: lock the node; if an error is already set, return (cancelling twice is
//!   harmless); else set the error, take the `done` channel, the children and the timer out of
//!   the state, and unlock. Then close `done`, stop the timer, and cancel every child that is
//!   still alive with the same error, one at a time. A node cancelled by its own
//!   `CancelFunc` or timer also removes itself from its parent's slab. The descent uses an
//!   explicit work list, not recursion, so deep trees cannot overflow the stack.
//! - **Deadline**: `with_deadline(t)` takes the earlier of `t` and the parent's deadline. If it
//!   has passed already, the child is born cancelled with `DeadlineExceeded`; else a
//!   [`time::after_func`](crate::time::after_func) timer, holding only a `Weak` reference to the
//!   node, cancels it with `DeadlineExceeded`. Cancellation (by any cause) and the drop of the
//!   node stop that timer, which frees its slot in the runtime's timer wheel at once: 10,000
//!   short-lived `with_timeout` contexts cancelled early leave no pending timer behind.
//! - **Drop**: a node lives while any of its handles ([`Context`] clones and its
//!   [`CancelFunc`]) or any of its children lives. When the last one goes, the node is
//!   *released*: it removes its slot from its parent's slab (so the parent's child list does
//!   not grow while children come and go), stops its timer, and closes its `done` channel if
//!   one was handed out. If it held its parent's last reference, the parent is released next,
//!   in the same loop (the node takes its parent reference out before dropping it), so a chain
//!   of any length is released with constant stack; the `with_value` list is freed the same
//!   way. Go instead keeps an uncancelled child registered with its parent until
//!   someone calls `cancel` (and `go vet` warns when nobody does); Rust's drop lets us do better.
//!
//! - **Values**: [`Context::with_value`] prepends an entry to an immutable list shared by all
//!   contexts derived from it (Go's `valueCtx` chain); [`Context::value`] walks it from the
//!   innermost entry out. Values never touch the cancellation node.
//!
//! # Invariants
//!
//! 1. A node's error goes from `None` to `Some` once and never changes again; `done` is closed
//!    exactly when (and after) the error is set, or when the node is released.
//! 2. A cancelled node has an empty child slab and never registers a child again, so a key
//!    in the slab belongs to the child that holds it until that child removes it or the parent
//!    is cancelled; a stale `try_remove` after a cancellation finds nothing and is harmless.
//! 3. A child's deadline is never later than its parent's.
//! 4. Locking order: a thread holds at most one node lock at a time. Deriving locks only the
//!    parent; cancelling locks the node, releases it, and only then locks each child (and,
//!    to unregister, the parent); a release locks only the parent. Children and timers are
//!    always closed, stopped and dropped outside any node lock, so a drop that re-enters
//!    this module (the last `Weak` upgrade dropped in a cancel, a timer's closure) cannot
//!    deadlock.
//! 5. A node's timer closure holds only a `Weak` reference, so a pending timer never keeps
//!    a context alive.
//!
//! # Rejected
//!
//! - Strong child references in the parent (Go's `map[canceler]struct{}`): every child lives
//!   until its parent is cancelled, which leaks in a long-lived server whose root is never
//!   cancelled.
//! - A goroutine per deadline (`sleep` + `select` on done): costs a task per context; a wheel
//!   timer costs one slab slot and is freed on `stop`.
//! - Cancelling when the `CancelFunc` alone is dropped: `let (ctx, _) = parent.with_cancel()`
//!   would cancel at once. Only the release of the whole node closes `done`.
//! - Values keyed by `TypeId` only (as `http::Extensions`): Go's keys are values, and code
//!   ported from Go keeps its keys; [`Context::with_value`] takes any `PartialEq` key and
//!   walks an immutable list from the innermost value out, as Go's `valueCtx` chain does.
//!   Values never touch the cancellation node: a `with_value` context shares its parent's.
//!
//! # Testing
//!
//! There is no loom model here: every step of the protocol runs under one node's mutex, with
//! no lock-free step and no waker protocol of its own (the wake-ups are the `close` of a
//! channel, whose protocol `chan`'s models cover). The race between deriving from a context on
//! one thread and cancelling it on another is exercised by a thread stress test
//! (`tests/context.rs`); the release of stopped timers by a unit test below.
//!
//! Contexts know nothing of the runtime except for the deadline timer, which lives on the
//! current runtime's timer wheel (or the global runtime's, outside any runtime).

use crate::loom::Unpoison;
use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::chan::{chan, Chan, Receiver};
use crate::time::Timer;

/// Why a context was cancelled (Go's `context.Canceled` and `context.DeadlineExceeded`).
///
/// ```
/// use gorun::context::ContextError;
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// assert_eq!(ContextError::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// The context's [`CancelFunc`] was called (or its parent's).
    Canceled,
    /// The context's deadline passed (or its parent's).
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

impl From<ContextError> for std::io::Error {
    /// `Canceled` maps to `Interrupted`, `DeadlineExceeded` to `TimedOut`.
    fn from(e: ContextError) -> std::io::Error {
        let kind = match e {
            ContextError::Canceled => std::io::ErrorKind::Interrupted,
            ContextError::DeadlineExceeded => std::io::ErrorKind::TimedOut,
        };
        std::io::Error::new(kind, e)
    }
}

/// A derived context's shared state.
struct Node {
    /// The parent node and this node's key in its child slab; `None` under a root (background)
    /// or when the node was born cancelled (then it is not registered anywhere).
    parent: Option<(Arc<Node>, usize)>,
    /// The earlier of this node's own deadline and its parent's. Immutable.
    deadline: Option<Instant>,
    /// Guarded by `state`'s lock (the node lock; see invariant 4 of the module docs).
    state: Mutex<State>,
}

struct State {
    /// Set once, on cancellation.
    err: Option<ContextError>,
    /// Created on the first `done()`; closed on cancellation or release.
    done: Option<Chan<()>>,
    /// The live children, weakly. Empty forever once `err` is set.
    children: Slab<Weak<Node>>,
    /// The deadline timer, while armed.
    timer: Option<Timer>,
}

impl Node {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent at every unlock, so a poisoned lock is still usable.
        self.state.lock().unpoison()
    }

    /// Sets the error if none is set, closes `done`, stops the timer and pushes the live
    /// children onto `out`. Returns whether this call cancelled the node.
    fn cancel_one(&self, err: ContextError, out: &mut Vec<Arc<Node>>) -> bool {
        let (done, children, timer) = {
            let mut st = self.lock();
            if st.err.is_some() {
                return false;
            }
            st.err = Some(err);
            // The closed channel stays in the state for later `done()` calls.
            (
                st.done.clone(),
                std::mem::take(&mut st.children),
                st.timer.take(),
            )
        };
        if let Some(t) = timer {
            t.stop();
        }
        if let Some(d) = &done {
            d.close();
        }
        out.extend(children.into_iter().filter_map(|(_, w)| w.upgrade()));
        true
    }

    /// Removes this node's slot from its parent's child slab (invariant 2 makes a stale key
    /// harmless).
    fn unregister(&self) {
        if let Some((parent, key)) = &self.parent {
            let removed = parent.lock().children.try_remove(*key);
            drop(removed);
        }
    }
}

impl Drop for Node {
    /// The release: unregister, stop the timer, close a `done` channel that was handed out.
    fn drop(&mut self) {
        let (done, timer) = {
            let st = self.state.get_mut().unpoison();
            (
                if st.err.is_none() {
                    st.done.take()
                } else {
                    None
                },
                st.timer.take(),
            )
        };
        if let Some(t) = timer {
            t.stop();
        }
        if let Some(d) = done {
            d.close();
        }
        // Unregister from the parent and let go of it. If ours was the parent's last strong
        // reference, the parent is released here, in this loop, not by a nested drop: a
        // chain of a million derived contexts would otherwise recurse a million frames deep.
        let mut next = self.parent.take();
        while let Some((parent, key)) = next.take() {
            let removed = parent.lock().children.try_remove(key);
            drop(removed);
            if let Some(mut p) = Arc::into_inner(parent) {
                // `p`'s own drop runs with `parent` already taken: it recurses no further.
                next = p.parent.take();
                drop(p);
            }
        }
    }
}

/// Carries cancellation and a deadline across goroutines (Go's `context.Context`).
///
/// Cheap to clone: clones are the same context. `Send + Sync`; pass it by value or by
/// reference to the goroutines that should stop when it is cancelled.
///
/// ```
/// use gorun::context::Context;
/// let (ctx, cancel) = Context::background().with_cancel();
/// let child = ctx.clone();
/// cancel.cancel();
/// assert!(child.err().is_some());
/// ```
#[derive(Clone)]
pub struct Context {
    /// `None` for the roots (`background`, `todo`), which are never cancelled.
    node: Option<Arc<Node>>,
    /// The innermost of the values attached with `with_value`; each links to the one before.
    /// Immutable, shared by every context derived from this one.
    values: Option<Arc<ValueEntry>>,
}

/// One `with_value` pair (Go's `valueCtx`), in an immutable list from the innermost out.
struct ValueEntry {
    key: Box<dyn Any + Send + Sync>,
    value: Box<dyn Any + Send + Sync>,
    next: Option<Arc<ValueEntry>>,
}

impl Drop for ValueEntry {
    /// Frees the entries this one held the last reference to in a loop, not recursively, so a
    /// long `with_value` chain cannot overflow the stack.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(e) = next {
            next = Arc::into_inner(e).and_then(|mut e| e.next.take());
        }
    }
}

/// Cancels the context it came with, and every context derived from it (Go's
/// `context.CancelFunc`). `Clone + Send + Sync`; calling it more than once is harmless.
///
/// Dropping it does not cancel the context; a context is released (and detached from its
/// parent) when its last handle, `Context` clone or `CancelFunc`, is dropped.
///
/// ```
/// use gorun::context::{Context, ContextError};
/// let (ctx, cancel) = Context::background().with_cancel();
/// cancel.cancel();
/// cancel.cancel(); // harmless
/// assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// ```
#[derive(Clone)]
pub struct CancelFunc {
    node: Arc<Node>,
}

impl CancelFunc {
    /// Cancels the context with [`ContextError::Canceled`] (if it is not cancelled already)
    /// and every context derived from it, closes their `done` channels, and stops their
    /// deadline timers.
    ///
    /// ```
    /// use gorun::context::Context;
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let (grandchild, _c) = ctx.with_cancel();
    /// cancel.cancel();
    /// assert!(grandchild.done().is_closed());
    /// ```
    pub fn cancel(&self) {
        cancel_tree(&self.node, ContextError::Canceled, true);
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc")
            .field("err", &self.node.lock().err)
            .finish()
    }
}

/// Cancels `root` and its live descendants with `err`, depth-first with an explicit stack;
/// with `unregister`, `root` also leaves its parent's slab.
fn cancel_tree(root: &Arc<Node>, err: ContextError, unregister: bool) {
    let mut stack = Vec::new();
    if !root.cancel_one(err, &mut stack) {
        return;
    }
    if unregister {
        root.unregister();
    }
    while let Some(node) = stack.pop() {
        // Children of a cancelled node were taken out of its slab: no unregister needed.
        node.cancel_one(err, &mut stack);
        // `node` (maybe the last strong reference) drops here, outside every lock.
    }
}

impl Context {
    /// The root context: never cancelled, no deadline (Go's `context.Background()`).
    ///
    /// ```
    /// let ctx = gorun::context::Context::background();
    /// assert!(ctx.err().is_none());
    /// assert!(ctx.deadline().is_none());
    /// ```
    pub fn background() -> Context {
        Context {
            node: None,
            values: None,
        }
    }

    /// Like [`background`](Self::background), for code that has not decided which context to
    /// use yet (Go's `context.TODO()`).
    ///
    /// ```
    /// assert!(gorun::context::Context::todo().err().is_none());
    /// ```
    pub fn todo() -> Context {
        Context {
            node: None,
            values: None,
        }
    }

    /// A child context cancelled by the returned [`CancelFunc`] or with this one (Go's
    /// `context.WithCancel`).
    ///
    /// ```
    /// use gorun::context::{Context, ContextError};
    /// let (parent, cancel_parent) = Context::background().with_cancel();
    /// let (child, _cancel_child) = parent.with_cancel();
    /// cancel_parent.cancel();
    /// assert_eq!(child.err(), Some(ContextError::Canceled));
    /// ```
    pub fn with_cancel(&self) -> (Context, CancelFunc) {
        let node = self.derive(self.deadline());
        (
            Context {
                node: Some(node.clone()),
                values: self.values.clone(),
            },
            CancelFunc { node },
        )
    }

    /// A child context that is also cancelled, with [`ContextError::DeadlineExceeded`], `d`
    /// from now (Go's `context.WithTimeout`). Uses the current runtime's timer wheel (or the
    /// global runtime's).
    ///
    /// ```
    /// use gorun::context::{Context, ContextError};
    /// use gorun::time::Duration;
    /// gorun::block_on(async {
    ///     let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(10));
    ///     ctx.done().recv().await;
    ///     assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    /// });
    /// ```
    pub fn with_timeout(&self, d: Duration) -> (Context, CancelFunc) {
        // A timeout too large for `Instant` is no deadline at all.
        match Instant::now().checked_add(d) {
            Some(t) => self.with_deadline(t),
            None => self.with_cancel(),
        }
    }

    /// A child context that is also cancelled, with [`ContextError::DeadlineExceeded`], at
    /// `deadline`, or at the parent's deadline if that is earlier (Go's
    /// `context.WithDeadline`). A deadline already passed gives a context cancelled at once.
    ///
    /// ```
    /// use gorun::context::{Context, ContextError};
    /// use std::time::{Duration, Instant};
    /// let past = Instant::now();
    /// let (ctx, _cancel) = Context::background().with_deadline(past);
    /// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    ///
    /// let soon = Instant::now() + Duration::from_secs(5);
    /// let (parent, _c1) = Context::background().with_deadline(soon);
    /// let (child, _c2) = parent.with_deadline(soon + Duration::from_secs(60));
    /// assert_eq!(child.deadline(), Some(soon), "inherits the earlier deadline");
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFunc) {
        let deadline = match self.deadline() {
            Some(p) if p <= deadline => p,
            _ => deadline,
        };
        let node = self.derive(Some(deadline));
        let now = Instant::now();
        if deadline <= now {
            cancel_tree(&node, ContextError::DeadlineExceeded, true);
        } else if node.lock().err.is_none() {
            let weak = ReleaseProbe::wrap(Arc::downgrade(&node));
            let timer = crate::time::after_func(deadline - now, move || {
                if let Some(n) = weak.get().upgrade() {
                    cancel_tree(&n, ContextError::DeadlineExceeded, true);
                }
            });
            let mut st = node.lock();
            if st.err.is_none() {
                st.timer = Some(timer);
            } else {
                // Cancelled (by the parent) while we armed it.
                drop(st);
                timer.stop();
            }
        }
        (
            Context {
                node: Some(node.clone()),
                values: self.values.clone(),
            },
            CancelFunc { node },
        )
    }

    /// A new node under this context, born cancelled if this one is cancelled.
    fn derive(&self, deadline: Option<Instant>) -> Arc<Node> {
        let fresh = |parent, err| {
            State {
                err,
                done: None,
                children: Slab::new(),
                timer: None,
            }
            .into_node(parent, deadline)
        };
        let Some(parent) = &self.node else {
            return fresh(None, None);
        };
        let mut st = parent.lock();
        if let Some(err) = st.err {
            drop(st);
            return fresh(None, Some(err));
        }
        let entry = st.children.vacant_entry();
        let node = fresh(Some((parent.clone(), entry.key())), None);
        entry.insert(Arc::downgrade(&node));
        node
    }

    /// A channel closed when this context is cancelled (Go's `ctx.Done()`). Nothing is ever
    /// sent on it; a receive completes with `None` once it is closed, so it works in
    /// `select!`. For [`background`](Self::background) it is the nil channel, which is never
    /// ready. Hold the context (or a clone) while you wait: when every handle of a context is
    /// dropped, it is released and its channel closed.
    ///
    /// ```
    /// use gorun::context::Context;
    /// gorun::block_on(async {
    ///     let (ctx, cancel) = Context::background().with_cancel();
    ///     let done = ctx.done();
    ///     assert!(done.try_recv().is_err(), "not cancelled yet");
    ///     cancel.cancel();
    ///     assert_eq!(done.recv().await, None);
    /// });
    /// ```
    pub fn done(&self) -> Receiver<()> {
        let Some(node) = &self.node else {
            return Chan::nil().receiver();
        };
        let mut st = node.lock();
        if let Some(d) = &st.done {
            return d.receiver();
        }
        let d = chan::<()>(0);
        if st.err.is_some() {
            d.close();
        }
        let rx = d.receiver();
        st.done = Some(d);
        rx
    }

    /// Why this context was cancelled, or `None` while it is not (Go's `ctx.Err()`).
    ///
    /// ```
    /// use gorun::context::{Context, ContextError};
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.node.as_ref().and_then(|n| n.lock().err)
    }

    /// When this context will be cancelled by a deadline, its own or an ancestor's, whichever
    /// is earliest (Go's `ctx.Deadline()`).
    ///
    /// ```
    /// use gorun::context::Context;
    /// use std::time::Duration;
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(60));
    /// assert!(ctx.deadline().is_some());
    /// assert!(Context::background().deadline().is_none());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|n| n.deadline)
    }

    /// A child context that carries `value` under `key`, and is cancelled with this one (Go's
    /// `context.WithValue`). Any `PartialEq` type can be a key; as in Go, a private key type
    /// avoids collisions between packages. A later `with_value` with an equal key shadows an
    /// earlier one for the contexts derived from it.
    ///
    /// ```
    /// use gorun::context::Context;
    /// #[derive(PartialEq)]
    /// struct RequestId;
    /// let ctx = Context::background().with_value(RequestId, 42u64);
    /// let (child, _cancel) = ctx.with_cancel();
    /// assert_eq!(child.value::<_, u64>(&RequestId), Some(&42));
    /// ```
    pub fn with_value<K, V>(&self, key: K, value: V) -> Context
    where
        K: Any + PartialEq + Send + Sync,
        V: Any + Send + Sync,
    {
        Context {
            node: self.node.clone(),
            values: Some(Arc::new(ValueEntry {
                key: Box::new(key),
                value: Box::new(value),
                next: self.values.clone(),
            })),
        }
    }

    /// The value attached under `key` by the innermost [`with_value`](Self::with_value) of
    /// this context's ancestry, if it has type `V` (Go's `ctx.Value(key)` plus the type
    /// assertion). `None` if no equal key was attached, or if the innermost one holds another
    /// type.
    ///
    /// ```
    /// use gorun::context::Context;
    /// let ctx = Context::background().with_value("user", "gopher".to_string());
    /// assert_eq!(ctx.value::<_, String>(&"user").map(String::as_str), Some("gopher"));
    /// assert_eq!(ctx.value::<_, u32>(&"user"), None, "another type");
    /// assert_eq!(ctx.value::<_, String>(&"other"), None);
    /// ```
    pub fn value<K, V>(&self, key: &K) -> Option<&V>
    where
        K: Any + PartialEq,
        V: Any,
    {
        let mut e = self.values.as_deref();
        while let Some(entry) = e {
            if entry.key.downcast_ref::<K>() == Some(key) {
                return entry.value.downcast_ref::<V>();
            }
            e = entry.next.as_deref();
        }
        None
    }

    /// The number of live children registered with this context (for tests of the release
    /// protocol). Not a stable API.
    #[doc(hidden)]
    pub fn __num_children(&self) -> usize {
        self.node.as_ref().map_or(0, |n| n.lock().children.len())
    }
}

impl State {
    fn into_node(self, parent: Option<(Arc<Node>, usize)>, deadline: Option<Instant>) -> Arc<Node> {
        Arc::new(Node {
            parent,
            deadline,
            state: Mutex::new(self),
        })
    }
}

impl Default for Context {
    /// [`Context::background`].
    fn default() -> Self {
        Context::background()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            None => f.write_str("Context(background)"),
            Some(n) => f
                .debug_struct("Context")
                .field("err", &n.lock().err)
                .field("deadline", &n.deadline)
                .finish(),
        }
    }
}

/// The `Weak` reference a deadline timer holds. Under `cfg(test)` it counts the live ones, so a
/// unit test can check that stopped timers release their closures.
struct ReleaseProbe(Weak<Node>);

#[cfg(test)]
static LIVE_PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl ReleaseProbe {
    fn wrap(w: Weak<Node>) -> ReleaseProbe {
        #[cfg(test)]
        LIVE_PROBES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ReleaseProbe(w)
    }

    fn get(&self) -> &Weak<Node> {
        &self.0
    }
}

#[cfg(test)]
impl Drop for ReleaseProbe {
    fn drop(&mut self) {
        LIVE_PROBES.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// 10,000 `with_timeout` contexts cancelled early free their timers (and the closures the
    /// timers hold) at once, without waiting for the deadlines.
    #[test]
    fn early_cancel_frees_deadline_timers() {
        let rt = crate::runtime::Builder::new().workers(2).build().unwrap();
        rt.block_on(async {
            let base = LIVE_PROBES.load(std::sync::atomic::Ordering::SeqCst);
            let root = Context::background();
            for i in 0..10_000 {
                let (ctx, cancel) = root.with_timeout(Duration::from_secs(3600));
                if i % 2 == 0 {
                    cancel.cancel();
                    assert!(ctx.done().is_closed());
                } // odd ones: released by drop
            }
            assert_eq!(LIVE_PROBES.load(std::sync::atomic::Ordering::SeqCst), base);
        });
    }
}
