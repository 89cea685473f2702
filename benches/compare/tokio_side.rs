//! tokio's version of every workload: the multi-thread runtime with [`WORKERS`] worker threads
//! and tokio's own primitives, written as a tokio user would.
//!
//! Equivalences with Go's version:
//! - a goroutine is `tokio::spawn`; "wait for all" awaits the `JoinHandle`s (the tokio idiom;
//!   Go uses a WaitGroup as it has no handles), or uses a `TaskTracker` where the workload is the
//!   WaitGroup itself (`waitgroup`, `sleep`, `spawn_wg`, `chans`): `TaskTracker`, tokio-util's
//!   counter of live tasks with a wake-up when it reaches zero after `close()`.
//! - `main` is not run through [`run`]: its body is what `#[tokio::main]` expands to,
//!   `Builder::new_multi_thread()..build().unwrap().block_on(async { .. })`, so the body is
//!   polled on the calling thread (not a worker) and the echo side is a spawned task.
//! - `chans` uses `tokio::sync::oneshot` for each of its SIZE channels: tokio has no capacity-0
//!   channel, and a oneshot (one value, one receiver) is what a tokio user takes for this.
//! - tokio's `mpsc` has no capacity 0, so where Go uses an unbuffered channel (`pingpong`,
//!   `skynet`, `select`) tokio uses capacity 1. `mpsc` has a single consumer, so `mpmc`'s four
//!   receivers and `pool`'s four workers share the one `Receiver` behind a `tokio::sync::Mutex`.
//! - a channel is closed by dropping its last `Sender` (Go: `close`).
//! - `tokio::time::sleep` registers its timer on first poll, so `timers` polls each once (under
//!   `unconstrained`, so the coop budget cannot skip a registration) and stops it by dropping.

use super::{
    pool_job, skynet_expect, sum_below, timer_delay, Fns, Tally, ECHO_CLIENTS, ECHO_MSG, MPMC_CAP,
    MPMC_RECEIVERS, MPMC_SENDERS, MUTEX_TASKS, POOL_CAP, POOL_WORKERS, SELECT_CHANNELS,
    SKYNET_FANOUT, SLEEP, TIMER_TASKS, WORKERS, YIELDERS,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_util::task::TaskTracker;

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

/// Builds the runtime, runs `fut` as a task on a worker (not on the calling thread, as every
/// runtime here does), and returns how long it ran.
fn run<F: Future<Output = ()> + Send + 'static>(fut: F) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        tokio::spawn(async move {
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
        let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, sum_below(n));
    })
}

fn spawn_wg(n: u64) -> Duration {
    run(async move {
        let tracker = TaskTracker::new();
        let sum = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let sum = sum.clone();
            tracker.spawn(async move {
                sum.fetch_add(i, Relaxed);
            });
        }
        tracker.close();
        tracker.wait().await;
        assert_eq!(sum.load(Relaxed), sum_below(n), "spawn_wg: wrong sum");
    })
}

fn chain(n: u64) -> Duration {
    run(async move {
        let (done, last) = oneshot::channel();
        link(1, n, done);
        assert_eq!(last.await.unwrap(), n);
    })
}

/// Task `i` of `n`: spawns task `i + 1`, or reports `n` when it is the last.
fn link(i: u64, n: u64, done: oneshot::Sender<u64>) {
    tokio::spawn(async move {
        if i == n {
            done.send(i).unwrap();
        } else {
            link(i + 1, n, done);
        }
    });
}

fn yields(n: u64) -> Duration {
    run(async move {
        let per = n / YIELDERS;
        let handles: Vec<_> = (0..YIELDERS)
            .map(|_| {
                tokio::spawn(async move {
                    for _ in 0..per {
                        tokio::task::yield_now().await;
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
        let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        for i in 0..n {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i));
        }
        drop(ping_tx);
        echo.await.unwrap();
    })
}

/// `main`: `pingpong`'s round trips in the body of `#[tokio::main] async fn main()`, written
/// out as the attribute expands it (see the module docs).
fn main_body(n: u64) -> Duration {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("Failed building the Runtime")
        .block_on(async move {
            let start = Instant::now();
            let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
            let echo = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            });
            for i in 0..n {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await, Some(i), "main: wrong value back");
            }
            drop(ping_tx);
            echo.await.unwrap();
            start.elapsed()
        })
}

fn pool(n: u64) -> Duration {
    run(async move {
        let (tx, rx) = mpsc::channel::<u64>(POOL_CAP);
        let rx = Arc::new(Mutex::new(rx));
        let workers: Vec<_> = (0..POOL_WORKERS)
            .map(|_| {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let (mut sum, mut mix) = (0, 0);
                    loop {
                        let job = rx.lock().await.recv().await;
                        let Some(j) = job else { break };
                        mix ^= pool_job(j);
                        sum += j;
                    }
                    (sum, std::hint::black_box(mix))
                })
            })
            .collect();
        for j in 0..n {
            tx.send(j).await.unwrap();
        }
        drop(tx);
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
        let (tx, rx) = mpsc::channel::<u64>(MPMC_CAP);
        let rx = Arc::new(Mutex::new(rx));
        for s in 0..MPMC_SENDERS {
            let tx = tx.clone();
            tokio::spawn(async move {
                for j in 0..per {
                    tx.send(s * per + j).await.unwrap();
                }
            });
        }
        drop(tx);
        let receivers: Vec<_> = (0..MPMC_RECEIVERS)
            .map(|_| {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let (mut sum, mut count) = (0, 0);
                    while let Some(v) = rx.lock().await.recv().await {
                        sum += v;
                        count += 1;
                    }
                    (sum, count)
                })
            })
            .collect();
        let (mut sum, mut count) = (0, 0);
        for r in receivers {
            let (s, c) = r.await.unwrap();
            sum += s;
            count += c;
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
        let (tx, mut rx) = mpsc::channel(1);
        skynet_node(tx, 0, n);
        assert_eq!(rx.recv().await, Some(expect));
    })
}

