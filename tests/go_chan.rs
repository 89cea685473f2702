//! Go's own channel tests (`runtime/chan_test.go`, Go 1.19), ported to gorun.
//!
//! Each Go test becomes one `#[test]` with the same name in snake case, the same structure and,
//! where they run in seconds, the same sizes (debug builds scale the largest loops down; each
//! such place says so). Go's zero value from a closed channel is `None` here. Tests that need
//! Go's stacks or GC (`TestSelectStackAdjust`) are not ported; the two stack-shrinking tests keep
//! their channel pattern (a sender that fully blocks while the receiver sleeps) without the GC.
//! Every test runs under a bounded wait (`run`): a hang fails the test instead of stalling CI.
mod common;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gorun::chan::{chan, Chan};
use gorun::select;
use gorun::sync::WaitGroup;
use gorun::time::sleep;

/// See `common::run_go_test`.
fn run<F: Future<Output = ()> + Send + 'static>(
    name: &'static str,
    workers: usize,
    secs: u64,
    f: F,
) {
    common::run_go_test(name, workers, secs, f)
}

/// Waits (bounded) for a goroutine's result.
async fn join<T: Send + 'static>(h: gorun::JoinHandle<T>, what: &str) -> T {
    gorun::time::timeout(Duration::from_secs(20), h)
        .await
        .unwrap_or_else(|_| panic!("{what}: goroutine never finished (lost wake-up?)"))
        .unwrap()
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn test_chan() {
    // Go: N = 200 capacities. Debug builds: 40.
    let n = if common::release() { 200 } else { 40 };
    run("test_chan", 4, 120, async move {
        for cap in 0..n {
            {
                // Ensure that receive from empty chan blocks.
                let c = chan::<i32>(cap);
                let recv1 = Arc::new(AtomicBool::new(false));
                let recv2 = Arc::new(AtomicBool::new(false));
                let (c1, r1) = (c.clone(), recv1.clone());
                let h1 = gorun::go(async move {
                    let _ = c1.recv().await;
                    r1.store(true, Ordering::SeqCst);
                });
                let (c2, r2) = (c.clone(), recv2.clone());
                let h2 = gorun::go(async move {
                    let _ = c2.recv().await;
                    r2.store(true, Ordering::SeqCst);
                });
                sleep(MS).await;
                assert!(
                    !recv1.load(Ordering::SeqCst) && !recv2.load(Ordering::SeqCst),
                    "chan[{cap}]: receive from empty chan"
                );
                // Ensure that non-blocking receive does not block.
                select! {
                    recv(c) -> _v => panic!("chan[{cap}]: receive from empty chan"),
                    default => {},
                }
                select! {
                    recv(c) -> _v => panic!("chan[{cap}]: receive from empty chan"),
                    default => {},
                }
                c.send(0).await.unwrap();
                c.send(0).await.unwrap();
                // Deviation: Go leaves the two receivers running; here both must finish (each
                // got one of the two values), which is what catches a lost wake-up.
                join(h1, &format!("chan[{cap}]: first receiver")).await;
                join(h2, &format!("chan[{cap}]: second receiver")).await;
            }
            {
                // Ensure that send to full chan blocks.
                let c = chan::<i32>(cap);
                for i in 0..cap {
                    c.send(i as i32).await.unwrap();
                }
                let sent = Arc::new(AtomicU32::new(0));
                let (c1, s1) = (c.clone(), sent.clone());
                let h = gorun::go(async move {
                    c1.send(0).await.unwrap();
                    s1.store(1, Ordering::SeqCst);
                });
                sleep(MS).await;
                assert_eq!(
                    sent.load(Ordering::SeqCst),
                    0,
                    "chan[{cap}]: send to full chan"
                );
                // Ensure that non-blocking send does not block.
                select! {
                    send(c, 0) -> _r => panic!("chan[{cap}]: send to full chan"),
                    default => {},
                }
                c.recv().await;
                // Deviation: the blocked sender must complete.
                join(h, &format!("chan[{cap}]: blocked sender")).await;
            }
            {
                // Ensure that we receive 0 from closed chan.
                let c = chan::<i32>(cap);
                for i in 0..cap {
                    c.send(i as i32).await.unwrap();
                }
                c.close();
                for i in 0..cap {
                    assert_eq!(c.recv().await, Some(i as i32), "chan[{cap}]");
                }
                assert_eq!(c.recv().await, None, "chan[{cap}]");
                assert_eq!(c.recv().await, None, "chan[{cap}]");
            }
            {
                // Ensure that close unblocks receive.
                let c = chan::<i32>(cap);
                let done = chan::<bool>(0);
                let (c1, d1) = (c.clone(), done.clone());
                gorun::go(async move {
                    let v = c1.recv().await;
                    d1.send(v.is_none()).await.unwrap();
                });
                sleep(MS).await;
                c.close();
                assert!(
                    done.recv().await.unwrap(),
                    "chan[{cap}]: received non zero from closed chan"
                );
            }
            {
                // Send 100 integers, ensure that we receive them non-corrupted in FIFO order.
                let c = chan::<i32>(cap);
                let c1 = c.clone();
                gorun::go(async move {
                    for i in 0..100 {
                        c1.send(i).await.unwrap();
                    }
                });
                for i in 0..100 {
                    assert_eq!(c.recv().await, Some(i), "chan[{cap}]");
                }
                // Same, but using recv2 (Go's `v, ok := <-c`: the same call here).
                let c1 = c.clone();
                gorun::go(async move {
                    for i in 0..100 {
                        c1.send(i).await.unwrap();
                    }
                });
                for i in 0..100 {
                    let v = c.recv().await;
                    assert!(v.is_some(), "chan[{cap}]: receive failed, expected {i}");
                    assert_eq!(v, Some(i), "chan[{cap}]");
                }
                // Send 1000 integers in 4 goroutines, ensure that we receive what we send.
                const P: usize = 4;
                const L: i32 = 1000;
                for _ in 0..P {
                    let c1 = c.clone();
                    gorun::go(async move {
                        for i in 0..L {
                            c1.send(i).await.unwrap();
                        }
                    });
                }
                let done = chan::<HashMap<i32, usize>>(0);
                for _ in 0..P {
                    let (c1, d1) = (c.clone(), done.clone());
                    gorun::go(async move {
                        let mut recv = HashMap::new();
                        for _ in 0..L {
                            let v = c1.recv().await.unwrap();
                            *recv.entry(v).or_insert(0) += 1;
                        }
                        d1.send(recv).await.unwrap();
                    });
                }
                let mut recv = HashMap::new();
                for _ in 0..P {
                    let m = gorun::time::timeout(Duration::from_secs(20), done.recv())
                        .await
                        .unwrap_or_else(|_| panic!("chan[{cap}]: a consumer never finished"))
                        .unwrap();
                    for (k, v) in m {
                        *recv.entry(k).or_insert(0) += v;
                    }
                }
                assert_eq!(recv.len(), L as usize, "chan[{cap}]: received values");
                for v in recv.values() {
                    assert_eq!(*v, P, "chan[{cap}]: received values");
                }
            }
            {
                // Test len/cap.
                let c = chan::<i32>(cap);
                assert_eq!((c.len(), c.cap()), (0, cap), "chan[{cap}]: bad len/cap");
                for i in 0..cap {
                    c.send(i as i32).await.unwrap();
                }
                assert_eq!((c.len(), c.cap()), (cap, cap), "chan[{cap}]: bad len/cap");
            }
        }
    });
}

