//! `select!`: Go's `selectgo` over gorun channels.
//!
//! # Algorithm (Go's `runtime/select.go`, adapted to never hold two channel locks)
//!
//! The macro evaluates every channel operand and send value once, in source order, builds one
//! case record per arm ([`RecvCase`], [`SendCase`]) and awaits a [`Select`] future that yields
//! the index of the case that completed; the macro then runs that arm's body in the caller's
//! own async context (so bodies may `.await`, `break`, `return`, use `?`).
//!
//! 1. **Pass 1.** Visit the non-nil cases in a uniformly random order (a Fisher–Yates shuffle
//!    with `crate::rand`) and complete the first that can complete now. This is the only
//!    place randomness enters, so among cases ready at once each is equally likely.
//! 2. If none is ready and there is a `default`, take it, but only if no channel changed
//!    since pass 1 looked at it (below). Otherwise **pass 2**: register a
//!    waiter on every case's channel, one channel lock at a time. All waiters share one
//!    [`SelectCell`](super::waiter::SelectCell). If a channel turns out ready while
//!    registering, the select claims its own cell (`SELF`) and completes that case.
//! 3. **Wake-up.** Another party may *complete* a case for the select only by first moving the
//!    cell from `WAITING` to that case's index (it took the send value, or handed a value to a
//!    receive case on an unbuffered channel); otherwise it merely wakes the select. When
//!    polled, the select tries to claim its own cell: if some case `k` already claimed it, it
//!    leaves every other channel and returns `k`; if it claimed it, no one else can complete a
//!    case any more, so it runs pass 1 again, leaving each channel as it visits it, and goes
//!    back to pass 2 if nothing was ready. Pass 2 queues the cases in pass 1's random order, so
//!    that cases queued behind each other on one channel are taken in a random order too (Go's
//!    `TestPseudoRandomSend`). A channel that wakes a waiter of a select without
//!    completing it (notifies it, or closes) marks the cell `woken` before calling the waker.
//!    A registered select polled while its cell is `WAITING`, not marked, and every one of its
//!    waiters still `Queued` was not woken by any of its channels (an enclosing `join!` polled
//!    it): it only refreshes its wakers and keeps its place in every queue, instead of leaving
//!    and queuing again behind later receivers. A real wake-up skips that look.
//!
//! # `default` is atomic across the channels
//!
//! Go takes `default` only if at one instant no case was ready: it locks all the select's
//! channels (`sellock`, in address order). Pass 1 looks at one channel at a time, so a value
//! could move from a channel not yet visited to one already visited, and a select that
//! always had a ready case would take `default` (Go's `TestNonblockSelectRace`). gorun keeps
//! one lock at a time and validates instead: every channel lock counts its releases
//! (`util::lock`), a look that finds its case not ready notes the count its own release
//! leaves, and `default` is taken only if, after the last look, a read-modify-write on each
//! lock word finds that count unchanged (nobody took that lock since). Then each channel was
//! unchanged from its look until its check, and these intervals all contain the span from
//! the last look to the first check: at every instant of it no case was ready. If a count
//! changed, pass 1 runs again. The cost is paid only on the way to `default`: one extra
//! uncontended atomic per channel, against Go's second lock and unlock per channel on every
//! select; blocking selects and selects with a ready case pay nothing.
//!
//! Invariants:
//! - Exactly one case completes: every completion happens after a successful transition of the
//!   cell away from `WAITING` (by another party), or while the select holds `SELF` (by itself).
//! - A losing send case keeps its value: it was in the case record or in its waiter, and
//!   leaving a channel moves it back to the record, which drops it with the select.
//! - A select never pairs with itself: while registering it ignores its own waiters.
//! - Dropping a pending select first claims its cell (freezing it), then leaves every channel;
//!   a receive case that had been handed a value returns it to the channel (front), and a
//!   notification it had received is passed on. Nothing is lost.
//!
//! Rejected: Go locks all the select's channels at once (sorted by address) for pass 1 and 2.
//! That holds N locks while registering and makes every channel's lock a potential convoy;
//! the claim cell gives the same atomicity with one lock at a time, and the release counts
//! give `default` its atomicity. Locking all channels in address order only on the way to
//! `default` was the other candidate: it needs every case to hold a typed guard, care for a
//! channel that appears in two cases, and N extra lock/unlock pairs instead of N atomics.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::chan::{Inner, Reg};
use super::error::SendError;
use super::handles::{Chan, Receiver, Sender};
use super::waiter::SelectCell;
use crate::loom::sync::Arc;
use crate::runtime::coop;

