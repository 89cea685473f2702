//! Cooperative scheduling budget.
//!
//! A future that is always ready (a loop over a channel that always has a value, a mutex that is
//! never contended) never returns `Pending`, so without help it would keep its worker forever
//! and starve every other goroutine queued there. As in tokio, each task poll gets a budget of
//! [`BUDGET`] operations. Every gorun leaf future that can complete without waiting (channel
//! send/recv, lock acquire, ...) calls [`poll_proceed`] first; once the budget is spent it
//! returns `Pending` after waking the task, so the task goes to the back of the run queue and
//! the others get their turn.
//!
//! Invariants:
//! - The budget is per thread and is only set by the scheduler around a task poll (and by
//!   `block_on` around its future's poll). Elsewhere (a tokio worker, a plain thread) it is
//!   unconstrained, so gorun's channels and locks behave as plain futures on other executors.
//! - `poll_proceed` is called before a leaf future changes any state, so yielding through it
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

/// Spends one unit of the current task's budget. Returns `Pending` (after arranging for the
/// task to be polled again) when the budget is spent.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let spent = CURRENT
        .try_with(|c| match c.get() {
            None => false,
            Some(0) => true,
            Some(n) => {
                c.set(Some(n - 1));
                false
            }
        })
        .unwrap_or(false);
    if spent {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(())
    }
}

/// Whether the current task has budget left (always true outside a gorun task poll).
#[inline]
#[allow(dead_code)]
pub(crate) fn has_budget_remaining() -> bool {
    CURRENT.try_with(|c| c.get() != Some(0)).unwrap_or(true)
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
            assert!(poll_proceed(&mut cx).is_ready());
        }
    }

    #[test]
    fn budget_runs_out_inside_a_task_poll() {
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        let ready = with_budget(|| {
            let mut n = 0;
            while poll_proceed(&mut cx).is_ready() {
                n += 1;
            }
            n
        });
        assert_eq!(ready, BUDGET as usize);
        assert!(poll_proceed(&mut cx).is_ready(), "budget must be restored after the poll");
    }
}
