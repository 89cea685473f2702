//! Stress: 4 senders and 4 receivers on unbuffered and buffered channels, receivers racing
//! every receive against a future that is ready after a random number of polls and dropping
//! the loser. Every message must arrive exactly once, and each receiver must see each sender's
//! messages in increasing order.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{select, Either};
use gorun::chan::{chan, Chan};

const SENDERS: u64 = 4;
const RECEIVERS: usize = 4;

/// Messages per channel capacity; 3 capacities (x2 for the select variant, in
/// `select_stress.rs`) make about 1,000,000 messages in release.
fn per_cap() -> u64 {
    if cfg!(debug_assertions) {
        40_000
    } else {
        333_336
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Ready after `n` polls; wakes itself while pending.
struct Countdown(u32);
impl Future for Countdown {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn run(cap: usize, total: u64) {
    let c = chan::<(u64, u64)>(cap);
    let per_sender = total / SENDERS;
    let mut senders = vec![];
    for s in 0..SENDERS {
        let c = c.sender();
        senders.push(tokio::spawn(async move {
            for i in 0..per_sender {
                c.send((s, i)).await.unwrap();
            }
        }));
    }
    let mut receivers = vec![];
    for r in 0..RECEIVERS {
        let c = c.receiver();
        receivers.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((r as u64 + 1) * 7919));
            let mut got = Vec::new();
            let mut last = [None::<u64>; SENDERS as usize];
            let mut cancelled = 0u64;
            loop {
                let x = rng.next();
                let n = (x % 4) as u32;
                let v = if x & 16 == 0 {
                    match select(c.recv(), Countdown(n)).await {
                        Either::Left((v, _)) => v,
                        Either::Right(((), _lost)) => {
                            cancelled += 1;
                            continue;
                        }
                    }
                } else {
                    match select(Countdown(n), c.recv()).await {
                        Either::Right((v, _)) => v,
                        Either::Left(((), _lost)) => {
                            cancelled += 1;
                            continue;
                        }
                    }
                };
                let Some((s, i)) = v else { break };
                if let Some(prev) = last[s as usize] {
                    assert!(i > prev, "receiver {r}: sender {s} sent {prev} before {i}");
                }
                last[s as usize] = Some(i);
                got.push((s, i));
            }
            (got, cancelled)
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    c.close();
    let mut seen = vec![vec![false; per_sender as usize]; SENDERS as usize];
    let mut n = 0;
    let mut cancelled = 0;
    for r in receivers {
        let (got, k) = r.await.unwrap();
        cancelled += k;
        for (s, i) in got {
            assert!(
                !seen[s as usize][i as usize],
                "message ({s}, {i}) duplicated"
            );
            seen[s as usize][i as usize] = true;
            n += 1;
        }
    }
    assert_eq!(n, per_sender * SENDERS, "messages lost on cap {cap}");
    assert!(cancelled > 0, "the test never cancelled a receive");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn stress(cap: usize) {
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(120), run(cap, per_cap()))
            .await
            .expect("stress test hung");
    });
}

#[test]
fn stress_unbuffered_with_cancelled_receivers_loses_nothing() {
    stress(0);
}

#[test]
fn stress_cap1_with_cancelled_receivers_loses_nothing() {
    stress(1);
}

#[test]
fn stress_cap64_with_cancelled_receivers_loses_nothing() {
    stress(64);
}

/// Plain threads with the blocking calls, unbuffered and buffered.
#[test]
fn plain_threads_with_blocking_calls_deliver_everything() {
    for cap in [0usize, 3] {
        let c: Chan<u64> = chan(cap);
        let n: u64 = if cfg!(debug_assertions) {
            20_000
        } else {
            200_000
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        let watchdog = std::thread::spawn(move || {
            for _ in 0..600 {
                if d2.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("blocking test hung");
            std::process::abort();
        });
        let senders: Vec<_> = (0..2)
            .map(|s| {
                let c = c.sender();
                std::thread::spawn(move || {
                    for i in 0..n {
                        c.send_blocking(s * n + i).unwrap();
                    }
                })
            })
            .collect();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let c = c.receiver();
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut sum = 0u64;
                    let mut count = 0u64;
                    while let Some(v) = c.recv_blocking() {
                        sum += v;
                        count += 1;
                    }
                    tx.send((sum, count)).unwrap();
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        c.close();
        for r in receivers {
            r.join().unwrap();
        }
        drop(tx);
        let (sum, count) = rx.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!(count, 2 * n);
        assert_eq!(sum, (0..2 * n).sum::<u64>());
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        watchdog.join().unwrap();
    }
}
