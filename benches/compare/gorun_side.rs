//! gorun's version of every workload, written as the Go program in `benches/go/main.go` is:
//! `go(..)` for `go f()`, `chan(0)` where Go uses an unbuffered channel, `close()` where Go
//! closes, `select!` with a closed channel replaced by `Chan::nil()` as Go sets it to nil,
//! `WaitGroup` and `Mutex` from `gorun::sync`, `Timer`/`sleep` from `gorun::time`, and
//! `gorun::net` for TCP. The runtime has [`WORKERS`] workers, as `GOMAXPROCS=2`.
//!
//! Like the Rust peers, "wait for all" in `spawn`, `yield` and `mutex` awaits the `JoinHandle`s
//! (Go, having none, uses a WaitGroup); `waitgroup` and `sleep` use the WaitGroup as Go does,
//! `spawn_wg` and `chans` too, with `WaitGroup::go` (add, spawn, done on exit).
//!
//! `main` is not run through [`run`]: its body is what `#[gorun::main]` expands to,
//! `Builder::new().workers(..).build().expect(..).__run_main(async move { .. })`, so the body
//! is goroutine 1 on a worker, not a goroutine spawned from a `block_on`.

use super::{
    pool_job, skynet_expect, sum_below, timer_delay, Fns, Tally, ECHO_CLIENTS, ECHO_MSG, MPMC_CAP,
    MPMC_RECEIVERS, MPMC_SENDERS, MUTEX_TASKS, POOL_CAP, POOL_WORKERS, SELECT_CHANNELS,
    SKYNET_FANOUT, SLEEP, TIMER_TASKS, WORKERS, YIELDERS,
};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use gorun::chan::{chan, Chan};
use gorun::go;
use gorun::net::{TcpListener, TcpStream};
use gorun::sync::{Mutex, WaitGroup};
use gorun::time::Timer;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const FNS: Fns = Fns {
    spawn,
    spawn_wg,
    chain,
    yields,
    pingpong,
    main: main_body,
    mpmc,
    pool,
    skynet,
    select,
    waitgroup,
    chans,
    mutex,
    sleep,
    timers,
    echo,
    http: Some(http),
};

/// Builds the runtime, runs `fut` as a goroutine, and returns how long it ran.
fn run<F: Future<Output = ()> + Send + 'static>(fut: F) -> Duration {
    let rt = gorun::runtime::Builder::new()
        .workers(WORKERS)
        .build()
        .expect("gorun runtime");
    rt.block_on(async move {
        go(async move {
            let start = Instant::now();
            fut.await;
            start.elapsed()
        })
        .await
        .expect("workload panicked")
    })
}

fn spawn(n: u64) -> Duration {
    run(async move {
        let handles: Vec<_> = (0..n).map(|i| go(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, sum_below(n));
    })
}

fn spawn_wg(n: u64) -> Duration {
    run(async move {
        let wg = WaitGroup::new();
        let sum = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let sum = sum.clone();
            drop(wg.go(async move {
                sum.fetch_add(i, Relaxed);
            })); // detached: the WaitGroup is the wait
        }
        wg.wait().await;
        assert_eq!(sum.load(Relaxed), sum_below(n), "spawn_wg: wrong sum");
    })
}

fn chain(n: u64) -> Duration {
    run(async move {
        let done = chan::<u64>(0);
        link(1, n, done.clone());
        assert_eq!(done.recv().await, Some(n));
    })
}

/// Goroutine `i` of `n`: starts goroutine `i + 1`, or reports `n` when it is the last.
fn link(i: u64, n: u64, done: Chan<u64>) {
    drop(go(async move {
        if i == n {
            done.send(i).await.unwrap();
        } else {
            link(i + 1, n, done);
        }
    })); // detached
}