/// The claim cell of one `select!` (an opaque handle for the macro's helpers).
#[doc(hidden)]
pub struct ClaimCell(Arc<SelectCell>);

/// What registering a case did (internal to `select!`).
#[doc(hidden)]
pub enum RegOutcome {
    Registered,
    Completed,
    Lost(usize),
    Retry,
}

/// One arm of a `select!` as seen by the [`Select`] future. Implementation detail of the
/// macro; not a stable API.
#[doc(hidden)]
pub trait SelectCase {
    /// Whether this is a case on a nil channel (never chosen, never registered).
    fn is_nil(&self) -> bool;
    /// Leave the channel if registered, then complete now if possible (result kept). If not,
    /// `stamp` is set to the channel lock's stamp at the look.
    fn now(&mut self, stamp: &mut usize) -> bool;
    /// The channel's identity (its address; 0 for nil).
    fn chan_id(&self) -> usize;
    /// Whether nobody has locked the channel since the look that returned `stamp`.
    fn unchanged_since(&self, stamp: usize) -> bool;
    /// Registered: whether the waiter is still queued untouched (updating its waker).
    fn still_queued(&mut self, waker: &Waker) -> bool;
    /// Pass 2: register, or complete at once.
    fn register(&mut self, cell: &ClaimCell, idx: usize, waker: &Waker) -> RegOutcome;
    /// Leave the channel if registered. `true` if another party completed this case.
    fn leave(&mut self) -> bool;
    /// Whether a waiter is registered.
    fn is_registered(&self) -> bool;
    /// Withdraw for good (the select is dropped): a value handed to this case goes back to
    /// its channel; an unsent value stays in the record and is dropped with it.
    fn cancel(&mut self);
}

/// The `SelectCase` methods that only look at the case's channel and waiter key, the same for
/// receive and send cases.
macro_rules! case_channel_methods {
    () => {
        fn chan_id(&self) -> usize {
            self.inner.map_or(0, |i| i as *const Inner<T> as usize)
        }

        fn unchanged_since(&self, stamp: usize) -> bool {
            self.inner.is_none_or(|i| i.unchanged_since(stamp))
        }

        fn still_queued(&mut self, waker: &Waker) -> bool {
            match (self.inner, self.key) {
                (Some(inner), Some(k)) => inner.select_still_queued(k, waker),
                _ => true,
            }
        }
    };
}

/// A receive arm. Its result is `Some(v)`, or `None` if the channel was closed and drained.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    inner: Option<&'a Inner<T>>,
    key: Option<usize>,
    out: Option<Option<T>>,
}

impl<T> RecvCase<'_, T> {
    /// The received value of the case that completed.
    pub fn take(&mut self) -> Option<T> {
        self.out.take().expect("select!: case did not complete")
    }
}

impl<T> SelectCase for RecvCase<'_, T> {
    fn is_nil(&self) -> bool {
        self.inner.is_none()
    }

    case_channel_methods!();

    fn now(&mut self, stamp: &mut usize) -> bool {
        let Some(inner) = self.inner else {
            return false;
        };
        match inner.select_recv_now(&mut self.key, stamp) {
            Some(r) => {
                self.out = Some(r);
                true
            }
            None => false,
        }
    }

    fn register(&mut self, cell: &ClaimCell, idx: usize, waker: &Waker) -> RegOutcome {
        let Some(inner) = self.inner else {
            return RegOutcome::Registered;
        };
        match inner.select_recv_register(&cell.0, idx, waker) {
            Reg::Registered(k) => {
                self.key = Some(k);
                RegOutcome::Registered
            }
            Reg::Completed(r) => {
                self.out = Some(r);
                RegOutcome::Completed
            }
            Reg::Lost(k) => RegOutcome::Lost(k),
            Reg::Retry => RegOutcome::Retry,
        }
    }

    fn leave(&mut self) -> bool {
        let (Some(inner), Some(k)) = (self.inner, self.key.take()) else {
            return false;
        };
        match inner.select_recv_leave(k) {
            Some(r) => {
                self.out = Some(r);
                true
            }
            None => false,
        }
    }

    fn is_registered(&self) -> bool {
        self.key.is_some()
    }

    fn cancel(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner, self.key.take()) {
            inner.cancel_recv(k);
        }
    }
}

