//! Basic channel semantics: buffering, FIFO, rendezvous, close, try_*, len/cap, nil.

use std::time::Duration;

use gorun::chan::{chan, Chan, SendError, TryRecvError, TrySendError};

fn watchdog<R>(secs: u64, f: impl std::future::Future<Output = R>) -> R {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(secs), f)
            .await
            .expect("test timed out")
    })
}

#[test]
fn buffered_channel_is_fifo() {
    let c = chan::<u32>(8);
    for i in 0..8 {
        c.try_send(i).unwrap();
    }
    assert_eq!(c.len(), 8);
    assert_eq!(c.try_send(99), Err(TrySendError::Full(99)));
    for i in 0..8 {
        assert_eq!(c.try_recv(), Ok(i));
    }
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn len_and_cap_follow_go() {
    let c = chan::<u8>(3);
    assert_eq!((c.len(), c.cap()), (0, 3));
    c.try_send(1).unwrap();
    assert_eq!((c.len(), c.cap()), (1, 3));
    let u = chan::<u8>(0);
    assert_eq!((u.len(), u.cap()), (0, 0));
}

#[test]
fn unbuffered_try_send_fails_without_waiting_receiver() {
    let c = chan::<u8>(0);
    assert_eq!(c.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn unbuffered_try_send_succeeds_with_waiting_receiver() {
    watchdog(10, async {
        let c = chan::<u8>(0);
        let c2 = c.clone();
        let r = tokio::spawn(async move { c2.recv().await });
        // Wait until the receiver is parked.
        loop {
            match c.try_send(7) {
                Ok(()) => break,
                Err(TrySendError::Full(_)) => tokio::time::sleep(Duration::from_millis(1)).await,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(r.await.unwrap(), Some(7));
    });
}

#[test]
fn unbuffered_send_completes_only_when_received() {
    watchdog(10, async {
        let c = chan::<u32>(0);
        let c2 = c.clone();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = sent.clone();
        let t = tokio::spawn(async move {
            c2.send(5).await.unwrap();
            s2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !sent.load(std::sync::atomic::Ordering::SeqCst),
            "send completed with no receiver"
        );
        assert_eq!(c.len(), 0);
        assert_eq!(c.recv().await, Some(5));
        t.await.unwrap();
        assert!(sent.load(std::sync::atomic::Ordering::SeqCst));
    });
}

#[test]
fn close_lets_receivers_drain_then_none() {
    let c = chan::<u32>(4);
    c.try_send(1).unwrap();
    c.try_send(2).unwrap();
    c.close();
    assert!(c.is_closed());
    assert_eq!(c.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(c.try_recv(), Ok(1));
    assert_eq!(futures::executor::block_on(c.recv()), Some(2));
    assert_eq!(futures::executor::block_on(c.recv()), None);
    assert_eq!(c.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn send_on_closed_returns_value() {
    let c = chan::<String>(0);
    c.close();
    let e = futures::executor::block_on(c.send("x".to_string())).unwrap_err();
    assert_eq!(e, SendError("x".to_string()));
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn second_close_panics() {
    let c = chan::<u8>(1);
    c.close();
    c.sender().close();
}

#[test]
#[should_panic(expected = "close of nil channel")]
fn close_of_nil_panics() {
    Chan::<u8>::nil().close();
}

#[test]
fn close_wakes_blocked_receivers_and_senders() {
    watchdog(10, async {
        let r = chan::<u32>(0);
        let s = chan::<u32>(0);
        let mut tasks = vec![];
        for _ in 0..3 {
            let r = r.clone();
            tasks.push(tokio::spawn(
                async move { assert_eq!(r.recv().await, None) },
            ));
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                assert_eq!(s.send(9).await, Err(SendError(9)));
            }));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        r.close();
        s.close();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn nil_channel_is_never_ready() {
    let c = Chan::<u8>::nil();
    assert!(c.is_nil());
    assert_eq!(c.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    assert!(!c.is_closed());
    watchdog(5, async {
        let r = tokio::time::timeout(Duration::from_millis(30), c.recv()).await;
        assert!(r.is_err());
        let s = tokio::time::timeout(Duration::from_millis(30), c.send(1)).await;
        assert!(s.is_err());
    });
}

#[test]
fn blocked_senders_fill_buffer_in_order() {
    watchdog(10, async {
        let c = chan::<u32>(1);
        c.send(0).await.unwrap();
        let c2 = c.clone();
        let t = tokio::spawn(async move {
            for i in 1..100 {
                c2.send(i).await.unwrap();
            }
        });
        for i in 0..100 {
            assert_eq!(c.recv().await, Some(i));
        }
        t.await.unwrap();
    });
}

#[test]
fn buffered_values_are_dropped_with_last_handle() {
    let token = std::sync::Arc::new(());
    let c = chan::<std::sync::Arc<()>>(4);
    c.try_send(token.clone()).unwrap();
    c.try_send(token.clone()).unwrap();
    let r = c.receiver();
    drop(c);
    assert_eq!(std::sync::Arc::strong_count(&token), 3);
    drop(r);
    assert_eq!(std::sync::Arc::strong_count(&token), 1);
}

#[test]
fn errors_display_and_debug_without_t_debug() {
    struct Opaque;
    let e = SendError(Opaque);
    assert_eq!(format!("{e} {e:?}"), "send on closed channel SendError(..)");
    let f: TrySendError<Opaque> = TrySendError::Full(Opaque);
    assert!(!format!("{f}").is_empty());
    let _: &dyn std::error::Error = &f;
    let _: &dyn std::error::Error = &TryRecvError::Empty;
}

#[test]
fn handles_and_futures_are_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Chan<u8>>();
    send_sync::<gorun::chan::Sender<u8>>();
    send_sync::<gorun::chan::Receiver<u8>>();
    let c = chan::<u8>(0);
    send(&c.send(1));
    send(&c.recv());
}
