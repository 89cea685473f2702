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
//!    place randomness enters, so among cases ready at once each is equally likely. Without
//!    `default`, a case not registered anywhere whose channel's lock-free hint says it cannot
//!    complete is passed over without taking the lock (below, "The readiness hint").
//! 2. If none is ready and there is a `default`, take it, but only if no channel changed
//!    since pass 1 looked at it (below). Without `default`, the first time nothing is ready
//!    the select **yields** once instead of blocking (below, "Yield before blocking"), and
//!    runs pass 1 again when polled. Otherwise **pass 2**: register a
//!    waiter on every case's channel, one channel lock at a time. All waiters share one
//!    [`SelectCell`]. If a channel turns out ready while
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
//!    completing it (notifies it, or closes) marks the cell `woken` before taking the waker.
//!    A registered select polled while its cell is `WAITING`, not marked, and every one of its
//!    waiters still `Queued` was not woken by any of its channels (an enclosing `join!` polled
//!    it): it only stores its (possibly new) waker in the cell, first, and keeps its place in
//!    every queue, instead of leaving and queuing again behind later receivers. A real
//!    wake-up skips that look.
//! 4. **One waker per select.** The case waiters hold no waker: the select keeps one, in its
//!    cell, shared by all its cases. Pass 2 stores it before queuing the first case (no
//!    channel can reach the cell then, so it is a plain store); a spurious poll stores it with
//!    the cell's `AtomicWaker`-style protocol, since channels may be taking it meanwhile. A
//!    channel that wakes or completes a case first marks the cell (`woken`, or its claim),
//!    then takes the waker from it and calls it after releasing its lock. A blocking select
//!    over N channels clones its waker once, not N times. The protocol and why it loses no
//!    wake-up are in [`SelectCell`]'s doc: a mark made before the
//!    select stored its waker is seen by the select's look that follows the store, one made
//!    after wakes the stored waker.
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
//! # The readiness hint (pass 1 of a select without `default`)
//!
//! Most looks of a blocking select find nothing: after a wake-up it completes one case, and
//! the next select's pass 1 then visits channels whose senders have not run again yet. Each
//! such look was a lock and an unlock. Every channel lock word carries a summary of its
//! channel, [`State::hint`](super::state::State::hint) (bits `RECV_MAYBE`, `SEND_MAYBE`),
//! left there by the release that ended each locked section (the channel's guard computes it
//! from the state it leaves, so no path can forget it, and the release's one store writes it
//! with the count; `util::lock`). It is conservative: a bit is clear only if that operation
//! could not complete in the state the release left. Pass 1 of a select **without** `default`
//! reads it (one relaxed load) and passes over a case whose bit is clear, if that case is not
//! registered. Go does the same for non-blocking operations ("Fast path: check for failed
//! non-blocking operation without acquiring the lock", `chanrecv`/`chansend` with `empty(c)`
//! and `full(c)`).
//!
//! Why this is sound, whatever the hint says when it is read (it may be stale, or arrive
//! late on another core):
//! - A select without `default` that finds nothing in pass 1 goes on to pass 2, which locks
//!   every non-nil channel and registers there only after `recv_ready`/`send_ready` says no
//!   under the lock; a case found ready then completes at once. So a case pass 1 wrongly
//!   passed over is looked at again under its lock before the select can block; among the
//!   cases ready in pass 2, the first in pass 1's random order wins. A stale "not ready" costs
//!   the select a lock it would have paid anyway; a stale "maybe" costs the lock it saves.
//! - Pass 1 must also *leave* every case registered by an earlier pass 2 (a re-run after a
//!   wake-up, holding `SELF`): its waiter is removed under the channel's lock, and it may
//!   hold a value handed to it or a notification to pass on. So the hint is read only for an
//!   unregistered case (`key` empty); a registered one is visited under its lock as before.
//!   Once it leaves, pass 2's `register` looks again under the lock.
//! - A select **with** `default` never reads it: `default` needs every case seen not ready
//!   under its lock, with the lock's release count checked afterwards (next section).
//! - Channels no select without `default` has looked at pay nothing: their lock word keeps
//!   "maybe" both ways and the guard only tests one bit. The first locked look or
//!   registration of such a select sets `TRACKED`, from which release on the guard computes
//!   the summary (about 25 branch-free instructions).
//!
//! Cost, measured on the `select` workload (4 unbuffered channels, one sender each, one
//! worker, 100k messages under callgrind): pass 1 passes over 3.5 channels per message
//! without locking them (10.3 lock/unlock pairs per message in the select become 6.8);
//! instructions stay level (3,630 per message before and after: the saved locked looks, about
//! 70 instructions each, pay for the summary at the ~10 releases per message of the tracked
//! channels), but the saved lock RMWs show in wall time: 1 worker 582 -> 560 ms (-4%), both
//! workers 571 -> 554 ms (-3%), medians of interleaved runs at 1M messages. A hand-polled
//! select over 4 channels that blocks and is then completed by a `try_send` (no scheduler
//! noise): 2,905 -> 2,815 instructions per cycle, 1.79 -> 1.57 s per 5M cycles. Workloads
//! without a select (`pingpong`, `mpmc`, `chain`) run no more instructions than before.
//!
//! # Yield before blocking
//!
//! Blocking is the expensive path: pass 2 locks every channel to queue a waiter, and the
//! wake-up locks every channel again to leave. The goroutines that can make a case ready are
//! often runnable on this very worker: the senders a select woke by taking their values in the
//! previous rounds, queued behind it. So a select without `default` that finds nothing ready
//! on its first poll *on a gorun worker* wakes its own task and returns `Pending` (as
//! `yield_now` does: to the back of the worker's queue); the next poll runs pass 1 again and
//! blocks only if there is still nothing. Elsewhere (a plain thread's `block_on`, a tokio
//! task, a test's mock task) nothing of ours is queued behind it, so it blocks at once. Each
//! `select!` yields at most once, so a select that must wait pays one extra poll, and
//! semantics are unchanged: nothing was registered, so nothing can be missed, and pass 1's
//! random order still decides among ready cases. Measured on the `select` workload (4 fed
//! unbuffered channels, 2 workers, interleaved medians): 518 -> 231 ms, because after the
//! yield the woken senders have parked with their next values and the select takes them
//! without ever registering (Go 1.19 on this machine: 263 ms).
//!
//! # Who keeps the cell alive
//!
//! The case waiters point at their select's [`SelectCell`] with a plain pointer
//! ([`CellRef`](super::waiter::CellRef)), not an `Arc` clone: registering and leaving a case
//! then costs no reference-count read-modify-write (two per case: eight per blocking select
//! over four channels), and a poll lends the cell to its cases instead of cloning it. The
//! `Select` future owns the cell's one `Arc`, made when it first blocks and never replaced.
//! Why no channel ever reaches a freed cell:
//! - A channel reaches the cell only through a waiter in its slab, under its lock, and only
//!   the case that owns a waiter removes it, under the same lock. So once a case has left a
//!   channel, that channel's every use of the cell happened before.
//! - A case owns its waiter from the moment it is queued: the waiter's key is stored in the
//!   case under the lock that queues it, before anything that can unwind (a waker call).
//! - The `Select` lets the `Arc` go only after every case has left: a completed select has
//!   left every channel (`done`); otherwise its `Drop` cancels every case that is still
//!   registered, whatever `registered` says (a poll that unwound halfway may have left some),
//!   and if a cancel unwinds it leaks the `Arc` rather than free a cell a waiter still names;
//!   those cases withdraw in their own `Drop`.
//! - A leaked `Select` (`mem::forget`) leaks its `Arc`, so the cell lives forever; its cases,
//!   dropped later, withdraw their waiters themselves.
//!
//! Invariants:
//! - Exactly one case completes: every completion happens after a successful transition of the
//!   cell away from `WAITING` (by another party), or while the select holds `SELF` (by itself).
//! - A losing send case keeps its value: it was in the case record or in its waiter, and
//!   leaving a channel moves it back to the record, which drops it with the select.
//! - A select never pairs with itself: while registering it ignores its own waiters.
//! - A registered select is woken after every mark of its cell (a claim, or `woken`) that its
//!   last look did not see: every poll that returns `Pending` stored its waker in the cell
//!   before that look, and every party that marks the cell takes the waker after marking.
//! - Dropping a pending select first claims its cell (freezing it), then leaves every channel;
//!   a receive case that had been handed a value returns it to the channel (front), and a
//!   notification it had received is passed on. Nothing is lost.
//! - The cell outlives every waiter that points at it (above, "Who keeps the cell alive").
//!
//! Rejected: Go locks all the select's channels at once (sorted by address) for pass 1 and 2.
//! That holds N locks while registering and makes every channel's lock a potential convoy;
//! the claim cell gives the same atomicity with one lock at a time, and the release counts
//! give `default` its atomicity. A waker per case waiter (as before issue #14) made every
//! blocking select over N channels clone and drop N wakers and refresh each under its
//! channel's lock on a spurious poll; one waker in the shared cell costs one clone and an
//! `AtomicWaker`-style handshake. Locking all channels in address order only on the way to
//! `default` was the other candidate: it needs every case to hold a typed guard, care for a
//! channel that appears in two cases, and N extra lock/unlock pairs instead of N atomics.
//!
//! # Where the parts are
//!
//! * `select.rs` (this file): the [`Select`] future: pass 1, `default`'s check, pass 2 and
//!   the wake-up, over its cases seen through [`SelectCase`].
//! * `select_case.rs`: the case records [`RecvCase`] and [`SendCase`], the [`SelectCase`]
//!   trait, the claim cell handle [`ClaimCell`], and the operand traits that let a case take a
//!   [`Chan`](super::Chan), [`Sender`](super::Sender) or [`Receiver`](super::Receiver).
//! * `select_ops.rs`: what each case does under its channel's lock.
//! * `select_macro.rs`: the `select!` macro, which builds the cases and runs the chosen arm.
//!
//! [`RecvCase`]: super::select_case::RecvCase
//! [`SendCase`]: super::select_case::SendCase

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::select_case::{ClaimCell, RegOutcome, SelectCase};
use super::waiter::SelectCell;
use crate::loom::sync::Arc;
use crate::runtime::coop;

