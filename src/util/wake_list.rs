//! [`WakeList`]: wakers collected under a lock and woken after it is released, so that a woken
//! task never contends with its waker for the lock. Channels and the `sync` primitives share
//! it. Allocates only when more than one waker is collected; most operations wake at most one,
//! so the common path is inlined and the rarely used overflow list is left to a cold function.
//! [`store_waker`] is the one way a stored waker is refreshed.

use std::task::Waker;

/// Makes `slot` hold a waker that wakes `w`'s task: keeps the stored one if it already does
/// (no clone), else stores a clone of `w`. Returns the waker it displaced, for the caller to
/// drop where dropping is safe (dropping a waker may free its task).
#[inline]
pub(crate) fn store_waker(slot: &mut Option<Waker>, w: &Waker) -> Option<Waker> {
    match slot {
        Some(old) if old.will_wake(w) => None,
        _ => slot.replace(w.clone()),
    }
}

pub(crate) struct WakeList {
    one: Option<Waker>,
    more: Vec<Waker>,
}

impl WakeList {
    pub(crate) const fn new() -> Self {
        WakeList {
            one: None,
            more: Vec::new(),
        }
    }

    /// Adds a waker (`None`: nothing to add).
    #[inline]
    pub(crate) fn push(&mut self, w: impl Into<Option<Waker>>) {
        if let Some(w) = w.into() {
            if self.one.is_none() {
                self.one = Some(w);
            } else {
                self.more.push(w);
            }
        }
    }

    /// Wakes every collected waker. Call with no lock held.
    #[inline]
    pub(crate) fn wake(self) {
        let WakeList { one, more } = self;
        if let Some(w) = one {
            w.wake();
        }
        if !more.is_empty() {
            Self::wake_more(more);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_more(more: Vec<Waker>) {
        for w in more {
            w.wake();
        }
    }
}
