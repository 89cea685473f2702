//! Loom models of the two protocols that must never lose a value: the unbuffered handoff with
//! a receiver cancelled at any moment, and `select!`'s claim cell.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::task::noop_waker;

use super::chan as make;
use super::select::{recv_case, select, send_case};
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
