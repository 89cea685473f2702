//! `shutdown_timeout` with any duration, even `Duration::MAX`, shuts the runtime down fully:
//! blocked goroutines are dropped, every descriptor the runtime opened is closed, and a socket
//! used afterwards fails instead of hanging. One test in this file: it counts the process's
//! descriptors, which other tests running in parallel would disturb.
mod common;

use gorun::runtime::Builder;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

struct CountOnDrop(Arc<AtomicUsize>);
impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn shutdown_timeout_max_closes_everything_and_later_io_fails() {
    let _w = common::watchdog("shutdown_timeout_max", 60);
    // The watchdog's thread exists before the first count.
    let before = open_fds();
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new().workers(2).build().unwrap();
    // A goroutine blocked forever on a socket of its own, and one on a channel.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let g = CountOnDrop(dropped.clone());
    rt.go(async move {
        let _g = g;
        let s = gorun::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        started_tx.send(()).unwrap();
        let mut buf = [0u8; 8];
        let _ = s.recv(&mut buf).await; // nobody sends
    });
    started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let g = CountOnDrop(dropped.clone());
    rt.go(async move {
        let _g = g;
        gorun::chan::chan::<()>(0).recv().await;
    });
    // A socket kept past the runtime's end.
    let kept = rt
        .block_on(gorun::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    rt.shutdown_timeout(Duration::MAX);
    assert_eq!(
        dropped.load(SeqCst),
        2,
        "blocked goroutines were not dropped"
    );
    // The kept socket fails at once instead of waiting on a reactor nobody drives.
    let other = Builder::new().workers(1).build().unwrap();
    let err = other
        .block_on(async {
            let mut buf = [0u8; 8];
            gorun::time::timeout(Duration::from_secs(20), kept.recv(&mut buf)).await
        })
        .expect("a socket of a shut-down runtime waited instead of failing")
        .unwrap_err();
    assert!(err.to_string().contains("reactor has shut down"), "{err}");
    drop(other);
    drop(kept);
    assert_eq!(open_fds(), before, "the runtime left descriptors open");
}
