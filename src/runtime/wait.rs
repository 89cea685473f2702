//! What a goroutine is waiting on, for `runtime::dump` and the deadlock report.
//!
//! While a goroutine (or a `block_on` future) is polled, a thread-local points at its wait
//! slot. A gorun leaf future that returns `Pending` records why through [`pending`]; the
//! slot is reset at the start of every poll, so a goroutine waiting on a foreign future shows
//! as plainly "waiting". Cost: one thread-local read and one relaxed store per `Pending`.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::task::Poll;

use super::task::STATE_RUNNING;

/// Why a goroutine is parked (Go's wait reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[allow(clippy::enum_variant_names)] // `WaitGroup` is the type's name
pub(crate) enum Wait {
    Unknown = 0,
    ChanRecv,
    ChanSend,
    Select,
    SelectNoCases,
    WaitGroup,
    Mutex,
    RwMutexRead,
    RwMutexWrite,
    Semaphore,
    Cond,
    Sleep,
    Io,
    Join,
}

/// The bits of a wait slot that hold a [`Wait`]; the others hold the task's state
/// (`task::STATE_*`), which the goroutine's poll and its wake-ups write.
pub(crate) const WAIT_MASK: u8 = 0x0F;
const _: () = assert!(Wait::Join as u8 <= WAIT_MASK);

impl Wait {
    /// The reason in the low bits of a wait slot.
    pub(crate) fn from_u8(v: u8) -> Wait {
        use Wait::*;
        [
            Unknown,
            ChanRecv,
            ChanSend,
            Select,
            SelectNoCases,
            WaitGroup,
            Mutex,
            RwMutexRead,
            RwMutexWrite,
            Semaphore,
            Cond,
            Sleep,
            Io,
            Join,
        ]
        .get((v & WAIT_MASK) as usize)
        .copied()
        .unwrap_or(Unknown)
    }

    /// The text Go's traceback shows in brackets.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Wait::Unknown => "waiting",
            Wait::ChanRecv => "chan receive",
            Wait::ChanSend => "chan send",
            Wait::Select => "select",
            Wait::SelectNoCases => "select (no cases)",
            Wait::WaitGroup => "sync.WaitGroup.Wait",
            Wait::Mutex => "sync.Mutex.Lock",
            Wait::RwMutexRead => "sync.RWMutex.RLock",
            Wait::RwMutexWrite => "sync.RWMutex.Lock",
            Wait::Semaphore => "semacquire",
            Wait::Cond => "sync.Cond.Wait",
            Wait::Sleep => "sleep",
            Wait::Io => "IO wait",
            Wait::Join => "JoinHandle await",
        }
    }
}

thread_local! {
    static SLOT: Cell<*const AtomicU8> = const { Cell::new(ptr::null()) };
}

/// Makes `slot` the current wait slot while `f` runs (one poll), set to running and waiting
/// on nothing first.
#[inline]
pub(crate) fn polling<R>(slot: &AtomicU8, f: impl FnOnce() -> R) -> R {
    struct Restore(*const AtomicU8);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0;
            let _ = SLOT.try_with(|s| s.set(prev));
        }
    }
    slot.store(STATE_RUNNING | Wait::Unknown as u8, Relaxed);
    let prev = SLOT.with(|s| s.replace(slot));
    let _restore = Restore(prev);
    f()
}

/// Records that the current goroutine waits on `what`, and returns `Pending`.
#[inline]
pub(crate) fn pending<T>(what: Wait) -> Poll<T> {
    let slot = SLOT.try_with(|s| s.get()).unwrap_or(ptr::null());
    if !slot.is_null() {
        // SAFETY: a non-null slot was installed by `polling` for the duration of the current
        // poll, and points into the polled task's metadata (or `block_on`'s frame), which
        // outlives that poll.
        unsafe { (*slot).store(STATE_RUNNING | what as u8, Relaxed) };
    }
    Poll::Pending
}