impl<T> Drop for RecvCase<'_, T> {
    fn drop(&mut self) {
        // Only reached if the `Select` future was leaked: withdraw, returning a handed value.
        if let (Some(inner), Some(k)) = (self.inner, self.key) {
            inner.cancel_recv(k);
        }
    }
}

/// A send arm. Its result is `Ok(())`, or `Err(SendError(v))` if the channel was closed.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    inner: Option<&'a Inner<T>>,
    value: Option<T>,
    key: Option<usize>,
    out: Option<Result<(), SendError<T>>>,
}

impl<T> SendCase<'_, T> {
    /// The result of the case that completed.
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.out.take().expect("select!: case did not complete")
    }
}

impl<T> SelectCase for SendCase<'_, T> {
    fn is_nil(&self) -> bool {
        self.inner.is_none()
    }

    case_channel_methods!();

    fn now(&mut self, stamp: &mut usize) -> bool {
        let Some(inner) = self.inner else {
            return false;
        };
        match inner.select_send_now(&mut self.key, &mut self.value, stamp) {
            Some(r) => {
                self.out = Some(r);
                true
            }
            None => false,
        }
    }

    fn register(&mut self, cell: &ClaimCell, idx: usize, waker: &Waker) -> RegOutcome {
        let Some(inner) = self.inner else {
            return RegOutcome::Registered;
        };
        match inner.select_send_register(&cell.0, idx, waker, &mut self.value) {
            Reg::Registered(k) => {
                self.key = Some(k);
                RegOutcome::Registered
            }
            Reg::Completed(r) => {
                self.out = Some(r);
                RegOutcome::Completed
            }
            Reg::Lost(k) => RegOutcome::Lost(k),
            Reg::Retry => RegOutcome::Retry,
        }
    }

    fn leave(&mut self) -> bool {
        let (Some(inner), Some(k)) = (self.inner, self.key.take()) else {
            return false;
        };
        if inner.select_send_leave(k, &mut self.value) {
            self.out = Some(Ok(()));
            true
        } else {
            false
        }
    }

    fn is_registered(&self) -> bool {
        self.key.is_some()
    }

    fn cancel(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner, self.key.take()) {
            inner.cancel_send(k);
        }
    }
}

impl<T> Drop for SendCase<'_, T> {
    fn drop(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner, self.key) {
            inner.cancel_send(k);
        }
    }
}

/// Channels a `select!` `recv(..)` arm accepts: [`Chan`], [`Receiver`] and references to them.
#[doc(hidden)]
pub trait SelectRecv {
    type Item;
    fn __recv_case(&self) -> RecvCase<'_, Self::Item>;
}

/// Channels a `select!` `send(..)` arm accepts: [`Chan`], [`Sender`] and references to them.
#[doc(hidden)]
pub trait SelectSend {
    type Item;
    fn __send_case(&self, v: Self::Item) -> SendCase<'_, Self::Item>;
}

fn recv_case_of<T>(inner: Option<&Inner<T>>) -> RecvCase<'_, T> {
    RecvCase {
        inner,
        key: None,
        out: None,
    }
}

fn send_case_of<T>(inner: Option<&Inner<T>>, v: T) -> SendCase<'_, T> {
    SendCase {
        inner,
        value: Some(v),
        key: None,
        out: None,
    }
}

impl<T> SelectRecv for Chan<T> {
    type Item = T;
    fn __recv_case(&self) -> RecvCase<'_, T> {
        recv_case_of(self.inner())
    }
}

impl<T> SelectRecv for Receiver<T> {
    type Item = T;
    fn __recv_case(&self) -> RecvCase<'_, T> {
        recv_case_of(self.inner())
    }
}

impl<C: SelectRecv + ?Sized> SelectRecv for &C {
    type Item = C::Item;
    fn __recv_case(&self) -> RecvCase<'_, C::Item> {
        (**self).__recv_case()
    }
}

impl<T> SelectSend for Chan<T> {
    type Item = T;
    fn __send_case(&self, v: T) -> SendCase<'_, T> {
        send_case_of(self.inner(), v)
    }
}

impl<T> SelectSend for Sender<T> {
    type Item = T;
    fn __send_case(&self, v: T) -> SendCase<'_, T> {
        send_case_of(self.inner(), v)
    }
}

impl<C: SelectSend + ?Sized> SelectSend for &C {
    type Item = C::Item;
    fn __send_case(&self, v: C::Item) -> SendCase<'_, C::Item> {
        (**self).__send_case(v)
    }
}

