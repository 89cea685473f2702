//! A channel's state under its lock ([`State`]) and the steps of the protocol that run there:
//! taking a value (from the buffer or a parked sender), handing one to a receiver, notifying
//! receivers and passing notifications on, and the readiness checks `select!` uses. Wakers are
//! collected in [`Wakes`] and called by the operation after it released the lock.
//!
//! The shape of the channel and why values are pulled by receivers are in `chan.rs`; these
//! are the rules every function here keeps.
//!
//! # Invariants (all under the lock)
//!
//! 1. A waiter is linked in a queue iff its status is `Queued`; receive waiters only in
//!    `recvq`, send waiters only in `sendq`. Only the future that owns a waiter removes it from
//!    the slab; others only unlink it and change its status.
//! 2. A value is in exactly one place: a sender's future, a `Queued` send waiter, `buf`, a
//!    `Handed` receive waiter, or a receiver's future. Every move happens under the lock.
//! 3. `handed` is true iff exactly one receive waiter is `Handed`; only unbuffered channels set it.
//! 4. Wake-up accounting: `notified` counts the receive waiters that are `Notified` and have
//!    not looked yet (stream waiters excepted, below). If a value is available (`!handed` and
//!    `buf` or `sendq` non-empty) and a live receiver is `Queued`, then `notified > 0`: some
//!    receiver is on its way to a value. It is kept so by: an arrival that finds nothing
//!    available notifies one queued receiver (a buffered send with room always does); an
//!    arrival that finds a value already available needs no notification of its own (a
//!    sender parking on a full buffer, one parking while a value is handed), because a
//!    notified receiver is already on its way, and **every receiver that takes a value, or
//!    leaves a notification unused, notifies the next one if a value is still available and
//!    `notified` is 0** (`State::wake_next`, called from `take` and `pass_on`). So values are
//!    passed on one taker at a time, and a notification is never absorbed by a receiver that
//!    took only one of several values. Receivers may take values without having been notified
//!    ("stealing"); a notified one then finds nothing and queues again. Clearing `handed` is a
//!    taker's step too. Hence no value sits in a channel while a receiver sleeps forever
//!    (checked by `tests/chan_wakeups.rs` at the waker level and the loom models in
//!    `loom_tests.rs`).
//!
//!    A `Receiver` polled as a `Stream` keeps its waiter when a `next()` is cancelled, since a
//!    stream is not told: its waiter may never look again. Such a waiter (`Waiter::stream`) is
//!    never handed a value and its notification does not count: `notify_one` notifies it on
//!    the way and goes on to a receiver that counts. So an abandoned stream poll delays no one.
//! 5. For buffered channels `buf.len() <= cap`, and a non-empty `sendq` implies a full `buf`
//!    (apart from waiters of decided selects, which are skipped). For unbuffered channels
//!    `buf` holds only values returned by dropped `Handed` receivers.
//! 6. After `close`, both queues are emptied (every waiter `Woken`) and nothing is queued again,
//!    except receivers that find `handed` set: they wait for that value's fate, and clearing
//!    `handed` on a closed channel wakes them all. A receiver returns `None` only when the
//!    channel is closed, `buf` is empty and no value is handed, so `None` never precedes a value.
//! 7. A `select!` case waiter may be completed by another party (a value handed into it, or its
//!    send value taken) only after that party moved its select's claim cell from `WAITING` to
//!    the case's index. A waiter of a decided select is treated as absent (unlinked, `Woken`).
//!    A select never completes an operation of its own while registered without first claiming
//!    its cell for itself (`SELF`), and never pairs with its own waiters.
//! 8. Wakers: a plain waiter holds its task's waker (`Waiter::waker`); a `select!` case waiter
//!    holds none, since its select keeps one waker in its claim cell for all its cases (which
//!    the waiter names by a plain pointer, valid while the waiter is in the slab: `CellRef`).
//!    Whoever wakes a waiter without completing it takes the waker with `Waiter::wake_up`
//!    (which first marks a select's cell woken), whoever completes one with
//!    `Waiter::take_waker` (after the claim of invariant 7); both take, never clone, and call
//!    it after releasing the lock.
//! 9. Readiness hint: once a `select!` without `default` has looked at the channel
//!    (`TRACKED`), every release of the lock leaves [`State::hint`] of the state it leaves in
//!    the lock word (the channel's guard, `chan.rs`, computes it on drop); before that the
//!    word says "maybe" both ways. A clear bit means that operation could not complete at that
//!    release. Nothing under the lock reads it: only `select!`'s pass 1 does, without the
//!    lock, and only to skip a look that pass 2 repeats under the lock (`select.rs`).

