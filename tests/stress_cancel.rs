//! Random cancellation of every kind of wait, with conservation checked exactly: channel send
//! and receive (capacity 0, 1, 16), `select!`, `Mutex::lock`, `Semaphore::acquire` and
//! `WaitGroup::wait` futures are dropped after a random number of polls, or their goroutine is
//! aborted. Every message must end exactly once (received, or dropped undelivered by the side
//! that still owned it), permits return to the initial count, and a mutex-protected counter
//! equals the number of critical sections entered.
//!
//! `STRESS_SCALE=100` runs each test 100 times longer; `STRESS_SEED=N` replays a run.
mod common;
mod stress_util;

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use gorun::chan::{chan, Chan, SendError};
use gorun::select;
use gorun::sync::{Mutex, Semaphore, WaitGroup};
use gorun::time::timeout;
use stress_util::{cancel_after, Ledger, Msg, Rng};

const SENDERS: u32 = 4;
const RECEIVERS: usize = 4;

/// Operations per goroutine: about a second in a debug build; a tenth of that with
/// `GORUN_TEST_SCALE=small` (valgrind).
fn per_sender() -> u64 {
    if common::small() {
        return 500;
    }
    (if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    }) * stress_util::scale()
}

/// Senders and receivers both cancel most operations after 0..3 polls; receivers check that
/// each sender's messages arrive in order; after close, a late send gets its value back.
fn channel_conservation(cap: usize, what: &'static str) {
    let mut rng = Rng::new(stress_util::seed(what));
    let n = per_sender();
    let ledger = Ledger::new((SENDERS as u64 * n + 1) as usize);
    let l = ledger.clone();
    let (received, cancelled) = stress_util::run(what, 60, async move {
        let c: Chan<Msg> = chan(cap);
        let cancelled = Arc::new(AtomicU64::new(0));
        let mut senders = Vec::new();
        for s in 0..SENDERS {
            let (c, l, mut rng, cancelled) =
                (c.clone(), l.clone(), rng.fork(s as u64), cancelled.clone());
            senders.push(gorun::go(async move {
                for seq in 0..n {
                    let m = l.msg(s, seq);
                    match cancel_after(c.send(m), rng.cancel_plan(3)).await {
                        Some(Ok(())) => {}
                        Some(Err(SendError(_))) => panic!("send failed on an open channel"),
                        None => {
                            cancelled.fetch_add(1, Relaxed);
                        }
                    }
                }
            }));
        }
        let mut receivers = Vec::new();
        for r in 0..RECEIVERS {
            let (c, mut rng, cancelled) = (c.clone(), rng.fork(100 + r as u64), cancelled.clone());
            receivers.push(gorun::go(async move {
                let mut last = [None::<u64>; SENDERS as usize];
                let mut got = 0u64;
                loop {
                    match cancel_after(c.recv(), rng.cancel_plan(3)).await {
                        Some(Some(m)) => {
                            let (s, seq) = m.deliver();
                            if let Some(prev) = last[s as usize] {
                                assert!(seq > prev, "sender {s}: {seq} arrived after {prev}");
                            }
                            last[s as usize] = Some(seq);
                            got += 1;
                        }
                        Some(None) => return got,
                        None => {
                            cancelled.fetch_add(1, Relaxed);
                        }
                    }
                }
            }));
        }
        for h in senders {
            h.await.unwrap();
        }
        c.close();
        let mut received = 0;
        for h in receivers {
            received += h.await.unwrap();
        }
        // A send after close gives the value back to its sender.
        let late = l.msg(SENDERS, 0);
        let late_id = late.id;
        match c.send(late).await {
            Err(SendError(m)) => assert_eq!(m.id, late_id),
            Ok(()) => panic!("send on a closed channel succeeded"),
        }
        (received, cancelled.load(Relaxed))
    });
    let (r, d) = ledger.check();
    eprintln!("{what}: {r} received, {d} dropped undelivered, {cancelled} operations cancelled");
    assert_eq!(r as u64, received);
    assert_eq!(r + d, (SENDERS as u64 * n + 1) as usize);
    assert!(received > 0 && cancelled > 0, "the test exercised nothing");
}

