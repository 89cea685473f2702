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
//! # How it is built
//!
//! Every derived context is a node of a cancellation tree, the shape of Go's `cancelCtx`: one
//! lock per node guards its error, its `done` channel (created on first use), its live
//! children (held weakly) and its deadline timer. Cancelling walks the tree with an explicit
//! stack, and when the last handle of a node goes, the node leaves its parent. The node, that
//! algorithm, its invariants and what was rejected are in `context/node.rs`; this file holds
//! the public types ([`ContextError`], [`Context`], [`CancelFunc`]) and the values list:
//!
//! - **Values**: [`Context::with_value`] prepends an entry to an immutable list shared by all
//!   contexts derived from it (Go's `valueCtx` chain); [`Context::value`] walks it from the
//!   innermost entry out. Values never touch the cancellation node.
//!
//! Rejected for values:
//! - Values keyed by `TypeId` only (as `http::Extensions`): Go's keys are values, and code
//!   ported from Go keeps its keys; [`Context::with_value`] takes any `PartialEq` key and
//!   walks an immutable list from the innermost value out, as Go's `valueCtx` chain does.
//!   Values never touch the cancellation node: a `with_value` context shares its parent's.
//!
//! Contexts know nothing of the runtime except for the deadline timer, which lives on the
//! current runtime's timer wheel (or the global runtime's, outside any runtime).

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::chan::{chan, Chan, Receiver};

mod node;

use node::{cancel_tree, Node, ReleaseProbe, State};

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
