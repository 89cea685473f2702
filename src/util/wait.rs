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

/// Declares [`Wait`], the table `from_u8` reads, and the text `describe` gives, from one list,
/// so a reason added once is known everywhere. The first entry is `Unknown`, value 0.
macro_rules! wait_reasons {
    ($($name:ident => $text:literal,)*) => {
        /// Why a goroutine is parked (Go's wait reasons).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        #[allow(clippy::enum_variant_names)] // `WaitGroup` is the type's name
        pub(crate) enum Wait {
            $($name,)*
        }

        impl Wait {
            /// Every reason, in order of value.
            const ALL: &'static [Wait] = &[$(Wait::$name,)*];

            /// The text Go's traceback shows in brackets.
            pub(crate) fn describe(self) -> &'static str {
                match self {
                    $(Wait::$name => $text,)*
                }
            }
        }
    };
}

wait_reasons! {
    Unknown => "waiting",
    ChanRecv => "chan receive",
    ChanSend => "chan send",
    Select => "select",
    SelectNoCases => "select (no cases)",
    WaitGroup => "sync.WaitGroup.Wait",
    Mutex => "sync.Mutex.Lock",
    RwMutexRead => "sync.RWMutex.RLock",
    RwMutexWrite => "sync.RWMutex.Lock",
    Semaphore => "semacquire",
    Cond => "sync.Cond.Wait",
    Sleep => "sleep",
    Io => "IO wait",
    Join => "JoinHandle await",
}

/// The bits of a wait slot that hold a [`Wait`]; the others hold the task's state
/// (`runtime::task::STATE_*`), which the goroutine's poll and its wake-ups write.
pub(crate) const WAIT_MASK: u8 = 0x0F;

/// A slot's state bits while its task is being polled.
pub(crate) const RUNNING: u8 = 1 << 4;
const _: () = assert!(RUNNING & WAIT_MASK == 0);
const _: () = assert!(Wait::ALL.len() <= WAIT_MASK as usize + 1);

impl Wait {
    /// The reason in the low bits of a wait slot.
    pub(crate) fn from_u8(v: u8) -> Wait {
        Wait::ALL
            .get((v & WAIT_MASK) as usize)
            .copied()
            .unwrap_or(Wait::Unknown)
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_reason_survives_its_slot_bits() {
        for (i, &w) in Wait::ALL.iter().enumerate() {
            assert_eq!(w as usize, i);
            assert_eq!(Wait::from_u8(w as u8 | RUNNING), w);
        }
        assert_eq!(
            Wait::from_u8(WAIT_MASK),
            Wait::Unknown,
            "an unused value reads as unknown"
        );
    }
}