#[test]
fn test_nonblock_recv_race() {
    run("test_nonblock_recv_race", 4, 60, async {
        for _ in 0..10000 {
            let c = chan::<i32>(1);
            c.send(1).await.unwrap();
            let c1 = c.clone();
            let h = gorun::go(async move {
                select! {
                    recv(c1) -> _v => {},
                    default => panic!("chan is not ready"),
                }
            });
            c.close();
            c.recv().await;
            join(h, "select goroutine").await;
        }
    });
}

/// Select acts on the state of the channels at one moment, not over a smeared window: from
/// the time the goroutine is created, c1 or c2 is always ready, so `default` must never run.
#[test]
fn test_nonblock_select_race() {
    // Go: 100000 iterations. Debug builds: 20000.
    let n = if common::release() { 100_000 } else { 20_000 };
    run("test_nonblock_select_race", 4, 120, async move {
        let done = chan::<bool>(1);
        for i in 0..n {
            let c1 = chan::<i32>(1);
            let c2 = chan::<i32>(1);
            c1.send(1).await.unwrap();
            let (g1, g2, d) = (c1.clone(), c2.clone(), done.clone());
            gorun::go(async move {
                let ok = select! {
                    recv(g1) -> _v => true,
                    recv(g2) -> _v => true,
                    default => false,
                };
                d.send(ok).await.unwrap();
            });
            c2.send(1).await.unwrap();
            select! {
                recv(c1) -> _v => {},
                default => {},
            }
            assert!(
                done.recv().await.unwrap(),
                "iteration {i}: no chan is ready"
            );
        }
    });
}

