//! Cancel safety of the plain send/recv futures, and the futures Stream/Sink adapters.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::noop_waker;
use futures::{SinkExt, StreamExt};
use gorun::chan::{chan, SendError, TryRecvError};

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let w = noop_waker();
    Pin::new(f).poll(&mut Context::from_waker(&w))
}

#[test]
fn dropped_pending_send_withdraws_its_value() {
    let c = chan::<u32>(0);
    let mut s = c.send(1);
    assert!(poll_once(&mut s).is_pending());
    drop(s);
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    let mut s2 = c.send(2);
    assert!(poll_once(&mut s2).is_pending());
    assert_eq!(c.try_recv(), Ok(2), "a receiver takes from a parked sender");
    assert_eq!(poll_once(&mut s2), Poll::Ready(Ok(())));
}

#[test]
fn unbuffered_send_is_not_complete_until_taken() {
    let c = chan::<u32>(0);
    let mut r = c.recv();
    assert!(poll_once(&mut r).is_pending());
    let mut s = c.send(1);
    assert!(
        poll_once(&mut s).is_pending(),
        "a parked receiver has not taken it yet"
    );
    assert_eq!(poll_once(&mut r), Poll::Ready(Some(1)));
    assert_eq!(poll_once(&mut s), Poll::Ready(Ok(())));
}

#[test]
fn dropped_notified_receiver_passes_the_wakeup_on() {
    let c = chan::<u32>(0);
    let mut r1 = c.recv();
    let mut r2 = c.recv();
    assert!(poll_once(&mut r1).is_pending());
    assert!(poll_once(&mut r2).is_pending());
    let mut s = c.send(5);
    assert!(poll_once(&mut s).is_pending());
    drop(r1); // it was the one notified
    assert_eq!(poll_once(&mut r2), Poll::Ready(Some(5)));
    assert_eq!(poll_once(&mut s), Poll::Ready(Ok(())));
}

#[test]
fn value_handed_to_a_dropped_receiver_goes_back_to_the_front() {
    let c = chan::<u32>(0);
    let mut r1 = c.recv();
    assert!(poll_once(&mut r1).is_pending());
    c.try_send(1).unwrap(); // handed to r1
    let mut s = c.send(2); // parks behind it
    assert!(poll_once(&mut s).is_pending());
    drop(r1);
    assert_eq!(c.try_recv(), Ok(1), "the handed value comes first");
    assert_eq!(c.try_recv(), Ok(2));
    assert_eq!(poll_once(&mut s), Poll::Ready(Ok(())));
}

#[test]
fn value_handed_to_a_dropped_receiver_goes_to_the_next_receiver() {
    let c = chan::<u32>(0);
    let mut r1 = c.recv();
    let mut r2 = c.recv();
    assert!(poll_once(&mut r1).is_pending());
    assert!(poll_once(&mut r2).is_pending());
    c.try_send(1).unwrap();
    drop(r1);
    assert_eq!(poll_once(&mut r2), Poll::Ready(Some(1)));
}

#[test]
fn nothing_overtakes_a_handed_value() {
    let c = chan::<u32>(0);
    let mut r1 = c.recv();
    assert!(poll_once(&mut r1).is_pending());
    c.try_send(1).unwrap();
    let mut s = c.send(2);
    assert!(poll_once(&mut s).is_pending());
    // While 1 is in flight to r1, nobody may receive 2.
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    assert!(c.try_send(3).is_err());
    assert_eq!(poll_once(&mut r1), Poll::Ready(Some(1)));
    assert_eq!(c.try_recv(), Ok(2));
}

#[test]
fn close_does_not_return_none_before_a_handed_value() {
    let c = chan::<u32>(0);
    let mut r1 = c.recv();
    assert!(poll_once(&mut r1).is_pending());
    c.try_send(1).unwrap();
    c.close();
    let mut r2 = c.recv();
    assert!(
        poll_once(&mut r2).is_pending(),
        "1 may still come back to the channel"
    );
    drop(r1);
    assert_eq!(poll_once(&mut r2), Poll::Ready(Some(1)));
    assert_eq!(c.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn pending_sends_fail_with_their_value_on_close() {
    let c = chan::<u32>(1);
    c.try_send(0).unwrap();
    let mut s = c.send(1);
    assert!(poll_once(&mut s).is_pending());
    c.close();
    assert_eq!(poll_once(&mut s), Poll::Ready(Err(SendError(1))));
    assert_eq!(c.try_recv(), Ok(0));
    assert_eq!(c.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn receiver_is_a_stream_and_sender_a_sink() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let c = chan::<u32>(0);
            let mut tx = c.sender();
            let rx = c.receiver();
            let consumer = tokio::spawn(async move { rx.collect::<Vec<_>>().await });
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
            tx.flush().await.unwrap();
            c.close();
            assert_eq!(consumer.await.unwrap(), (0..100).collect::<Vec<_>>());
            assert_eq!(tx.send(7).await, Err(SendError(7)));
        })
        .await
        .expect("timed out")
    });
}
