//! Goroutines fighting over one channel on several workers: the case where a worker stands
//! aside (hands its goroutines to the injection queue and sleeps for a millisecond, see
//! `scheduler::worker::ASIDE`). Every message arrives exactly once and in each sender's order,
//! every parked sender and receiver is woken, and the runtime shuts down afterwards, on two,
//! three and four workers (more workers than this machine's cores too).
mod common;

use gorun::chan::chan;
use gorun::runtime::Builder;

const SENDERS: u64 = 4;
const RECEIVERS: u64 = 4;

fn per_sender() -> u64 {
    if common::small() {
        // Under valgrind (`.ci/valgrind`): 10,000 took 71 s for both tests.
        1_000
    } else if common::release() {
        100_000
    } else {
        10_000
    }
}

fn contend(workers: usize, cap: usize) {
    let rt = Builder::new().workers(workers).build().unwrap();
    let per = per_sender();
    let got = rt.block_on(async move {
        let c = chan::<(u64, u64)>(cap);
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let c = c.clone();
                gorun::go(async move {
                    for i in 0..per {
                        c.send((s, i)).await.unwrap();
                    }
                })
            })
            .collect();
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|r| {
                let c = c.clone();
                gorun::go(async move {
                    let mut last = [None::<u64>; SENDERS as usize];
                    let mut got = Vec::new();
                    while let Some((s, i)) = c.recv().await {
                        if let Some(prev) = last[s as usize] {
                            assert!(i > prev, "receiver {r}: sender {s} sent {prev} before {i}");
                        }
                        last[s as usize] = Some(i);
                        got.push((s, i));
                    }
                    got
                })
            })
            .collect();
        for s in senders {
            s.await.unwrap();
        }
        c.close();
        let mut all = Vec::new();
        for r in receivers {
            all.extend(r.await.unwrap());
        }
        all
    });
    drop(rt);
    let mut seen = vec![vec![false; per as usize]; SENDERS as usize];
    for (s, i) in &got {
        assert!(!seen[*s as usize][*i as usize], "message ({s}, {i}) twice");
        seen[*s as usize][*i as usize] = true;
    }
    assert_eq!(
        got.len() as u64,
        per * SENDERS,
        "messages lost: {workers} workers, capacity {cap}"
    );
}

#[test]
fn eight_goroutines_on_one_buffered_channel_lose_nothing_on_2_3_and_4_workers() {
    let _w = common::watchdog("contention_buffered", 120);
    for workers in [2, 3, 4] {
        for cap in [1, 16, 1024] {
            contend(workers, cap);
        }
    }
}

#[test]
fn eight_goroutines_on_one_unbuffered_channel_lose_nothing_on_2_3_and_4_workers() {
    let _w = common::watchdog("contention_unbuffered", 120);
    for workers in [2, 3, 4] {
        contend(workers, 0);
    }
}
