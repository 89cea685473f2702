//! Shutting a runtime down while goroutines wait in every kind of wait, and wakers that outlive
//! their runtime. Dropping the runtime must run every goroutine's destructors and return within
//! a few seconds; a waker fired from a foreign thread during or after shutdown must do nothing
//! harmful (this file also runs under valgrind, see `.ci/valgrind`).
mod common;
mod stress_util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures::io::AsyncReadExt;
use gorun::chan::{chan, Chan, TryRecvError, TrySendError};
use gorun::net::{TcpListener, TcpStream};
use gorun::select;
use gorun::sync::{Mutex, Semaphore, WaitGroup};
use stress_util::CountOnDrop;

/// TCP connections (one reader each) and goroutines waiting in `accept`: bounded by file
/// descriptors, so they do not scale.
const CONNS: usize = 200;
const ACCEPTERS: usize = 1_000;

/// Goroutines per kind for the 7 other kinds of wait: at least 100,000 goroutines in all at
/// every scale (about 3,000 with `GORUN_TEST_SCALE=small`, for valgrind); `STRESS_SCALE`
/// repeats the whole test that many times.
fn per_kind() -> usize {
    if common::small() {
        250
    } else {
        (100_000 - CONNS - ACCEPTERS).div_ceil(7)
    }
}

#[test]
fn dropping_the_runtime_with_100000_goroutines_blocked_in_every_kind_of_wait_runs_all_destructors()
{
    let _w = common::watchdog("stress_shutdown_100k", stress_util::budget(120));
    for _ in 0..stress_util::scale() {
        shutdown_with_every_kind_of_wait();
    }
}

fn shutdown_with_every_kind_of_wait() {
    let n = per_kind();
    let (conns, accepters) = (CONNS, ACCEPTERS);
    let total = 7 * n + conns + accepters;
    assert!(total >= 100_000 || common::small());
    let dropped = Arc::new(AtomicUsize::new(0));
    let waiting = Arc::new(AtomicUsize::new(0));
    let rt = stress_util::rt();
    let (d, w) = (dropped.clone(), waiting.clone());
    // Kept alive across the drop: the client ends of the TCP connections.
    let clients = rt.block_on(async move {
        // Spawns a goroutine holding a drop counter that marks itself waiting, then awaits `f`.
        let spawn = |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
            let (g, w) = (CountOnDrop(d.clone()), w.clone());
            drop(gorun::go(async move {
                let _g = g;
                w.fetch_add(1, SeqCst);
                f.await;
                unreachable!("a wait that nothing can end ended");
            }));
        };
        let recv_c: Chan<u64> = chan(0);
        let send_c: Chan<u64> = chan(0);
        let (sel_a, sel_b): (Chan<u64>, Chan<u64>) = (chan(1), chan(0));
        let mutex = Arc::new(Mutex::new(0u64));
        let sem = Arc::new(Semaphore::new(0));
        let wg = WaitGroup::new();
        wg.add(1);
        // The mutex is held for ever by a goroutine of its own.
        {
            let (m, g, w) = (mutex.clone(), CountOnDrop(d.clone()), w.clone());
            let held = Arc::new(AtomicBool::new(false));
            let h2 = held.clone();
            drop(gorun::go(async move {
                let _g = g;
                let _guard = m.lock().await;
                h2.store(true, SeqCst);
                w.fetch_add(1, SeqCst);
                std::future::pending::<()>().await
            }));
            while !held.load(SeqCst) {
                gorun::yield_now().await;
            }
        }
        for i in 0..n as u64 {
            let c = recv_c.clone();
            spawn(Box::pin(async move {
                let _ = c.recv().await;
            }));
            let c = send_c.clone();
            spawn(Box::pin(async move {
                let _ = c.send(i).await;
            }));
            let (a, b) = (sel_a.clone(), sel_b.clone());
            spawn(Box::pin(async move {
                select! {
                    recv(a) -> _ => {},
                    recv(b) -> _ => {},
                }
            }));
            let m = mutex.clone();
            spawn(Box::pin(async move {
                let _ = m.lock().await;
            }));
            let s = sem.clone();
            spawn(Box::pin(async move {
                let _ = s.acquire(1 + (i % 3) as usize).await;
            }));
            let wg = wg.clone();
            spawn(Box::pin(async move { wg.wait().await }));
            spawn(Box::pin(async move {
                gorun::time::sleep(Duration::from_secs(3_600 + i % 1000)).await
            }));
        }
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..conns {
            let client = TcpStream::connect(addr).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            spawn(Box::pin(async move {
                let mut buf = [0u8; 16];
                let _ = server.read(&mut buf).await;
            }));
            clients.push(client);
        }
        for _ in 0..accepters {
            let l = listener.clone();
            spawn(Box::pin(async move {
                let _ = l.accept().await;
            }));
        }
        clients
    });
    let t = Instant::now();
    while waiting.load(SeqCst) < total + 1 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        waiting.load(SeqCst),
        total + 1,
        "not every goroutine started"
    );
    // Let the last ones reach their wait.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(dropped.load(SeqCst), 0, "a goroutine ended before shutdown");
    let t = Instant::now();
    drop(rt);
    let took = t.elapsed();
    eprintln!(
        "stress_shutdown_100k: dropped a runtime with {} blocked goroutines in {took:?}",
        total + 1
    );
    assert_eq!(
        dropped.load(SeqCst),
        total + 1,
        "some destructors never ran"
    );
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    drop(clients);
}

