//! Waiter records and the two intrusive wait queues of a channel.
//!
//! A blocked operation is one [`Waiter`] in the channel's slab (so parking allocates nothing
//! once the slab has grown to the channel's peak number of waiters). Queues are doubly linked
//! lists threaded through the slab by key, so unlinking a cancelled waiter is O(1), as with
//! Go's `sudog` lists. Everything here is guarded by the channel's lock; only the
//! [`SelectCell`] is shared between channels and is therefore atomic.

use std::task::Waker;

use slab::Slab;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::Arc;

/// The "no key" value of a slab key.
pub(crate) const NIL: usize = usize::MAX;

/// A link between waiters: a slab key as `u32` (the links are in every waiter and in both
/// queue heads of every channel: 4 bytes each instead of 8 take a channel from a 160-byte to
/// a 144-byte allocation). `NIL_LINK` is "none".
type Link = u32;
const NIL_LINK: Link = Link::MAX;

/// The link to slab key `key`. Channels refuse more waiters than a link can name
/// (`State::insert_waiter`).
#[inline]
fn link(key: usize) -> Link {
    debug_assert!(key < NIL_LINK as usize);
    key as Link
}

/// The slab key a link names, or `NIL`.
#[inline]
fn key(link: Link) -> usize {
    if link == NIL_LINK {
        NIL
    } else {
        link as usize
    }
}

/// The most waiters one channel can hold (keys must fit in a [`Link`]).
pub(crate) const MAX_WAITERS: usize = NIL_LINK as usize;

/// Where a waiter stands. Written only under the channel lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Linked in `recvq` or `sendq`, waiting.
    Queued,
    /// Receive waiter: unlinked and woken because a value became available; it has not looked
    /// yet. If it leaves without taking a value it must pass the wake-up on.
    Notified,
    /// Receive waiter: unlinked, and the channel's one in-flight value is in `value`
    /// (unbuffered channels only, from a non-blocking send). Leaving without taking it must
    /// give it back (`State::return_handed`).
    Handed,
    /// Send waiter: a receiver took `value`; the send has completed.
    Done,
    /// Unlinked for another reason: the channel was closed, or the waiter belongs to a
    /// `select!` that was already decided elsewhere. It looks again when polled.
    Woken,
}

/// One blocked operation. Guarded by the channel lock.
pub(crate) struct Waiter<T> {
    prev: Link,
    next: Link,
    pub(crate) status: Status,
    /// A receive waiter of a `Receiver` polled as a `Stream`. Such a waiter outlives a
    /// cancelled `next()` (the stream is not told), so nothing may depend on it looking
    /// again: it is never handed a value, and notifying it does not count as the one
    /// notification a value needs (see `state.rs`, invariant 4).
    pub(crate) stream: bool,
    /// The waker to call; taken (not cloned) by whoever wakes the waiter.
    pub(crate) waker: Option<Waker>,
    /// Send waiter: the value to send until a receiver takes it. Receive waiter: the handed
    /// value while `status == Handed`.
    pub(crate) value: Option<T>,
    /// For a `select!` case: its shared claim cell and the case index.
    pub(crate) select: Option<(Arc<SelectCell>, usize)>,
}

impl<T> Waiter<T> {
    pub(crate) fn new(waker: Option<Waker>, value: Option<T>) -> Self {
        Waiter {
            prev: NIL_LINK,
            next: NIL_LINK,
            status: Status::Queued,
            stream: false,
            waker,
            value,
            select: None,
        }
    }

    /// The next waiter in its queue (`NIL` at the tail, or when not queued).
    #[inline]
    pub(crate) fn next(&self) -> usize {
        key(self.next)
    }

    /// Whether an operation may still complete this waiter: plain waiters always, `select!`
    /// cases only while their select is undecided.
    pub(crate) fn is_live(&self) -> bool {
        match &self.select {
            None => true,
            Some((cell, _)) => cell.is_waiting(),
        }
    }

    /// Claims the waiter for completion by another party: plain waiters trivially; a
    /// `select!` case by winning its select's claim cell.
    pub(crate) fn claim(&self) -> bool {
        match &self.select {
            None => true,
            Some((cell, idx)) => cell.try_claim(*idx),
        }
    }

    /// Takes the waker to wake this waiter without completing it (notified, or woken by
    /// `close`); a `select!` case also marks its cell as woken, so that the select can tell
    /// a real wake-up from a spurious poll.
    pub(crate) fn wake_up(&mut self) -> Option<Waker> {
        if let Some((cell, _)) = &self.select {
            cell.note_woken();
        }
        self.waker.take()
    }