#[test]
fn unbuffered_channel_random_cancellation_loses_and_duplicates_nothing() {
    channel_conservation(0, "stress_cancel_chan_cap0");
}

#[test]
fn cap1_channel_random_cancellation_loses_and_duplicates_nothing() {
    channel_conservation(1, "stress_cancel_chan_cap1");
}

#[test]
fn cap16_channel_random_cancellation_loses_and_duplicates_nothing() {
    channel_conservation(16, "stress_cancel_chan_cap16");
}

/// Goroutines blocked in one send or one receive are aborted at random moments; the survivors
/// finish after `close`. Every message still ends exactly once.
#[test]
fn aborted_senders_and_receivers_lose_no_message() {
    let what = "stress_cancel_chan_abort";
    let mut rng = Rng::new(stress_util::seed(what));
    let rounds = if common::small() {
        30
    } else {
        (if cfg!(debug_assertions) { 300 } else { 3_000 }) * stress_util::scale()
    };
    const K: usize = 32;
    let ledger = Ledger::new(rounds as usize * K + 1);
    let l = ledger.clone();
    let received = stress_util::run(what, 60, async move {
        let received = Arc::new(AtomicU64::new(0));
        for round in 0..rounds {
            let cap = [0, 1, 16][(round % 3) as usize];
            let c: Chan<Msg> = chan(cap);
            let mut hs = Vec::new();
            for i in 0..K {
                let (tx, m) = (c.clone(), l.msg(i as u32, round));
                hs.push(gorun::go(async move {
                    let _ = tx.send(m).await;
                }));
                let (c, received) = (c.clone(), received.clone());
                hs.push(gorun::go(async move {
                    if let Some(m) = c.recv().await {
                        m.deliver();
                        received.fetch_add(1, Relaxed);
                    }
                }));
            }
            for _ in 0..rng.below(8) {
                gorun::yield_now().await;
            }
            for h in &hs {
                if rng.below(2) == 0 {
                    h.abort();
                }
            }
            c.close();
            for h in hs {
                // Finished, or cancelled by the abort: never stuck.
                let _ = timeout(Duration::from_secs(10), h)
                    .await
                    .expect("a goroutine stayed blocked after close");
            }
            // Whatever is still buffered is dropped with the channel.
            while let Ok(m) = c.try_recv() {
                drop(m);
            }
        }
        received.load(Relaxed)
    });
    let (r, d) = ledger.check();
    eprintln!("{what}: {r} received, {d} dropped undelivered");
    assert_eq!(r as u64, received);
}