/// Same as `test_nonblock_select_race`, but `close(c2)` replaces `c2 <- 1`.
#[test]
fn test_nonblock_select_race2() {
    // Go: 100000 iterations. Debug builds: 20000.
    let n = if common::release() { 100_000 } else { 20_000 };
    run("test_nonblock_select_race2", 4, 120, async move {
        let done = chan::<bool>(1);
        for i in 0..n {
            let c1 = chan::<i32>(1);
            let c2 = chan::<i32>(0);
            c1.send(1).await.unwrap();
            let (g1, g2, d) = (c1.clone(), c2.clone(), done.clone());
            gorun::go(async move {
                let ok = select! {
                    recv(g1) -> _v => true,
                    recv(g2) -> _v => true,
                    default => false,
                };
                d.send(ok).await.unwrap();
            });
            c2.close();
            select! {
                recv(c1) -> _v => {},
                default => {},
            }
            assert!(
                done.recv().await.unwrap(),
                "iteration {i}: no chan is ready"
            );
        }
    });
}

/// Send and receive on the same channel in one select neither crash nor deadlock, and an
/// unbuffered select never receives its own value.
#[test]
fn test_self_select() {
    run("test_self_select", 2, 60, async {
        for cap in [0, 10] {
            let wg = WaitGroup::new();
            let c = chan::<usize>(cap);
            for p in 0..2usize {
                let c = c.clone();
                wg.go(async move {
                    for i in 0..1000 {
                        if p == 0 || i % 2 == 0 {
                            select! {
                                send(c, p) -> r => r.unwrap(),
                                recv(c) -> v => assert!(!(cap == 0 && v == Some(p)), "self receive"),
                            }
                        } else {
                            select! {
                                recv(c) -> v => assert!(!(cap == 0 && v == Some(p)), "self receive"),
                                send(c, p) -> r => r.unwrap(),
                            }
                        }
                    }
                });
            }
            gorun::time::timeout(Duration::from_secs(30), wg.wait())
                .await
                .unwrap_or_else(|_| panic!("cap {cap}: self select deadlocked"));
        }
    });
}

#[test]
fn test_select_stress() {
    // Go: N = 1e5 with GOMAXPROCS(10). Debug builds: 1e4.
    let n = if common::release() { 100_000 } else { 10_000 };
    run("test_select_stress", 4, 300, async move {
        let c = [
            chan::<i32>(0),
            chan::<i32>(0),
            chan::<i32>(2),
            chan::<i32>(3),
        ];
        let wg = WaitGroup::new();
        for ch in &c {
            let ck = ch.clone();
            wg.go(async move {
                for _ in 0..n {
                    ck.send(0).await.unwrap();
                }
            });
            let ck = ch.clone();
            wg.go(async move {
                for _ in 0..n {
                    ck.recv().await.unwrap();
                }
            });
        }
        let cs = c.clone();
        wg.go(async move {
            let mut cnt = [0; 4];
            let mut c1 = cs.clone();
            for _ in 0..4 * n {
                select! {
                    send(c1[3], 0) -> r => { r.unwrap(); cnt[3] += 1; if cnt[3] == n { c1[3] = Chan::nil() } },
                    send(c1[2], 0) -> r => { r.unwrap(); cnt[2] += 1; if cnt[2] == n { c1[2] = Chan::nil() } },
                    send(c1[0], 0) -> r => { r.unwrap(); cnt[0] += 1; if cnt[0] == n { c1[0] = Chan::nil() } },
                    send(c1[1], 0) -> r => { r.unwrap(); cnt[1] += 1; if cnt[1] == n { c1[1] = Chan::nil() } },
                }
            }
        });
        let cs = c.clone();
        wg.go(async move {
            let mut cnt = [0; 4];
            let mut c1 = cs.clone();
            for _ in 0..4 * n {
                select! {
                    recv(c1[0]) -> _v => { cnt[0] += 1; if cnt[0] == n { c1[0] = Chan::nil() } },
                    recv(c1[1]) -> _v => { cnt[1] += 1; if cnt[1] == n { c1[1] = Chan::nil() } },
                    recv(c1[2]) -> _v => { cnt[2] += 1; if cnt[2] == n { c1[2] = Chan::nil() } },
                    recv(c1[3]) -> _v => { cnt[3] += 1; if cnt[3] == n { c1[3] = Chan::nil() } },
                }
            }
        });
        gorun::time::timeout(Duration::from_secs(280), wg.wait())
            .await
            .expect("select stress deadlocked");
    });
}

