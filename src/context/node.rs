//! The cancellation tree under [`Context`]: a derived context's [`Node`], cancelling a
//! subtree, deadline timers, and the release of a node whose last handle went.
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
//!
//! # Testing
//!
//! There is no loom model here: every step of the protocol runs under one node's mutex, with
//! no lock-free step and no waker protocol of its own (the wake-ups are the `close` of a
//! channel, whose protocol `chan`'s models cover). The race between deriving from a context on
//! one thread and cancelling it on another is exercised by a thread stress test
//! (`tests/context.rs`); the release of stopped timers by a unit test below.
//!
//! [`Context`]: super::Context
//! [`Context::done`]: super::Context::done
//! [`CancelFunc`]: super::CancelFunc

use crate::loom::Unpoison;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use slab::Slab;

use super::ContextError;
use crate::chan::Chan;
use crate::time::Timer;

/// A derived context's shared state.
pub(super) struct Node {
    /// The parent node and this node's key in its child slab; `None` under a root (background)
    /// or when the node was born cancelled (then it is not registered anywhere).
    parent: Option<(Arc<Node>, usize)>,
    /// The earlier of this node's own deadline and its parent's. Immutable.
    pub(super) deadline: Option<Instant>,
    /// Guarded by `state`'s lock (the node lock; see invariant 4 of the module docs).
    state: Mutex<State>,
}

pub(super) struct State {
    /// Set once, on cancellation.
    pub(super) err: Option<ContextError>,
    /// Created on the first `done()`; closed on cancellation or release.
    pub(super) done: Option<Chan<()>>,
    /// The live children, weakly. Empty forever once `err` is set.
    pub(super) children: Slab<Weak<Node>>,
    /// The deadline timer, while armed.
    pub(super) timer: Option<Timer>,
}

impl Node {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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

/// Cancels `root` and its live descendants with `err`, depth-first with an explicit stack;
/// with `unregister`, `root` also leaves its parent's slab.
pub(super) fn cancel_tree(root: &Arc<Node>, err: ContextError, unregister: bool) {
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

impl State {
    pub(super) fn into_node(
        self,
        parent: Option<(Arc<Node>, usize)>,
        deadline: Option<Instant>,
    ) -> Arc<Node> {
        Arc::new(Node {
            parent,
            deadline,
            state: Mutex::new(self),
        })
    }
}

/// The `Weak` reference a deadline timer holds. Under `cfg(test)` it counts the live ones, so a
/// unit test can check that stopped timers release their closures.
pub(super) struct ReleaseProbe(Weak<Node>);

#[cfg(test)]
static LIVE_PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl ReleaseProbe {
    pub(super) fn wrap(w: Weak<Node>) -> ReleaseProbe {
        #[cfg(test)]
        LIVE_PROBES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ReleaseProbe(w)
    }

    pub(super) fn get(&self) -> &Weak<Node> {
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
    use crate::context::Context;
    use std::time::Duration;

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