/// Builds a receive case (macro helper).
#[doc(hidden)]
pub fn recv_case<C: SelectRecv + ?Sized>(c: &C) -> RecvCase<'_, C::Item> {
    c.__recv_case()
}

/// Builds a send case (macro helper).
#[doc(hidden)]
pub fn send_case<C: SelectSend + ?Sized>(c: &C, v: C::Item) -> SendCase<'_, C::Item> {
    c.__send_case(v)
}

/// The future a `select!` awaits: yields the index of the completed case, or `N` for
/// `default`.
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct Select<'a, const N: usize> {
    cases: [&'a mut (dyn SelectCase + Send + 'a); N],
    has_default: bool,
    cell: Option<ClaimCell>,
    registered: bool,
    done: bool,
}

/// Makes the future of one `select!` (macro helper).
#[doc(hidden)]
pub fn select<'a, const N: usize>(
    cases: [&'a mut (dyn SelectCase + Send + 'a); N],
    has_default: bool,
) -> Select<'a, N> {
    Select {
        cases,
        has_default,
        cell: None,
        registered: false,
        done: false,
    }
}

/// What pass 1 saw when no case was ready: the visiting order and each look's lock stamp.
struct Visit<const N: usize> {
    order: [usize; N],
    stamps: [usize; N],
}

impl<const N: usize> Select<'_, N> {
    /// Pass 1: visit the non-nil cases in random order; complete the first ready one, leaving
    /// every channel still registered. Visiting a case also leaves its channel.
    fn pass_now(&mut self) -> Result<usize, Visit<N>> {
        let mut v = Visit {
            order: [0usize; N],
            stamps: [0usize; N],
        };
        for (i, o) in v.order.iter_mut().enumerate() {
            *o = i;
        }
        // Fisher–Yates: every permutation equally likely.
        for i in (1..N).rev() {
            let j = crate::rand::below(i as u32 + 1) as usize;
            v.order.swap(i, j);
        }
        for s in 0..N {
            let i = v.order[s];
            if self.cases[i].is_nil() {
                continue;
            }
            if self.cases[i].now(&mut v.stamps[s]) {
                self.leave_all_except(i);
                return Ok(i);
            }
        }
        Err(v)
    }

    /// After a pass 1 that found nothing ready: whether no channel was locked by anyone
    /// since this select looked at it. Then every channel was, from the last look to the
    /// first check, in the state this select saw, so at one instant none of its cases was
    /// ready and `default` is what Go's select (which locks them all) would take.
    fn nothing_changed(&self, v: &Visit<N>) -> bool {
        (0..N).all(|s| {
            let c = &self.cases[v.order[s]];
            let id = c.chan_id();
            // A channel looked at again later has that look's stamp.
            id == 0
                || v.order[s + 1..]
                    .iter()
                    .any(|&j| self.cases[j].chan_id() == id)
                || c.unchanged_since(v.stamps[s])
        })
    }

    /// Registered and polled again: whether every case's waiter is still queued as it was
    /// left, so nothing happened that this select must look at (the poll is spurious, e.g. an
    /// enclosing `join!` polled it). Then it keeps its place in every queue.
    fn untouched(&mut self, waker: &Waker) -> bool {
        self.cases.iter_mut().all(|c| c.still_queued(waker))
    }

    fn leave_all_except(&mut self, winner: usize) {
        for (i, c) in self.cases.iter_mut().enumerate() {
            if i != winner && c.is_registered() {
                let completed = c.leave();
                debug_assert!(!completed, "select!: two cases completed");
            }
        }
    }

    /// The cell was claimed by case `k`: leave every channel, collecting `k`'s result.
    fn finish_claimed(&mut self, k: usize) -> usize {
        for (i, c) in self.cases.iter_mut().enumerate() {
            if c.is_registered() {
                let completed = c.leave();
                debug_assert_eq!(completed, i == k, "select!: claim by case {k} but case {i}");
            }
        }
        self.registered = false;
        self.done = true;
        k
    }
}

impl<const N: usize> Future for Select<'_, N> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.get_mut();
        assert!(!this.done, "select! future polled after completion");
        coop::poll_op(cx, |cx| this.poll_select(cx))
    }
}

