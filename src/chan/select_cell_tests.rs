//! The claim cell's lifetime (`select.rs`, "Who keeps the cell alive"): case waiters name the
//! cell with a plain pointer, so every waiter must be gone before the select lets the cell
//! go, even when a poll unwinds halfway (a waker that panics) or the select is leaked.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::Stream;
use tokio_test::assert_pending;
use tokio_test::task::{spawn, Spawn};

use super::chan::Inner;
use super::handles::{chan, Chan};
use super::select::select;
use super::select_case::{recv_case, send_case};

fn poll_in<F: Future + Unpin>(t: &mut Spawn<()>, fut: &mut F) -> Poll<F::Output> {
    t.enter(|cx, _| Pin::new(fut).poll(cx))
}

fn inner(c: &Chan<u32>) -> &Inner<u32> {
    c.inner().expect("not a nil channel")
}

struct Boom;

impl Wake for Boom {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics");
    }
}

/// A send case registering on an unbuffered channel notifies the receivers queued there; one
/// of them (a stream poll, which does not count as a receiver for the send's readiness) has a
/// waker that panics. The panic unwinds out of the select's poll after the send case's waiter
/// was queued, with `registered` still false. The case must own that waiter (its key stored
/// before the waker call) and the select's drop must withdraw it, or a waiter naming a freed
/// cell would stay in the channel.
#[test]
fn a_poll_that_unwinds_while_registering_leaves_no_waiter_behind() {
    let (c, d) = (chan::<u32>(0), chan::<u32>(0));
    let mut rx = c.receiver();
    let boom = Waker::from(Arc::new(Boom));
    assert!(Pin::new(&mut rx)
        .poll_next(&mut Context::from_waker(&boom))
        .is_pending());
    assert_eq!(inner(&c).waiter_count(), 1);
    let (mut sc, mut rd) = (send_case(&c, 7), recv_case(&d));
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        let mut fut = select([&mut sc, &mut rd], false);
        let _ = poll_in(&mut spawn(()), &mut fut);
    }));
    assert!(unwound.is_err(), "the stream's waker was called");
    assert_eq!(
        (inner(&c).waiter_count(), inner(&d).waiter_count()),
        (1, 0),
        "the select left a waiter behind (only the stream's may remain)"
    );
}

/// A leaked select (`mem::forget`) leaks its cell, which its waiters still name: a sender
/// notifies a case through it, and the cases, dropped later, withdraw their waiters.
#[test]
fn a_leaked_select_keeps_its_cell_and_its_cases_withdraw() {
    let (a, b) = (chan::<u32>(0), chan::<u32>(0));
    let (mut ra, mut rb) = (recv_case(&a), recv_case(&b));
    let mut fut = select([&mut ra, &mut rb], false);
    let mut t = spawn(());
    assert_pending!(poll_in(&mut t, &mut fut));
    std::mem::forget(fut);
    let mut s = spawn(a.send(1));
    assert_pending!(s.poll());
    assert!(
        t.is_woken(),
        "the sender notified the leaked select through its cell"
    );
    drop(ra);
    drop(rb);
    assert_eq!(
        (inner(&a).waiter_count(), inner(&b).waiter_count()),
        (1, 0),
        "only the parked sender remains"
    );
    assert_eq!(a.try_recv(), Ok(1));
    assert!(s.is_woken());
    assert_eq!(s.poll(), Poll::Ready(Ok(())));
}
