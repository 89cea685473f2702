//! What a goroutine is waiting on, for `runtime::dump` and the deadlock report.
//!
//! While a goroutine (or a `block_on` future) is polled, a thread-local points at its wait
//! slot ([`polling`] installs it). A gorun leaf future that returns `Pending` records why
//! through [`pending`]; the slot is reset at the start of every poll, so a goroutine waiting on
//! a foreign future shows as plainly "waiting". Cost: one thread-local read and one relaxed
//! store per `Pending`. The reasons, the slot's thread-local and `pending` live in
//! `util::wait`, below every layer that records a reason (the reactor's I/O too); this module
//! installs the slot and re-exports them.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use super::task::STATE_RUNNING;
pub(crate) use crate::util::wait::{pending, Wait, WAIT_MASK};

// `pending` (in `util::wait`, below the reactor, which records `Wait::Io`) writes the running
// state with the reason: the same bits as the task's.
const _: () = assert!(STATE_RUNNING == crate::util::wait::RUNNING);

/// Makes `slot` the current wait slot while `f` runs (one poll), set to running and waiting
/// on nothing first.
#[inline]
pub(crate) fn polling<R>(slot: &AtomicU8, f: impl FnOnce() -> R) -> R {
    struct Restore(*const AtomicU8);
    impl Drop for Restore {
        fn drop(&mut self) {
            crate::util::wait::restore_slot(self.0);
        }
    }
    slot.store(STATE_RUNNING | Wait::Unknown as u8, Relaxed);
    let prev = crate::util::wait::replace_slot(slot);
    let _restore = Restore(prev);
    f()
}