/// A node covering leaves `num..num + size`: a leaf sends its number, an inner node spawns
/// its children and sends the sum of what they send.
fn skynet_node(out: mpsc::Sender<u64>, num: u64, size: u64) {
    tokio::spawn(async move {
        if size == 1 {
            out.send(num).await.unwrap();
            return;
        }
        let (tx, mut rx) = mpsc::channel(1);
        let child = size / SKYNET_FANOUT;
        for i in 0..SKYNET_FANOUT {
            skynet_node(tx.clone(), num + i * child, child);
        }
        let mut sum = 0;
        for _ in 0..SKYNET_FANOUT {
            sum += rx.recv().await.unwrap();
        }
        out.send(sum).await.unwrap();
    });
}

fn select(n: u64) -> Duration {
    run(async move {
        let per = n / SELECT_CHANNELS;
        let mut rxs: Vec<mpsc::Receiver<u64>> = (0..SELECT_CHANNELS)
            .map(|s| {
                let (tx, rx) = mpsc::channel(1);
                tokio::spawn(async move {
                    for j in 0..per {
                        tx.send(s * per + j).await.unwrap();
                    }
                });
                rx
            })
            .collect();
        let [r0, r1, r2, r3] = &mut rxs[..] else {
            unreachable!("SELECT_CHANNELS is 4")
        };
        let mut t = Tally::new(SELECT_CHANNELS);
        let mut open = [true; 4];
        // A closed channel's branch is disabled by its precondition, as Go sets it to nil.
        loop {
            tokio::select! {
                v = r0.recv(), if open[0] => open[0] = t.take(v),
                v = r1.recv(), if open[1] => open[1] = t.take(v),
                v = r2.recv(), if open[2] => open[2] = t.take(v),
                v = r3.recv(), if open[3] => open[3] = t.take(v),
                else => break,
            }
        }
        t.check(per * SELECT_CHANNELS);
    })
}

fn waitgroup(n: u64) -> Duration {
    run(async move {
        let tracker = TaskTracker::new();
        let done = Arc::new(AtomicU64::new(0));
        for _ in 0..n {
            let done = done.clone();
            tracker.spawn(async move {
                done.fetch_add(1, Relaxed);
            });
        }
        tracker.close();
        tracker.wait().await;
        assert_eq!(done.load(Relaxed), n);
    })
}

fn chans(n: u64) -> Duration {
    run(async move {
        let tracker = TaskTracker::new();
        let (sum, count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let txs: Vec<oneshot::Sender<u64>> = (0..n)
            .map(|_| {
                let (tx, rx) = oneshot::channel::<u64>();
                let (sum, count) = (sum.clone(), count.clone());
                tracker.spawn(async move {
                    let v = rx.await.expect("chans: sender dropped");
                    sum.fetch_add(v, Relaxed);
                    count.fetch_add(1, Relaxed);
                });
                tx
            })
            .collect();
        for (i, tx) in txs.into_iter().enumerate() {
            tx.send(i as u64).expect("chans: receiver gone");
        }
        tracker.close();
        tracker.wait().await;
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
                tokio::spawn(async move {
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
        let tracker = TaskTracker::new();
        for _ in 0..n {
            tracker.spawn(tokio::time::sleep(SLEEP));
        }
        tracker.close();
        tracker.wait().await;
    });
    assert!(took >= SLEEP, "sleep: all done after {took:?}");
    took
}

fn timers(n: u64) -> Duration {
    run(async move {
        let per = n / TIMER_TASKS;
        let handles: Vec<_> = (0..TIMER_TASKS)
            .map(|_| {
                tokio::spawn(tokio::task::unconstrained(async move {
                    let mut timers = Vec::with_capacity(per as usize);
                    for i in 0..per {
                        let mut t = Box::pin(tokio::time::sleep(timer_delay(i)));
                        assert!(futures::poll!(t.as_mut()).is_pending(), "timer fired early");
                        timers.push(t);
                    }
                    let stopped = timers.len() as u64;
                    drop(timers); // dropping a registered Sleep removes it from the wheel
                    stopped
                }))
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
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(echo_serve(conn));
            }
        });
        let clients: Vec<_> = (0..ECHO_CLIENTS)
            .map(|c| tokio::spawn(echo_client(addr, c, per)))
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

/// `http`: hyper's HTTP/1.1 server on tokio (hyper-util's `TokioIo`), a task per connection,
/// keep-alive, as hyper's own examples serve.
fn http() -> SocketAddr {
    use hyper::service::service_fn;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let hello = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(
                            super::HTTP_BODY.as_bytes(),
                        )),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), hello)
                    .await;
            });
        }
    });
    std::mem::forget(rt); // serves until the process exits
    addr
}