/// Producers offer each message pair with `select! { send(a, x), send(b, y) }` and consumers take
/// with `select! { recv(a), recv(b) }`, both cancelled at random: at most one message of each
/// pair is received (the losing case keeps its value), and nothing is lost or duplicated.
#[test]
fn select_random_cancellation_conserves_messages() {
    let what = "stress_cancel_select";
    let mut rng = Rng::new(stress_util::seed(what));
    let n = per_sender() / 2;
    const PRODUCERS: u32 = 2;
    let ledger = Ledger::new((3 * PRODUCERS as u64 * n * 2) as usize);
    let l = ledger.clone();
    for cap in [0usize, 1, 16] {
        let (l, mut rng) = (l.clone(), rng.fork(cap as u64));
        let pairs: Arc<Vec<AtomicU8>> = Arc::new(
            (0..PRODUCERS as u64 * n)
                .map(|_| AtomicU8::new(0))
                .collect(),
        );
        let p2 = pairs.clone();
        stress_util::run(what, 60, async move {
            let (a, b): (Chan<Msg>, Chan<Msg>) = (chan(cap), chan(cap));
            let mut producers = Vec::new();
            for p in 0..PRODUCERS {
                let (a, b, l, mut rng) = (a.clone(), b.clone(), l.clone(), rng.fork(p as u64));
                producers.push(gorun::go(async move {
                    for seq in 0..n {
                        let (x, y) = (l.msg(p, seq), l.msg(p, seq));
                        let op = async {
                            select! {
                                send(a, x) -> r => r.is_ok(),
                                send(b, y) -> r => r.is_ok(),
                            }
                        };
                        if let Some(ok) = cancel_after(op, rng.cancel_plan(3)).await {
                            assert!(ok, "send case failed on an open channel");
                        }
                    }
                }));
            }
            let mut consumers = Vec::new();
            for k in 0..2u64 {
                let (a, b, mut rng, pairs) = (a.clone(), b.clone(), rng.fork(50 + k), p2.clone());
                consumers.push(gorun::go(async move {
                    let take = |m: Msg| {
                        let (p, seq) = m.deliver();
                        let prev = pairs[(p as u64 * n + seq) as usize].fetch_add(1, Relaxed);
                        assert_eq!(prev, 0, "both messages of pair ({p}, {seq}) were received");
                    };
                    loop {
                        let op = async {
                            select! {
                                recv(a) -> v => v,
                                recv(b) -> v => v,
                            }
                        };
                        match cancel_after(op, rng.cancel_plan(3)).await {
                            Some(Some(m)) => take(m),
                            Some(None) => break, // one side closed and drained
                            None => {}
                        }
                    }
                    // Drain whichever side may still hold values.
                    while let Some(m) = a.recv().await {
                        take(m);
                    }
                    while let Some(m) = b.recv().await {
                        take(m);
                    }
                }));
            }
            for h in producers {
                h.await.unwrap();
            }
            a.close();
            b.close();
            for h in consumers {
                h.await.unwrap();
            }
        });
        let got = pairs.iter().filter(|p| p.load(Relaxed) == 1).count();
        assert!(got > 0, "cap {cap}: nothing was received");
    }
    let (r, d) = ledger.check();
    eprintln!("{what}: {r} received, {d} dropped undelivered");
    assert!(
        d >= r,
        "every received message has a losing twin that was dropped"
    );
}

/// Mutual exclusion and an exact count under random cancellation and abort of `lock()`.
#[test]
fn mutex_lock_cancellation_keeps_the_counter_exact() {
    let what = "stress_cancel_mutex";
    let mut rng = Rng::new(stress_util::seed(what));
    let iters = per_sender();
    stress_util::run(what, 60, async move {
        let m = Arc::new(Mutex::new(0u64));
        let entered = Arc::new(AtomicU64::new(0));
        let inside = Arc::new(AtomicUsize::new(0));
        struct Leave(Arc<AtomicUsize>);
        impl Drop for Leave {
            fn drop(&mut self) {
                self.0.fetch_sub(1, SeqCst);
            }
        }
        // The critical section: runs synchronously right after the lock is granted, so an abort
        // cannot split it; the returned `Leave` must be dropped before the guard.
        fn enter(v: &mut u64, entered: &AtomicU64, inside: &Arc<AtomicUsize>) -> Leave {
            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders at once");
            *v += 1;
            entered.fetch_add(1, SeqCst);
            Leave(inside.clone())
        }
        let mut hs = Vec::new();
        for t in 0..8u64 {
            let (m, e, i, mut rng) = (m.clone(), entered.clone(), inside.clone(), rng.fork(t));
            hs.push(gorun::go(async move {
                for _ in 0..iters {
                    if let Some(mut g) = cancel_after(m.lock(), rng.cancel_plan(3)).await {
                        let _leave = enter(&mut g, &e, &i);
                        for _ in 0..rng.below(2) {
                            gorun::yield_now().await;
                        }
                    }
                }
            }));
        }
        // Goroutines that wait for (or hold) the lock, aborted at random moments.
        for round in 0..iters / 20 {
            let mut victims = Vec::new();
            for _ in 0..4 {
                let (m, e, i) = (m.clone(), entered.clone(), inside.clone());
                victims.push(gorun::go(async move {
                    let mut g = m.lock().await;
                    let _leave = enter(&mut g, &e, &i);
                    gorun::yield_now().await;
                    gorun::yield_now().await;
                }));
            }
            for _ in 0..rng.below(4) {
                gorun::yield_now().await;
            }
            for v in &victims {
                if (rng.next() ^ round) % 2 == 0 {
                    v.abort();
                }
            }
            for v in victims {
                let r = timeout(Duration::from_secs(10), v).await.expect("stuck");
                assert!(r.is_ok() || r.unwrap_err().is_cancelled());
            }
        }
        for h in hs {
            h.await.unwrap();
        }
        assert!(!m.is_locked(), "the mutex stayed locked");
        let count = *timeout(Duration::from_secs(5), m.lock())
            .await
            .expect("lock lost");
        assert_eq!(count, entered.load(SeqCst));
        assert_eq!(inside.load(SeqCst), 0);
        eprintln!("{what}: {count} critical sections");
    });
}

