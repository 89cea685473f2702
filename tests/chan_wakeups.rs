//! Lost wake-ups, checked at the waker level: each test parks receivers and senders on mock
//! tasks (`tokio_test::task::spawn`), makes a value available, and asserts that the waker of
//! the task that must now run was *called* (`is_woken`). Polling that task again would hide a
//! lost wake-up, so a waiter is only polled after its wake-up was checked.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::task::noop_waker;
use futures::StreamExt;
use gorun::chan::{chan, TryRecvError};
use tokio_test::task::spawn;

mod common;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

/// Capacity 1, two parked receivers, then two sends: the second send parks on the full
/// buffer. The first receiver takes the head and moves the parked sender's value into the
/// buffer: the second receiver must be woken for it (Go's `TestChan` hung on this).
#[test]
fn buffered_two_receivers_second_send_parked_wakes_second_receiver() {
    let c = chan::<u32>(1);
    let mut r1 = spawn(c.recv());
    let mut r2 = spawn(c.recv());
    assert_pending!(r1.poll());
    assert_pending!(r2.poll());
    c.try_send(0).unwrap();
    let mut s1 = spawn(c.send(1));
    assert_pending!(s1.poll());
    assert!(r1.is_woken(), "the first arrival wakes the first receiver");
    assert_ready_eq!(r1.poll(), Some(0));
    assert!(
        s1.is_woken(),
        "the parked sender's value moved into the buffer"
    );
    assert!(
        r2.is_woken(),
        "a value is in the buffer: the second receiver must be woken"
    );
    assert_ready_eq!(r2.poll(), Some(1));
    assert_ready!(s1.poll()).unwrap();
}

/// The same with blocking sends only (both park behind a full buffer of capacity 1) and three
/// receivers, one of which takes values without having queued.
#[test]
fn buffered_every_available_value_has_a_woken_receiver() {
    let c = chan::<u32>(1);
    let mut rs: Vec<_> = (0..3).map(|_| spawn(c.recv())).collect();
    for r in &mut rs {
        assert_pending!(r.poll());
    }
    let mut ss: Vec<_> = (0..3).map(|i| spawn(c.send(i))).collect();
    assert_ready!(ss[0].poll()).unwrap();
    assert_pending!(ss[1].poll());
    assert_pending!(ss[2].poll());
    let mut got = Vec::new();
    // Whatever order they run in, each receiver that is polled must have been woken, and all
    // three values arrive.
    for r in &mut rs {
        assert!(
            r.is_woken(),
            "a receiver was left asleep with values available"
        );
        got.push(assert_ready!(r.poll()).unwrap());
    }
    assert_eq!(got, vec![0, 1, 2]);
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
}

/// Unbuffered: a non-blocking send hands a value to receiver R0; two blocking senders park
/// meanwhile (while the handed value is in flight they notify nobody). When R0 takes its
/// value, R1 is woken and pairs with S1; then R2 must be woken to pair with S2.
#[test]
fn unbuffered_senders_parked_behind_a_handed_value_wake_every_receiver() {
    let c = chan::<u32>(0);
    let mut r0 = spawn(c.recv());
    let mut r1 = spawn(c.recv());
    let mut r2 = spawn(c.recv());
    assert_pending!(r0.poll());
    assert_pending!(r1.poll());
    assert_pending!(r2.poll());
    c.try_send(10).unwrap();
    let mut s1 = spawn(c.send(11));
    let mut s2 = spawn(c.send(12));
    assert_pending!(s1.poll());
    assert_pending!(s2.poll());
    assert!(r0.is_woken());
    assert_ready_eq!(r0.poll(), Some(10));
    assert!(r1.is_woken(), "S1's value is available");
    assert_ready_eq!(r1.poll(), Some(11));
    assert!(r2.is_woken(), "S2's value is available");
    assert_ready_eq!(r2.poll(), Some(12));
    assert_ready!(s1.poll()).unwrap();
    assert_ready!(s2.poll()).unwrap();
}

/// A handed value returned by a dropped receiver to the front of the channel, with senders
/// parked behind it: every later receiver gets a value without being left asleep.
#[test]
fn unbuffered_returned_handed_value_and_parked_senders_wake_every_receiver() {
    let c = chan::<u32>(0);
    let mut r0 = spawn(c.recv());
    assert_pending!(r0.poll());
    c.try_send(10).unwrap();
    let mut s1 = spawn(c.send(11));
    let mut s2 = spawn(c.send(12));
    assert_pending!(s1.poll());
    assert_pending!(s2.poll());
    let mut r1 = spawn(c.recv());
    let mut r2 = spawn(c.recv());
    let mut r3 = spawn(c.recv());
    assert_pending!(r1.poll(), "the handed value is in flight");
    assert_pending!(r2.poll());
    assert_pending!(r3.poll());
    drop(r0);
    let mut got = Vec::new();
    for r in [&mut r1, &mut r2, &mut r3] {
        assert!(
            r.is_woken(),
            "a receiver was left asleep with values available"
        );
        got.push(assert_ready!(r.poll()).unwrap());
    }
    assert_eq!(got, vec![10, 11, 12]);
}

