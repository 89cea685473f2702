//! The channel: one lock, a ring buffer, two wait queues, and a cancel-safe handoff protocol.
//!
//! # Shape (Go's `runtime/chan.go`)
//!
//! A channel is one [`Inner`]: the capacity and one mutex guarding [`State`]: the ring buffer
//! `buf`, the slab of [`Waiter`] records, the queue of waiting receivers `recvq`, the queue of
//! waiting senders `sendq`, the `closed` flag, and the `handed` flag (below). Every operation
//! takes the lock exactly once on its fast path; wakers are called after the lock is released.
//! A `select!` never holds two channel locks at once: it visits its channels one by one and
//! decides itself with one atomic claim word ([`SelectCell`]), as Go's `selectDone`.
//!
//! # Why not Go's protocol verbatim
//!
//! Go hands a value straight into a parked receiver's slot and the send completes. A Go
//! receiver cannot be cancelled after that; a Rust future can be dropped at any moment. If the
//! value then went "back to the front", another receiver could in the meantime have received a
//! *later* value from the same sender, and the re-delivered value would arrive after it:
//! reordering. tokio and async-channel avoid the question by refusing capacity 0. gorun keeps
//! capacity 0 and removes the window instead: values are **pulled by receivers**.
//!
//! * A blocking sender on an unbuffered channel parks in `sendq` *with its value* and wakes one
//!   waiting receiver ([`Status::Notified`]). The receiver, when it runs, takes the value of the
//!   first sender in `sendq` and marks it [`Status::Done`]; only then does the send complete.
//!   That is exactly Go's rendezvous ("a send completes only when a receiver took the value"),
//!   and the value is never in a receiver that might be dropped: a dropped send future simply
//!   unlinks itself and keeps its value; a dropped notified receiver passes the wake-up on.
//!   Ping-pong costs the same number of context switches as Go's: one park and one wake per
//!   direction.
//! * A buffered send with room pushes onto `buf` and wakes one waiting receiver; the receiver
//!   pops the head when it runs. Any receiver may take it (the Go spec allows this for buffered
//!   channels), so a dropped receiver loses nothing and order is the buffer's FIFO order. When
//!   the buffer is full the sender parks in `sendq`; a receiver that pops the head moves the
//!   first sender's value to the tail and completes that sender, as Go does.
//! * The one place a value must be handed to a specific receiver is a *non-blocking* send on an
//!   unbuffered channel (`try_send`, or a send case found ready by `select!`): it may succeed
//!   only if a receiver is waiting, and it cannot wait. The value goes into that receiver's
//!   waiter ([`Status::Handed`]) and the channel sets `handed`. While `handed` is set nothing
//!   else is received from the channel and no other non-blocking send succeeds, so the handed
//!   value is the oldest value in flight. If the receiver is dropped before it takes the value,
//!   the value is handed to the next live waiting receiver, or pushed onto the *front* of `buf`
//!   (an unbuffered channel's buffer holds only such returned values) and `handed` is cleared.
//!   Either way nothing received later can overtake it.
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
//!
//! # Rejected
//!
//! * Go's direct handoff into a parked receiver for blocking sends: fast, but not cancel-safe
//!   without reordering (above).
//! * An allocation per waiter (`Arc<Node>` as in many async channels): a slab inside the lock
//!   reuses slots, so parking allocates nothing once warm; `select!` allocates one small claim
//!   cell per blocking select.
//! * Lock-free queues (crossbeam's array channel): fast for buffered channels, but the
//!   rendezvous, close and select protocols need a consistent view of both queues; one short
//!   lock per channel is what Go uses and measures well.
//! * Closing on "last sender dropped": Go channels do not, so neither do these.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::error::{SendError, TryRecvError, TrySendError};
use super::waiter::{Queue, SelectCell, Status, Waiter, MAX_WAITERS, NIL};
use crate::loom::sync::Arc;
use crate::runtime::coop;
use crate::util::lock::{ChanLock, Guard};

/// The shared channel. Handles hold an `Arc<Inner>`; the last one to drop frees it together
/// with any buffered values. Waiters belong to futures that borrow a handle, so normally none
/// remain then; one left by a leaked (`mem::forget`) future is dropped with the slab.
pub(crate) struct Inner<T> {
    cap: usize,
    /// Everything mutable; see the module invariants.
    state: ChanLock<State<T>>,
}

