//! Loom models of the protocols that must never lose a value or a wake-up: the unbuffered
//! handoff with a receiver cancelled at any moment, `select!`'s claim cell and its `default`,
//! and the wake-up accounting of buffered channels with several receivers. They run the real
//! channel code (its lock and atomics come from `crate::loom`); a lost wake-up shows as a
//! deadlock that loom reports.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::task::noop_waker;

use super::chan as make;
use super::select::select;
use super::select_case::{recv_case, send_case};
use super::TryRecvError;
use crate::loom::thread;

/// Drives `f` on the current loom thread, parking between polls (loom's own `block_on` needs
/// a loom feature the crate does not enable).
fn block_on<F: Future + Unpin>(mut f: F) -> F::Output {
    struct Unpark(crate::loom::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let w = std::task::Waker::from(std::sync::Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&w);
    loop {
        if let Poll::Ready(v) = Pin::new(&mut f).poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    Pin::new(f).poll(&mut cx)
}

/// A non-blocking send hands its value to a parked receiver whose future is dropped
/// concurrently: the value must come back to the channel (exactly once).
#[test]
fn handed_value_survives_cancelled_receiver() {
    crate::loom::model(|| {
        let c = make::<u32>(0);
        let c2 = c.clone();
        let mut fut = c.recv();
        assert!(poll_once(&mut fut).is_pending());
        let t = thread::spawn(move || c2.try_send(1).is_ok());
        drop(fut);
        let sent = t.join().unwrap();
        if sent {
            assert_eq!(c.try_recv(), Ok(1));
        }
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    });
}

/// A blocking send on an unbuffered channel, a receiver notified and then dropped, and a
/// second receiver: the second gets the value, the send completes, nothing is duplicated.
#[test]
fn rendezvous_with_cancelled_receiver() {
    crate::loom::model(|| {
        let c = make::<u32>(0);
        let c2 = c.clone();
        let mut fut = c.recv();
        let first = poll_once(&mut fut);
        let t = thread::spawn(move || block_on(c2.send(1)).is_ok());
        let got = match first {
            Poll::Ready(v) => v,
            Poll::Pending => {
                // Maybe notified, maybe not: cancel, then receive for real.
                drop(fut);
                block_on(c.recv())
            }
        };
        assert_eq!(got, Some(1));
        assert!(t.join().unwrap());
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    });
}

/// A registered select over `recv(a)` and `send(b, 7)` while one thread try-sends on `a` and
/// another try-receives on `b`: at most one of them succeeds, and the select reports exactly
/// that case.
#[test]
fn select_claim_is_exclusive() {
    crate::loom::model(|| {
        let a = make::<u32>(0);
        let b = make::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let mut rc = recv_case(&a);
        let mut sc = send_case(&b, 7);
        let mut fut = select([&mut rc, &mut sc], false);
        assert!(poll_once(&mut fut).is_pending());
        let t1 = thread::spawn(move || a2.try_send(1).is_ok());
        let t2 = thread::spawn(move || b2.try_recv());
        let sent_a = t1.join().unwrap();
        let got_b = t2.join().unwrap();
        assert!(!(sent_a && got_b.is_ok()), "two select cases completed");
        match poll_once(&mut fut) {
            Poll::Ready(0) => assert!(sent_a),
            Poll::Ready(1) => assert_eq!(got_b, Ok(7)),
            Poll::Ready(i) => panic!("bad case {i}"),
            Poll::Pending => assert!(!sent_a && got_b.is_err()),
        }
        drop(fut);
        if sent_a {
            assert_eq!(rc.take(), Some(1));
        }
    });
}

/// The select is dropped while another thread hands a value to its receive case: the value
/// goes back to the channel.
#[test]
fn dropped_select_returns_handed_value() {
    crate::loom::model(|| {
        let a = make::<u32>(0);
        let a2 = a.clone();
        let nil = super::Chan::<u32>::nil();
        let mut rc = recv_case(&a);
        let mut rn = recv_case(&nil);
        let mut fut = select([&mut rc, &mut rn], false);
        assert!(poll_once(&mut fut).is_pending());
        let t = thread::spawn(move || a2.try_send(1).is_ok());
        drop(fut);
        drop(rc);
        let sent = t.join().unwrap();
        if sent {
            assert_eq!(a.try_recv(), Ok(1));
        }
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Two receivers wait; a blocking send notifies one, which is dropped at any moment: the
/// other must still get the value (the wake-up is passed on), and the send must complete.
#[test]
fn notification_is_passed_on_by_a_dropped_receiver() {
    crate::loom::model(|| {
        let c = make::<u32>(0);
        let (c2, c3) = (c.clone(), c.clone());
        let mut r1 = c.recv();
        assert!(poll_once(&mut r1).is_pending());
        let other = thread::spawn(move || block_on(c3.recv()));
        let sender = thread::spawn(move || block_on(c2.send(1)).is_ok());
        match poll_once(&mut r1) {
            Poll::Ready(v) => {
                // r1 got it; unblock the other receiver.
                assert_eq!(v, Some(1));
                c.close();
                assert_eq!(other.join().unwrap(), None);
            }
            Poll::Pending => {
                drop(r1);
                assert_eq!(other.join().unwrap(), Some(1));
            }
        }
        assert!(sender.join().unwrap());
    });
}

/// Capacity 1, two receivers and one sender of two values: the second send parks on the full
/// buffer, and a receiver that moves it into the buffer must leave a wake-up for the other
/// receiver (every interleaving; a lost one is a deadlock loom reports).
#[test]
fn buffered_one_slot_two_receivers_one_sender() {
    crate::loom::model(|| {
        let c = make::<u32>(1);
        let (c1, c2) = (c.clone(), c.clone());
        let r1 = thread::spawn(move || block_on(c1.recv()));
        let r2 = thread::spawn(move || block_on(c2.recv()));
        block_on(c.send(0)).unwrap();
        block_on(c.send(1)).unwrap();
        let mut got = [r1.join().unwrap(), r2.join().unwrap()];
        got.sort();
        assert_eq!(got, [Some(0), Some(1)]);
    });
}

/// Unbuffered: a non-blocking send may hand its value to a receiver that is then dropped,
/// while a blocking sender parks and another receiver waits. The handed value comes back,
/// and every value reaches a receiver (nobody is left asleep).
#[test]
fn handed_value_returned_with_a_parked_sender() {
    crate::loom::model(|| {
        let c = make::<u32>(0);
        let (c1, c2, c3) = (c.clone(), c.clone(), c.clone());
        let mut r0 = c.recv();
        assert!(poll_once(&mut r0).is_pending());
        let t1 = thread::spawn(move || c1.try_send(1).is_ok());
        let t2 = thread::spawn(move || block_on(c2.send(2)).is_ok());
        let r = thread::spawn(move || block_on(c3.recv()));
        drop(r0);
        let mut got = vec![];
        if t1.join().unwrap() {
            got.push(block_on(c.recv()));
        }
        got.push(r.join().unwrap());
        assert!(t2.join().unwrap());
        got.sort();
        assert!(got == [Some(2)] || got == [Some(1), Some(2)], "{got:?}");
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Go's `TestNonblockSelectRace2`: one of two buffered channels always holds a value (the
/// other thread fills `c2` before it drains `c1`), so a `select!` with `default` over both
/// must never take `default`, whatever the order of its looks.
#[test]
fn select_default_only_when_no_case_was_ready() {
    crate::loom::model(|| {
        let c1 = make::<u32>(1);
        let c2 = make::<u32>(1);
        c1.try_send(1).unwrap();
        let (d1, d2) = (c1.clone(), c2.clone());
        let t = thread::spawn(move || {
            d2.try_send(2).unwrap();
            let _ = d1.try_recv();
        });
        let mut r1 = recv_case(&c1);
        let mut r2 = recv_case(&c2);
        let mut fut = select([&mut r1, &mut r2], true);
        let got = poll_once(&mut fut);
        assert!(
            matches!(got, Poll::Ready(0) | Poll::Ready(1)),
            "default taken though a case was ready at every instant: {got:?}"
        );
        drop(fut);
        t.join().unwrap();
    });
}

/// The readiness hint (`select.rs`): a select without `default` over two tracked, idle
/// buffered channels while another thread sends on the second. Pass 1 reads that channel's
/// hint (a relaxed load: loom lets it see a stale one) and may pass it over, but the select
/// must still complete: pass 2 looks under the lock, and a send after that registration
/// notifies it. A value lost to a stale hint shows as a deadlock.
#[test]
fn select_hint_never_hides_a_value() {
    crate::loom::model(|| {
        let a = make::<u32>(1);
        let b = make::<u32>(1);
        {
            // Tracks both channels: from here on every release keeps their hint.
            let (mut ra, mut rb) = (recv_case(&a), recv_case(&b));
            let mut fut = select([&mut ra, &mut rb], false);
            assert!(poll_once(&mut fut).is_pending());
        }
        let b2 = b.clone();
        let t = thread::spawn(move || b2.try_send(2).unwrap());
        let (mut ra, mut rb) = (recv_case(&a), recv_case(&b));
        assert_eq!(block_on(select([&mut ra, &mut rb], false)), 1);
        assert_eq!(rb.take(), Some(2));
        t.join().unwrap();
    });
}

/// A waker that counts its calls (loom's atomics, so the model sees the accesses).
fn counting_waker() -> (std::task::Waker, std::sync::Arc<CountWake>) {
    let c = std::sync::Arc::new(CountWake(crate::loom::sync::atomic::AtomicUsize::new(0)));
    (std::task::Waker::from(c.clone()), c)
}

struct CountWake(crate::loom::sync::atomic::AtomicUsize);

impl CountWake {
    fn count(&self) -> usize {
        self.0.load(crate::loom::sync::atomic::Ordering::SeqCst)
    }
}

impl std::task::Wake for CountWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0
            .fetch_add(1, crate::loom::sync::atomic::Ordering::SeqCst);
    }
}

fn poll_with<F: Future + Unpin>(f: &mut F, w: &std::task::Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(w))
}

/// The select's one waker (in its cell) is replaced by a re-poll from another task (waker B)
/// while a channel wakes the select: by completing a case (`complete`: an unbuffered
/// `try_send` hands the value to a receive case, claiming the cell) or by notifying it
/// (`notify`: a buffered send marks the cell woken). Either the re-poll sees the case, or B
/// is woken: a select left pending with a value for it and B never called is a lost wake-up.
fn select_waker_replaced_while_woken(cap: usize) {
    crate::loom::model(move || {
        let a = make::<u32>(cap);
        let b = make::<u32>(0);
        let a2 = a.clone();
        let mut ra = recv_case(&a);
        let mut rb = recv_case(&b);
        let mut fut = select([&mut ra, &mut rb], false);
        let (wa, _ca) = counting_waker();
        assert!(poll_with(&mut fut, &wa).is_pending());
        let t = thread::spawn(move || a2.try_send(1).is_ok());
        let (wb, cb) = counting_waker();
        let r = poll_with(&mut fut, &wb);
        let sent = t.join().unwrap();
        assert!(sent, "the channel had room or a registered receiver");
        match r {
            Poll::Ready(0) => {}
            Poll::Ready(i) => panic!("bad case {i}"),
            Poll::Pending => {
                assert!(
                    cb.count() > 0,
                    "lost wake-up: the select is pending with a value for it, and the waker \
                     of its last poll was not called"
                );
                assert!(matches!(poll_with(&mut fut, &wb), Poll::Ready(0)));
            }
        }
        drop(fut);
        assert_eq!(ra.take(), Some(1));
    });
}

#[test]
fn select_waker_replaced_while_a_channel_completes_it() {
    select_waker_replaced_while_woken(0);
}

#[test]
fn select_waker_replaced_while_a_channel_notifies_it() {
    select_waker_replaced_while_woken(1);
}
