//! Waiter records and the two intrusive wait queues of a channel.
//!
//! A blocked operation is one [`Waiter`] in the channel's slab (so parking allocates nothing
//! once the slab has grown to the channel's peak number of waiters). Queues are doubly linked
//! lists threaded through the slab by key, so unlinking a cancelled waiter is O(1), as with
//! Go's `sudog` lists. Everything here is guarded by the channel's lock; only the
//! [`SelectCell`] is shared between channels and is therefore atomic. A `select!` case waiter
//! names its select's cell with a plain pointer ([`CellRef`]), not an `Arc`: the select keeps
//! the cell alive until every one of its waiters has left (`select.rs`, "Who keeps the cell
//! alive").

use std::ptr::NonNull;
use std::task::Waker;

use slab::Slab;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::util::wake_list::store_waker;

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
    /// The waker to call; taken (not cloned) by whoever wakes the waiter. Always `None` for a
    /// `select!` case: the select's one waker is in its [`SelectCell`] (see
    /// [`Waiter::take_waker`]).
    pub(crate) waker: Option<Waker>,
    /// Send waiter: the value to send until a receiver takes it. Receive waiter: the handed
    /// value while `status == Handed`.
    pub(crate) value: Option<T>,
    /// For a `select!` case: its shared claim cell and the case index.
    pub(crate) select: Option<(CellRef, usize)>,
}

/// A `select!` case waiter's pointer to its select's claim cell: a plain pointer, not an
/// `Arc` clone, so queuing and leaving a case cost no reference-count read-modify-writes (two
/// per case, eight per blocking select over four channels).
///
/// Why the cell outlives every use (`select.rs`, "Who keeps the cell alive"): the `Select`
/// future owns the cell's `Arc` and never replaces it; a channel reaches the cell only through
/// a waiter in its slab, under its lock; only the case that owns a waiter removes it, under
/// that lock, and the case stores the waiter's key before anything that may unwind (a waker
/// call); the select withdraws every waiter it still has before its `Arc` goes (its `Drop`
/// cancels every registered case, and leaks the `Arc` instead of dropping it if a cancel
/// unwinds). A leaked `Select` leaks its `Arc`: the cell then lives forever, and each case
/// withdraws its own waiter when it is dropped.
#[derive(Clone, Copy)]
pub(crate) struct CellRef(NonNull<SelectCell>);

// SAFETY: a `CellRef` is used only as a `&SelectCell`, and `SelectCell` is `Sync`; sending
// it to another thread is sending a shared reference.
unsafe impl Send for CellRef {}

impl CellRef {
    /// # Safety
    ///
    /// `cell` must stay alive as long as a waiter holding this `CellRef` is in a channel's
    /// slab (see the type's doc), and the `CellRef` must be used only through such a waiter,
    /// under its channel's lock.
    pub(crate) unsafe fn new(cell: &SelectCell) -> Self {
        CellRef(NonNull::from(cell))
    }

    /// The cell.
    #[inline]
    pub(crate) fn get(&self) -> &SelectCell {
        // SAFETY: by `new`'s contract this is called only through a waiter still in a
        // channel's slab, under that channel's lock, and the cell outlives every such waiter.
        unsafe { self.0.as_ref() }
    }

    /// The cell's address, for identity only (never dereferenced).
    #[inline]
    pub(crate) fn as_ptr(&self) -> *const SelectCell {
        self.0.as_ptr()
    }
}

