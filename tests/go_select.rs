//! Go's channel and select programs from `test/chan/*.go` (Go 1.19), ported to gorun.
//!
//! One `#[test]` per program, named after its file, with Go's sizes unless a comment says
//! otherwise. Go's `panic` on a wrong result is an assertion here. Not ported: `perm.go`
//! (compile-time direction errors: Rust's `Sender`/`Receiver` types), `select5.go` (a code
//! generator for evaluation order; `select!`'s order is tested in `select_semantics.rs`),
//! `powser1.go`/`powser2.go` (power-series arithmetic over rationals: hundreds of lines of
//! non-channel code). Every test runs under a bounded wait.
mod common;

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use gorun::chan::{chan, Chan, SendError};
use gorun::select;
use gorun::sync::WaitGroup;

/// See `common::run_go_test`.
fn run<F: Future<Output = ()> + Send + 'static>(
    name: &'static str,
    workers: usize,
    secs: u64,
    f: F,
) {
    common::run_go_test(name, workers, secs, f)
}

/// `doubleselect.go`: a select sending on four channels, each drained by a mux goroutine into
/// one channel: no value is duplicated (Go issue 1118, "bad g->status in ready").
#[test]
fn doubleselect() {
    // Go: 100000 iterations. Debug builds: 20000.
    let iterations = if common::release() { 100_000 } else { 20_000 };
    run("doubleselect", 2, 120, async move {
        let cs: Vec<Chan<i32>> = (0..4).map(|_| chan(0)).collect();
        let done = chan::<bool>(0);
        let cmux = chan::<i32>(0);
        let s = cs.clone();
        gorun::go(async move {
            for i in 0..iterations {
                select! {
                    send(s[0], i) -> r => r.unwrap(),
                    send(s[1], i) -> r => r.unwrap(),
                    send(s[2], i) -> r => r.unwrap(),
                    send(s[3], i) -> r => r.unwrap(),
                }
            }
            for c in &s {
                c.close();
            }
        });
        for c in &cs {
            let (c, out, done) = (c.clone(), cmux.clone(), done.clone());
            gorun::go(async move {
                while let Some(v) = c.recv().await {
                    out.send(v).await.unwrap();
                }
                done.send(true).await.unwrap();
            });
        }
        let (d, m) = (done.clone(), cmux.clone());
        gorun::go(async move {
            for _ in 0..4 {
                d.recv().await.unwrap();
            }
            m.close();
        });
        let mut seen = HashSet::new();
        while let Some(v) = cmux.recv().await {
            assert!(seen.insert(v), "got duplicate value: {v}");
        }
        assert_eq!(seen.len(), iterations as usize);
    });
}

/// `fifo.go`: a buffered channel is FIFO, and goroutines chained by unbuffered channels take
/// the values of one unbuffered channel in the order they queued.
#[test]
fn fifo() {
    const N: i32 = 10;
    run("fifo", 4, 30, async {
        // AsynchFifo
        let ch = chan::<i32>(N as usize);
        for i in 0..N {
            ch.send(i).await.unwrap();
        }
        for i in 0..N {
            assert_eq!(ch.recv().await, Some(i), "bad receive");
        }
        // SynchFifo
        let ch = chan::<i32>(0);
        let mut inp = chan::<i32>(0);
        let start = inp.clone();
        for i in 0..N {
            let out = chan::<i32>(0);
            let (ch, inn, o) = (ch.clone(), inp.clone(), out.clone());
            gorun::go(async move {
                inn.recv().await;
                assert_eq!(ch.recv().await, Some(i), "chain {i}");
                o.send(1).await.unwrap();
            });
            inp = out;
        }
        start.send(0).await.unwrap();
        for i in 0..N {
            ch.send(i).await.unwrap();
        }
        inp.recv().await;
    });
}