impl<const N: usize> Select<'_, N> {
    fn poll_select(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self;
        // The order in which pass 2 queues the cases: pass 1's random order, so that a
        // blocked select's cases on one channel (queued one behind the other) are taken in a
        // random order too, as Go's (which queues them in its random poll order).
        let mut order;
        if this.registered {
            let cell = this
                .cell
                .as_ref()
                .expect("registered select without a cell");
            let cell = cell.0.clone();
            // Not woken by any of its channels (a spurious poll): keep the place in every
            // queue. The look at the waiters themselves refreshes their wakers, in case the
            // select now runs in another task.
            if cell.is_waiting() && !cell.take_woken() && this.untouched(cx.waker()) {
                return crate::runtime::pending(crate::runtime::Wait::Select);
            }
            match cell.claim_self() {
                Err(k) => return Poll::Ready(this.finish_claimed(k)),
                Ok(()) => {
                    this.registered = false;
                    match this.pass_now() {
                        Ok(i) => {
                            this.done = true;
                            return Poll::Ready(i);
                        }
                        Err(v) => order = v.order,
                    }
                    // Every case was visited, so none is registered: re-arm.
                    cell.reset();
                }
            }
        } else if this.has_default {
            // Default only if at one instant no case was ready; a case that became ready
            // meanwhile is looked at again.
            loop {
                match this.pass_now() {
                    Ok(i) => {
                        this.done = true;
                        return Poll::Ready(i);
                    }
                    Err(v) if this.nothing_changed(&v) => {
                        this.done = true;
                        return Poll::Ready(N);
                    }
                    Err(_) => {}
                }
            }
        } else {
            match this.pass_now() {
                Ok(i) => {
                    this.done = true;
                    return Poll::Ready(i);
                }
                Err(v) => order = v.order,
            }
        }
        if this.cases.iter().all(|c| c.is_nil()) {
            // `select! {}` or only nil channels: never ready.
            return crate::runtime::pending(crate::runtime::Wait::SelectNoCases);
        }
        let cell = ClaimCell(
            this.cell
                .get_or_insert_with(|| ClaimCell(Arc::new(SelectCell::new())))
                .0
                .clone(),
        );
        'register: loop {
            for i in order {
                if this.cases[i].is_nil() {
                    continue;
                }
                match this.cases[i].register(&cell, i, cx.waker()) {
                    RegOutcome::Registered => {}
                    RegOutcome::Completed => {
                        this.leave_all_except(i);
                        this.done = true;
                        return Poll::Ready(i);
                    }
                    RegOutcome::Lost(k) => return Poll::Ready(this.finish_claimed(k)),
                    RegOutcome::Retry => {
                        // We hold SELF: look at everything again, leaving as we go.
                        match this.pass_now() {
                            Ok(j) => {
                                this.done = true;
                                return Poll::Ready(j);
                            }
                            Err(v) => order = v.order,
                        }
                        cell.0.reset();
                        continue 'register;
                    }
                }
            }
            break;
        }
        this.registered = true;
        crate::runtime::pending(crate::runtime::Wait::Select)
    }
}

impl<const N: usize> Drop for Select<'_, N> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        if let Some(cell) = &self.cell {
            // Freeze the select so no further case completes while we withdraw. If case k
            // completed already, withdrawing it hands a received value back to its channel
            // (a completed send has simply happened).
            let _ = cell.0.claim_self();
        }
        for c in self.cases.iter_mut() {
            c.cancel();
        }
    }
}

/// A future that never completes (`select! {}`).
#[doc(hidden)]
pub fn never() -> Never {
    Never
}

/// See [`never`].
#[doc(hidden)]
#[derive(Debug)]
pub struct Never;

impl Future for Never {
    type Output = std::convert::Infallible;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Pending
    }
}

