//! What a goroutine is waiting on, for `runtime::dump` and the deadlock report.
//!
//! While a goroutine (or a `block_on` future) is polled, a thread-local points at its wait
//! slot ([`polling`] installs it). A gorun leaf future that returns `Pending` records why
//! through [`pending`]; the slot is reset at the start of every poll, so a goroutine waiting on
//! a foreign future shows as plainly "waiting". Cost: one thread-local read and one relaxed
//! store per `Pending`. The reasons, the slot's thread-local and `pending` live in
//! `util::wait`, below every layer that records a reason (the reactor's I/O too); this module
//! installs the slot and re-exports them.
//!
//! The same per-poll thread-locals say which goroutine is being polled (its own waker) and
//! whether a `Sleep` parked it with that waker in its runtime's timer wheel: such a goroutine
//! needs no registry entry while it sleeps (see `runtime::task`).

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::task::{RawWakerVTable, Waker};

use super::task::STATE_RUNNING;
pub(crate) use crate::util::wait::{pending, Wait, WAIT_MASK};

// `pending` (in `util::wait`, below the reactor, which records `Wait::Io`) writes the running
// state with the reason: the same bits as the task's.
const _: () = assert!(STATE_RUNNING == crate::util::wait::RUNNING);

thread_local! {
    /// The goroutine being polled on this thread: its own waker (data, vtable) and its
    /// runtime's driver; nulls outside a goroutine's poll.
    static TASK: Cell<OwnWaker> = const { Cell::new(OwnWaker::NONE) };
    /// The timer key of the sleep the current goroutine parked in with its own waker during
    /// this poll (see [`record_sleep`]), or `NO_SLEEP`.
    static SLEPT: Cell<u32> = const { Cell::new(NO_SLEEP) };
}

/// No sleep recorded.
pub(crate) const NO_SLEEP: u32 = u32::MAX;

/// The identity of a goroutine's own waker and of its runtime's driver.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnWaker {
    data: *const (),
    vtable: *const RawWakerVTable,
    driver: *const crate::reactor::Driver,
}

impl OwnWaker {
    const NONE: OwnWaker = OwnWaker {
        data: ptr::null(),
        vtable: ptr::null(),
        driver: ptr::null(),
    };

    pub(crate) fn new(waker: &Waker, driver: &crate::reactor::Driver) -> OwnWaker {
        OwnWaker {
            data: waker.data(),
            vtable: waker.vtable(),
            driver,
        }
    }
}

/// Makes `slot` the current wait slot while `f` runs (one poll), set to running and waiting
/// on nothing first. `own` identifies the goroutine being polled (`None` for `block_on`'s
/// future); the sleep record is cleared first.
#[inline]
pub(crate) fn polling<R>(slot: &AtomicU8, own: Option<OwnWaker>, f: impl FnOnce() -> R) -> R {
    struct Restore(*const AtomicU8, OwnWaker);
    impl Drop for Restore {
        fn drop(&mut self) {
            let (prev, task) = (self.0, self.1);
            crate::util::wait::restore_slot(prev);
            let _ = TASK.try_with(|s| s.set(task));
        }
    }
    slot.store(STATE_RUNNING | Wait::Unknown as u8, Relaxed);
    let prev = crate::util::wait::replace_slot(slot);
    let task = TASK.with(|s| s.replace(own.unwrap_or(OwnWaker::NONE)));
    SLEPT.with(|s| s.set(NO_SLEEP));
    let _restore = Restore(prev, task);
    f()
}

/// Whether `waker` is the own waker of the goroutine being polled on this thread, and that
/// goroutine's runtime's driver is `driver`: then a `Sleep` parking it may stand in for the
/// goroutine's registry entry (see `runtime::task`).
#[inline]
pub(crate) fn is_own_waker(waker: &Waker, driver: &crate::reactor::Driver) -> bool {
    TASK.try_with(|s| s.get())
        .is_ok_and(|t| !t.data.is_null() && t == OwnWaker::new(waker, driver))
}

/// Records that the goroutine being polled parked, with its own waker, in the sleep entry
/// `key` of its runtime's driver.
#[inline]
pub(crate) fn record_sleep(key: u32) {
    let _ = SLEPT.try_with(|s| s.set(key));
}

/// Forgets the recorded sleep if it is `key`: that sleep completed or was dropped during the
/// poll, so its entry no longer holds the goroutine's waker and cannot stand for it.
#[inline]
pub(crate) fn forget_sleep(key: u32) {
    let _ = SLEPT.try_with(|s| {
        if s.get() == key {
            s.set(NO_SLEEP);
        }
    });
}

/// The sleep recorded during the current poll, if any (and forgets it).
#[inline]
pub(crate) fn take_sleep() -> Option<u32> {
    match SLEPT.try_with(|s| s.replace(NO_SLEEP)) {
        Ok(NO_SLEEP) | Err(_) => None,
        Ok(k) => Some(k),
    }
}