/// `goroutines.go`: a chain of 10000 goroutines, each passing one value from its right to its
/// left neighbour.
#[test]
fn goroutines() {
    let n = 10000;
    run("goroutines", 4, 60, async move {
        let leftmost = chan::<i32>(0);
        let mut left = leftmost.clone();
        let mut right = leftmost.clone();
        for _ in 0..n {
            right = chan::<i32>(0);
            let (l, r) = (left.clone(), right.clone());
            gorun::go(async move {
                let v = r.recv().await.unwrap();
                l.send(v).await.unwrap();
            });
            left = right.clone();
        }
        let r = right.clone();
        gorun::go(async move { r.send(1).await.unwrap() });
        assert_eq!(leftmost.recv().await, Some(1));
    });
}

/// Go's `nonblock.go` `sleep()`: two 10 µs ticks and three yields.
async fn nb_sleep(ticker: &gorun::chan::Receiver<std::time::Instant>) {
    ticker.recv().await;
    ticker.recv().await;
    for _ in 0..3 {
        gorun::yield_now().await;
    }
}

/// Non-blocking send until it succeeds, at most `MAX_TRIES` times.
async fn nb_send<T: Send + Clone>(
    c: &Chan<T>,
    v: T,
    ticker: &gorun::chan::Receiver<std::time::Instant>,
    what: &str,
) {
    for _ in 0..=MAX_TRIES {
        let sent = select! {
            send(c, v.clone()) -> r => { r.unwrap(); true },
            default => false,
        };
        if sent {
            return;
        }
        nb_sleep(ticker).await;
    }
    panic!("{what}: fail");
}

async fn nb_recv<T: Send>(
    c: &Chan<T>,
    ticker: &gorun::chan::Receiver<std::time::Instant>,
    what: &str,
) -> T {
    for _ in 0..=MAX_TRIES {
        let got = select! {
            recv(c) -> v => v,
            default => None,
        };
        if let Some(v) = got {
            return v;
        }
        nb_sleep(ticker).await;
    }
    panic!("{what}: fail");
}

const MAX_TRIES: usize = 10000;

/// `nonblock.go`: non-blocking sends and receives (select with default) eventually meet a
/// blocked partner, for each element type, on unbuffered and 1-buffered channels.
#[test]
fn nonblock() {
    run("nonblock", 4, 120, async {
        let ticker = gorun::time::tick(Duration::from_micros(10));
        let sync = chan::<bool>(0);
        async fn one<T>(
            buffer: usize,
            to_recv: T,
            to_send: T,
            ticker: &gorun::chan::Receiver<std::time::Instant>,
            sync: &Chan<bool>,
        ) where
            T: Send + Clone + PartialEq + std::fmt::Debug + 'static,
        {
            let c = chan::<T>(buffer);
            select! {
                recv(c) -> _v => panic!("blocked sender"),
                default => {},
            }
            // receiver
            let (c1, s1, want) = (c.clone(), sync.clone(), to_recv.clone());
            gorun::go(async move {
                assert_eq!(c1.recv().await, Some(want), "receiver value");
                s1.send(true).await.unwrap();
            });
            nb_send(&c, to_recv, ticker, "receiver").await;
            sync.recv().await;
            // sender
            let (c2, s2, v) = (c.clone(), sync.clone(), to_send.clone());
            gorun::go(async move {
                c2.send(v).await.unwrap();
                s2.send(true).await.unwrap();
            });
            if buffer > 0 {
                sync.recv().await;
            }
            let got = nb_recv(&c, ticker, "sender").await;
            assert_eq!(got, to_send, "sender value");
            if buffer == 0 {
                sync.recv().await;
            }
        }
        for buffer in 0..2 {
            one::<i32>(buffer, 123, 234, &ticker, &sync).await;
            one::<i64>(buffer, 123456, 234567, &ticker, &sync).await;
            one::<bool>(buffer, true, true, &ticker, &sync).await;
            one::<String>(buffer, "hello".into(), "hello again".into(), &ticker, &sync).await;
        }
    });
}