/// Waits on several channel operations and completes exactly one, as Go's `select`.
///
/// Arms, separated by commas:
/// - `recv(c) -> v => body`: `v: Option<T>` (`None`: closed and drained);
/// - `send(c, x) -> res => body`: `res: Result<(), SendError<T>>`;
/// - `default => body`: taken when no other case is ready now (makes the select non-blocking).
///
/// `c` may be a [`Chan`](crate::chan::Chan), [`Sender`](crate::chan::Sender) (send arms),
/// [`Receiver`](crate::chan::Receiver) (receive arms) or a reference to one, including a
/// temporary. The pattern after `->` is an identifier or `_`. Every channel operand and send
/// value is evaluated once, in source order, before anything else. Among the cases ready at
/// once one is chosen uniformly at random. A send case that is not chosen keeps its value
/// (it is dropped with the select). Cases on [`Chan::nil`](crate::chan::Chan::nil) are never
/// chosen; `select! {}` waits forever.
///
/// `select!` must be used inside async code: it awaits in place and is an expression whose
/// value is the chosen arm's body. Bodies run in the enclosing async context, so they may
/// `.await`, `break`, `continue`, `return` and use `?`. Dropping the enclosing future while
/// the select waits loses nothing. The future is `Send` when the channels' items are.
///
/// ```
/// use gorun::chan::chan;
/// use gorun::select;
///
/// futures::executor::block_on(async {
///     let a = chan::<i32>(1);
///     let b = chan::<&str>(1);
///     b.try_send("hi").unwrap();
///     let got = select! {
///         recv(a) -> v => format!("a: {v:?}"),
///         recv(b) -> v => format!("b: {v:?}"),
///     };
///     assert_eq!(got, "b: Some(\"hi\")");
///
///     // Non-blocking with default; send arms give their value back on failure.
///     let full = chan::<i32>(0);
///     let r = select! {
///         send(full, 1) -> res => res.is_ok(),
///         default => false,
///     };
///     assert!(!r);
/// });
/// ```
#[macro_export]
macro_rules! select {
    () => {{
        match $crate::chan::__private::never().await {}
    }};
    ($($arms:tt)+) => {
        $crate::__select_parse!(
            @idx [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27
                  28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52
                  53 54 55 56 57 58 59 60 61 62 63]
            @cases []
            @default []
            $($arms)+
        )
    };
}

/// Parses `select!` arms into a normalized list (implementation detail).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All arms parsed.
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]) => {
        $crate::__select_gen!(@cases [$($cases)*] @default [$($def)*])
    };
    (@idx [] @cases [$($cases:tt)*] @default [$($def:tt)*] $($rest:tt)+) => {
        ::core::compile_error!("select!: at most 64 cases")
    };

    // recv(c) -> p => body
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*])
    };

    // send(c, x) -> p => body
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*])
    };

    // default => body
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)+]
        default => $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one `default` arm")
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)] $($rest)*)
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)] $($rest)*)
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)] $($rest)*)
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:expr) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)])
    };

    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*] $($rest:tt)+) => {
        ::core::compile_error!(concat!(
            "select!: expected `recv(chan) -> pat => body`, `send(chan, value) -> pat => body` \
             or `default => body`, found: ",
            stringify!($($rest)+)
        ))
    };
}

/// Generates a `select!` from its normalized arms (implementation detail).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_gen {
    (@cases [$([$kind:ident $i:tt ($($op:tt)*) ($p:pat) ($body:expr)])*]
     @default [$($def:tt)*]) => {{
        // Operands and send values, once each, in source order. Temporaries in a match
        // scrutinee live until the end of the match, so `recv(after(d))` borrows fine. The
        // chosen case's result is moved out before the borrows end, so bodies may reassign or
        // move the channels (`c = Chan::nil()`).
        #[allow(unused_mut, unused_variables, clippy::unused_unit)]
        let (__gorun_idx, mut __gorun_res) =
            match ($($crate::__select_gen!(@operand $kind $($op)*),)*) {
                mut __gorun_ops => {
                    let mut __gorun_cases =
                        ($($crate::__select_gen!(@case $kind __gorun_ops . $i),)*);
                    let __gorun_idx = $crate::chan::__private::select(
                        [$(&mut __gorun_cases.$i
                            as &mut (dyn $crate::chan::__private::SelectCase
                                + ::core::marker::Send),)*],
                        $crate::__select_gen!(@has_default $($def)*),
                    )
                    .await;
                    (
                        __gorun_idx,
                        ($(if __gorun_idx == $i {
                            ::core::option::Option::Some(__gorun_cases.$i.take())
                        } else {
                            ::core::option::Option::None
                        },)*),
                    )
                }
            };
        #[allow(unreachable_patterns)]
        match __gorun_idx {
            $($i => {
                let $p = __gorun_res.$i.take().unwrap();
                $body
            })*
            _ => $crate::__select_gen!(@default_body $($def)*),
        }
    }};
    (@operand recv $ch:expr) => { &$ch };
    (@operand send $ch:expr, $val:expr) => { (&$ch, $val) };
    (@case recv $ops:ident . $i:tt) => { $crate::chan::__private::recv_case($ops.$i) };
    (@case send $ops:ident . $i:tt) => {{
        let (__gorun_c, __gorun_v) = $ops.$i;
        $crate::chan::__private::send_case(__gorun_c, __gorun_v)
    }};
    (@has_default) => { false };
    (@has_default ($body:expr)) => { true };
    (@default_body) => { ::core::unreachable!("select!: no case completed") };
    (@default_body ($body:expr)) => { $body };
}