use std::task::Waker;

use slab::Slab;

use super::buf::Buf;
use super::error::TrySendError;
use super::waiter::{Queue, SelectCell, Status, Waiter, MAX_WAITERS, NIL};

/// Guarded by `Inner::state`.
pub(crate) struct State<T> {
    pub(super) cap: usize,
    /// Buffered values (and, on unbuffered channels, values returned by dropped receivers).
    pub(super) buf: Buf<T>,
    /// Waiter records of both queues.
    pub(super) waiters: Slab<Waiter<T>>,
    pub(super) recvq: Queue,
    pub(super) sendq: Queue,
    pub(super) closed: bool,
    /// A non-blocking send on an unbuffered channel handed a value to a receiver that has not
    /// taken it yet.
    pub(super) handed: bool,
    /// Receive waiters (not of streams) that are `Notified` and have not looked yet.
    pub(super) notified: u32,
}

/// Wakers collected under the lock, called after it is released.
pub(crate) type Wakes = crate::util::wake_list::WakeList;

/// Hint bit ([`State::hint`]): a receive might be ready.
pub(crate) const RECV_MAYBE: usize = 0b0010;
/// Hint bit ([`State::hint`]): a send might be ready.
pub(crate) const SEND_MAYBE: usize = 0b0100;
/// Hint bit: a `select!` without `default` looked at this channel, so every release
/// recomputes the other two. Until then both stay set ("maybe"), and the channel's plain
/// operations pay nothing for the hint.
pub(crate) const TRACKED: usize = 0b1000;
const _: () = assert!((RECV_MAYBE | SEND_MAYBE | TRACKED) & !crate::util::lock::TAG_MASK == 0);

fn same_cell<T>(w: &Waiter<T>, exclude: Option<*const SelectCell>) -> bool {
    match (exclude, &w.select) {
        (Some(p), Some((c, _))) => std::ptr::eq(c.as_ptr(), p),
        _ => false,
    }
}

impl<T> State<T> {
    /// Stores a waiter record. A channel's first waiter allocates room for one record only
    /// (a `Slab` would reserve four): most channels never have more than one waiter, and a
    /// million goroutines parked on a million channels is a workload Go handles.
    pub(super) fn insert_waiter(&mut self, w: Waiter<T>) -> usize {
        if self.waiters.capacity() == 0 {
            self.waiters.reserve_exact(1);
        }
        assert!(
            self.waiters.len() < MAX_WAITERS,
            "gorun: more than {MAX_WAITERS} operations blocked on one channel"
        );
        self.waiters.insert(w)
    }

    /// The readiness summary every release of the lock leaves in the lock word (the channel's
    /// guard sets it as the lock's tag, see `chan.rs`), for `select!`'s lock-free look
    /// (`select.rs`, "The readiness hint"). Conservative: a bit is clear only if that
    /// operation certainly cannot complete now, i.e. [`State::recv_ready`] or
    /// [`State::send_ready`] would be false for every select; waiters of decided selects and
    /// a select's own waiters, which those checks skip, count as present here.
    ///
    /// It runs at every release, so it is written without branches (`&`, `|` on `bool`):
    /// receive: closed, or nothing handed and a value buffered or a sender queued; send:
    /// closed, or room in the buffer, or (unbuffered) nothing handed or returned and a
    /// receiver queued.
    #[inline]
    pub(super) fn hint(&self) -> usize {
        let len = self.buf.len();
        let recv = self.closed | (!self.handed & ((len != 0) | !self.sendq.is_empty()));
        let send = self.closed
            | (len < self.cap)
            | ((self.cap == 0) & !self.handed & (len == 0) & !self.recvq.is_empty());
        (recv as usize * RECV_MAYBE) | (send as usize * SEND_MAYBE)
    }