// A waiter is 8 bytes of links, 8 of status and flag (padded), 16 of waker, 16 of select (cell
// pointer and index) and the value: 64 bytes for a `u64`. A `select!` case leaves `waker`
// empty (its select's waker is in the cell). Channels with a million blocked receivers hold a
// million.
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Waiter<u64>>() <= 64);

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
            Some((cell, _)) => cell.get().is_waiting(),
        }
    }

    /// Claims the waiter for completion by another party: plain waiters trivially; a
    /// `select!` case by winning its select's claim cell.
    pub(crate) fn claim(&self) -> bool {
        match &self.select {
            None => true,
            Some((cell, idx)) => cell.get().try_claim(*idx),
        }
    }

    /// Takes the waker to wake this waiter without completing it (notified, or woken by
    /// `close`); a `select!` case marks its cell as woken (so that the select can tell a real
    /// wake-up from a spurious poll) and takes the select's waker from the cell.
    pub(crate) fn wake_up(&mut self) -> Option<Waker> {
        match &self.select {
            None => self.waker.take(),
            Some((cell, _)) => cell.get().take_waker(WOKEN),
        }
    }

    /// Takes the waker to wake this waiter after completing it (it was claimed: handed a
    /// value, or its send value taken). A `select!` case's is its select's, in the cell.
    pub(crate) fn take_waker(&mut self) -> Option<Waker> {
        match &self.select {
            None => self.waker.take(),
            Some((cell, _)) => cell.get().take_waker(0),
        }
    }

    /// Replaces the stored waker unless it already wakes the same task.
    pub(crate) fn set_waker(&mut self, w: &Waker) {
        drop(store_waker(&mut self.waker, w));
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

/// The shared state of one `select!`: the "selected" word all its registered cases share, as in
/// Go's `selectDone`, and the select's one waker.
///
/// `state` is `WAITING` while undecided; `SELF` while the select itself is looking at its
/// cases; otherwise the index of the case another party completed. Only a transition away from
/// `WAITING` decides the select, so exactly one party ever completes one of its cases.
///
/// # The waker (one per select, not one per case)
///
/// The case waiters hold no waker. A channel that wakes a case waiter (notifies it, or closes)
/// or completes one (after claiming `state`) first marks the cell (`WOKEN`, or its claim) and
/// then takes the waker from the cell ([`SelectCell::take_waker`]); the select stores its
/// current waker with [`SelectCell::set_waker`] before every check of the marks that may end
/// in `Pending`. The slot is guarded by the two lock bits of `flags`, the protocol of
/// `futures`' `AtomicWaker`:
///
/// - `REGISTERING`: the select is replacing the waker. Only the select sets it (its polls are
///   never concurrent with each other), and only when `WAKING` is clear.
/// - `WAKING`: a channel takes the waker. Set by every taker with the same `fetch_or` that
///   sets its `WOKEN` mark; only the taker that found neither bit set touches the slot, then
///   clears `WAKING`. A taker that finds either bit set returns no waker.
///
/// Why no wake-up is lost: take a taker's `fetch_or` (its mark is set by then, in that RMW or
/// before it) and the select's `set_waker` followed by its checks of `state` and `WOKEN`.
/// (a) The `fetch_or` comes after `set_waker`'s release of `REGISTERING`: the taker finds
/// both bits clear (or another taker, which takes the new waker and, reading this taker's
/// RMW, wakes the select after its mark), takes the new waker and wakes it. (b) It comes while
/// `REGISTERING` is set: `set_waker` finds `WAKING` when it releases and wakes the new waker
/// itself. (c) It comes before `set_waker` starts and that taker still holds `WAKING`:
/// `set_waker` wakes the new waker itself. (d) It comes before, and the taker's release of
/// `WAKING` is over: `set_waker`'s acquire reads it, so the select's checks see the mark. Every
/// `AcqRel` below is what these "sees" need. In (b) and (c) `set_waker` also acquired the
/// taker's RMW, so the look after it sees the mark too; the self-wake keeps `AtomicWaker`'s
/// contract for `set_waker` on its own (without it the models still pass: it is redundant here).
///
/// Rejected: a small spin lock in the cell. A taker would do one RMW and a store instead of two
/// RMWs (about 6 ns less per wake, uncontended), but a taker holding a channel lock would spin
/// while the select (or another channel) holds the cell lock and may be preempted.
pub(crate) struct SelectCell {
    state: AtomicUsize,
    /// `WOKEN | REGISTERING | WAKING`. `WOKEN`: a channel woke one of the select's waiters
    /// without completing it (notified it, or closed): the select must look at its cases.
    /// Otherwise a poll while registered and `WAITING` is spurious (an enclosing `join!`),
    /// and the select keeps its place. The lock bits guard `waker` (above).
    flags: AtomicUsize,
    /// The select's waker; `None` until it first blocks, and after a channel took it.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is the only field that is not `Sync`, and it is accessed only by whoever
// holds one of the lock bits of `flags` (`REGISTERING`, or `WAKING` set over a clear word),
// which the protocol above makes exclusive; `Waker` is `Send + Sync`.
unsafe impl Sync for SelectCell {}

pub(crate) const WAITING: usize = usize::MAX;
pub(crate) const SELF: usize = usize::MAX - 1;

/// `flags`: a channel woke a waiter of the select without completing it.
pub(crate) const WOKEN: usize = 1;
/// `flags`: the select is storing its waker.
const REGISTERING: usize = 2;
/// `flags`: a channel is taking the waker.
const WAKING: usize = 4;

impl SelectCell {
    pub(crate) fn new() -> Self {
        SelectCell {
            state: AtomicUsize::new(WAITING),
            flags: AtomicUsize::new(0),
            waker: UnsafeCell::new(None),
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
    /// registered anywhere, so no other party can be looking at it (every taker of the waker
    /// takes it under the lock of a channel the select has since left). The waker stays.
    pub(crate) fn reset(&self) {
        self.flags.fetch_and(!WOKEN, Ordering::Relaxed);
        self.state.store(WAITING, Ordering::Release);
    }

    /// Whether `WOKEN` is set (without clearing it).
    pub(crate) fn is_woken(&self) -> bool {
        self.flags.load(Ordering::Acquire) & WOKEN != 0
    }

    /// Whether a channel woke the select since the last call (clearing the mark).
    pub(crate) fn take_woken(&self) -> bool {
        self.is_woken() && self.flags.fetch_and(!WOKEN, Ordering::AcqRel) & WOKEN != 0
    }

    /// The select's: makes `w` the waker its channels call. Call it, then look at `state` and
    /// `WOKEN`: a mark made before is seen by that look, one made after wakes `w` (see the
    /// type's doc). May wake `w` at once (a channel was taking the waker meanwhile).
    pub(crate) fn set_waker(&self, w: &Waker) {
        let mut cur = self.flags.load(Ordering::Acquire);
        loop {
            debug_assert_eq!(cur & REGISTERING, 0, "select!: two polls at once");
            if cur & WAKING != 0 {
                // A channel is taking the stored waker (it marked the cell first); the slot is
                // its until it is done. Wake the new waker: the select is polled again and
                // stores it then.
                w.wake_by_ref();
                return;
            }
            match self.flags.compare_exchange_weak(
                cur,
                cur | REGISTERING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(c) => cur = c,
            }
        }
        let old = self.waker.with_mut(|p| {
            // SAFETY: this thread set `REGISTERING` over a word without `WAKING`, and only the
            // select (whose polls are not concurrent) sets it: no taker touches the slot until
            // it is cleared below.
            store_waker(unsafe { &mut *p }, w)
        });
        let mut cur = cur | REGISTERING;
        loop {
            if cur & WAKING != 0 {
                // A taker came meanwhile and took nothing: its mark may postdate this poll's
                // look, so wake the new waker (which stays in the slot).
                self.flags
                    .fetch_and(!(REGISTERING | WAKING), Ordering::AcqRel);
                w.wake_by_ref();
                break;
            }
            match self.flags.compare_exchange_weak(
                cur,
                cur & !REGISTERING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(c) => cur = c,
            }
        }
        drop(old);
    }

    /// [`SelectCell::set_waker`] for a select that has no waiter in any channel (before pass 2
    /// queues its first case): nobody else can reach the cell, so no lock bit is needed.
    ///
    /// # Safety
    ///
    /// No waiter holding this cell may be in any channel's slab, and every waiter that held it
    /// must have been removed under its channel's lock by this thread (so every taker's access
    /// to the slot happened before this one).
    pub(crate) unsafe fn set_waker_unshared(&self, w: &Waker) {
        debug_assert_eq!(
            self.flags.load(Ordering::Relaxed) & (REGISTERING | WAKING),
            0
        );
        self.waker.with_mut(|p| {
            // SAFETY: the caller guarantees no other party can reach the cell (above).
            drop(store_waker(unsafe { &mut *p }, w));
        });
    }

    /// A channel's: sets `mark` (`WOKEN`, or 0 after a claim, which is its mark), then takes
    /// the select's waker to wake it. `None` if another party is taking it or the select is
    /// storing a new one: then that party wakes the select, after this mark.
    pub(crate) fn take_waker(&self, mark: usize) -> Option<Waker> {
        let prev = self.flags.fetch_or(mark | WAKING, Ordering::AcqRel);
        if prev & (REGISTERING | WAKING) != 0 {
            return None;
        }
        let w = self.waker.with_mut(|p| {
            // SAFETY: this taker set `WAKING` over a word with neither lock bit: nobody else
            // touches the slot until it clears `WAKING` below.
            unsafe { (*p).take() }
        });
        self.flags.fetch_and(!WAKING, Ordering::AcqRel);
        w
    }
}