fn yields(n: u64) -> Duration {
    run(async move {
        let per = n / YIELDERS;
        let handles: Vec<_> = (0..YIELDERS)
            .map(|_| {
                go(async move {
                    for _ in 0..per {
                        gorun::yield_now().await;
                    }
                    per
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        assert_eq!(total, per * YIELDERS);
    })
}

fn pingpong(n: u64) -> Duration {
    run(async move {
        let (ping, pong) = (chan::<u64>(0), chan::<u64>(0));
        let echo = {
            let (ping, pong) = (ping.clone(), pong.clone());
            go(async move {
                while let Some(v) = ping.recv().await {
                    pong.send(v).await.unwrap();
                }
            })
        };
        for i in 0..n {
            ping.send(i).await.unwrap();
            assert_eq!(pong.recv().await, Some(i));
        }
        ping.close();
        echo.await.unwrap();
    })
}

/// `main`: `pingpong`'s round trips in the body of `#[gorun::main] async fn main()`, written
/// out as the attribute expands it (see the module docs).
fn main_body(n: u64) -> Duration {
    gorun::runtime::Builder::new()
        .workers(WORKERS)
        .build()
        .expect("gorun: failed to start the runtime")
        .__run_main(async move {
            let start = Instant::now();
            let (ping, pong) = (chan::<u64>(0), chan::<u64>(0));
            let echo = {
                let (ping, pong) = (ping.clone(), pong.clone());
                go(async move {
                    while let Some(v) = ping.recv().await {
                        pong.send(v).await.unwrap();
                    }
                })
            };
            for i in 0..n {
                ping.send(i).await.unwrap();
                assert_eq!(pong.recv().await, Some(i), "main: wrong value back");
            }
            ping.close();
            echo.await.unwrap();
            start.elapsed()
        })
}

fn pool(n: u64) -> Duration {
    run(async move {
        let jobs = chan::<u64>(POOL_CAP);
        let workers: Vec<_> = (0..POOL_WORKERS)
            .map(|_| {
                let jobs = jobs.clone();
                go(async move {
                    let (mut sum, mut mix) = (0, 0);
                    while let Some(j) = jobs.recv().await {
                        mix ^= pool_job(j);
                        sum += j;
                    }
                    (sum, std::hint::black_box(mix))
                })
            })
            .collect();
        for j in 0..n {
            jobs.send(j).await.unwrap();
        }
        jobs.close();
        let mut sum = 0;
        for w in workers {
            sum += w.await.unwrap().0;
        }
        assert_eq!(sum, sum_below(n));
    })
}

fn mpmc(n: u64) -> Duration {
    run(async move {
        let per = n / MPMC_SENDERS;
        let c = chan::<u64>(MPMC_CAP);
        let senders: Vec<_> = (0..MPMC_SENDERS)
            .map(|s| {
                let c = c.clone();
                go(async move {
                    for j in 0..per {
                        c.send(s * per + j).await.unwrap();
                    }
                })
            })
            .collect();
        let receivers: Vec<_> = (0..MPMC_RECEIVERS)
            .map(|_| {
                let c = c.clone();
                go(async move {
                    let (mut sum, mut count) = (0, 0);
                    while let Some(v) = c.recv().await {
                        sum += v;
                        count += 1;
                    }
                    (sum, count)
                })
            })
            .collect();
        // Go: senders.Wait(); close(ch).
        for s in senders {
            s.await.unwrap();
        }
        c.close();
        let (mut sum, mut count) = (0, 0);
        for r in receivers {
            let (s, k) = r.await.unwrap();
            sum += s;
            count += k;
        }
        assert_eq!(
            (count, sum),
            (per * MPMC_SENDERS, sum_below(per * MPMC_SENDERS))
        );
    })
}

fn skynet(n: u64) -> Duration {
    run(async move {
        let expect = skynet_expect(n);
        let c = chan::<u64>(0);
        skynet_node(c.clone(), 0, n);
        assert_eq!(c.recv().await, Some(expect));
    })
}

/// A node covering leaves `num..num + size`: a leaf sends its number, an inner node starts its
/// children and sends the sum of what they send.
fn skynet_node(out: Chan<u64>, num: u64, size: u64) {
    drop(go(async move {
        if size == 1 {
            out.send(num).await.unwrap();
            return;
        }
        let rc = chan::<u64>(0);
        let child = size / SKYNET_FANOUT;
        for i in 0..SKYNET_FANOUT {
            skynet_node(rc.clone(), num + i * child, child);
        }
        let mut sum = 0;
        for _ in 0..SKYNET_FANOUT {
            sum += rc.recv().await.unwrap();
        }
        out.send(sum).await.unwrap();
    })); // detached
}

fn select(n: u64) -> Duration {
    run(async move {
        let per = n / SELECT_CHANNELS;
        let mut cs: Vec<Chan<u64>> = (0..SELECT_CHANNELS)
            .map(|s| {
                let c = chan::<u64>(0);
                let tx = c.clone();
                drop(go(async move {
                    for j in 0..per {
                        tx.send(s * per + j).await.unwrap();
                    }
                    tx.close();
                }));
                c
            })
            .collect();
        let mut t = Tally::new(SELECT_CHANNELS);
        while t.open > 0 {
            let mut closed = None;
            gorun::select! {
                recv(cs[0]) -> v => { if !t.take(v) { closed = Some(0) } },
                recv(cs[1]) -> v => { if !t.take(v) { closed = Some(1) } },
                recv(cs[2]) -> v => { if !t.take(v) { closed = Some(2) } },
                recv(cs[3]) -> v => { if !t.take(v) { closed = Some(3) } },
            }
            if let Some(i) = closed {
                cs[i] = Chan::nil(); // as Go sets a closed channel to nil
            }
        }
        t.check(per * SELECT_CHANNELS);
    })
}

fn waitgroup(n: u64) -> Duration {
    run(async move {
        let wg = WaitGroup::new();
        let done = Arc::new(AtomicU64::new(0));
        wg.add(n as usize);
        for _ in 0..n {
            let (wg, done) = (wg.clone(), done.clone());
            drop(go(async move {
                done.fetch_add(1, Relaxed);
                wg.done();
            }));
        }
        wg.wait().await;
        assert_eq!(done.load(Relaxed), n);
    })
}

fn chans(n: u64) -> Duration {
    run(async move {
        let wg = WaitGroup::new();
        let (sum, count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let cs: Vec<Chan<u64>> = (0..n)
            .map(|_| {
                let c = chan::<u64>(0); // Go: make(chan uint64)
                let (rx, sum, count) = (c.clone(), sum.clone(), count.clone());
                drop(wg.go(async move {
                    let v = rx.recv().await.expect("chans: channel closed");
                    sum.fetch_add(v, Relaxed);
                    count.fetch_add(1, Relaxed);
                }));
                c
            })
            .collect();
        for (i, c) in cs.iter().enumerate() {
            c.send(i as u64).await.unwrap();
        }
        wg.wait().await;
        assert_eq!(count.load(Relaxed), n, "chans: wrong number received");
        assert_eq!(sum.load(Relaxed), sum_below(n), "chans: wrong sum");
    })
}

fn mutex(n: u64) -> Duration {
    run(async move {
        let per = n / MUTEX_TASKS;
        let m = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..MUTEX_TASKS)
            .map(|_| {
                let m = m.clone();
                go(async move {
                    for _ in 0..per {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, per * MUTEX_TASKS);
    })
}

fn sleep(n: u64) -> Duration {
    let took = run(async move {
        let wg = WaitGroup::new();
        wg.add(n as usize);
        for _ in 0..n {
            let wg = wg.clone();
            drop(go(async move {
                gorun::time::sleep(SLEEP).await;
                wg.done();
            }));
        }
        wg.wait().await;
    });
    assert!(took >= SLEEP, "sleep: all done after {took:?}");
    took
}

fn timers(n: u64) -> Duration {
    run(async move {
        let per = n / TIMER_TASKS;
        let handles: Vec<_> = (0..TIMER_TASKS)
            .map(|_| {
                go(async move {
                    let timers: Vec<Timer> = (0..per).map(|i| Timer::new(timer_delay(i))).collect();
                    for t in &timers {
                        assert!(t.stop(), "timers: a timer had already fired");
                    }
                    timers.len() as u64
                })
            })
            .collect();
        let mut stopped = 0;
        for h in handles {
            stopped += h.await.unwrap();
        }
        assert_eq!(stopped, per * TIMER_TASKS);
    })
}

fn echo(n: u64) -> Duration {
    run(async move {
        let per = n / ECHO_CLIENTS;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(go(async move {
            while let Ok((conn, _)) = listener.accept().await {
                drop(go(echo_serve(conn)));
            }
        }));
        let clients: Vec<_> = (0..ECHO_CLIENTS)
            .map(|c| go(echo_client(addr, c, per)))
            .collect();
        let mut trips = 0;
        for c in clients {
            trips += c.await.unwrap();
        }
        assert_eq!(trips, per * ECHO_CLIENTS);
    })
}

/// Writes back whatever arrives until the client hangs up.
async fn echo_serve(mut conn: TcpStream) {
    conn.set_nodelay(true).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(k @ 1..) = conn.read(&mut buf).await {
        if conn.write_all(&buf[..k]).await.is_err() {
            return;
        }
    }
}

/// `trips` round trips of one [`ECHO_MSG`]-byte message, each checked byte for byte.
async fn echo_client(addr: SocketAddr, id: u64, trips: u64) -> u64 {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.set_nodelay(true).unwrap();
    let mut msg = [id as u8; ECHO_MSG];
    let mut back = [0u8; ECHO_MSG];
    for i in 0..trips {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        conn.write_all(&msg).await.unwrap();
        conn.read_exact(&mut back).await.unwrap();
        assert_eq!(msg, back, "echo: wrong bytes");
    }
    trips
}

/// `http`: hyper's HTTP/1.1 server on gorun (`gorun::hyper`), a goroutine per connection,
/// keep-alive, as Go's `net/http` serves. Needs the `hyper` feature.
#[cfg(feature = "hyper")]
fn http() -> SocketAddr {
    use hyper::service::service_fn;
    let rt = gorun::runtime::Builder::new()
        .workers(WORKERS)
        .build()
        .expect("gorun runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(rt.go(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            drop(go(async move {
                let hello = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(
                            super::HTTP_BODY.as_bytes(),
                        )),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(gorun::hyper::GorunTimer::new())
                    .serve_connection(stream, hello)
                    .await;
            }));
        }
    }));
    std::mem::forget(rt); // serves until the process exits
    addr
}

#[cfg(not(feature = "hyper"))]
fn http() -> SocketAddr {
    panic!("http: gorun's HTTP server needs the `hyper` feature: cargo bench --bench compare --features hyper -- http")
}