/// Random cancellation and abort of `acquire(n)`: holders never exceed the permits, and all of
/// them come back.
#[test]
fn semaphore_acquire_cancellation_restores_every_permit() {
    let what = "stress_cancel_semaphore";
    let mut rng = Rng::new(stress_util::seed(what));
    let iters = per_sender();
    const PERMITS: usize = 5;
    stress_util::run(what, 60, async move {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let in_use = Arc::new(AtomicUsize::new(0));
        let granted = Arc::new(AtomicU64::new(0));
        struct Give(Arc<AtomicUsize>, usize);
        impl Drop for Give {
            fn drop(&mut self) {
                self.0.fetch_sub(self.1, SeqCst);
            }
        }
        let mut hs = Vec::new();
        for t in 0..8u64 {
            let (sem, in_use, granted, mut rng) =
                (sem.clone(), in_use.clone(), granted.clone(), rng.fork(t));
            hs.push(gorun::go(async move {
                for _ in 0..iters {
                    let n = 1 + rng.below(3) as usize;
                    let plan = rng.cancel_plan(3);
                    if let Some(p) = cancel_after(sem.acquire(n), plan).await {
                        assert_eq!(p.num_permits(), n);
                        let now = in_use.fetch_add(n, SeqCst) + n;
                        assert!(now <= PERMITS, "{now} permits in use of {PERMITS}");
                        let _give = Give(in_use.clone(), n);
                        granted.fetch_add(1, Relaxed);
                        for _ in 0..rng.below(2) {
                            gorun::yield_now().await;
                        }
                    }
                }
            }));
        }
        for _ in 0..iters / 20 {
            let mut victims = Vec::new();
            for k in 0..4 {
                let (sem, in_use) = (sem.clone(), in_use.clone());
                let n = 1 + k % 3;
                victims.push(gorun::go(async move {
                    let _p = sem.acquire(n).await;
                    assert!(in_use.fetch_add(n, SeqCst) + n <= PERMITS);
                    let _give = Give(in_use, n);
                    gorun::yield_now().await;
                }));
            }
            for _ in 0..rng.below(4) {
                gorun::yield_now().await;
            }
            for v in &victims {
                if rng.below(2) == 0 {
                    v.abort();
                }
            }
            for v in victims {
                let _ = timeout(Duration::from_secs(10), v).await.expect("stuck");
            }
        }
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(
            sem.available_permits(),
            PERMITS,
            "permits leaked or created"
        );
        let all = timeout(Duration::from_secs(5), sem.acquire(PERMITS))
            .await
            .expect("the full count cannot be acquired");
        drop(all);
        assert_eq!(in_use.load(SeqCst), 0);
        eprintln!("{what}: {} grants", granted.load(Relaxed));
    });
}

