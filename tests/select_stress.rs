//! Stress for select!: senders use send cases over two unbuffered channels (so losing send
//! cases and claims happen constantly), receivers use receive cases over both channels and
//! drop the select when a random-poll countdown wins. Every message arrives exactly once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{select, Either};
use gorun::chan::chan;

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

fn total() -> u64 {
    if cfg!(debug_assertions) {
        20_000
    } else {
        200_000
    }
}

async fn run(cap: usize) {
    let a = chan::<u64>(cap);
    let b = chan::<u64>(cap);
    let n = total();
    let per = n / 4;
    let mut senders = vec![];
    for s in 0..4u64 {
        let (a, b) = (a.sender(), b.sender());
        senders.push(tokio::spawn(async move {
            let mut to_a = 0u32;
            for i in 0..per {
                let v = s * per + i;
                gorun::select! {
                    send(a, v) -> r => { r.unwrap(); to_a += 1 },
                    send(b, v) -> r => r.unwrap(),
                }
            }
            to_a
        }));
    }
    let mut receivers = vec![];
    for r in 0..4u64 {
        let (a, b) = (a.receiver(), b.receiver());
        receivers.push(tokio::spawn(async move {
            let mut x = 0x2545_F491_4F6C_DD1D_u64 ^ (r + 1);
            let mut got = vec![];
            let (mut a_open, mut b_open) = (true, true);
            while a_open || b_open {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let sel = async {
                    gorun::select! {
                        recv(a) -> v => (0, v),
                        recv(b) -> v => (1, v),
                    }
                };
                futures::pin_mut!(sel);
                match select(sel, Countdown((x % 4) as u32)).await {
                    Either::Left(((which, Some(v)), _)) => {
                        let _ = which;
                        got.push(v)
                    }
                    Either::Left(((0, None), _)) => a_open = false,
                    Either::Left(((_, None), _)) => b_open = false,
                    Either::Right(_) => {}
                }
                if !a_open || !b_open {
                    // Drain the other one directly once one side is closed.
                    let other = if a_open { &a } else { &b };
                    while let Some(v) = other.recv().await {
                        got.push(v);
                    }
                    break;
                }
            }
            got
        }));
    }
    let mut to_a = 0;
    for s in senders {
        to_a += s.await.unwrap();
    }
    assert!(
        to_a > 0 && u64::from(to_a) < n,
        "one channel never chosen: {to_a}"
    );
    a.close();
    b.close();
    let mut seen = vec![false; n as usize];
    let mut count = 0;
    for r in receivers {
        for v in r.await.unwrap() {
            assert!(!seen[v as usize], "message {v} duplicated");
            seen[v as usize] = true;
            count += 1;
        }
    }
    assert_eq!(count, n, "messages lost");
}

fn stress(cap: usize) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(120), run(cap))
                .await
                .expect("select stress hung")
        });
}

#[test]
fn select_stress_unbuffered_loses_nothing() {
    stress(0);
}

#[test]
fn select_stress_cap1_loses_nothing() {
    stress(1);
}