    /// Whether a receive could take a value now (waiters of decided selects may still make
    /// `sendq` look non-empty; `take` skips them).
    fn has_value(&self) -> bool {
        !self.handed && (!self.buf.is_empty() || !self.sendq.is_empty())
    }

    /// Unlinks the first sender that can be completed (skipping the select `exclude`), takes
    /// its value and marks it `Done`. Waiters of decided selects on the way are unlinked.
    #[inline]
    fn take_sender(&mut self, exclude: Option<*const SelectCell>) -> Option<(T, Option<Waker>)> {
        let mut cur = self.sendq.head().unwrap_or(NIL);
        while cur != NIL {
            let next = self.waiters[cur].next();
            if same_cell(&self.waiters[cur], exclude) {
                cur = next;
                continue;
            }
            self.sendq.unlink(&mut self.waiters, cur);
            let w = &mut self.waiters[cur];
            if w.claim() {
                w.status = Status::Done;
                let v = w.value.take().expect("queued sender without a value");
                return Some((v, w.take_waker()));
            }
            w.status = Status::Woken;
            cur = next;
        }
        None
    }

    /// Takes the next value: the head of `buf` (refilling its tail from the first waiting
    /// sender, as Go does), else the first waiting sender's value. `None` if nothing can be
    /// received now (including while a value is handed to someone else).
    ///
    /// A taker that leaves a value behind makes sure a receiver is woken for it (invariant 4):
    /// a receiver is notified per arrival, but an arrival can find a value already available
    /// (a sender parking on a full buffer, one parking while a value is handed) and then
    /// notifies nobody; the value it left is passed on here, one taker at a time.
    #[inline]
    pub(super) fn take(
        &mut self,
        exclude: Option<*const SelectCell>,
        wakes: &mut Wakes,
    ) -> Option<T> {
        if self.handed {
            return None;
        }
        let v = if let Some(v) = self.buf.pop_front() {
            if self.buf.len() < self.cap {
                if let Some((v2, w)) = self.take_sender(exclude) {
                    self.buf.push_back(v2);
                    wakes.push(w);
                }
            }
            v
        } else {
            let (v, w) = self.take_sender(exclude)?;
            wakes.push(w);
            v
        };
        self.wake_next(exclude, wakes);
        Some(v)
    }

    /// Restores invariant 4 after a receiver took a value or left: if a value is available
    /// and no receiver is on its way to it, notify one.
    #[inline]
    fn wake_next(&mut self, exclude: Option<*const SelectCell>, wakes: &mut Wakes) {
        if !self.recvq.is_empty() && self.notified == 0 && self.has_value() {
            self.notify_one(exclude, wakes);
        }
    }

    /// Wakes the first live queued receiver (not of select `exclude`) as `Notified`. Stream
    /// waiters on the way are notified too but do not count: the walk goes on to a receiver
    /// that will certainly look (see [`Waiter::stream`]).
    pub(super) fn notify_one(&mut self, exclude: Option<*const SelectCell>, wakes: &mut Wakes) {
        let mut cur = self.recvq.head().unwrap_or(NIL);
        while cur != NIL {
            let next = self.waiters[cur].next();
            if same_cell(&self.waiters[cur], exclude) {
                cur = next;
                continue;
            }
            self.recvq.unlink(&mut self.waiters, cur);
            let w = &mut self.waiters[cur];
            if w.is_live() {
                w.status = Status::Notified;
                wakes.push(w.wake_up());
                if !w.stream {
                    self.notified += 1;
                    return;
                }
            } else {
                w.status = Status::Woken;
            }
            cur = next;
        }
    }

    /// A `Notified` receiver left without a value: pass the wake-up on if one is still due.
    pub(super) fn pass_on(&mut self, wakes: &mut Wakes) {
        self.wake_next(None, wakes);
    }

    /// Whether a live receiver (not of select `exclude`) is queued.
    fn has_live_receiver(&self, exclude: Option<*const SelectCell>) -> bool {
        let mut cur = self.recvq.head().unwrap_or(NIL);
        while cur != NIL {
            let w = &self.waiters[cur];
            if !w.stream && w.is_live() && !same_cell(w, exclude) {
                return true;
            }
            cur = w.next();
        }
        false
    }