/// Foreign threads fire goroutines' wakers in a loop while the runtime is dropped, and go on
/// after it is gone; then the wakers are cloned and dropped there. Nothing may crash.
#[test]
fn wakers_fired_from_foreign_threads_during_and_after_shutdown_are_harmless() {
    let _w = common::watchdog("stress_shutdown_foreign_wakers", stress_util::budget(60));
    let (rounds, n) = if common::small() {
        (1, 200)
    } else {
        (5 * stress_util::scale(), 1_000)
    };
    for _ in 0..rounds {
        let (wtx, wrx) = std::sync::mpsc::channel::<Waker>();
        let rt = stress_util::rt();
        for k in 0..n {
            let wtx = wtx.clone();
            let mut sent = false;
            rt.go(async move {
                // Half wait in a runtime sleep too, so their task is also known to the timers.
                if k % 2 == 0 {
                    let _ = gorun::time::timeout(
                        Duration::from_secs(3_600),
                        std::future::pending::<()>(),
                    )
                    .await;
                }
                std::future::poll_fn(|cx| {
                    if !sent {
                        sent = true;
                        let _ = wtx.send(cx.waker().clone());
                    }
                    Poll::<()>::Pending
                })
                .await
            });
        }
        drop(wtx);
        let wakers: Vec<Waker> = (0..n / 2)
            .map(|_| wrx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        let wakers = Arc::new(wakers);
        let stop = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (wakers, stop, fired) = (wakers.clone(), stop.clone(), fired.clone());
                std::thread::spawn(move || {
                    while !stop.load(Acquire) {
                        for w in wakers.iter() {
                            w.wake_by_ref();
                            // A clone woken by value: clone and drop of the task's
                            // reference count from a foreign thread too.
                            let owned = w.clone();
                            owned.wake();
                            fired.fetch_add(1, Relaxed);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(10));
        let t = Instant::now();
        drop(rt);
        assert!(t.elapsed() < Duration::from_secs(10));
        // Keep firing into the dead runtime for a while.
        let before = fired.load(Relaxed);
        let t = Instant::now();
        while fired.load(Relaxed) < before + 3 * n && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, Release);
        for t in threads {
            t.join().unwrap();
        }
        let wakers = Arc::try_unwrap(wakers).unwrap();
        std::thread::spawn(move || {
            for w in &wakers {
                w.wake_by_ref();
            }
            for w in wakers {
                w.wake();
            }
        })
        .join()
        .unwrap();
    }
}

/// Channels outlive the runtime whose goroutines waited on them: plain threads use them
/// afterwards and find no stale waiter.
#[test]
fn channels_used_from_plain_threads_after_their_runtime_shut_down_have_no_stale_waiters() {
    let _w = common::watchdog("stress_shutdown_channels_outlive", stress_util::budget(60));
    let rt = stress_util::rt();
    let (unbuffered, buffered, full): (Chan<u32>, Chan<u32>, Chan<u32>) =
        (chan(0), chan(4), chan(1));
    full.try_send(0).unwrap();
    let waiting = Arc::new(AtomicUsize::new(0));
    for i in 0..300u32 {
        let (u, b, f, w) = (
            unbuffered.clone(),
            buffered.clone(),
            full.clone(),
            waiting.clone(),
        );
        rt.go(async move {
            w.fetch_add(1, SeqCst);
            match i % 3 {
                0 => drop(u.recv().await),
                1 => drop(b.recv().await),
                _ => drop(f.send(i).await),
            }
        });
    }
    let t = Instant::now();
    while waiting.load(SeqCst) < 300 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    std::thread::spawn(move || {
        // The receivers are gone: nobody takes an unbuffered value.
        assert!(matches!(unbuffered.try_send(1), Err(TrySendError::Full(1))));
        // Buffered values stay in the buffer for a later receiver.
        for v in 0..4 {
            buffered.send_blocking(v).unwrap();
        }
        assert!(matches!(buffered.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(buffered.recv_blocking(), Some(0));
        // The blocked senders on `full` are gone and their values with them.
        assert_eq!(full.recv_blocking(), Some(0));
        assert!(matches!(full.try_recv(), Err(TryRecvError::Empty)));
        unbuffered.close();
        buffered.close();
        full.close();
        assert_eq!(unbuffered.recv_blocking(), None);
        assert_eq!(
            std::iter::from_fn(|| buffered.recv_blocking()).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    })
    .join()
    .unwrap();
}
