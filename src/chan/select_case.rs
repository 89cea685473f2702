//! The case records of `select!` and the interface the [`Select`](super::select::Select)
//! future drives them through.
//!
//! The macro builds one [`RecvCase`] or [`SendCase`] per arm from a channel operand (any of
//! [`Chan`], [`Sender`], [`Receiver`] or a reference to one, through [`SelectRecv`] and
//! [`SelectSend`]); the future sees them only as [`SelectCase`] trait objects. A case holds
//! its channel, the key of its waiter while registered, the send value while it is not in a
//! waiter, and its result once it completed. Each method is one visit to the case's channel
//! under that channel's lock (`select_ops.rs`), never two channels at once.
//!
//! Invariants (with those of `select.rs`):
//! - A case completes only through `now` or `register` (by the select itself, holding `SELF`
//!   or unregistered) or `leave` (another party completed it after claiming the cell for it);
//!   its result waits in `out` for the macro's `take`.
//! - A losing send case keeps its value: it is in the record or in its waiter, and leaving the
//!   channel moves it back to the record, which drops it with the select.
//! - A case's `Drop` withdraws its waiter only if the `Select` future was leaked; normally
//!   the select's own drop has cancelled every case already.

use super::chan::Inner;
use super::error::SendError;
use super::handles::{Chan, Receiver, Sender};
use super::select_ops::Reg;
use super::waiter::SelectCell;
use crate::loom::sync::Arc;

/// The claim cell of one `select!` (an opaque handle for the macro's helpers).
#[doc(hidden)]
pub struct ClaimCell(pub(super) Arc<SelectCell>);

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
    /// `stamp` is set to the channel lock's stamp at the look. `peek` (a select without
    /// `default`): an unregistered case whose channel's lock-free hint says it cannot complete
    /// returns `false` without locking, and without a stamp.
    fn now(&mut self, stamp: &mut usize, peek: bool) -> bool;
    /// The channel's identity (its address; 0 for nil).
    fn chan_id(&self) -> usize;
    /// Whether nobody has locked the channel since the look that returned `stamp`.
    fn unchanged_since(&self, stamp: usize) -> bool;
    /// Registered: whether the waiter is still queued untouched.
    fn still_queued(&mut self) -> bool;
    /// Pass 2: register (a waiter without a waker: the select's is in `cell`), or complete
    /// at once.
    fn register(&mut self, cell: &ClaimCell, idx: usize) -> RegOutcome;
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

        fn still_queued(&mut self) -> bool {
            match (self.inner, self.key) {
                (Some(inner), Some(k)) => inner.select_still_queued(k),
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

    fn now(&mut self, stamp: &mut usize, peek: bool) -> bool {
        let Some(inner) = self.inner else {
            return false;
        };
        if peek && self.key.is_none() && !inner.recv_maybe_ready() {
            return false;
        }
        match inner.select_recv_now(&mut self.key, stamp, peek) {
            Some(r) => {
                self.out = Some(r);
                true
            }
            None => false,
        }
    }

    fn register(&mut self, cell: &ClaimCell, idx: usize) -> RegOutcome {
        let Some(inner) = self.inner else {
            return RegOutcome::Registered;
        };
        match inner.select_recv_register(&cell.0, idx, &mut self.key) {
            Reg::Registered => RegOutcome::Registered,
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

    fn now(&mut self, stamp: &mut usize, peek: bool) -> bool {
        let Some(inner) = self.inner else {
            return false;
        };
        if peek && self.key.is_none() && !inner.send_maybe_ready() {
            return false;
        }
        match inner.select_send_now(&mut self.key, &mut self.value, stamp, peek) {
            Some(r) => {
                self.out = Some(r);
                true
            }
            None => false,
        }
    }

    fn register(&mut self, cell: &ClaimCell, idx: usize) -> RegOutcome {
        let Some(inner) = self.inner else {
            return RegOutcome::Registered;
        };
        match inner.select_send_register(&cell.0, idx, &mut self.key, &mut self.value) {
            Reg::Registered => RegOutcome::Registered,
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