    /// Hands `v` into the first queued receiver that can be claimed (never a stream's: it
    /// might not look again). `Err(v)` if none.
    fn hand(&mut self, v: T, exclude: Option<*const SelectCell>) -> Result<Option<Waker>, T> {
        let mut cur = self.recvq.head().unwrap_or(NIL);
        while cur != NIL {
            let next = self.waiters[cur].next();
            if self.waiters[cur].stream || same_cell(&self.waiters[cur], exclude) {
                cur = next;
                continue;
            }
            self.recvq.unlink(&mut self.waiters, cur);
            let w = &mut self.waiters[cur];
            if w.claim() {
                w.status = Status::Handed;
                w.value = Some(v);
                return Ok(w.take_waker());
            }
            w.status = Status::Woken;
            cur = next;
        }
        Err(v)
    }

    /// The handed value is no longer in flight.
    pub(super) fn clear_handed(&mut self, wakes: &mut Wakes) {
        self.handed = false;
        if self.closed {
            // Invariant 6: receivers that queued behind the handed value on a closed channel.
            while let Some(k) = self.recvq.pop_front(&mut self.waiters) {
                let w = &mut self.waiters[k];
                w.status = Status::Woken;
                wakes.push(w.wake_up());
            }
        } else {
            self.pass_on(wakes);
        }
    }

    /// A `Handed` receiver left without taking `v`: hand it to the next live receiver, else put
    /// it back at the front of the channel.
    pub(super) fn return_handed(&mut self, v: T, wakes: &mut Wakes) {
        match self.hand(v, None) {
            Ok(w) => wakes.push(w),
            Err(v) => {
                self.buf.push_front(v);
                self.clear_handed(wakes);
            }
        }
    }

    /// A send that never waits: `try_send`, and a `select!` send case.
    pub(super) fn send_now(
        &mut self,
        v: T,
        exclude: Option<*const SelectCell>,
        wakes: &mut Wakes,
    ) -> Result<(), TrySendError<T>> {
        if self.closed {
            return Err(TrySendError::Closed(v));
        }
        if self.cap > 0 {
            if self.buf.len() < self.cap {
                self.buf.push_back(v);
                self.notify_one(exclude, wakes);
                return Ok(());
            }
            return Err(TrySendError::Full(v));
        }
        if self.handed || !self.buf.is_empty() {
            return Err(TrySendError::Full(v));
        }
        match self.hand(v, exclude) {
            Ok(w) => {
                self.handed = true;
                wakes.push(w);
                Ok(())
            }
            Err(v) => Err(TrySendError::Full(v)),
        }
    }

    /// Whether `send_now` would succeed or report `Closed` (a select send case is ready).
    pub(super) fn send_ready(&self, exclude: Option<*const SelectCell>) -> bool {
        self.closed
            || if self.cap > 0 {
                self.buf.len() < self.cap
            } else {
                !self.handed && self.buf.is_empty() && self.has_live_receiver(exclude)
            }
    }

    /// Whether a receive would get a value or `None` (a select receive case is ready).
    pub(super) fn recv_ready(&self, exclude: Option<*const SelectCell>) -> bool {
        if self.handed {
            return false;
        }
        if !self.buf.is_empty() || self.closed {
            return true;
        }
        let mut cur = self.sendq.head().unwrap_or(NIL);
        while cur != NIL {
            let w = &self.waiters[cur];
            if w.is_live() && !same_cell(w, exclude) {
                return true;
            }
            cur = w.next();
        }
        false
    }

    /// Removes receive waiter `k` from the slab, unlinking it first if queued; a notification
    /// it had not looked at yet stops counting (its owner passes it on if still due).
    pub(super) fn remove_recv(&mut self, k: usize) -> Waiter<T> {
        let w = &self.waiters[k];
        match w.status {
            Status::Queued => self.recvq.unlink(&mut self.waiters, k),
            Status::Notified if !w.stream => self.notified -= 1,
            _ => {}
        }
        self.waiters.remove(k)
    }

    /// Removes send waiter `k` from the slab, unlinking it first if queued.
    pub(super) fn remove_send(&mut self, k: usize) -> Waiter<T> {
        if self.waiters[k].status == Status::Queued {
            self.sendq.unlink(&mut self.waiters, k);
        }
        self.waiters.remove(k)
    }
}