/// `select.go`: every send expression of a select is evaluated on each entry (the counter),
/// `default` ends the loop once no case is ready, and a nil channel's case is never chosen.
#[test]
fn select() {
    run("select", 1, 30, async {
        let counter = Arc::new(AtomicU32::new(0));
        async fn send_all(a: Chan<u32>, b: Chan<u32>, counter: &AtomicU32) -> i32 {
            let (mut a, mut b) = (a, b);
            let mut shift = 0;
            let mut i = 0;
            let get = |shift: u32| {
                counter.fetch_add(1, Ordering::SeqCst);
                1u32 << shift
            };
            loop {
                let which = select! {
                    send(a, get(shift)) -> r => { r.unwrap(); 0 },
                    send(b, get(shift)) -> r => { r.unwrap(); 1 },
                    default => 2,
                };
                match which {
                    0 => {
                        i += 1;
                        a = Chan::nil();
                    }
                    1 => {
                        i += 1;
                        b = Chan::nil();
                    }
                    _ => break,
                }
                shift += 1;
            }
            i
        }
        let a = chan::<u32>(1);
        let b = chan::<u32>(1);
        assert_eq!(send_all(a.clone(), b.clone(), &counter).await, 2);
        let (av, bv) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert_eq!(av | bv, 3, "bad values {av} {bv}");
        assert_eq!(send_all(a.clone(), Chan::nil(), &counter).await, 1);
        assert_eq!(counter.load(Ordering::SeqCst), 10, "counter");
    });
}

/// `select2.go`: 100000 selects against a sender, twice. Deviation: Go then checks the memory
/// footprint of the second round (no GC here); this keeps the selects and checks no dummy case
/// is ever chosen.
#[test]
fn select2() {
    // Go: 100000. Debug builds: 20000.
    let n = if common::release() { 100_000 } else { 20_000 };
    run("select2", 4, 120, async move {
        let c = chan::<i32>(0);
        let dummy = chan::<i32>(0);
        for _ in 0..2 {
            let s = c.clone();
            gorun::go(async move {
                for _ in 0..n {
                    s.send(1).await.unwrap();
                }
            });
            for _ in 0..n {
                select! {
                    recv(c) -> _v => {},
                    recv(dummy) -> _v => panic!("dummy"),
                }
            }
        }
    });
}

/// Go's `select3.go` `testBlock`, deterministic: instead of racing a 10 ms (or 10 s) sleep, the
/// operation is polled once on its own: a blocking one is pending (and stays so after the
/// other goroutines had a chance to run), a non-blocking one is ready at once.
async fn blocks<F: Future>(f: F) -> bool {
    let mut f = Box::pin(f);
    if f.as_mut().now_or_never().is_some() {
        return false;
    }
    for _ in 0..10 {
        gorun::yield_now().await;
        if f.as_mut().now_or_never().is_some() {
            return false;
        }
    }
    true
}

