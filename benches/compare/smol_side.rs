//! smol's version of every workload: an `async_executor::Executor` run by [`WORKERS`] threads,
//! each in `async_io::block_on(EX.run(..))` (how `smol` itself runs its executor, so idle
//! threads drive async-io's reactor), with async-channel, async-io timers and TCP, async-lock.
//!
//! Equivalences with Go's version:
//! - a goroutine is `EX.spawn(..)`; dropping a smol `Task` cancels it, so tasks nobody waits for
//!   are `detach`ed. "Wait for all" awaits the `Task`s.
//! - async-channel has no capacity 0, so where Go uses an unbuffered channel (`pingpong`,
//!   `skynet`, `select`) it uses capacity 1. A channel closes when its last `Sender` drops.
//! - there is no WaitGroup: `waitgroup` and `sleep` give each task a clone of a `Sender<()>`
//!   that it drops when done; the waiter's `recv` fails once the last clone is gone (the
//!   counter-and-wake-up a WaitGroup is). `spawn_wg` and `chans` use a [`Countdown`] instead:
//!   an atomic counter set to SIZE up front (Go's `wg.Add`), decremented by each task (`Done`);
//!   the task that takes it to zero sends on a `bounded(1)` async-channel the waiter receives
//!   from (async-channel as the event: async-lock has no event, and event-listener is not a
//!   direct dependency).
//! - `main` is not run through [`run`]: as `smol-macros`' `#[main]` runs a multi-threaded
//!   executor, [`WORKERS`] threads run `EX.run(..)` and the calling thread runs the body itself
//!   under `async_io::block_on(EX.run(body))` (so that thread also runs other tasks meanwhile).
//! - `chans` uses `async_channel::bounded(1)` for each of its SIZE channels (no capacity 0).
//! - `select` is `futures::select!` over the receivers as fused streams: a closed and drained
//!   receiver is terminated and never chosen again, as Go's nil channel; `complete` ends the
//!   loop once all are.
//! - `async_io::Timer` registers on first poll, so `timers` polls each once and stops it by
//!   dropping it (which deregisters it).

use super::{
    pool_job, skynet_expect, sum_below, timer_delay, Fns, Tally, ECHO_CLIENTS, ECHO_MSG, MPMC_CAP,
    MPMC_RECEIVERS, MPMC_SENDERS, MUTEX_TASKS, POOL_CAP, POOL_WORKERS, SELECT_CHANNELS,
    SKYNET_FANOUT, SLEEP, TIMER_TASKS, WORKERS, YIELDERS,
};
use async_channel::{bounded, Receiver, Sender};
use async_executor::Executor;
use async_io::{Async, Timer};
use async_lock::Mutex;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed},
};
use std::sync::Arc;
use std::task::{Context, Poll};
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
    // No HTTP server in the comparison (hyper on gorun, on tokio, and Go's net/http).
    http: None,
};

/// The executor; one per child process, so a static is simplest for spawning from anywhere.
static EX: Executor<'static> = Executor::new();

/// Starts the worker threads, runs `fut` as a task on them, stops them, returns how long it ran.
fn run<F: Future<Output = ()> + Send + 'static>(fut: F) -> Duration {
    let (stop, stopped) = bounded::<()>(1);
    let threads: Vec<_> = (0..WORKERS)
        .map(|i| {
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("smol-{i}"))
                .spawn(move || {
                    async_io::block_on(EX.run(async move {
                        let _ = stopped.recv().await;
                    }))
                })
                .expect("smol thread")
        })
        .collect();
    let root = EX.spawn(async move {
        let start = Instant::now();
        fut.await;
        start.elapsed()
    });
    // The calling thread only waits (and does not drive the reactor), like the other runtimes.
    let took = futures::executor::block_on(root);
    drop(stop); // closes the channel: every `EX.run` returns
    for t in threads {
        t.join().expect("smol thread panicked");
    }
    took
}

