//! Helpers shared by the `stress_*` tests: the `STRESS_SCALE` knob, a seeded random source,
//! a future that is cancelled after a random number of polls, a ledger that proves every message
//! was delivered exactly once or dropped undelivered, and `/proc/self/status` readers.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use gorun::runtime::{Builder, Runtime};

/// `STRESS_SCALE` (default 1): multiplies the iteration counts, to run the tests 100x longer by
/// hand (`STRESS_SCALE=100 cargo test --release --test stress_cancel`).
pub fn scale() -> u64 {
    match std::env::var("STRESS_SCALE") {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("STRESS_SCALE must be a positive integer, got {s:?}")),
        Err(_) => 1,
    }
}

/// Whether the tests run bigger than CI's default (an optimized build or `STRESS_SCALE` > 1).
pub fn big() -> bool {
    !cfg!(debug_assertions) || scale() > 1
}

/// Seconds a watchdog allows: the CI budget times the scale.
pub fn budget(secs: u64) -> u64 {
    secs * scale()
}

/// The seed for this run: `STRESS_SEED` if set, else from the clock; printed so that a failure
/// can be replayed.
pub fn seed(what: &str) -> u64 {
    let s = match std::env::var("STRESS_SEED") {
        Ok(s) => s.parse().expect("STRESS_SEED must be an integer"),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        }
    };
    eprintln!("{what}: STRESS_SEED={s}");
    s
}

/// xorshift64: small, fast, good enough to pick poll counts.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// A child generator with an independent stream.
    pub fn fork(&mut self, salt: u64) -> Rng {
        Rng::new(self.next() ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// `None` (let the operation finish) with probability 1/`one_in`, else the number of polls
    /// after which to drop it (0: dropped before its first poll).
    pub fn cancel_plan(&mut self, one_in: u64) -> Option<u32> {
        if self.below(one_in) == 0 {
            None
        } else {
            Some(self.below(4) as u32)
        }
    }
}

/// Polls `fut` at most `polls` times (re-waking itself after each `Pending`, which doubles as a
/// spurious wake-up), then drops it unfinished and returns `None`. `polls == None` awaits it.
pub async fn cancel_after<F: Future>(fut: F, polls: Option<u32>) -> Option<F::Output> {
    let Some(mut left) = polls else {
        return Some(fut.await);
    };
    let mut fut = pin!(fut);
    std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(None);
        }
        left -= 1;
        match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    })
    .await
}

/// A two-worker runtime, as CI's 2 cores.
pub fn rt() -> Runtime {
    Builder::new().workers(2).build().unwrap()
}

/// Runs `f` on a fresh two-worker runtime under a watchdog of `secs` (times the scale) and a
/// `gorun::time::timeout` of the same length.
pub fn run<F>(what: &'static str, secs: u64, f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let secs = budget(secs);
    let _w = super::common::watchdog(what, secs + 10);
    let rt = rt();
    rt.block_on(async move {
        gorun::time::timeout(Duration::from_secs(secs), f)
            .await
            .unwrap_or_else(|_| panic!("{what}: did not finish within {secs} s"))
    })
}

const UNSEEN: u8 = 0;
const RECEIVED: u8 = 1;
const DROPPED: u8 = 2;

/// Where every message ended: received by a receiver, or dropped undelivered (a cancelled send,
/// a `SendError`, a losing `select!` send case, or left in the buffer).
pub struct Ledger {
    states: Vec<AtomicU8>,
    next: AtomicUsize,
}

impl Ledger {
    pub fn new(capacity: usize) -> Arc<Ledger> {
        Arc::new(Ledger {
            states: (0..capacity).map(|_| AtomicU8::new(UNSEEN)).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// A new message from `sender` with sequence number `seq`.
    pub fn msg(self: &Arc<Ledger>, sender: u32, seq: u64) -> Msg {
        let id = self.next.fetch_add(1, Relaxed);
        assert!(id < self.states.len(), "ledger too small");
        Msg {
            id,
            sender,
            seq,
            delivered: false,
            ledger: self.clone(),
        }
    }

    fn mark(&self, id: usize, state: u8) {
        let prev = self.states[id].swap(state, AcqRel);
        assert_eq!(
            prev, UNSEEN,
            "message {id} ended twice (first {prev}, then {state}; 1 = received, 2 = dropped)"
        );
    }

    /// Asserts that every message created ended exactly once; returns (received, dropped).
    pub fn check(&self) -> (usize, usize) {
        let n = self.next.load(Acquire);
        let (mut r, mut d) = (0, 0);
        for (id, s) in self.states[..n].iter().enumerate() {
            match s.load(Acquire) {
                RECEIVED => r += 1,
                DROPPED => d += 1,
                _ => panic!("message {id} was neither received nor dropped: lost"),
            }
        }
        (r, d)
    }
}

/// A message that records in its ledger how it ended.
pub struct Msg {
    pub id: usize,
    pub sender: u32,
    pub seq: u64,
    delivered: bool,
    ledger: Arc<Ledger>,
}

impl Msg {
    /// Called by the receiver, synchronously after the receive returned.
    pub fn deliver(mut self) -> (u32, u64) {
        self.delivered = true;
        (self.sender, self.seq)
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.ledger
            .mark(self.id, if self.delivered { RECEIVED } else { DROPPED });
    }
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); 0 where there is no procfs.
pub fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Increments a counter when dropped: proves a destructor ran.
pub struct CountOnDrop(pub Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}
