//! Cooperative scheduling budget.
//!
//! A future that is always ready (a loop over a channel that always has a value, a mutex that is
//! never contended) never returns `Pending`, so without help it would keep its worker forever
//! and starve every other goroutine queued there. As in tokio, each task poll gets a budget of
//! [`BUDGET`] operations. Every gorun leaf future that can complete without waiting (channel
//! send/recv, lock acquire, ...) calls [`proceed`] first; once the budget is spent it
//! returns `Pending` after waking the task, so the task goes to the back of the run queue and
//! the others get their turn. Only operations that complete spend a unit: one that returns
//! `Pending` gives its unit back ([`Unit::refund`]), so a poll that visits many pending leaves
//! cannot exhaust the budget and livelock.
//!
//! It lives in `util`, below every layer, because leaves of every layer spend it: channels
//! and locks, and the reactor's I/O futures; the runtime (which sets it around each poll)
//! re-exports it as `runtime::coop`.
//!
//! Invariants:
//! - The budget is per thread and is only set by the scheduler around a task poll (and by
//!   `block_on` around its future's poll). Elsewhere (a tokio worker, a plain thread) it is
//!   unconstrained, so gorun's channels and locks behave as plain futures on other executors.
//! - `proceed` is called before a leaf future changes any state, so yielding through it
//!   is always cancel-safe.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may complete in one poll before it is made to yield.
pub(crate) const BUDGET: u8 = 128;

thread_local! {
    /// `None`: unconstrained. `Some(n)`: `n` operations left in this poll.
    static CURRENT: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` (one task poll) with a fresh budget, restoring the previous one afterwards.
#[inline]
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0;
            let _ = CURRENT.try_with(|c| c.set(prev));
        }
    }
    let prev = CURRENT.with(|c| c.replace(Some(BUDGET)));
    let _restore = Restore(prev);
    f()
}

/// One unit of the current task's budget, spent by a leaf operation that is about to run.
///
/// An operation that returns `Pending` has done no work and gives its unit back with
/// [`refund`](Self::refund): charging it would let a future that polls more pending leaves
/// than the budget holds (`select_all` over hundreds of receives) spend the whole budget on
/// every poll and wake itself forever without reaching the leaves past the budget (tokio's
/// `RestoreOnPending`). A plain value, not a drop guard: the completing path, which every
/// operation takes, costs nothing (a guard with `Drop` kept `Mutex::lock`'s poll from being
/// inlined: 19 more instructions per lock). Not refunding only overcharges.
#[must_use = "refund() it if the operation returns Pending"]
#[derive(Clone, Copy)]
pub(crate) struct Unit {
    charged: bool,
}

impl Unit {
    /// The operation returned `Pending`: give the unit back.
    #[inline]
    pub(crate) fn refund(self) {
        if self.charged {
            refund_one();
        }
    }
}

#[inline(never)]
fn refund_one() {
    let _ = CURRENT.try_with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n.saturating_add(1).min(BUDGET)));
        }
    });
}

/// Takes one unit of the current task's budget for a leaf operation. Returns `Pending` (after
/// arranging for the task to be polled again) when the budget is spent. An operation that
/// then returns `Pending` calls [`Unit::refund`].
#[inline]
pub(crate) fn proceed(cx: &mut Context<'_>) -> Poll<Unit> {
    let charged = CURRENT
        .try_with(|c| match c.get() {
            None => Some(false),
            Some(0) => None,
            Some(n) => {
                c.set(Some(n - 1));
                Some(true)
            }
        })
        .unwrap_or(Some(false));
    match charged {
        Some(charged) => Poll::Ready(Unit { charged }),
        None => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs the leaf operation `op` under [`proceed`]: yields when the budget is spent, spends a
/// unit only if `op` completes.
#[inline]
pub(crate) fn poll_op<R>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
    let unit = std::task::ready!(proceed(cx));
    let r = op(cx);
    if r.is_pending() {
        unit.refund();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn unconstrained_outside_a_task() {
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        for _ in 0..10_000 {
            assert!(proceed(&mut cx).is_ready());
        }
    }

    #[test]
    fn budget_runs_out_inside_a_task_poll() {
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        let ready = with_budget(|| {
            let mut n = 0;
            while let Poll::Ready(_spent) = proceed(&mut cx) {
                n += 1;
            }
            n
        });
        assert_eq!(ready, BUDGET as usize);
        assert!(
            proceed(&mut cx).is_ready(),
            "budget must be restored after the poll"
        );
    }

    #[test]
    fn pending_operations_give_their_unit_back() {
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        with_budget(|| {
            // Far more pending leaves than the budget: every one of them is reached.
            for _ in 0..10 * BUDGET as usize {
                assert!(poll_op(&mut cx, |_| Poll::<()>::Pending).is_pending());
            }
            let mut n = 0;
            while poll_op(&mut cx, |_| Poll::Ready(())).is_ready() {
                n += 1;
            }
            assert_eq!(
                n, BUDGET as usize,
                "the whole budget is left for completions"
            );
        });
    }
}
