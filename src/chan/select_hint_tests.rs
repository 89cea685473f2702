//! The lock-free readiness hint of `select!`'s pass 1 (`select.rs`, "The readiness hint"),
//! checked at the waker level with a hint forced stale, as a reader on another core may see
//! it: a stale "not ready" costs only speed (pass 2 looks under the lock), a select with
//! `default` never trusts it, and a woken select leaves every channel it is registered on
//! whatever the hint says.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use tokio_test::assert_pending;
use tokio_test::task::{spawn, Spawn};

use super::chan::Inner;
use super::handles::{chan, Chan};
use super::select::select;
use super::select_case::recv_case;
use super::state::TRACKED;

fn poll_in<F: Future + Unpin>(t: &mut Spawn<()>, fut: &mut F) -> Poll<F::Output> {
    t.enter(|cx, _| Pin::new(fut).poll(cx))
}

fn inner(c: &Chan<u32>) -> &Inner<u32> {
    c.inner().expect("not a nil channel")
}

/// A select without `default` over `a` and `b` that blocks once and is dropped: both
/// channels are then tracked (their releases keep the hint).
fn track(a: &Chan<u32>, b: &Chan<u32>) {
    let (mut ra, mut rb) = (recv_case(a), recv_case(b));
    let mut fut = select([&mut ra, &mut rb], false);
    assert_pending!(poll_in(&mut spawn(()), &mut fut));
    drop(fut);
    assert_eq!(inner(a).waiter_count() + inner(b).waiter_count(), 0);
}

/// The hint lets pass 1 pass over an idle channel without locking it.
#[test]
fn an_idle_channel_is_passed_over_without_its_lock() {
    let (a, b) = (chan::<u32>(1), chan::<u32>(1));
    track(&a, &b);
    b.try_send(7).unwrap();
    assert!(!inner(&a).recv_maybe_ready() && inner(&b).recv_maybe_ready());
    let locks = inner(&a).lock_count();
    let (mut ra, mut rb) = (recv_case(&a), recv_case(&b));
    let mut fut = select([&mut ra, &mut rb], false);
    assert_eq!(poll_in(&mut spawn(()), &mut fut), Poll::Ready(1));
    drop(fut);
    assert_eq!(rb.take(), Some(7));
    assert_eq!(inner(&a).lock_count(), locks, "the idle channel was locked");
}

/// A hint that says "not ready" though a value is there (stale: the channel became ready
/// between pass 1 and pass 2) only makes pass 1 pass the case over: pass 2's `register` looks
/// under the lock and completes it at once, without blocking.
#[test]
fn a_stale_not_ready_hint_is_corrected_by_pass_2() {
    let (a, b) = (chan::<u32>(1), chan::<u32>(1));
    track(&a, &b);
    a.try_send(5).unwrap();
    inner(&a).force_hint(TRACKED);
    assert!(!inner(&a).recv_maybe_ready());
    let locks = inner(&a).lock_count();
    let mut t = spawn(());
    let (mut ra, mut rb) = (recv_case(&a), recv_case(&b));
    let mut fut = select([&mut ra, &mut rb], false);
    assert_eq!(poll_in(&mut t, &mut fut), Poll::Ready(0));
    drop(fut);
    assert_eq!(ra.take(), Some(5));
    assert_eq!(
        inner(&a).lock_count(),
        locks + 1,
        "pass 1 passed over `a` on the stale hint, pass 2 completed it"
    );
    assert_eq!(inner(&a).waiter_count() + inner(&b).waiter_count(), 0);
    assert!(!t.is_woken());
}

/// A select with `default` never trusts the hint: `default` is taken only if no case was
/// ready at one instant, so pass 1 looks under every lock.
#[test]
fn a_select_with_default_does_not_trust_the_hint() {
    let a = chan::<u32>(1);
    a.try_send(5).unwrap();
    inner(&a).force_hint(TRACKED);
    let mut ra = recv_case(&a);
    let mut fut = select([&mut ra], true);
    assert_eq!(poll_in(&mut spawn(()), &mut fut), Poll::Ready(0));
    drop(fut);
    assert_eq!(ra.take(), Some(5));
}

/// A registered select that is woken runs pass 1 again holding `SELF`; each of its cases is
/// still registered and must leave its channel under the lock, even where the hint says
/// "not ready". A waiter left behind would be live again once the select re-arms its cell,
/// and a later sender could hand it a value nobody takes.
#[test]
fn a_woken_select_leaves_every_channel_whatever_the_hint_says() {
    let (a, b) = (chan::<u32>(0), chan::<u32>(0));
    let mut t = spawn(());
    let (mut ra, mut rb) = (recv_case(&a), recv_case(&b));
    let mut fut = select([&mut ra, &mut rb], false);
    assert_pending!(poll_in(&mut t, &mut fut));
    assert_eq!((inner(&a).waiter_count(), inner(&b).waiter_count()), (1, 1));
    // A sender parks on `a` and notifies the select; a plain receive steals its value.
    let mut s = spawn(a.send(1));
    assert_pending!(s.poll());
    assert!(t.is_woken(), "the parked sender notifies the select");
    assert_eq!(a.try_recv(), Ok(1));
    assert!(s.is_woken());
    assert_eq!(s.poll(), Poll::Ready(Ok(())));
    assert!(!inner(&a).recv_maybe_ready() && !inner(&b).recv_maybe_ready());
    // The re-run finds nothing and registers again: one waiter per channel.
    assert_pending!(poll_in(&mut t, &mut fut));
    assert_eq!(
        (inner(&a).waiter_count(), inner(&b).waiter_count()),
        (1, 1),
        "a waiter of the select was left behind"
    );
    assert_eq!(b.try_send(7), Ok(()));
    assert!(t.is_woken());
    assert_eq!(poll_in(&mut t, &mut fut), Poll::Ready(1));
    drop(fut);
    assert_eq!(rb.take(), Some(7));
    assert_eq!((inner(&a).waiter_count(), inner(&b).waiter_count()), (0, 0));
    assert!(a.try_send(9).is_err(), "paired with a dead waiter");
}