/// The future a `select!` awaits: yields the index of the completed case, or `N` for
/// `default`.
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct Select<'a, const N: usize> {
    s: Cases<'a, N>,
    /// The claim cell, made when the select first blocks and kept until it is dropped (its
    /// waiters point at it: see `Drop`). Beside `s`, so that a poll can lend it to the cases
    /// while it drives them.
    cell: Option<ClaimCell>,
}

/// The cases of a [`Select`] and where it stands.
struct Cases<'a, const N: usize> {
    cases: [&'a mut (dyn SelectCase + Send + 'a); N],
    has_default: bool,
    registered: bool,
    /// Pass 1 found nothing once and the select yielded instead of registering.
    yielded: bool,
    done: bool,
}

/// Makes the future of one `select!` (macro helper).
#[doc(hidden)]
pub fn select<'a, const N: usize>(
    cases: [&'a mut (dyn SelectCase + Send + 'a); N],
    has_default: bool,
) -> Select<'a, N> {
    Select {
        s: Cases {
            cases,
            has_default,
            registered: false,
            yielded: false,
            done: false,
        },
        cell: None,
    }
}

/// What pass 1 saw when no case was ready: the visiting order and each look's lock stamp.
struct Visit<const N: usize> {
    order: [usize; N],
    stamps: [usize; N],
}