/// `main`: starts the [`WORKERS`] executor threads as [`run`] does, then runs `body` on the
/// calling thread under `async_io::block_on(EX.run(body))`, as smol's `main` does; stops the
/// threads and returns what `body` returned.
fn run_main<T>(body: impl Future<Output = T>) -> T {
    let (stop, stopped) = bounded::<()>(1);
    let threads: Vec<_> = (0..WORKERS)
        .map(|i| {
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("smol-{i}"))
                .spawn(move || {
                    async_io::block_on(EX.run(async move {
                        let _ = stopped.recv().await;
                    }))
                })
                .expect("smol thread")
        })
        .collect();
    let out = async_io::block_on(EX.run(body));
    drop(stop); // closes the channel: every `EX.run` returns
    for t in threads {
        t.join().expect("smol thread panicked");
    }
    out
}

/// smol's stand-in for a WaitGroup in `spawn_wg` and `chans` (see the module docs): `left`
/// counts the tasks not yet done; the one that takes it to zero puts the single message in
/// `zero`, which `wait` receives. The message stays in the channel until received, so a `wait`
/// that starts after the last `done` still finds it.
struct Countdown {
    left: AtomicU64,
    zero: (Sender<()>, Receiver<()>),
}

impl Countdown {
    fn new(n: u64) -> Arc<Countdown> {
        Arc::new(Countdown {
            left: AtomicU64::new(n),
            zero: bounded(1),
        })
    }

    /// One task done. AcqRel: the last `done` sees every earlier task's writes before it wakes
    /// the waiter.
    fn done(&self) {
        let before = self.left.fetch_sub(1, AcqRel);
        assert!(before > 0, "Countdown: more done() calls than tasks");
        if before == 1 {
            self.zero
                .0
                .try_send(())
                .expect("Countdown: reached zero twice");
        }
    }

    /// Waits until every task is done.
    async fn wait(&self) {
        if self.left.load(Acquire) > 0 {
            self.zero.1.recv().await.expect("Countdown: channel closed");
        }
    }
}

/// `yield_now` (futures-lite's, which is not a direct dependency here): pending once, having
/// woken itself, so the executor runs others first.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn spawn(n: u64) -> Duration {
    run(async move {
        let tasks: Vec<_> = (0..n).map(|i| EX.spawn(async move { i })).collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await;
        }
        assert_eq!(sum, sum_below(n));
    })
}

fn spawn_wg(n: u64) -> Duration {
    run(async move {
        let wg = Countdown::new(n);
        let sum = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let (wg, sum) = (wg.clone(), sum.clone());
            EX.spawn(async move {
                sum.fetch_add(i, Relaxed);
                wg.done();
            })
            .detach();
        }
        wg.wait().await;
        assert_eq!(sum.load(Relaxed), sum_below(n), "spawn_wg: wrong sum");
    })
}

fn chain(n: u64) -> Duration {
    run(async move {
        let (done, last) = bounded(1);
        link(1, n, done);
        assert_eq!(last.recv().await, Ok(n));
    })
}

/// Task `i` of `n`: spawns task `i + 1`, or reports `n` when it is the last.
fn link(i: u64, n: u64, done: Sender<u64>) {
    EX.spawn(async move {
        if i == n {
            done.send(i).await.unwrap();
        } else {
            link(i + 1, n, done);
        }
    })
    .detach();
}