/// `select3.go`: which operations and selects block, and which complete.
#[test]
fn select3() {
    run("select3", 2, 30, async {
        let nilch = Chan::<i32>::nil();
        let closedch = chan::<i32>(0);
        closedch.close();
        // sending/receiving from a nil channel blocks
        assert!(blocks(nilch.send(7)).await);
        assert!(blocks(nilch.recv()).await);
        // sending/receiving from a nil channel inside a select is never selected
        select! { send(nilch, 7) -> _r => unreachable!(), default => {} }
        select! { recv(nilch) -> _v => unreachable!(), default => {} }
        // sending to an async channel with free buffer space never blocks
        let ch = chan::<i32>(1);
        assert!(!blocks(ch.send(7)).await);
        // receiving from a closed channel never blocks
        assert!(
            !blocks(async {
                for _ in 0..10 {
                    assert_eq!(closedch.recv().await, None);
                    assert_eq!(closedch.recv().await, None);
                }
            })
            .await
        );
        // sending to a closed channel fails (Go panics)
        assert_eq!(closedch.send(7).await, Err(SendError(7)));
        // receiving from a non-ready channel always blocks
        let ch = chan::<i32>(0);
        assert!(blocks(ch.recv()).await);
        // empty selects always block
        assert!(
            blocks(async {
                select! {}
            })
            .await
        );
        // selects with only nil channels always block
        assert!(
            blocks(async {
                select! { recv(nilch) -> _v => unreachable!() }
            })
            .await
        );
        assert!(
            blocks(async {
                select! { send(nilch, 7) -> _r => unreachable!() }
            })
            .await
        );
        assert!(
            blocks(async {
                select! {
                    recv(nilch) -> _v => unreachable!(),
                    send(nilch, 7) -> _r => unreachable!(),
                }
            })
            .await
        );
        // selects with non-ready non-nil channels always block
        let ch = chan::<i32>(0);
        assert!(
            blocks(async {
                select! { recv(ch) -> _v => unreachable!() }
            })
            .await
        );
        // selects with default cases don't block
        assert!(
            !blocks(async {
                select! { default => {} }
            })
            .await
        );
        assert!(
            !blocks(async {
                select! { recv(nilch) -> _v => unreachable!(), default => {} }
            })
            .await
        );
        assert!(
            !blocks(async {
                select! { send(nilch, 7) -> _r => unreachable!(), default => {} }
            })
            .await
        );
        // selects with ready channels don't block
        let ch = chan::<i32>(1);
        assert!(
            !blocks(async {
                select! { send(ch, 7) -> r => r.unwrap(), default => unreachable!() }
            })
            .await
        );
        assert!(
            !blocks(async {
                select! { recv(ch) -> v => assert_eq!(v, Some(7)), default => unreachable!() }
            })
            .await
        );
        // selects with closed channels behave like ordinary operations
        assert!(
            !blocks(async {
                select! { recv(closedch) -> v => assert_eq!(v, None) }
            })
            .await
        );
        assert!(
            !blocks(async {
                select! { recv(closedch) -> v => assert_eq!(v, None) }
            })
            .await
        );
        let r = select! { send(closedch, 7) -> r => r };
        assert_eq!(r, Err(SendError(7)), "send case on a closed channel");
        // select should not get confused if it sees itself
        let c = chan::<i32>(0);
        assert!(
            blocks(async {
                select! {
                    send(c, 1) -> _r => unreachable!(),
                    recv(c) -> _v => unreachable!(),
                }
            })
            .await
        );
    });
}

/// `select4.go`: only the chosen case's receive is performed.
#[test]
fn select4() {
    run("select4", 1, 10, async {
        let c = chan::<i32>(1);
        let c1 = chan::<i32>(0);
        c.send(42).await.unwrap();
        let x = select! {
            recv(c1) -> _v => panic!("BUG: received from c1"),
            recv(c) -> v => v,
        };
        assert_eq!(x, Some(42));
        assert_eq!(c1.len(), 0);
    });
}

/// `select6.go` (Go issue 2075): a select that loses on a channel with several waiters must
/// not corrupt that channel's queue; later waiters on it still wake up.
#[test]
fn select6() {
    run("select6", 4, 30, async {
        for _ in 0..100 {
            let c1 = chan::<bool>(0);
            let c2 = chan::<bool>(0);
            let c3 = chan::<bool>(0);
            let a = c1.clone();
            gorun::go(async move {
                a.recv().await;
            });
            let (a, b, d) = (c1.clone(), c2.clone(), c3.clone());
            gorun::go(async move {
                select! {
                    recv(a) -> _v => panic!("dummy"),
                    recv(b) -> _v => d.send(true).await.unwrap(),
                }
                a.recv().await;
            });
            let b = c2.clone();
            gorun::go(async move { b.send(true).await.unwrap() });
            c3.recv().await;
            c1.send(true).await.unwrap();
            c1.send(true).await.unwrap();
        }
    });
}