#[test]
fn test_select_fairness() {
    const TRIALS: usize = 10000;
    run("test_select_fairness", 4, 60, async {
        let c1 = chan::<u8>(TRIALS + 1);
        let c2 = chan::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1.send(1).await.unwrap();
            c2.send(2).await.unwrap();
        }
        let c3 = chan::<u8>(0);
        let c4 = chan::<u8>(0);
        let out = chan::<u8>(0);
        let done = chan::<u8>(0);
        let wg = WaitGroup::new();
        {
            let (c1, c2, out, done) = (c1.clone(), c2.clone(), out.clone(), done.clone());
            wg.go(async move {
                loop {
                    let b = select! {
                        recv(c3) -> b => b,
                        recv(c4) -> b => b,
                        recv(c1) -> b => b,
                        recv(c2) -> b => b,
                    }
                    .unwrap();
                    select! {
                        send(out, b) -> r => r.unwrap(),
                        recv(done) -> _v => return,
                    }
                }
            });
        }
        let (mut cnt1, mut cnt2) = (0usize, 0usize);
        for _ in 0..TRIALS {
            match out.recv().await.unwrap() {
                1 => cnt1 += 1,
                2 => cnt2 += 1,
                b => panic!("unexpected value {b} on channel"),
            }
        }
        // With 10,000 trials, the expected margin of error at a confidence level of six nines
        // is 4.891676 / (2 * sqrt(10000)) (Go's bound).
        let r = cnt1 as f64 / TRIALS as f64;
        let e = (r - 0.5).abs();
        assert!(
            e <= 4.891676 / (2.0 * (TRIALS as f64).sqrt()),
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done.close();
        gorun::time::timeout(Duration::from_secs(20), wg.wait())
            .await
            .expect("the selecting goroutine did not see done closed");
    });
}

/// Go checks that a send of an interface value in a select compiles and runs; here: a send
/// case with a boxed trait object, on a full channel, with `default`.
#[test]
fn test_chan_send_interface() {
    run("test_chan_send_interface", 1, 10, async {
        struct Mt;
        let c = chan::<Box<dyn std::any::Any + Send>>(1);
        c.send(Box::new(Mt)).await.unwrap();
        select! {
            send(c, Box::new(Mt)) -> _r => panic!("sent on a full channel"),
            default => {},
        }
        select! {
            send(c, Box::new(Mt)) -> _r => panic!("sent on a full channel"),
            send(c, Box::new(Mt)) -> _r => panic!("sent on a full channel"),
            default => {},
        }
        assert_eq!(c.len(), 1);
    });
}

/// Go's `TestPseudoRandomSend` body for one capacity: a select with two send cases on the same
/// channel, against a reader that yields before each receive.
fn pseudo_random_send(name: &'static str, cap: usize) {
    let n = 100usize;
    run(name, 4, 30, async move {
        let c = chan::<usize>(cap);
        let c1 = c.clone();
        let reader = gorun::go(async move {
            let mut l = vec![0; n];
            for x in l.iter_mut() {
                gorun::yield_now().await;
                *x = c1.recv().await.unwrap();
            }
            l
        });
        for _ in 0..n {
            select! {
                send(c, 1) -> r => r.unwrap(),
                send(c, 0) -> r => r.unwrap(),
            }
        }
        let l = join(reader, "reader").await;
        let n1: usize = l.iter().sum();
        let n0 = n - n1;
        assert!(
            n0 > n / 10 && n1 > n / 10,
            "want pseudorandom, got {n0} zeros and {n1} ones (chan cap {cap})"
        );
    });
}

/// A select with two ready send cases picks them pseudo-randomly. Go loops over the capacities
/// 0 and 100; they are two tests here so that the failing one can be named.
#[test]
fn test_pseudo_random_send() {
    pseudo_random_send("test_pseudo_random_send", 100);
}

/// Capacity 0: the select blocks (the reader is yielding), so both cases register; when the
/// reader comes it must find either one. gorun registered a blocked select's cases in source
/// order and a receiver takes the first queued sender, so it always got case 0's value (found
/// by this port); Go queues in lock order, which for equal channels follows the random poll
/// order, and gorun now queues in pass 1's random order.
#[test]
fn test_pseudo_random_send_unbuffered() {
    pseudo_random_send("test_pseudo_random_send_unbuffered", 0);
}