/// Go's `len` of an unbuffered channel is always 0, also after a handed value came back.
#[test]
fn unbuffered_len_is_zero_after_a_handed_value_is_returned() {
    let c = chan::<u32>(0);
    let mut r0 = spawn(c.recv());
    assert_pending!(r0.poll());
    c.try_send(1).unwrap();
    drop(r0);
    assert_eq!(c.len(), 0);
    assert_eq!(c.try_recv(), Ok(1), "the value is still there");
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let w = noop_waker();
    Pin::new(f).poll(&mut Context::from_waker(&w))
}

/// A `Receiver` used as a `Stream` whose `next()` was cancelled (e.g. lost a
/// `tokio::select!`) keeps its waiter, since the stream does not learn of the cancellation.
/// That waiter must neither swallow a handed value (stalling an unbuffered channel) nor absorb
/// the one notification meant for a receiver that is really waiting.
#[test]
fn an_abandoned_stream_poll_stalls_nobody_unbuffered() {
    let c = chan::<u32>(0);
    let mut rx = c.receiver();
    assert!(poll_once(&mut rx.next()).is_pending());
    let mut r = spawn(c.recv());
    assert_pending!(r.poll());
    c.try_send(1).unwrap();
    assert!(r.is_woken(), "the waiting receive gets the handed value");
    assert_ready_eq!(r.poll(), Some(1));
    // A blocking send pairs with a real receiver too.
    let mut r = spawn(c.recv());
    assert_pending!(r.poll());
    let mut s = spawn(c.send(2));
    assert_pending!(s.poll());
    assert!(r.is_woken());
    assert_ready_eq!(r.poll(), Some(2));
    assert_ready!(s.poll()).unwrap();
    // The stream still works when polled again.
    let mut s = spawn(c.send(3));
    assert_pending!(s.poll());
    assert_eq!(poll_once(&mut rx.next()), Poll::Ready(Some(3)));
    assert_ready!(s.poll()).unwrap();
}

#[test]
fn an_abandoned_stream_poll_stalls_nobody_buffered() {
    let c = chan::<u32>(2);
    let mut rx = c.receiver();
    assert!(poll_once(&mut rx.next()).is_pending());
    let mut r = spawn(c.recv());
    assert_pending!(r.poll());
    c.try_send(1).unwrap();
    assert!(
        r.is_woken(),
        "the notification is not absorbed by the stream's waiter"
    );
    assert_ready_eq!(r.poll(), Some(1));
}

/// The cooperative budget is spent only by operations that complete: a future polling
/// hundreds of pending receives in one poll (`select_all`) must neither spin nor starve the
/// receives past the budget.
#[test]
fn select_all_over_more_receives_than_the_budget_sees_every_one() {
    let _w = common::watchdog(
        "select_all_over_more_receives_than_the_budget_sees_every_one",
        60,
    );
    let rt = gorun::runtime::Builder::new().workers(1).build().unwrap();
    let chans: Vec<_> = (0..300).map(|_| chan::<usize>(0)).collect();
    let cs = chans.clone();
    let got = rt.block_on(async move {
        let h = gorun::go(async move {
            let futs: Vec<_> = cs.iter().map(|c| Box::pin(c.recv())).collect();
            let (v, i, _) = futures::future::select_all(futs).await;
            (v, i)
        });
        // Let the selector block first (one worker: it runs when this goroutine yields).
        for _ in 0..10 {
            gorun::yield_now().await;
        }
        chans[250].send(7).await.unwrap();
        h.await.unwrap()
    });
    assert_eq!(got, (Some(7), 250));
}

/// A registered `select!` polled again although none of its cases was touched (an enclosing
/// `join!` polls it whenever its sibling is woken) keeps its place in every queue: it is not
/// overtaken by a receiver that queued after it.
#[test]
fn a_registered_select_polled_again_keeps_its_place() {
    let c = chan::<u32>(0);
    let other = chan::<u32>(0);
    let mut sel = spawn(async {
        gorun::select! {
            recv(c) -> v => v,
            recv(other) -> v => v.map(|x| x + 100),
        }
    });
    assert_pending!(sel.poll());
    let mut r2 = spawn(c.recv());
    assert_pending!(r2.poll());
    // A spurious poll, as from a `join!` whose other branch was woken.
    assert_pending!(sel.poll());
    c.try_send(1).unwrap();
    assert!(
        sel.is_woken(),
        "the select queued first, so it is handed the value"
    );
    assert!(!r2.is_woken());
    assert_ready_eq!(sel.poll(), Some(1));
    // Once the select is gone the plain receiver is next.
    let mut s = spawn(c.send(2));
    assert_pending!(s.poll());
    assert!(r2.is_woken());
    assert_ready_eq!(r2.poll(), Some(2));
}

/// Polls `fut` once in mock task `t` (so that one future can be polled by several tasks, as a
/// select moved between tasks is).
fn poll_in<F: Future + Unpin>(t: &mut tokio_test::task::Spawn<()>, fut: &mut F) -> Poll<F::Output> {
    t.enter(|cx, _| Pin::new(fut).poll(cx))
}