/// `select7.go`: every combination of plain/one-case-select/two-case-select on both sides of
/// an unbuffered channel.
#[test]
fn select7() {
    async fn recv_kind(kind: u8, c: Chan<i32>) {
        match kind {
            1 => {
                c.recv().await;
            }
            2 => select! { recv(c) -> _v => {} },
            _ => {
                let c2 = chan::<i32>(0);
                select! {
                    recv(c) -> _v => {},
                    recv(c2) -> _v => {},
                }
            }
        }
    }
    run("select7", 4, 30, async {
        for _ in 0..100 {
            for r in 1..=3 {
                for s in 1..=3 {
                    let c = chan::<i32>(0);
                    let h = gorun::go(recv_kind(r, c.clone()));
                    gorun::yield_now().await;
                    match s {
                        1 => c.send(1).await.unwrap(),
                        2 => select! { send(c, 1) -> r => r.unwrap() },
                        _ => {
                            let c2 = chan::<i32>(0);
                            select! {
                                send(c, 1) -> r => r.unwrap(),
                                send(c2, 1) -> _r => unreachable!(),
                            }
                        }
                    }
                    h.await.unwrap();
                }
            }
        }
    });
}

/// `select8.go`: `break` inside select arms (here: arms are expressions; `break` leaves the
/// enclosing loop) and `default`.
#[test]
fn select8() {
    run("select8", 2, 30, async {
        let ch = chan::<i32>(0);
        let s = ch.clone();
        gorun::go(async move { while s.send(5).await.is_ok() {} });
        #[allow(clippy::never_loop)]
        loop {
            select! { recv(ch) -> v => { assert_eq!(v, Some(5)); break } }
        }
        #[allow(clippy::never_loop)]
        loop {
            select! { default => break }
        }
        #[allow(clippy::never_loop)]
        loop {
            select! {
                recv(ch) -> _v => break,
                default => break,
            }
        }
        #[allow(clippy::never_loop)]
        loop {
            select! {
                recv(ch) -> _v => break,
                send(ch, 10) -> _r => panic!("unreachable: paired with its own receive"),
                default => break,
            }
        }
        ch.close();
    });
}

/// `sendstmt.go`: a channel of channels, and a send of a computed value.
#[test]
fn sendstmt() {
    run("sendstmt", 1, 10, async {
        // chanchan
        let cc = chan::<Chan<i32>>(1);
        let c = chan::<i32>(1);
        cc.send(c.clone()).await.unwrap();
        let inner = cc.recv().await.unwrap();
        select! {
            send(inner, 2) -> r => r.unwrap(),
            default => panic!("nonblock"),
        }
        assert_eq!(c.recv().await, Some(2), "bad receive");
        // sendprec
        let c = chan::<bool>(1);
        #[allow(clippy::nonminimal_bool)]
        c.send(false || true).await.unwrap();
        assert!(c.recv().await.unwrap(), "sent false");
    });
}

/// `sieve1.go`: the concurrent prime sieve, the first 25 primes.
#[test]
fn sieve1() {
    const PRIMES: [i32; 25] = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97,
    ];
    run("sieve1", 4, 30, async {
        let primes = chan::<i32>(0);
        let p = primes.clone();
        gorun::go(async move {
            let mut ch = chan::<i32>(0);
            let g = ch.clone();
            gorun::go(async move {
                let mut i = 2;
                while g.send(i).await.is_ok() {
                    i += 1;
                }
            });
            loop {
                let prime = ch.recv().await.unwrap();
                if p.send(prime).await.is_err() {
                    return;
                }
                let ch1 = chan::<i32>(0);
                let (inp, out) = (ch.clone(), ch1.clone());
                gorun::go(async move {
                    while let Some(i) = inp.recv().await {
                        if i % prime != 0 && out.send(i).await.is_err() {
                            return;
                        }
                    }
                });
                ch = ch1;
            }
        });
        for want in PRIMES {
            assert_eq!(primes.recv().await, Some(want));
        }
        // Deviation: Go's program exits with the sieve running; the runtime drops it here.
    });
}