impl<const N: usize> Cases<'_, N> {
    /// Pass 1: visit the non-nil cases in random order; complete the first ready one, leaving
    /// every channel still registered. Visiting a case also leaves its channel. Without
    /// `default`, an unregistered case whose channel's hint says "not ready" is passed over
    /// without locking it (see "The readiness hint").
    fn pass_now(&mut self) -> Result<usize, Visit<N>> {
        let peek = !self.has_default;
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
            if self.cases[i].now(&mut v.stamps[s], peek) {
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
    fn untouched(&mut self) -> bool {
        self.cases.iter_mut().all(|c| c.still_queued())
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
        assert!(!this.s.done, "select! future polled after completion");
        let (s, cell) = (&mut this.s, &mut this.cell);
        coop::poll_op(cx, |cx| s.poll_select(cell, cx))
    }
}

impl<const N: usize> Cases<'_, N> {
    /// One poll. `cell_slot` is the select's claim cell, made here when it first blocks; it
    /// is lent to the cases, not cloned (no reference-count traffic per poll).
    fn poll_select(
        &mut self,
        cell_slot: &mut Option<ClaimCell>,
        cx: &mut Context<'_>,
    ) -> Poll<usize> {
        let this = self;
        // The order in which pass 2 queues the cases: pass 1's random order, so that a
        // blocked select's cases on one channel (queued one behind the other) are taken in a
        // random order too, as Go's (which queues them in its random poll order).
        let mut order;
        // A first look without `default` that found nothing: may yield instead of blocking.
        let mut may_yield = false;
        if this.registered {
            let cell = &cell_slot
                .as_ref()
                .expect("registered select without a cell")
                .0;
            // Not woken by any of its channels (a spurious poll): keep the place in every
            // queue. The waker is stored first (the select may run in another task now), then
            // the marks are looked at: a channel that marks the cell after this look wakes
            // the new waker (see `SelectCell`). A real wake-up (its mark seen at once) skips
            // storing it here; pass 2 stores it before registering again.
            if cell.is_waiting() && !cell.is_woken() {
                cell.set_waker(cx.waker());
                if cell.is_waiting() && !cell.take_woken() && this.untouched() {
                    return crate::runtime::pending(crate::runtime::Wait::Select);
                }
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
            may_yield = !this.yielded;
        }
        if this.cases.iter().all(|c| c.is_nil()) {
            // `select! {}` or only nil channels: never ready.
            return crate::runtime::pending(crate::runtime::Wait::SelectNoCases);
        }
        // Before blocking the first time, yield once (see "Yield before blocking").
        if may_yield && crate::runtime::on_worker_thread() {
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let cell = &*cell_slot.get_or_insert_with(|| ClaimCell(Arc::new(SelectCell::new())));
        'register: loop {
            // The select's one waker, stored before any case is queued (a `close` may have
            // taken the last one while we held `SELF`).
            // SAFETY: the cell is new, or was just reset after every case left its channel
            // (`pass_now` visits every case, leaving it under its channel's lock): no waiter
            // holds it, so no channel can reach it.
            unsafe { cell.0.set_waker_unshared(cx.waker()) };
            for i in order {
                if this.cases[i].is_nil() {
                    continue;
                }
                match this.cases[i].register(cell, i) {
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
        // Every waiter of this select points at its cell (`CellRef`): all of them leave their
        // channels before the cell's `Arc` goes. A completed select has none. A pending one
        // has one per case, and a poll that unwound halfway (a waker that panicked) may have
        // left some with `registered` false: look at every case.
        if self.s.done {
            return;
        }
        let Some(cell) = self.cell.take() else {
            return; // never reached pass 2: no waiter anywhere
        };
        // Kept alive if a cancel unwinds: the cases not withdrawn yet withdraw in their own
        // `Drop`, and their waiters must still find the cell.
        let cell = ManuallyDrop::new(cell);
        if self.s.cases.iter().any(|c| c.is_registered()) {
            // Freeze the select so no further case completes while we withdraw. If case k
            // completed already, withdrawing it hands a received value back to its channel
            // (a completed send has simply happened).
            let _ = cell.0.claim_self();
            for c in self.s.cases.iter_mut() {
                c.cancel();
            }
        }
        drop(ManuallyDrop::into_inner(cell));
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