/// A channel's buffer. Capacity 1, the commonest buffered channel (a result, a `done` signal,
/// every timer's channel), keeps its value inline: one allocation per channel instead of two
/// (the ring's storage is a separate allocation). Other capacities use a ring; an unbuffered
/// channel's, which holds only values returned by dropped receivers, allocates nothing until
/// one is returned.
enum Buf<T> {
    One(Option<T>),
    Ring(VecDeque<T>),
}

impl<T> Buf<T> {
    fn with_capacity(cap: usize) -> Buf<T> {
        if cap == 1 {
            Buf::One(None)
        } else {
            Buf::Ring(VecDeque::with_capacity(cap.min(1024)))
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            Buf::One(v) => v.is_some() as usize,
            Buf::Ring(r) => r.len(),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        match self {
            Buf::One(v) => v.take(),
            Buf::Ring(r) => r.pop_front(),
        }
    }

    #[inline]
    fn push_back(&mut self, x: T) {
        match self {
            Buf::Ring(r) => r.push_back(x),
            Buf::One(v @ None) => *v = Some(x),
            Buf::One(Some(_)) => self.ring().push_back(x),
        }
    }

    fn push_front(&mut self, x: T) {
        match self {
            Buf::Ring(r) => r.push_front(x),
            Buf::One(v @ None) => *v = Some(x),
            Buf::One(Some(_)) => self.ring().push_front(x),
        }
    }

    /// The buffer as a ring, moving an inline value into one. The channel never holds more
    /// values than its capacity, so for capacity 1 this does not happen; it keeps a value
    /// from being lost if it ever did.
    #[cold]
    fn ring(&mut self) -> &mut VecDeque<T> {
        if let Buf::One(v) = self {
            *self = Buf::Ring(v.take().into_iter().collect());
        }
        match self {
            Buf::Ring(r) => r,
            Buf::One(_) => unreachable!(),
        }
    }
}

// A channel is one allocation of `Arc<Inner>`: 16 bytes of counts and 120 of channel make a
// 144-byte malloc chunk (a timer's channel, a result channel: one per `after`, per request).
// (Under loom the lock is loom's mutex, which is larger.)
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Inner<std::time::Instant>>() <= 120);

/// Guarded by `Inner::state`.
pub(crate) struct State<T> {
    cap: usize,
    /// Buffered values (and, on unbuffered channels, values returned by dropped receivers).
    buf: Buf<T>,
    /// Waiter records of both queues.
    waiters: Slab<Waiter<T>>,
    recvq: Queue,
    sendq: Queue,
    closed: bool,
    /// A non-blocking send on an unbuffered channel handed a value to a receiver that has not
    /// taken it yet.
    handed: bool,
    /// Receive waiters (not of streams) that are `Notified` and have not looked yet.
    notified: u32,
}

