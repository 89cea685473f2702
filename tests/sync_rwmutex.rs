//! gorun::sync::RwMutex: concurrent readers, exclusive writers, writer priority over new readers.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::noop_waker;
use gorun::sync::RwMutex;

mod common;
use common::run_on_tokio as run;

#[test]
fn readers_hold_the_lock_at_the_same_time() {
    run(async {
        let m = Arc::new(RwMutex::new(()));
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (m, barrier) = (m.clone(), barrier.clone());
                tokio::spawn(async move {
                    let _r = m.read().await;
                    // Every reader reaches the barrier while holding its read guard: only
                    // possible if all 8 hold the lock at once.
                    barrier.wait().await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn a_waiting_writer_blocks_new_readers() {
    let m = RwMutex::new(0);
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let r1 = m.try_read().unwrap();
    let mut writer = Box::pin(m.write());
    assert!(writer.as_mut().poll(&mut cx).is_pending());
    assert!(
        m.try_read().is_err(),
        "new reader overtook a waiting writer"
    );
    let mut reader = Box::pin(m.read());
    assert!(reader.as_mut().poll(&mut cx).is_pending());
    drop(r1);
    assert!(reader.as_mut().poll(&mut cx).is_pending());
    let mut wg = match writer.as_mut().poll(&mut cx) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("writer not granted after the last reader left"),
    };
    *wg = 1;
    drop(wg);
    match reader.as_mut().poll(&mut cx) {
        Poll::Ready(g) => assert_eq!(*g, 1),
        Poll::Pending => panic!("reader not served after the writer"),
    };
}

#[test]
fn writer_never_starves_under_a_stream_of_readers() {
    run(async {
        let m = Arc::new(RwMutex::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let max_readers = Arc::new(AtomicUsize::new(0));
        let inside = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let (m, stop, max_readers, inside) =
                    (m.clone(), stop.clone(), max_readers.clone(), inside.clone());
                tokio::spawn(async move {
                    while !stop.load(SeqCst) {
                        let _r = m.read().await;
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        max_readers.fetch_max(now, SeqCst);
                        tokio::task::yield_now().await;
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        // Let the readers saturate the lock, then each write must still get through promptly.
        tokio::time::sleep(Duration::from_millis(20)).await;
        for i in 1..=50 {
            let mut w = tokio::time::timeout(Duration::from_secs(2), m.write())
                .await
                .expect("writer starved by readers");
            assert_eq!(inside.load(SeqCst), 0, "a reader is inside with the writer");
            *w = i;
        }
        stop.store(true, SeqCst);
        for r in readers {
            r.await.unwrap();
        }
        assert_eq!(*m.read().await, 50);
        assert!(max_readers.load(SeqCst) > 1, "readers never overlapped");
    });
}

#[test]
fn cancelled_writer_lets_queued_readers_in() {
    let m = RwMutex::new(());
    let w = noop_waker();
    let mut cx = Context::from_waker(&w);
    let r1 = m.try_read().unwrap();
    let mut writer = Box::pin(m.write());
    assert!(writer.as_mut().poll(&mut cx).is_pending());
    let mut reader = Box::pin(m.read());
    assert!(reader.as_mut().poll(&mut cx).is_pending());
    drop(writer); // gives back the permits it had taken
    match reader.as_mut().poll(&mut cx) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("reader stuck behind a cancelled writer"),
    }
    drop(r1);
    assert!(m.try_write().is_ok());
}

#[test]
fn guards_are_send_and_sync_and_debug() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let m = RwMutex::new(3);
    send_sync(&m);
    let r = m.try_read().unwrap();
    send_sync(&r);
    assert_eq!(format!("{r:?}"), "3");
    assert_eq!(format!("{m:?}"), "RwMutex { data: 3 }");
    drop(r);
    let w = m.try_write().unwrap();
    send_sync(&w);
    assert_eq!(format!("{m:?}"), "RwMutex { data: <locked> }");
}