    /// Replaces the stored waker unless it already wakes the same task.
    pub(crate) fn set_waker(&mut self, w: &Waker) {
        match &self.waker {
            Some(old) if old.will_wake(w) => {}
            _ => self.waker = Some(w.clone()),
        }
    }
}

/// The two ends of one wait queue threaded through the slab.
#[derive(Debug)]
pub(crate) struct Queue {
    head: Link,
    tail: Link,
}

impl Queue {
    pub(crate) const fn new() -> Self {
        Queue {
            head: NIL_LINK,
            tail: NIL_LINK,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL_LINK
    }

    pub(crate) fn head(&self) -> Option<usize> {
        (self.head != NIL_LINK).then_some(self.head as usize)
    }

    pub(crate) fn push_back<T>(&mut self, slab: &mut Slab<Waiter<T>>, key: usize) {
        let old_tail = self.tail;
        {
            let w = &mut slab[key];
            w.prev = old_tail;
            w.next = NIL_LINK;
            w.status = Status::Queued;
        }
        if old_tail == NIL_LINK {
            self.head = link(key);
        } else {
            slab[old_tail as usize].next = link(key);
        }
        self.tail = link(key);
    }

    pub(crate) fn push_front<T>(&mut self, slab: &mut Slab<Waiter<T>>, key: usize) {
        let old_head = self.head;
        {
            let w = &mut slab[key];
            w.prev = NIL_LINK;
            w.next = old_head;
            w.status = Status::Queued;
        }
        if old_head == NIL_LINK {
            self.tail = link(key);
        } else {
            slab[old_head as usize].prev = link(key);
        }
        self.head = link(key);
    }

    /// Unlinks `key`, which must be linked in this queue. Leaves its status to the caller.
    pub(crate) fn unlink<T>(&mut self, slab: &mut Slab<Waiter<T>>, key: usize) {
        let (prev, next) = {
            let w = &mut slab[key];
            debug_assert_eq!(w.status, Status::Queued);
            let pn = (w.prev, w.next);
            w.prev = NIL_LINK;
            w.next = NIL_LINK;
            pn
        };
        if prev == NIL_LINK {
            self.head = next;
        } else {
            slab[prev as usize].next = next;
        }
        if next == NIL_LINK {
            self.tail = prev;
        } else {
            slab[next as usize].prev = prev;
        }
    }

    /// Unlinks and returns the head.
    pub(crate) fn pop_front<T>(&mut self, slab: &mut Slab<Waiter<T>>) -> Option<usize> {
        let key = self.head()?;
        self.unlink(slab, key);
        Some(key)
    }
}

/// The "selected" word one `select!` shares among all its registered cases, as in Go's
/// `selectDone`. `WAITING` while undecided; `SELF` while the select itself is looking at its
/// cases; otherwise the index of the case another party completed. Only a transition away from
/// `WAITING` decides the select, so exactly one party ever completes one of its cases.
pub(crate) struct SelectCell {
    state: AtomicUsize,
    /// A channel woke one of the select's waiters without completing it (notified it, or
    /// closed): the select must look at its cases. Otherwise a poll while registered and
    /// `WAITING` is spurious (an enclosing `join!`), and the select keeps its place.
    woken: AtomicBool,
}

pub(crate) const WAITING: usize = usize::MAX;
pub(crate) const SELF: usize = usize::MAX - 1;

impl SelectCell {
    pub(crate) fn new() -> Self {
        SelectCell {
            state: AtomicUsize::new(WAITING),
            woken: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Another party's claim of case `idx`; true if it won.
    pub(crate) fn try_claim(&self, idx: usize) -> bool {
        self.state
            .compare_exchange(WAITING, idx, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The select's own claim. `Err(k)`: case `k` was already completed by another party.
    pub(crate) fn claim_self(&self) -> Result<(), usize> {
        self.state
            .compare_exchange(WAITING, SELF, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
    }

    /// Re-arms the cell. Only the select calls this, while it holds `SELF` and has no case
    /// registered anywhere, so no other party can be looking at it.
    pub(crate) fn reset(&self) {
        self.woken.store(false, Ordering::Relaxed);
        self.state.store(WAITING, Ordering::Release);
    }

    /// See `woken`. Set before the waiter's waker is called.
    pub(crate) fn note_woken(&self) {
        self.woken.store(true, Ordering::Release);
    }

    /// Whether a channel woke the select since the last call (clearing the mark).
    pub(crate) fn take_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire) && self.woken.swap(false, Ordering::AcqRel)
    }
}