/// Wakers collected under the lock, called after it is released.
pub(crate) struct Wakes {
    one: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakes {
    pub(crate) fn new() -> Self {
        Wakes {
            one: None,
            more: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, w: Option<Waker>) {
        if let Some(w) = w {
            if self.one.is_none() {
                self.one = Some(w);
            } else {
                self.more.push(w);
            }
        }
    }

    /// Calls the wakers. Inlined: most operations have at most one waker, and the common
    /// path must not pay for the rarely used `more`.
    #[inline]
    pub(crate) fn wake(self) {
        let Wakes { one, more } = self;
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

/// The outcome of registering a `select!` case.
pub(crate) enum Reg<R> {
    /// Queued; the waiter's key.
    Registered(usize),
    /// The operation was ready: the select claimed itself (`SELF`) and completed it.
    Completed(R),
    /// The select had already been decided by case `k`.
    Lost(usize),
    /// The select claimed itself but the operation could no longer complete (its partner was
    /// a waiter of another, just-decided select): it must look at all its cases again.
    Retry,
}

fn same_cell<T>(w: &Waiter<T>, exclude: Option<*const SelectCell>) -> bool {
    match (exclude, &w.select) {
        (Some(p), Some((c, _))) => std::ptr::eq(&**c as *const SelectCell, p),
        _ => false,
    }
}

impl<T> State<T> {
    /// Stores a waiter record. A channel's first waiter allocates room for one record only
    /// (a `Slab` would reserve four): most channels never have more than one waiter, and a
    /// million goroutines parked on a million channels is a workload Go handles.
    fn insert_waiter(&mut self, w: Waiter<T>) -> usize {
        if self.waiters.capacity() == 0 {
            self.waiters.reserve_exact(1);
        }
        assert!(
            self.waiters.len() < MAX_WAITERS,
            "gorun: more than {MAX_WAITERS} operations blocked on one channel"
        );
        self.waiters.insert(w)
    }

    /// Whether a receive could take a value now (waiters of decided selects may still make
    /// `sendq` look non-empty; `take` skips them).
    fn has_value(&self) -> bool {
        !self.handed && (!self.buf.is_empty() || !self.sendq.is_empty())
    }

    /// Unlinks the first sender that can be completed (skipping the select `exclude`), takes
    /// its value and marks it `Done`. Waiters of decided selects on the way are unlinked.
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
                return Some((v, w.waker.take()));
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
    fn take(&mut self, exclude: Option<*const SelectCell>, wakes: &mut Wakes) -> Option<T> {
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
    fn notify_one(&mut self, exclude: Option<*const SelectCell>, wakes: &mut Wakes) {
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
    fn pass_on(&mut self, wakes: &mut Wakes) {
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
                return Ok(w.waker.take());
            }
            w.status = Status::Woken;
            cur = next;
        }
        Err(v)
    }

    /// The handed value is no longer in flight.
    fn clear_handed(&mut self, wakes: &mut Wakes) {
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
    fn return_handed(&mut self, v: T, wakes: &mut Wakes) {
        match self.hand(v, None) {
            Ok(w) => wakes.push(w),
            Err(v) => {
                self.buf.push_front(v);
                self.clear_handed(wakes);
            }
        }
    }

    /// A send that never waits: `try_send`, and a `select!` send case.
    fn send_now(
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
    fn send_ready(&self, exclude: Option<*const SelectCell>) -> bool {
        self.closed
            || if self.cap > 0 {
                self.buf.len() < self.cap
            } else {
                !self.handed && self.buf.is_empty() && self.has_live_receiver(exclude)
            }
    }

    /// Whether a receive would get a value or `None` (a select receive case is ready).
    fn recv_ready(&self, exclude: Option<*const SelectCell>) -> bool {
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
    fn remove_recv(&mut self, k: usize) -> Waiter<T> {
        let w = &self.waiters[k];
        match w.status {
            Status::Queued => self.recvq.unlink(&mut self.waiters, k),
            Status::Notified if !w.stream => self.notified -= 1,
            _ => {}
        }
        self.waiters.remove(k)
    }

    /// Removes send waiter `k` from the slab, unlinking it first if queued.
    fn remove_send(&mut self, k: usize) -> Waiter<T> {
        if self.waiters[k].status == Status::Queued {
            self.sendq.unlink(&mut self.waiters, k);
        }
        self.waiters.remove(k)
    }
}

impl<T> Inner<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Inner {
            cap,
            state: ChanLock::new(State {
                cap,
                buf: Buf::with_capacity(cap),
                waiters: Slab::new(),
                recvq: Queue::new(),
                sendq: Queue::new(),
                closed: false,
                handed: false,
                notified: 0,
            }),
        }
    }

    fn lock(&self) -> Guard<'_, State<T>> {
        self.state.lock()
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Go's `len(c)`. An unbuffered channel's buffer only holds values returned by dropped
    /// receivers, which are still in flight: its length is always 0, as in Go.
    pub(crate) fn len(&self) -> usize {
        if self.cap == 0 {
            return 0;
        }
        self.lock().buf.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Whether nobody locked the channel since a `select_*_now` that failed and returned
    /// `stamp`: its state, and so the case's readiness, is unchanged.
    pub(crate) fn unchanged_since(&self, stamp: usize) -> bool {
        self.state.unchanged_since(stamp)
    }

    pub(crate) fn close(&self) {
        let mut wakes = Wakes::new();
        {
            let mut st = self.lock();
            if st.closed {
                drop(st);
                panic!("close of closed channel");
            }
            st.closed = true;
            let st = &mut *st;
            while let Some(k) = st.recvq.pop_front(&mut st.waiters) {
                let w = &mut st.waiters[k];
                w.status = Status::Woken;
                wakes.push(w.wake_up());
            }
            while let Some(k) = st.sendq.pop_front(&mut st.waiters) {
                let w = &mut st.waiters[k];
                w.status = Status::Woken;
                wakes.push(w.wake_up());
            }
        }
        wakes.wake();
    }

    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut wakes = Wakes::new();
        let r = self.lock().send_now(v, None, &mut wakes);
        wakes.wake();
        r
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            match st.take(None, &mut wakes) {
                Some(v) => Ok(v),
                None if st.closed && !st.handed => Err(TryRecvError::Closed),
                None => Err(TryRecvError::Empty),
            }
        };
        wakes.wake();
        r
    }

    /// The receive future's poll; `key` is its waiter, if queued. `stream`: the caller is a
    /// `Receiver` polled as a `Stream` (see [`Waiter::stream`]).
    pub(crate) fn poll_recv(
        &self,
        key: &mut Option<usize>,
        cx: &mut Context<'_>,
        stream: bool,
    ) -> Poll<Option<T>> {
        coop::poll_op(cx, |cx| self.poll_recv_now(key, cx, stream))
    }

    fn poll_recv_now(
        &self,
        key: &mut Option<usize>,
        cx: &mut Context<'_>,
        stream: bool,
    ) -> Poll<Option<T>> {
        let mut wakes = Wakes::new();
        let mut st = self.lock();
        let mut front = false;
        let mut old = None;
        if let Some(k) = *key {
            match st.waiters[k].status {
                Status::Handed => {
                    let w = st.remove_recv(k);
                    *key = None;
                    st.clear_handed(&mut wakes);
                    drop(st);
                    wakes.wake();
                    return Poll::Ready(w.value);
                }
                Status::Queued => {
                    if !st.recv_ready(None) {
                        st.waiters[k].set_waker(cx.waker());
                        return Poll::Pending;
                    }
                    old = Some(st.remove_recv(k));
                    *key = None;
                }
                Status::Notified | Status::Woken | Status::Done => {
                    old = Some(st.remove_recv(k));
                    *key = None;
                    front = true;
                }
            }
        }
        let r = match st.take(None, &mut wakes) {
            Some(v) => Poll::Ready(Some(v)),
            None if st.closed && !st.handed => Poll::Ready(None),
            None => {
                // Reuse the old record's waker if it still wakes this task.
                let waker = match old.as_mut().and_then(|w| w.waker.take()) {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                let mut w = Waiter::new(Some(waker), None);
                w.stream = stream;
                let k = st.insert_waiter(w);
                let st = &mut *st;
                if front {
                    st.recvq.push_front(&mut st.waiters, k);
                } else {
                    st.recvq.push_back(&mut st.waiters, k);
                }
                *key = Some(k);
                Poll::Pending
            }
        };
        drop(st);
        drop(old);
        wakes.wake();
        r
    }

    /// Withdraws a receive waiter whose future is dropped, handing on anything it was given.
    pub(crate) fn cancel_recv(&self, k: usize) {
        let mut wakes = Wakes::new();
        let w = {
            let mut st = self.lock();
            let mut w = st.remove_recv(k);
            match w.status {
                Status::Handed => {
                    let v = w.value.take().expect("handed waiter without a value");
                    st.return_handed(v, &mut wakes);
                }
                Status::Notified => st.pass_on(&mut wakes),
                _ => {}
            }
            w
        };
        drop(w);
        wakes.wake();
    }

    /// The send future's poll. `value` is the unsent value (`None` once queued); `key` its
    /// waiter. Returns `Ready(Ok(()))` at once if there is nothing to send (a flushed sink).
    pub(crate) fn poll_send(
        &self,
        value: &mut Option<T>,
        key: &mut Option<usize>,
        mut cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), SendError<T>>> {
        // `cx` is only absent for `Sink::start_send`, which must not yield.
        let unit = match cx.as_deref_mut() {
            Some(cx) => Some(std::task::ready!(coop::proceed(cx))),
            None => None,
        };
        let r = self.poll_send_now(value, key, cx);
        if let (Some(unit), true) = (unit, r.is_pending()) {
            unit.refund();
        }
        r
    }

    fn poll_send_now(
        &self,
        value: &mut Option<T>,
        key: &mut Option<usize>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), SendError<T>>> {
        let mut wakes = Wakes::new();
        let mut st = self.lock();
        if let Some(k) = *key {
            return match st.waiters[k].status {
                Status::Done => {
                    let w = st.waiters.remove(k);
                    *key = None;
                    drop(st);
                    drop(w);
                    Poll::Ready(Ok(()))
                }
                Status::Queued => {
                    if let Some(cx) = cx {
                        st.waiters[k].set_waker(cx.waker());
                    }
                    Poll::Pending
                }
                _ => {
                    // Only `close` wakes a plain sender without completing it.
                    let mut w = st.waiters.remove(k);
                    *key = None;
                    drop(st);
                    let v = w.value.take().expect("woken sender without its value");
                    Poll::Ready(Err(SendError(v)))
                }
            };
        }
        let Some(v) = value.take() else {
            return Poll::Ready(Ok(()));
        };
        if st.closed {
            return Poll::Ready(Err(SendError(v)));
        }
        if st.cap > 0 && st.buf.len() < st.cap {
            st.buf.push_back(v);
            st.notify_one(None, &mut wakes);
            drop(st);
            wakes.wake();
            return Poll::Ready(Ok(()));
        }
        let waker = cx.map(|cx| cx.waker().clone());
        let k = st.insert_waiter(Waiter::new(waker, Some(v)));
        {
            let st = &mut *st;
            st.sendq.push_back(&mut st.waiters, k);
        }
        if st.cap == 0 && !st.handed {
            st.notify_one(None, &mut wakes);
        }
        *key = Some(k);
        drop(st);
        wakes.wake();
        Poll::Pending
    }

    /// Withdraws a send waiter whose future is dropped. Its value, if not yet taken, is dropped
    /// here (outside the lock).
    pub(crate) fn cancel_send(&self, k: usize) {
        let w = self.lock().remove_send(k);
        drop(w);
    }

    // ---- select! cases -------------------------------------------------------------------

    /// Select receive case, visited while the select is unregistered or holds `SELF`: leave
    /// its waiter (if any) and receive now if possible. If not, `stamp` is set to the lock's
    /// stamp (see [`Inner::unchanged_since`]).
    pub(crate) fn select_recv_now(
        &self,
        key: &mut Option<usize>,
        stamp: &mut usize,
    ) -> Option<Option<T>> {
        let mut wakes = Wakes::new();
        let mut old = None;
        let r = {
            let mut st = self.lock();
            let mut notified = false;
            if let Some(k) = key.take() {
                let mut w = st.remove_recv(k);
                match w.status {
                    Status::Handed => {
                        let v = w.value.take();
                        st.clear_handed(&mut wakes);
                        drop(st);
                        wakes.wake();
                        return Some(v);
                    }
                    Status::Notified => notified = true,
                    _ => {}
                }
                old = Some(w);
            }
            match st.take(None, &mut wakes) {
                Some(v) => Some(Some(v)),
                None if st.closed && !st.handed => Some(None),
                None => {
                    if notified {
                        st.pass_on(&mut wakes);
                    }
                    *stamp = st.stamp();
                    None
                }
            }
        };
        drop(old);
        wakes.wake();
        r
    }

    /// Select receive case, pass 2: queue a waiter, or complete at once if ready.
    pub(crate) fn select_recv_register(
        &self,
        cell: &Arc<SelectCell>,
        idx: usize,
        waker: &Waker,
    ) -> Reg<Option<T>> {
        let me: *const SelectCell = &**cell;
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            if st.recv_ready(Some(me)) {
                if let Err(k) = cell.claim_self() {
                    return Reg::Lost(k);
                }
                match st.take(Some(me), &mut wakes) {
                    Some(v) => Reg::Completed(Some(v)),
                    None if st.closed && !st.handed => Reg::Completed(None),
                    None => Reg::Retry,
                }
            } else {
                let mut w = Waiter::new(Some(waker.clone()), None);
                w.select = Some((cell.clone(), idx));
                let k = st.insert_waiter(w);
                let st = &mut *st;
                st.recvq.push_back(&mut st.waiters, k);
                Reg::Registered(k)
            }
        };
        wakes.wake();
        r
    }

    /// A registered select case polled again: whether its waiter `k` is still queued, as it
    /// was left (nothing happened to it, so the select may keep its place). Updates the waker.
    pub(crate) fn select_still_queued(&self, k: usize, waker: &Waker) -> bool {
        let mut st = self.lock();
        let w = &mut st.waiters[k];
        if w.status == Status::Queued {
            w.set_waker(waker);
            true
        } else {
            false
        }
    }

    /// Select receive case: leave the waiter. `Some(v)` if another party completed this case
    /// (handed it a value); a notification it got is passed on.
    pub(crate) fn select_recv_leave(&self, k: usize) -> Option<Option<T>> {
        let mut wakes = Wakes::new();
        let (r, w) = {
            let mut st = self.lock();
            let mut w = st.remove_recv(k);
            let r = match w.status {
                Status::Handed => {
                    let v = w.value.take();
                    st.clear_handed(&mut wakes);
                    Some(v)
                }
                Status::Notified => {
                    st.pass_on(&mut wakes);
                    None
                }
                _ => None,
            };
            (r, w)
        };
        drop(w);
        wakes.wake();
        r
    }

    /// Select send case, visited while unregistered or holding `SELF`: leave the waiter (taking
    /// the value back) and send now if possible.
    pub(crate) fn select_send_now(
        &self,
        key: &mut Option<usize>,
        value: &mut Option<T>,
        stamp: &mut usize,
    ) -> Option<Result<(), SendError<T>>> {
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            if let Some(k) = key.take() {
                let mut w = st.remove_send(k);
                if w.status == Status::Done {
                    return Some(Ok(()));
                }
                *value = w.value.take();
            }
            let v = value.take().expect("select send case without its value");
            match st.send_now(v, None, &mut wakes) {
                Ok(()) => Some(Ok(())),
                Err(TrySendError::Closed(v)) => Some(Err(SendError(v))),
                Err(TrySendError::Full(v)) => {
                    *value = Some(v);
                    *stamp = st.stamp();
                    None
                }
            }
        };
        wakes.wake();
        r
    }

    /// Select send case, pass 2: queue a waiter holding the value, or complete at once.
    pub(crate) fn select_send_register(
        &self,
        cell: &Arc<SelectCell>,
        idx: usize,
        waker: &Waker,
        value: &mut Option<T>,
    ) -> Reg<Result<(), SendError<T>>> {
        let me: *const SelectCell = &**cell;
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            if st.send_ready(Some(me)) {
                if let Err(k) = cell.claim_self() {
                    return Reg::Lost(k);
                }
                let v = value.take().expect("select send case without its value");
                match st.send_now(v, Some(me), &mut wakes) {
                    Ok(()) => Reg::Completed(Ok(())),
                    Err(TrySendError::Closed(v)) => Reg::Completed(Err(SendError(v))),
                    Err(TrySendError::Full(v)) => {
                        *value = Some(v);
                        Reg::Retry
                    }
                }
            } else {
                let v = value.take().expect("select send case without its value");
                let mut w = Waiter::new(Some(waker.clone()), Some(v));
                w.select = Some((cell.clone(), idx));
                let k = st.insert_waiter(w);
                let st = &mut *st;
                st.sendq.push_back(&mut st.waiters, k);
                if st.cap == 0 && !st.handed {
                    st.notify_one(Some(me), &mut wakes);
                }
                Reg::Registered(k)
            }
        };
        wakes.wake();
        r
    }

    /// Select send case: leave the waiter. `true` if a receiver took the value (this case
    /// completed); otherwise the value is back in `value`.
    pub(crate) fn select_send_leave(&self, k: usize, value: &mut Option<T>) -> bool {
        let mut w = self.lock().remove_send(k);
        if w.status == Status::Done {
            return true;
        }
        *value = w.value.take();
        false
    }
}

impl<T> fmt::Debug for Inner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Chan")
            .field("cap", &self.cap)
            .field("len", &st.buf.len())
            .field("closed", &st.closed)
            .finish()
    }
}