/// A blocked `select!` holds one waker, however many cases it has (the waiters of its cases
/// share it through the select's cell), and a re-poll from another task (the select future
/// moved) replaces it: a send on one of its channels then wakes the new task.
#[test]
fn a_select_moved_to_another_task_is_woken_there() {
    let a = chan::<u32>(0);
    let b = chan::<u32>(0);
    let c = chan::<u32>(0);
    let mut fut = Box::pin(async {
        gorun::select! {
            recv(a) -> v => v,
            recv(b) -> v => v.map(|x| x + 100),
            send(c, 7) -> r => r.ok().map(|()| 200),
        }
    });
    let mut ta = spawn(());
    let mut tb = spawn(());
    assert_pending!(poll_in(&mut ta, &mut fut));
    // The task's own reference plus the select's one clone: not one per case.
    assert_eq!(ta.waker_ref_count(), 2, "one waker per blocked select");
    // Re-polled by another task without any wake-up (a spurious poll after a move).
    assert_pending!(poll_in(&mut tb, &mut fut));
    assert_eq!(
        tb.waker_ref_count(),
        2,
        "the select now holds the new task's waker"
    );
    assert_eq!(ta.waker_ref_count(), 1, "and no longer the old one");
    a.try_send(1).unwrap();
    assert!(
        tb.is_woken(),
        "the send must wake the task that polled last"
    );
    assert!(!ta.is_woken());
    assert_ready_eq!(poll_in(&mut tb, &mut fut), Some(1));
}

/// A select woken for real (notified by a buffered send) in task A, whose value is then stolen
/// by a plain receive; re-polled in task B it finds nothing and blocks again. Its channels'
/// next wake-up (a notification, a completion by a receiver taking its send value, or a
/// close) must wake B, though A's waker was spent by the first wake-up.
#[test]
fn a_select_woken_then_blocked_again_in_another_task_is_woken_there() {
    for how in ["notify", "complete", "close"] {
        let a = chan::<u32>(1);
        let c = chan::<u32>(0);
        let mut fut = Box::pin(async {
            gorun::select! {
                recv(a) -> v => v,
                send(c, 7) -> r => r.ok().map(|()| 200),
            }
        });
        let mut ta = spawn(());
        let mut tb = spawn(());
        assert_pending!(poll_in(&mut ta, &mut fut));
        a.try_send(1).unwrap();
        assert!(ta.is_woken(), "{how}: a buffered send notifies the select");
        ta.enter(|_, _| ()); // clears A's woken flag
        assert_eq!(
            a.try_recv(),
            Ok(1),
            "{how}: a plain receive steals the value"
        );
        assert_pending!(poll_in(&mut tb, &mut fut));
        match how {
            "notify" => a.try_send(2).unwrap(),
            "complete" => assert_eq!(c.try_recv(), Ok(7)),
            _ => a.close(),
        }
        assert!(
            tb.is_woken(),
            "{how}: the wake-up must reach the task that polled last"
        );
        assert!(!ta.is_woken(), "{how}");
        let want = match how {
            "notify" => Some(2),
            "complete" => Some(200),
            _ => None,
        };
        assert_ready_eq!(poll_in(&mut tb, &mut fut), want, "{how}");
    }
}

/// On a gorun worker a `select!` without `default` that finds nothing ready yields once
/// before it blocks: its first poll wakes its own task and queues no waiter (an unbuffered
/// `try_send` finds no receiver), its second registers (the send then completes it). Off a
/// worker (every other test here) it blocks on the first poll.
#[test]
fn on_a_worker_a_select_yields_once_before_it_blocks() {
    let rt = gorun::runtime::Builder::new().workers(1).build().unwrap();
    let _w = common::watchdog("on_a_worker_a_select_yields_once_before_it_blocks", 60);
    rt.block_on(async {
        gorun::go(async {
            let a = chan::<u32>(0);
            let b = chan::<u32>(0);
            let mut sel = spawn(async {
                gorun::select! {
                    recv(a) -> v => v,
                    recv(b) -> v => v.map(|x| x + 100),
                }
            });
            assert_pending!(sel.poll());
            assert!(sel.is_woken(), "the select yielded");
            assert!(a.try_send(1).is_err(), "the yield registered nothing");
            assert_pending!(sel.poll());
            assert!(!sel.is_woken(), "the second poll blocked");
            a.try_send(1).unwrap();
            assert!(sel.is_woken());
            assert_ready_eq!(sel.poll(), Some(1));

            // A value that arrives during the yield is taken by the second poll's pass 1.
            let c = chan::<u32>(1);
            let mut sel = spawn(async {
                gorun::select! {
                    recv(c) -> v => v,
                    recv(b) -> v => v,
                }
            });
            assert_pending!(sel.poll());
            assert!(sel.is_woken(), "the select yielded");
            c.try_send(5).unwrap();
            assert_ready_eq!(sel.poll(), Some(5));
        })
        .await
        .unwrap();
    });
}