/// `sieve2.go`: the prime sieve with a heap of channels of multiples, a feedback loop of
/// primes and a select-based proxy goroutine that buffers without bound. Go's `container/heap`
/// and `container/ring` become `BinaryHeap` and `VecDeque`.
#[test]
fn sieve2() {
    const PRIMES: [i64; 25] = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97,
    ];
    fn odds() -> Chan<i64> {
        let out = chan::<i64>(50);
        let o = out.clone();
        gorun::go(async move {
            let mut n = 5;
            while o.send(n).await.is_ok() {
                n += 2;
            }
        });
        out
    }
    fn multiples(p: i64) -> Chan<i64> {
        let out = chan::<i64>(10);
        let o = out.clone();
        gorun::go(async move {
            let mut n = p * p;
            while o.send(n).await.is_ok() {
                n += 2 * p;
            }
        });
        out
    }
    fn sendproxy(out: Chan<i64>) -> Chan<i64> {
        let proxy = chan::<i64>(10);
        let px = proxy.clone();
        gorun::go(async move {
            let mut buf = std::collections::VecDeque::new();
            loop {
                // buffer empty: disable output
                let c = if buf.is_empty() {
                    Chan::nil()
                } else {
                    out.clone()
                };
                let e = buf.front().copied().unwrap_or(0);
                let stop = select! {
                    recv(px) -> v => match v { Some(v) => { buf.push_back(v); false } None => true },
                    send(c, e) -> r => { buf.pop_front(); r.is_err() },
                };
                if stop {
                    return;
                }
            }
        });
        proxy
    }
    run("sieve2", 4, 30, async {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        // The output values.
        let out = chan::<i64>(10);
        out.send(2).await.unwrap();
        out.send(3).await.unwrap();
        // The channel of all composites to be eliminated in increasing order.
        let composites = chan::<i64>(50);
        // The feedback loop.
        let primes = chan::<i64>(10);
        primes.send(3).await.unwrap();
        // Merge channels of multiples of 'primes' into 'composites'.
        let (pr, comp) = (primes.clone(), composites.clone());
        gorun::go(async move {
            let mut chans: Vec<Chan<i64>> = vec![];
            let mut h: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
            let mut min = 15;
            loop {
                let Some(p) = pr.recv().await else { return };
                let m = multiples(p);
                let head = m.recv().await.unwrap();
                while min < head {
                    if comp.send(min).await.is_err() {
                        return;
                    }
                    let Reverse((mh, k)) = h.pop().unwrap();
                    min = mh;
                    h.push(Reverse((chans[k].recv().await.unwrap(), k)));
                }
                while min == head {
                    let Reverse((mh, k)) = h.pop().unwrap();
                    min = mh;
                    h.push(Reverse((chans[k].recv().await.unwrap(), k)));
                }
                if comp.send(head).await.is_err() {
                    return;
                }
                chans.push(m.clone());
                h.push(Reverse((m.recv().await.unwrap(), chans.len() - 1)));
            }
        });
        // Sieve out 'composites' from 'candidates'.
        let (pr, comp, o) = (primes.clone(), composites.clone(), out.clone());
        gorun::go(async move {
            let primes = sendproxy(pr);
            let candidates = odds();
            let mut p = candidates.recv().await.unwrap();
            loop {
                let Some(c) = comp.recv().await else { return };
                while p < c {
                    primes.send(p).await.unwrap();
                    if o.send(p).await.is_err() {
                        return;
                    }
                    p = candidates.recv().await.unwrap();
                }
                if p == c {
                    p = candidates.recv().await.unwrap();
                }
            }
        });
        for want in PRIMES {
            assert_eq!(out.recv().await, Some(want));
        }
        // Deviation: Go's program exits with the sieve running; the runtime drops it here.
    });
}

/// `zerosize.go`: channels of zero-sized elements.
#[test]
fn zerosize() {
    run("zerosize", 2, 10, async {
        let a = chan::<[u8; 0]>(0);
        let b = chan::<[u8; 0]>(1);
        let c = chan::<()>(0);
        let d = chan::<()>(1);
        b.send([]).await.unwrap();
        d.send(()).await.unwrap();
        assert_eq!(b.recv().await, Some([]));
        assert_eq!(d.recv().await, Some(()));
        let (a2, c2) = (a.clone(), c.clone());
        let wg = WaitGroup::new();
        wg.go(async move {
            a2.send([]).await.unwrap();
            c2.send(()).await.unwrap();
        });
        assert_eq!(a.recv().await, Some([]));
        assert_eq!(c.recv().await, Some(()));
        wg.wait().await;
    });
}