// ---- futures ------------------------------------------------------------------------------

/// The future of [`Chan::send`](super::Chan::send) and [`Sender::send`](super::Sender::send).
///
/// Dropping it before it completes withdraws the value (it is dropped, never delivered); once
/// a receiver has taken the value the send has happened even if the future is then dropped.
///
/// ```
/// let c = gorun::chan::chan::<u8>(1);
/// let fut: gorun::chan::SendFuture<'_, u8> = c.send(1);
/// futures::executor::block_on(fut).unwrap();
/// assert_eq!(c.len(), 1);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    inner: Option<&'a Inner<T>>,
    value: Option<T>,
    key: Option<usize>,
}

impl<'a, T> SendFuture<'a, T> {
    pub(crate) fn new(inner: Option<&'a Inner<T>>, value: T) -> Self {
        SendFuture {
            inner,
            value: Some(value),
            key: None,
        }
    }
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.inner {
            // A nil channel: blocks forever.
            None => crate::runtime::pending(crate::runtime::Wait::ChanSend),
            Some(inner) => {
                if this.key.is_none() && this.value.is_none() {
                    panic!("SendFuture polled after completion");
                }
                match inner.poll_send(&mut this.value, &mut this.key, Some(cx)) {
                    Poll::Pending => crate::runtime::pending(crate::runtime::Wait::ChanSend),
                    ready => ready,
                }
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner, self.key) {
            inner.cancel_send(k);
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`Chan::recv`](super::Chan::recv) and [`Receiver::recv`](super::Receiver::recv):
/// `Some(value)`, or `None` once the channel is closed and drained.
///
/// Dropping it at any moment loses no value: a value already given to it goes to the next
/// waiting receiver or back to the front of the channel.
///
/// ```
/// let c = gorun::chan::chan::<u8>(1);
/// c.try_send(9).unwrap();
/// let fut: gorun::chan::RecvFuture<'_, u8> = c.recv();
/// assert_eq!(futures::executor::block_on(fut), Some(9));
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    inner: Option<&'a Inner<T>>,
    key: Option<usize>,
}

impl<'a, T> RecvFuture<'a, T> {
    pub(crate) fn new(inner: Option<&'a Inner<T>>) -> Self {
        RecvFuture { inner, key: None }
    }
}

impl<T> Unpin for RecvFuture<'_, T> {}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        match this.inner {
            None => crate::runtime::pending(crate::runtime::Wait::ChanRecv),
            Some(inner) => match inner.poll_recv(&mut this.key, cx, false) {
                Poll::Pending => crate::runtime::pending(crate::runtime::Wait::ChanRecv),
                ready => ready,
            },
        }
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner, self.key) {
            inner.cancel_recv(k);
        }
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