fn yields(n: u64) -> Duration {
    run(async move {
        let per = n / YIELDERS;
        let tasks: Vec<_> = (0..YIELDERS)
            .map(|_| {
                EX.spawn(async move {
                    for _ in 0..per {
                        YieldNow(false).await;
                    }
                    per
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await;
        }
        assert_eq!(total, per * YIELDERS);
    })
}

fn pingpong(n: u64) -> Duration {
    run(async move {
        let (ping_tx, ping_rx) = bounded::<u64>(1);
        let (pong_tx, pong_rx) = bounded::<u64>(1);
        let echo = EX.spawn(async move {
            while let Ok(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        for i in 0..n {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Ok(i));
        }
        drop(ping_tx);
        echo.await;
    })
}

/// `main`: `pingpong`'s round trips as the body of smol's `main` (see [`run_main`]).
fn main_body(n: u64) -> Duration {
    run_main(async move {
        let start = Instant::now();
        let (ping_tx, ping_rx) = bounded::<u64>(1);
        let (pong_tx, pong_rx) = bounded::<u64>(1);
        let echo = EX.spawn(async move {
            while let Ok(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        for i in 0..n {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Ok(i), "main: wrong value back");
        }
        drop(ping_tx);
        echo.await;
        start.elapsed()
    })
}

fn pool(n: u64) -> Duration {
    run(async move {
        let (tx, rx) = bounded::<u64>(POOL_CAP);
        let workers: Vec<_> = (0..POOL_WORKERS)
            .map(|_| {
                let rx = rx.clone();
                EX.spawn(async move {
                    let (mut sum, mut mix) = (0, 0);
                    while let Ok(j) = rx.recv().await {
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
            sum += w.await.0;
        }
        assert_eq!(sum, sum_below(n));
    })
}

fn mpmc(n: u64) -> Duration {
    run(async move {
        let per = n / MPMC_SENDERS;
        let (tx, rx) = bounded::<u64>(MPMC_CAP);
        for s in 0..MPMC_SENDERS {
            let tx = tx.clone();
            EX.spawn(async move {
                for j in 0..per {
                    tx.send(s * per + j).await.unwrap();
                }
            })
            .detach();
        }
        drop(tx);
        let receivers: Vec<_> = (0..MPMC_RECEIVERS)
            .map(|_| {
                let rx = rx.clone();
                EX.spawn(async move {
                    let (mut sum, mut count) = (0, 0);
                    while let Ok(v) = rx.recv().await {
                        sum += v;
                        count += 1;
                    }
                    (sum, count)
                })
            })
            .collect();
        let (mut sum, mut count) = (0, 0);
        for r in receivers {
            let (s, c) = r.await;
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
        let (tx, rx) = bounded(1);
        skynet_node(tx, 0, n);
        assert_eq!(rx.recv().await, Ok(expect));
    })
}

/// A node covering leaves `num..num + size`: a leaf sends its number, an inner node spawns
/// its children and sends the sum of what they send.
fn skynet_node(out: Sender<u64>, num: u64, size: u64) {
    EX.spawn(async move {
        if size == 1 {
            out.send(num).await.unwrap();
            return;
        }
        let (tx, rx) = bounded(1);
        let child = size / SKYNET_FANOUT;
        for i in 0..SKYNET_FANOUT {
            skynet_node(tx.clone(), num + i * child, child);
        }
        let mut sum = 0;
        for _ in 0..SKYNET_FANOUT {
            sum += rx.recv().await.unwrap();
        }
        out.send(sum).await.unwrap();
    })
    .detach();
}

fn select(n: u64) -> Duration {
    run(async move {
        let per = n / SELECT_CHANNELS;
        // Boxed: `next()` needs an `Unpin` stream and async-channel's `Receiver` is not.
        let mut rxs: Vec<Pin<Box<Receiver<u64>>>> = (0..SELECT_CHANNELS)
            .map(|s| {
                let (tx, rx) = bounded(1);
                EX.spawn(async move {
                    for j in 0..per {
                        tx.send(s * per + j).await.unwrap();
                    }
                })
                .detach();
                Box::pin(rx)
            })
            .collect();
        let [r0, r1, r2, r3] = &mut rxs[..] else {
            unreachable!("SELECT_CHANNELS is 4")
        };
        let mut t = Tally::new(SELECT_CHANNELS);
        loop {
            futures::select! {
                v = r0.next() => { t.take(v); }
                v = r1.next() => { t.take(v); }
                v = r2.next() => { t.take(v); }
                v = r3.next() => { t.take(v); }
                complete => break,
            }
        }
        // No check of `t.open`: a closed and drained async-channel receiver reports itself
        // terminated, so `select!` may skip it before it yields its `None`.
        t.check(per * SELECT_CHANNELS);
    })
}

fn waitgroup(n: u64) -> Duration {
    run(async move {
        let (wg, all_done) = bounded::<()>(1);
        let done = Arc::new(AtomicU64::new(0));
        for _ in 0..n {
            let (wg, done) = (wg.clone(), done.clone());
            EX.spawn(async move {
                done.fetch_add(1, Relaxed);
                drop(wg);
            })
            .detach();
        }
        drop(wg);
        assert!(all_done.recv().await.is_err());
        assert_eq!(done.load(Relaxed), n);
    })
}

fn chans(n: u64) -> Duration {
    run(async move {
        let wg = Countdown::new(n);
        let (sum, count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let txs: Vec<Sender<u64>> = (0..n)
            .map(|_| {
                let (tx, rx) = bounded::<u64>(1);
                let (wg, sum, count) = (wg.clone(), sum.clone(), count.clone());
                EX.spawn(async move {
                    let v = rx.recv().await.expect("chans: channel closed");
                    sum.fetch_add(v, Relaxed);
                    count.fetch_add(1, Relaxed);
                    wg.done();
                })
                .detach();
                tx
            })
            .collect();
        for (i, tx) in txs.iter().enumerate() {
            tx.send(i as u64).await.expect("chans: receiver gone");
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
        let tasks: Vec<_> = (0..MUTEX_TASKS)
            .map(|_| {
                let m = m.clone();
                EX.spawn(async move {
                    for _ in 0..per {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
        assert_eq!(*m.lock().await, per * MUTEX_TASKS);
    })
}

fn sleep(n: u64) -> Duration {
    let took = run(async move {
        let (wg, all_done) = bounded::<()>(1);
        for _ in 0..n {
            let wg = wg.clone();
            EX.spawn(async move {
                Timer::after(SLEEP).await;
                drop(wg);
            })
            .detach();
        }
        drop(wg);
        assert!(all_done.recv().await.is_err());
    });
    assert!(took >= SLEEP, "sleep: all done after {took:?}");
    took
}

fn timers(n: u64) -> Duration {
    run(async move {
        let per = n / TIMER_TASKS;
        let tasks: Vec<_> = (0..TIMER_TASKS)
            .map(|_| {
                EX.spawn(async move {
                    let mut timers = Vec::with_capacity(per as usize);
                    for i in 0..per {
                        let mut t = Timer::after(timer_delay(i));
                        assert!(futures::poll!(&mut t).is_pending(), "timer fired early");
                        timers.push(t);
                    }
                    let stopped = timers.len() as u64;
                    drop(timers); // dropping a registered Timer deregisters it
                    stopped
                })
            })
            .collect();
        let mut stopped = 0;
        for t in tasks {
            stopped += t.await;
        }
        assert_eq!(stopped, per * TIMER_TASKS);
    })
}

fn echo(n: u64) -> Duration {
    run(async move {
        let per = n / ECHO_CLIENTS;
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        EX.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                EX.spawn(echo_serve(conn)).detach();
            }
        })
        .detach();
        let clients: Vec<_> = (0..ECHO_CLIENTS)
            .map(|c| EX.spawn(echo_client(addr, c, per)))
            .collect();
        let mut trips = 0;
        for c in clients {
            trips += c.await;
        }
        assert_eq!(trips, per * ECHO_CLIENTS);
    })
}

/// Writes back whatever arrives until the client hangs up.
async fn echo_serve(mut conn: Async<TcpStream>) {
    conn.get_ref().set_nodelay(true).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(k @ 1..) = conn.read(&mut buf).await {
        if conn.write_all(&buf[..k]).await.is_err() {
            return;
        }
    }
}

/// `trips` round trips of one [`ECHO_MSG`]-byte message, each checked byte for byte.
async fn echo_client(addr: SocketAddr, id: u64, trips: u64) -> u64 {
    let mut conn = Async::<TcpStream>::connect(addr).await.unwrap();
    conn.get_ref().set_nodelay(true).unwrap();
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