#[test]
fn test_multi_consumer() {
    const NWORK: usize = 23;
    // Go: 271828 iterations. Debug builds: 50000.
    let niter: usize = if common::release() { 271_828 } else { 50_000 };
    let pn = [2usize, 3, 7, 11, 13, 17, 19, 23, 27, 31];
    run("test_multi_consumer", 4, 120, async move {
        let q = chan::<usize>(NWORK * 3);
        let r = chan::<usize>(NWORK * 3);
        let wg = WaitGroup::new();
        for w in 0..NWORK {
            let (q, r) = (q.clone(), r.clone());
            wg.go(async move {
                while let Some(v) = q.recv().await {
                    // mess with the fifo-ish nature of range
                    if pn[w % pn.len()] == v {
                        gorun::yield_now().await;
                    }
                    r.send(v).await.unwrap();
                }
            });
        }
        // feeder & closer
        let (q2, r2, wg2) = (q.clone(), r.clone(), wg.clone());
        let feeder = gorun::go(async move {
            let mut expect = 0;
            for i in 0..niter {
                let v = pn[i % pn.len()];
                expect += v;
                q2.send(v).await.unwrap();
            }
            q2.close(); // no more work
            wg2.wait().await; // workers done
            r2.close(); // ... so there can be no more results
            expect
        });
        // consume & check
        let (mut n, mut s) = (0, 0);
        while let Some(v) = r.recv().await {
            n += 1;
            s += v;
        }
        let expect = join(feeder, "feeder").await;
        assert!(
            n == niter && s == expect,
            "expected sum {expect} (got {s}) from {niter} iter (saw {n})"
        );
    });
}

/// Go's `TestShrinkStackDuringBlockedSend` without the GC: the sender fully blocks while the
/// receiver sleeps between receives.
#[test]
fn test_shrink_stack_during_blocked_send() {
    const N: i32 = 10;
    run("test_shrink_stack_during_blocked_send", 4, 30, async {
        let c = chan::<i32>(0);
        let done = chan::<()>(0);
        let (c1, d1) = (c.clone(), done.clone());
        gorun::go(async move {
            for i in 0..N {
                c1.send(i).await.unwrap();
            }
            d1.send(()).await.unwrap();
        });
        for i in 0..N {
            assert_eq!(c.recv().await, Some(i), "bad channel read");
            sleep(MS).await;
        }
        done.recv().await.unwrap();
    });
}

/// Go's `TestNoShrinkStackWhileParking` without the GC: a receiver that sleeps before each
/// receive, so the sender parks fully every time, 200 rounds.
#[test]
fn test_no_shrink_stack_while_parking() {
    const N: i32 = 10;
    run("test_no_shrink_stack_while_parking", 4, 60, async {
        for _ in 0..N * 20 {
            let c = chan::<i32>(0);
            let done = chan::<()>(0);
            let (c1, d1) = (c.clone(), done.clone());
            gorun::go(async move {
                for _ in 0..N {
                    sleep(Duration::from_micros(10)).await;
                    c1.recv().await.unwrap();
                }
                d1.send(()).await.unwrap();
            });
            let (c2, d2) = (c.clone(), done.clone());
            gorun::go(async move {
                for i in 0..N {
                    c2.send(i).await.unwrap();
                }
                d2.send(()).await.unwrap();
            });
            sleep(Duration::from_micros(50)).await;
            done.recv().await.unwrap();
            done.recv().await.unwrap();
        }
    });
}

/// A goroutine may wait on the same channel several times in one select.
#[test]
fn test_select_duplicate_channel() {
    run("test_select_duplicate_channel", 4, 30, async {
        let c = chan::<i32>(0);
        let d = chan::<i32>(0);
        let e = chan::<i32>(0);
        // goroutine A
        let (ca, da, ea) = (c.clone(), d.clone(), e.clone());
        gorun::go(async move {
            select! {
                recv(ca) -> _v => {},
                recv(ca) -> _v => {},
                recv(da) -> _v => {},
            }
            ea.send(9).await.unwrap();
        });
        sleep(MS).await; // make sure goroutine A gets queued first on c
                         // goroutine B
        let cb = c.clone();
        let b = gorun::go(async move {
            cb.recv().await;
        });
        sleep(MS).await; // make sure goroutine B gets queued on c before continuing
        d.send(7).await.unwrap(); // wake up A, it dequeues itself from c
        e.recv().await.unwrap(); // A tells us it's done
        c.send(8).await.unwrap(); // wake up B
        join(b, "goroutine B").await;
    });
}