// ---- blocking ------------------------------------------------------------------------------

/// Runs `fut` to completion on the current plain thread, parking it between polls.
pub(crate) fn block_here<F: Future>(fut: F, what: &str) -> F::Output {
    if crate::runtime::on_worker_thread() {
        panic!(
            "gorun: {what} called on a gorun runtime worker thread; it would block the worker \
             (and could deadlock the runtime). Use the async form with `.await` instead"
        );
    }
    crate::runtime::block_on_plain_thread(fut)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Buf;

    #[test]
    fn a_one_slot_buffer_keeps_its_value_inline_and_never_loses_one() {
        assert_eq!(
            std::mem::size_of::<Buf<u64>>(),
            32,
            "as small as the ring alone"
        );
        let mut b = Buf::with_capacity(1);
        assert!(matches!(b, Buf::One(None)));
        b.push_back(1);
        assert!(matches!(b, Buf::One(Some(1))));
        assert_eq!((b.len(), b.pop_front(), b.pop_front()), (1, Some(1), None));
        // More values than the capacity (which a channel never stores) move to a ring, in
        // order, at either end.
        b.push_back(2);
        b.push_back(3);
        b.push_front(1);
        assert!(matches!(b, Buf::Ring(_)));
        assert_eq!(b.len(), 3);
        assert_eq!(
            [b.pop_front(), b.pop_front(), b.pop_front()],
            [Some(1), Some(2), Some(3)]
        );
        let mut r = Buf::with_capacity(0);
        r.push_front(7);
        assert_eq!((r.len(), r.pop_front()), (1, Some(7)));
    }
}