/// Rounds of `add(K)`, K goroutines calling `done`, and waiters that are cancelled or aborted at
/// random: every waiter that is not cancelled returns, and the group is reusable.
#[test]
fn wait_group_wait_cancellation_releases_every_remaining_waiter() {
    let what = "stress_cancel_wait_group";
    let mut rng = Rng::new(stress_util::seed(what));
    let rounds = if common::small() {
        50
    } else {
        (if cfg!(debug_assertions) { 500 } else { 5_000 }) * stress_util::scale()
    };
    stress_util::run(what, 60, async move {
        let wg = WaitGroup::new();
        let (mut released, mut cancelled) = (0u64, 0u64);
        for round in 0..rounds {
            const K: usize = 8;
            wg.add(K);
            let mut waiters = Vec::new();
            for w in 0..8u64 {
                let (wg, mut rng) = (wg.clone(), rng.fork(round * 16 + w));
                waiters.push(gorun::go(async move {
                    cancel_after(wg.wait(), rng.cancel_plan(2)).await.is_some()
                }));
            }
            let mut doers = Vec::new();
            for d in 0..K as u64 {
                let (wg, mut rng) = (wg.clone(), rng.fork(round * 16 + 8 + d));
                doers.push(gorun::go(async move {
                    for _ in 0..rng.below(3) {
                        gorun::yield_now().await;
                    }
                    wg.done();
                }));
            }
            for w in &waiters {
                if rng.below(4) == 0 {
                    w.abort();
                }
            }
            for h in doers {
                h.await.unwrap();
            }
            for w in waiters {
                match timeout(Duration::from_secs(10), w)
                    .await
                    .expect("waiter stuck")
                {
                    Ok(true) => released += 1,
                    Ok(false) => cancelled += 1,
                    Err(e) => {
                        assert!(e.is_cancelled());
                        cancelled += 1
                    }
                }
            }
            timeout(Duration::from_secs(5), wg.wait())
                .await
                .expect("the counter did not return to zero");
        }
        assert!(released > 0 && cancelled > 0);
        eprintln!("{what}: {released} waiters released, {cancelled} cancelled");
    });
}

/// Go: a non-blocking send on an unbuffered channel succeeds whenever a receiver is waiting.
/// gorun's documented deviation (`Sender::try_send`): one value at a time may be on its way to
/// a waiting receiver, so with two receivers waiting the second `try_send` in a row gives
/// `Full` until the first receiver has taken its value — after which it succeeds, and both
/// values arrive. This keeps a sender's values in order if that receiver is cancelled.
#[test]
fn unbuffered_try_send_hands_over_one_value_at_a_time() {
    let _w = common::watchdog("stress_try_send_one_at_a_time", 30);
    let rt = gorun::runtime::Builder::new().workers(1).build().unwrap();
    let c: Chan<u32> = chan(0);
    let got = Arc::new(AtomicU64::new(0));
    for _ in 0..2 {
        let (c, got) = (c.clone(), got.clone());
        rt.go(async move {
            if let Some(v) = c.recv().await {
                got.fetch_add(v as u64, SeqCst);
            }
        });
    }
    rt.block_on(async move {
        // Both receivers are queued.
        gorun::time::sleep(Duration::from_millis(100)).await;
        // On the one worker, both calls run with no receiver in between.
        let c2 = c.clone();
        let results = gorun::go(async move { (c2.try_send(1).is_ok(), c2.try_send(2).is_ok()) })
            .await
            .unwrap();
        assert_eq!(results, (true, false), "one hand-over at a time");
        // Once the first receiver has run, the second waiting receiver takes a value.
        timeout(Duration::from_secs(5), async {
            while c.try_send(2).is_err() {
                gorun::time::sleep(Duration::from_millis(1)).await;
            }
            while got.load(SeqCst) != 3 {
                gorun::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("values were not received");
    });
}
