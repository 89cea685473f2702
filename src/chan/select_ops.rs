//! The channel's half of `select!`: [`Reg`] and the `select_*` methods of [`Inner`], which
//! look at, register, complete and leave one select case under this channel's lock.
//!
//! The select future (`select.rs`) visits its channels one at a time and never holds two
//! locks; these methods are all it does under each. The rules they keep (invariant 7 in
//! `state.rs`):
//!
//! * A case waiter may be completed by another party (a value handed into it, or its send
//!   value taken) only after that party moved the select's claim cell from `WAITING` to the
//!   case's index; `State` treats a waiter of a decided select as absent.
//! * While registering, a select ignores its own waiters (`exclude`), so it never pairs with
//!   itself, and completes an operation of its own only after claiming its cell (`SELF`);
//!   if it cannot, it lost to case `k` ([`Reg::Lost`]).
//! * `select_*_now` runs while the select is unregistered or holds `SELF`. It first leaves the
//!   case's waiter: a case another party already completed (handed it a value, or took its
//!   send value) completes with that; an unsent value comes back to the case; an unused
//!   notification is passed on. Then it completes now if it can; if not, it records the
//!   lock's stamp for `default`'s check ([`Inner::unchanged_since`]).

use super::chan::Inner;
use super::error::{SendError, TrySendError};
use super::state::Wakes;
use super::waiter::{CellRef, SelectCell, Status, Waiter};

/// The outcome of registering a `select!` case.
pub(crate) enum Reg<R> {
    /// Queued; the waiter's key is in the case's `key`.
    Registered,
    /// The operation was ready: the select claimed itself (`SELF`) and completed it.
    Completed(R),
    /// The select had already been decided by case `k`.
    Lost(usize),
    /// The select claimed itself but the operation could no longer complete (its partner was
    /// a waiter of another, just-decided select): it must look at all its cases again.
    Retry,
}

impl<T> Inner<T> {
    /// Select receive case, visited while the select is unregistered or holds `SELF`: leave
    /// its waiter (if any) and receive now if possible. If not, `stamp` is set to the lock's
    /// stamp (see [`Inner::unchanged_since`]). `track`: the select has no `default`, and
    /// will read this channel's readiness hint from now on.
    #[inline]
    pub(crate) fn select_recv_now(
        &self,
        key: &mut Option<usize>,
        stamp: &mut usize,
        track: bool,
    ) -> Option<Option<T>> {
        let mut wakes = Wakes::new();
        let mut old = None;
        let r = {
            let mut st = self.lock();
            if track {
                st.track();
            }
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

    /// Select receive case, pass 2: queue a waiter, or complete at once if ready. `cell` is
    /// the select's, which outlives the waiter (`CellRef`); the waiter's key goes into `key`
    /// under the lock, before any waker is called, so the case owns its waiter whatever
    /// happens next.
    #[inline]
    pub(crate) fn select_recv_register(
        &self,
        cell: &SelectCell,
        idx: usize,
        key: &mut Option<usize>,
    ) -> Reg<Option<T>> {
        let me: *const SelectCell = cell;
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            st.track();
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
                // No waker of its own: the select's is in the cell.
                let mut w = Waiter::new(None, None);
                // SAFETY: the select owns `cell` and withdraws this waiter (under this lock,
                // through `key`) before it lets the cell go; see `CellRef`.
                w.select = Some((unsafe { CellRef::new(cell) }, idx));
                let k = st.insert_waiter(w);
                *key = Some(k);
                let st = &mut *st;
                st.recvq.push_back(&mut st.waiters, k);
                Reg::Registered
            }
        };
        wakes.wake();
        r
    }

    /// A registered select case polled again: whether its waiter `k` is still queued, as it
    /// was left (nothing happened to it, so the select may keep its place). The waker is the
    /// select's, in its cell: nothing to update here.
    #[inline]
    pub(crate) fn select_still_queued(&self, k: usize) -> bool {
        self.lock().waiters[k].status == Status::Queued
    }

    /// Select receive case: leave the waiter. `Some(v)` if another party completed this case
    /// (handed it a value); a notification it got is passed on.
    #[inline]
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
    /// the value back) and send now if possible. `stamp` and `track` as for
    /// [`Inner::select_recv_now`].
    #[inline]
    pub(crate) fn select_send_now(
        &self,
        key: &mut Option<usize>,
        value: &mut Option<T>,
        stamp: &mut usize,
        track: bool,
    ) -> Option<Result<(), SendError<T>>> {
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            if track {
                st.track();
            }
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
    /// `cell` and `key` as for [`Inner::select_recv_register`].
    #[inline]
    pub(crate) fn select_send_register(
        &self,
        cell: &SelectCell,
        idx: usize,
        key: &mut Option<usize>,
        value: &mut Option<T>,
    ) -> Reg<Result<(), SendError<T>>> {
        let me: *const SelectCell = cell;
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.lock();
            st.track();
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
                let mut w = Waiter::new(None, Some(v));
                // SAFETY: as in `select_recv_register`.
                w.select = Some((unsafe { CellRef::new(cell) }, idx));
                let k = st.insert_waiter(w);
                *key = Some(k);
                let st = &mut *st;
                st.sendq.push_back(&mut st.waiters, k);
                if st.cap == 0 && !st.handed {
                    st.notify_one(Some(me), &mut wakes);
                }
                Reg::Registered
            }
        };
        wakes.wake();
        r
    }

    /// Select send case: leave the waiter. `true` if a receiver took the value (this case
    /// completed); otherwise the value is back in `value`.
    #[inline]
    pub(crate) fn select_send_leave(&self, k: usize, value: &mut Option<T>) -> bool {
        let mut w = self.lock().remove_send(k);
        if w.status == Status::Done {
            return true;
        }
        *value = w.value.take();
        false
    }
}
