//! Wait reasons (Go's `waitReason`): why a goroutine is parked, for `runtime::dump` and the
//! deadlock report.
//!
//! While a goroutine (or a `block_on` future) is polled, a thread-local points at its wait
//! slot (installed by `runtime::wait::polling` through [`replace_slot`]). A gorun leaf future
//! that returns `Pending` records why through [`pending`]. They live here, below every layer,
//! because leaves of every layer record a reason: channels and locks, sleeps, and the
//! reactor's I/O (`Wait::Io`); the runtime re-exports them (`runtime::{pending, Wait}`).
//!
//! A slot is the task's status byte: the low bits ([`WAIT_MASK`]) hold a [`Wait`], the others
//! the task's state, which is [`RUNNING`] throughout a poll (`runtime::task::STATE_RUNNING`,
//! asserted equal there).

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::task::Poll;

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
/// (`runtime::task::STATE_*`), which the goroutine's poll and its wake-ups write.
pub(crate) const WAIT_MASK: u8 = 0x0F;

/// A slot's state bits while its task is being polled.
pub(crate) const RUNNING: u8 = 1 << 4;
const _: () = assert!(RUNNING & WAIT_MASK == 0);
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

/// Makes `slot` this thread's wait slot (null: none); returns the previous one, for
/// [`restore_slot`]. The caller keeps `slot` alive until it restores the previous one.
#[inline]
pub(crate) fn replace_slot(slot: *const AtomicU8) -> *const AtomicU8 {
    SLOT.with(|s| s.replace(slot))
}

/// Puts back the wait slot [`replace_slot`] returned (a no-op while the thread exits).
#[inline]
pub(crate) fn restore_slot(prev: *const AtomicU8) {
    let _ = SLOT.try_with(|s| s.set(prev));
}

/// Records that the current goroutine waits on `what`, and returns `Pending`.
#[inline]
pub(crate) fn pending<T>(what: Wait) -> Poll<T> {
    let slot = SLOT.try_with(|s| s.get()).unwrap_or(ptr::null());
    if !slot.is_null() {
        // SAFETY: a non-null slot was installed by `replace_slot` (`runtime::wait::polling`)
        // for the duration of the current poll, and points into the polled task's metadata
        // (or `block_on`'s frame), which outlives that poll.
        unsafe { (*slot).store(RUNNING | what as u8, Relaxed) };
    }
    Poll::Pending
}
