//! The channel: one lock, a ring buffer, two wait queues, and a cancel-safe handoff protocol.
//!
//! # Shape (Go's `runtime/chan.go`)
//!
//! A channel is one [`Inner`]: the capacity and one mutex guarding [`State`]: the ring buffer
//! `buf`, the slab of [`Waiter`] records, the queue of waiting receivers `recvq`, the queue of
//! waiting senders `sendq`, the `closed` flag, and the `handed` flag (below). Every operation
//! takes the lock exactly once on its fast path; wakers are called after the lock is released.
//! A `select!` never holds two channel locks at once: it visits its channels one by one and
//! decides itself with one atomic claim word ([`SelectCell`](super::waiter::SelectCell)), as
//! Go's `selectDone`.
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
//! # Where the parts are
//!
//! * `chan.rs` (this file): [`Inner`], the plain operations (`try_send`, `try_recv`, the
//!   send and receive futures' polls and cancels, `close`), the futures [`SendFuture`] and
//!   [`RecvFuture`], and [`block_here`] for the `*_blocking` methods.
//! * `state.rs`: [`State`], everything under the lock, and the protocol's invariants (the
//!   numbered list the comments here refer to): taking, handing, notifying, passing on.
//! * `buf.rs`: the buffer ([`Buf`]), inline for capacity 1, a ring otherwise.
//! * `select_ops.rs`: the channel's half of `select!`: registering, completing and leaving
//!   a select case under the channel's lock.
//! * `waiter.rs`: waiter records, wait queues and the select claim cell; `lock.rs`: the lock.
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

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use slab::Slab;

use super::buf::Buf;
use super::error::{SendError, TryRecvError, TrySendError};
use super::state::{State, Wakes, RECV_MAYBE, SEND_MAYBE, TRACKED};
use super::waiter::{Queue, Status, Waiter};
use crate::runtime::coop;
use crate::util::lock::{ChanLock, Guard};
use std::ops::{Deref, DerefMut};

/// The shared channel. Handles hold an `Arc<Inner>`; the last one to drop frees it together
/// with any buffered values. Waiters belong to futures that borrow a handle, so normally none
/// remain then; one left by a leaked (`mem::forget`) future is dropped with the slab.
pub(crate) struct Inner<T> {
    cap: usize,
    /// Everything mutable; see the invariants in `state.rs`.
    state: ChanLock<State<T>>,
}

// A channel is one allocation of `Arc<Inner>`: 16 bytes of counts and 120 of channel make a
// 144-byte malloc chunk (a timer's channel, a result channel: one per `after`, per request).
// (Under loom the lock is loom's mutex, which is larger.)
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Inner<std::time::Instant>>() <= 120);

impl<T> Inner<T> {
    pub(crate) fn new(cap: usize) -> Self {
        let st = State {
            cap,
            buf: Buf::with_capacity(cap),
            waiters: Slab::new(),
            recvq: Queue::new(),
            sendq: Queue::new(),
            closed: false,
            handed: false,
            notified: 0,
        };
        Inner {
            cap,
            // Untracked: "maybe" both ways until a select looks (see `TRACKED`).
            state: ChanLock::with_tag(st, RECV_MAYBE | SEND_MAYBE),
        }
    }

    /// Locks the channel. Every access to `State` goes through here, so every release of a
    /// tracked channel leaves the readiness hint of the state it leaves ([`StateGuard`]).
    #[inline]
    pub(super) fn lock(&self) -> StateGuard<'_, T> {
        StateGuard(self.state.lock())
    }

    /// Lock-free readiness hint, for a `select!` without `default`: `false` only if, as of
    /// some release of the lock, no receive could complete (see [`State::hint`]); always
    /// `true` until a select tracks the channel. May be stale; its user looks again under the
    /// lock before blocking.
    #[inline]
    pub(crate) fn recv_maybe_ready(&self) -> bool {
        self.state.tag() & RECV_MAYBE != 0
    }

    /// [`Inner::recv_maybe_ready`] for a send.
    #[inline]
    pub(crate) fn send_maybe_ready(&self) -> bool {
        self.state.tag() & SEND_MAYBE != 0
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

    /// Test only: makes the lock-free hint say `tag` (see `ChanLock::force_tag`).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn force_hint(&self, tag: usize) {
        self.state.force_tag(tag);
    }

    /// Test only: how many times the channel was locked.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn lock_count(&self) -> usize {
        self.state.releases()
    }

    /// Test only: how many waiter records the channel holds.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn waiter_count(&self) -> usize {
        self.lock().waiters.len()
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

/// The channel's lock guard: a [`Guard`] whose release, once the channel is tracked, leaves
/// [`State::hint`] of the state it leaves as the lock's tag. Being the only way to the state,
/// no path can forget it.
pub(super) struct StateGuard<'a, T>(Guard<'a, State<T>>);

impl<T> StateGuard<'_, T> {
    /// The tag this guard's release leaves: `TRACKED` and the hint, or, on a channel no
    /// select tracks, the tag as it was ("maybe" both ways).
    #[inline]
    fn release_tag(&mut self) {
        let tag = self.0.tag();
        if tag & TRACKED != 0 {
            let h = self.0.hint();
            self.0.set_tag(TRACKED | h);
        }
    }

    /// Makes every release from this one on keep the readiness hint (a `select!` without
    /// `default` looks at this channel).
    #[inline]
    pub(super) fn track(&mut self) {
        let tag = self.0.tag();
        self.0.set_tag(tag | TRACKED);
    }

    /// The lock word this guard's release will leave, tag included, if the state does not
    /// change before it (see [`Inner::unchanged_since`]; a change only makes the check fail).
    #[inline]
    pub(super) fn stamp(&mut self) -> usize {
        self.release_tag();
        self.0.stamp()
    }
}

impl<T> Deref for StateGuard<'_, T> {
    type Target = State<T>;
    #[inline]
    fn deref(&self) -> &State<T> {
        &self.0
    }
}

impl<T> DerefMut for StateGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut State<T> {
        &mut self.0
    }
}

impl<T> Drop for StateGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // The inner guard's drop, which follows, releases with this tag.
        self.release_tag();
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
