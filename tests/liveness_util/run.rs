//! Running a [`Program`] on gorun or on tokio, and checking what it did.
//!
//! Accounting of sent values: a value is a [`Msg`] that records its sequence number in its
//! stream's ledger when it is dropped without having been received. After every attempt to
//! send value `k` the sender looks in the ledger: if `k` is there, the value was not sent (a
//! `try_send` that found the channel full, a `select!` case that lost, a send dropped by a
//! timeout) and `k` is sent again; if not, the value is in the channel (a send future dropped
//! after a receiver took its value has sent it, as documented). A `send` that returned `Ok`
//! must not find its value in the ledger; a losing case of a `select!` that completed must.
//!
//! At the end: every stream's values were received exactly once, each receiver saw each
//! stream's values in increasing order (per-sender FIFO), nothing is left in a ledger, and the
//! mutex counter, the semaphore and the `Cond` tokens are back to their expected values.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::future::{select_all, Either};
use futures::stream::{FuturesUnordered, StreamExt};
use gorun::chan::{chan, Chan, SendError, TryRecvError, TrySendError};
use gorun::select;
use gorun::sync::{Cond, Mutex, Semaphore, WaitGroup};
use gorun::time::{after, timeout};

use super::program::{Flags, Program, Rng, Style};

/// A stream's record of its values dropped unreceived.
#[derive(Default)]
struct Ledger {
    dropped: StdMutex<Vec<u32>>,
}

/// A value in flight: stream and sequence number. Dropped unreceived, it tells its ledger.
pub struct Msg {
    stream: u32,
    seq: u32,
    ledger: Option<Arc<Ledger>>,
}

impl Msg {
    /// A value for a case on a nil channel: never sent, never accounted.
    fn dummy() -> Msg {
        Msg {
            stream: u32::MAX,
            seq: 0,
            ledger: None,
        }
    }

    fn receive(mut self) -> (u32, u32) {
        assert!(self.ledger.take().is_some(), "received a dummy value");
        (self.stream, self.seq)
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        if let Some(l) = self.ledger.take() {
            l.dropped.lock().unwrap().push(self.seq);
        }
    }
}

struct World {
    /// Per goroutine, what it is doing now ([`status_code`]): shown when a run hangs.
    status: Vec<AtomicU64>,
    prog: Arc<Program>,
    chans: Vec<Chan<Msg>>,
    ledgers: Vec<Arc<Ledger>>,
    wgs: Vec<WaitGroup>,
    counter: Mutex<u64>,
    sem: Semaphore,
    tokens: Mutex<u64>,
    cond: Cond,
    gate: Mutex<bool>,
    gate_cond: Cond,
}

impl World {
    fn msg(&self, o: &Out) -> Msg {
        Msg {
            stream: o.stream as u32,
            seq: o.next,
            ledger: Some(self.ledgers[o.stream].clone()),
        }
    }
}

thread_local! {
    /// The world of the last program run on this thread (kept to describe a hang).
    static LAST_WORLD: RefCell<Option<Arc<World>>> = const { RefCell::new(None) };
}

/// Records what goroutine `id` is about to do: `code` (see [`describe`]).
fn note(w: &World, id: usize, code: u64) {
    w.status[id].store(code, Ordering::Relaxed);
}

fn describe(code: u64) -> &'static str {
    match code {
        0 => "not started",
        1 => "mutex/semaphore",
        2 => "cond token wait",
        3 => "start gate",
        10 => "send",
        11 => "try_send",
        12 => "timeout(send)",
        13 => "select! send/default",
        14 => "select! send/after",
        15 => "Sink::send",
        16 => "timeout(Sink::send)",
        20 => "recv",
        21 => "Stream::next",
        22 => "try_recv",
        23 => "timeout(recv)",
        24 => "timeout(Stream::next)",
        25 => "select! recv/default",
        30 => "select! (blocking)",
        31 => "select! with default",
        32 => "select! with after",
        33 => "timeout(select!)",
        40 => "select_all",
        41 => "tokio::select!",
        50 => "finished",
        _ => "?",
    }
}

/// The goroutines' last recorded activities (after a hang).
fn activities() -> String {
    LAST_WORLD.with(|l| match &*l.borrow() {
        Some(w) => w
            .status
            .iter()
            .enumerate()
            .map(|(i, s)| format!("  g{i}: last {}\n", describe(s.load(Ordering::Relaxed))))
            .collect(),
        None => String::new(),
    })
}

/// What a goroutine reports: the values it received (stream, seq) and its mutex increments.
#[derive(Default)]
struct Report {
    received: Vec<(u32, u32)>,
    incs: u64,
}

/// One stream, from its sender's side.
#[derive(Clone, Copy)]
struct Out {
    stream: usize,
    chan: usize,
    next: u32,
    len: u32,
}

impl Out {
    fn pending(&self) -> bool {
        self.next < self.len
    }
}

/// What one attempt to send produced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sent {
    /// The operation reported success.
    Ok,
    /// A `select!` that completed another case: the value must have come back.
    Lost,
    /// The future was dropped (timeout, losing combinator branch): either.
    Unknown,
}

fn send_result(r: Result<(), SendError<Msg>>, what: &str) -> Sent {
    match r {
        Ok(()) => Sent::Ok,
        Err(SendError(m)) => panic!(
            "{what}: send of stream {} value {} found the channel closed before its last send",
            m.stream, m.seq
        ),
    }
}

/// A goroutine's state while it runs.
struct G<'w> {
    w: &'w World,
    id: usize,
    rng: Rng,
    flags: Flags,
    outs: Vec<Out>,
    open: Vec<usize>,
    /// Per channel, the values this goroutine still has to take from it (quota mode).
    left: Vec<Option<u32>>,
    fails: u32,
    takes_left: u32,
    report: Report,
    /// Per stream, the last sequence number this goroutine received (FIFO check).
    last: Vec<i64>,
}

enum Ev {
    Recv(usize, Option<Msg>),
    Sent(usize, Result<(), SendError<Msg>>),
    Nothing,
    Elapsed,
}

const FORCE_AFTER: u32 = 3;

impl<'w> G<'w> {
    fn new(w: &'w World, id: usize, seed: u64, flags: Flags) -> G<'w> {
        G {
            w,
            id,
            rng: Rng::new(seed),
            flags,
            outs: vec![],
            open: vec![],
            left: vec![None; w.chans.len()],
            fails: 0,
            takes_left: 0,
            report: Report::default(),
            last: vec![-1; w.prog.streams.len()],
        }
    }

    fn dur(&mut self) -> Duration {
        Duration::from_micros(self.rng.below(3) * 500)
    }

    fn record(&mut self, m: Msg) {
        let (s, q) = m.receive();
        let last = &mut self.last[s as usize];
        assert!(
            (q as i64) > *last,
            "g{}: per-sender FIFO broken: stream {s} value {q} received after value {last}",
            self.id
        );
        *last = q as i64;
        self.report.received.push((s, q));
    }

    /// Handles the outcome of a receive from open channel number `k`.
    fn received(&mut self, k: usize, v: Option<Msg>) {
        let c = self.open[k];
        match v {
            Some(m) => {
                self.record(m);
                if let Some(q) = &mut self.left[c] {
                    *q -= 1;
                    if *q == 0 {
                        self.open.remove(k);
                    }
                }
            }
            None => {
                assert!(
                    self.left[c].is_none(),
                    "g{}: c{c} was closed and drained before this receiver got its share ({:?} left)",
                    self.id,
                    self.left[c]
                );
                self.open.remove(k);
            }
        }
    }

    /// Settles an attempt to send `outs[o]`'s current value. Returns whether it was sent.
    fn settle(&mut self, o: usize, how: Sent) -> bool {
        settle(self.w, &mut self.outs[o], how, self.id)
    }

    /// Mutex, semaphore, `Cond` tokens and yields, between channel operations.
    async fn side(&mut self) {
        let w = self.w;
        note(w, self.id, 1);
        if self.flags.mutex && self.rng.one_in(4) {
            let mut g = match w.counter.try_lock() {
                Ok(g) if self.rng.one_in(2) => g,
                Ok(g) => {
                    drop(g);
                    w.counter.lock().await
                }
                Err(_) => w.counter.lock().await,
            };
            *g += 1;
            self.report.incs += 1;
            if self.flags.yields && self.rng.one_in(2) {
                gorun::yield_now().await;
            }
            drop(g);
        }
        if self.flags.sem && self.rng.one_in(4) {
            let n = self.rng.range(1, w.prog.sem_permits as u64) as usize;
            let p = match w.sem.try_acquire(n) {
                Ok(p) => p,
                Err(_) => w.sem.acquire(n).await,
            };
            if self.flags.yields && self.rng.one_in(2) {
                gorun::yield_now().await;
            }
            drop(p);
        }
        if self.takes_left > 0 && self.rng.one_in(3) {
            self.takes_left -= 1;
            note(w, self.id, 2);
            take_token(w).await;
        }
        if self.flags.yields && self.rng.one_in(4) {
            gorun::yield_now().await;
        }
    }

    /// One attempt to send `outs[o]`'s current value; blocking if `block`.
    async fn send_step(&mut self, o: usize, block: bool) -> bool {
        send_attempt(
            self.w,
            &mut self.outs[o],
            &mut self.rng,
            self.flags,
            block,
            self.id,
        )
        .await
    }

    /// One attempt to receive from open channel number `k` alone (only when it is the only
    /// open one, or non-blocking).
    async fn recv_step(&mut self, k: usize, block: bool) -> bool {
        let c = &self.w.chans[self.open[k]];
        let f = self.flags;
        let mut kinds = vec![];
        if block {
            kinds.push(0);
            if f.stream_api {
                kinds.push(1);
            }
        } else {
            if f.try_ops {
                kinds.push(2);
            }
            if f.timeouts {
                kinds.push(3);
                if f.stream_api {
                    kinds.push(4);
                }
            }
            if f.default {
                kinds.push(5);
            }
            if kinds.is_empty() {
                kinds.push(2);
            }
        }
        let kind = kinds[self.rng.index(kinds.len())];
        note(self.w, self.id, 20 + kind as u64);
        let d = self.dur();
        let v: Option<Option<Msg>> = match kind {
            0 => Some(c.recv().await),
            1 => Some(c.receiver().next().await),
            2 => match c.try_recv() {
                Ok(m) => Some(Some(m)),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Closed) => Some(None),
            },
            3 => timeout(d, c.recv()).await.ok(),
            4 => {
                let mut rx = c.receiver();
                timeout(d, rx.next()).await.ok()
            }
            _ => select! {
                recv(c) -> v => Some(v),
                default => None,
            },
        };
        match v {
            Some(v) => {
                self.received(k, v);
                true
            }
            None => false,
        }
    }

    /// A `select!` over every open channel (at most three) and up to two pending sends.
    async fn select_step(&mut self, sends: &[usize], mode: u64) -> bool {
        let w = self.w;
        let rc = |k: usize| {
            self.open
                .get(k)
                .map(|&c| w.chans[c].clone())
                .unwrap_or_else(Chan::nil)
        };
        let (r0, r1, r2) = (rc(0), rc(1), rc(2));
        let sc = |k: usize| {
            sends
                .get(k)
                .map(|&o| w.chans[self.outs[o].chan].clone())
                .unwrap_or_else(Chan::nil)
        };
        let (s0, s1) = (sc(0), sc(1));
        let sm = |k: usize| {
            sends
                .get(k)
                .map(|&o| w.msg(&self.outs[o]))
                .unwrap_or_else(Msg::dummy)
        };
        let (m0, m1) = (sm(0), sm(1));
        let d = self.dur();
        note(w, self.id, 30 + mode);
        let ev = match mode {
            0 => select_block(&r0, &r1, &r2, &s0, m0, &s1, m1).await,
            1 => select! {
                recv(r0) -> v => Ev::Recv(0, v),
                recv(r1) -> v => Ev::Recv(1, v),
                recv(r2) -> v => Ev::Recv(2, v),
                send(s0, m0) -> r => Ev::Sent(0, r),
                send(s1, m1) -> r => Ev::Sent(1, r),
                default => Ev::Nothing,
            },
            2 => select! {
                recv(r0) -> v => Ev::Recv(0, v),
                recv(r1) -> v => Ev::Recv(1, v),
                recv(r2) -> v => Ev::Recv(2, v),
                send(s0, m0) -> r => Ev::Sent(0, r),
                send(s1, m1) -> r => Ev::Sent(1, r),
                recv(after(d)) -> _t => Ev::Nothing,
            },
            _ => timeout(d, select_block(&r0, &r1, &r2, &s0, m0, &s1, m1))
                .await
                .unwrap_or(Ev::Elapsed),
        };
        self.apply(ev, sends, "select!")
    }

    /// Applies the outcome of a `select!`-like wait over the open channels and `sends`.
    fn apply(&mut self, ev: Ev, sends: &[usize], what: &str) -> bool {
        let (won, progress) = match ev {
            Ev::Recv(k, v) => {
                self.received(k, v);
                (None, true)
            }
            Ev::Sent(k, r) => {
                send_result(r, what);
                (Some(k), true)
            }
            Ev::Nothing => (None, false),
            Ev::Elapsed => {
                // Dropped while pending: a send case may have completed meanwhile, but at
                // most one.
                let mut n = 0;
                for &o in sends {
                    if self.settle(o, Sent::Unknown) {
                        n += 1;
                    }
                }
                assert!(
                    n <= 1,
                    "g{}: {what} dropped by a timeout sent {n} values",
                    self.id
                );
                return n == 1;
            }
        };
        for (k, &o) in sends.iter().enumerate() {
            let how = if won == Some(k) { Sent::Ok } else { Sent::Lost };
            self.settle(o, how);
        }
        progress
    }

    fn pending(&self) -> Vec<usize> {
        (0..self.outs.len())
            .filter(|&o| self.outs[o].pending())
            .collect()
    }

    fn pick_sends(&mut self, max: usize) -> Vec<usize> {
        let mut p = self.pending();
        let mut out = vec![];
        while out.len() < max && !p.is_empty() {
            out.push(p.swap_remove(self.rng.index(p.len())));
        }
        out
    }

    /// The `Generic` style: one operation at a time.
    async fn run_generic(&mut self) {
        loop {
            self.side().await;
            let pending = self.pending();
            if pending.is_empty() && self.open.is_empty() {
                break;
            }
            let force = self.fails >= FORCE_AFTER;
            let progress = if self.open.is_empty() {
                let o = pending[self.rng.index(pending.len())];
                let block = force || self.rng.one_in(2);
                self.send_step(o, block).await
            } else if !force && self.rng.one_in(3) {
                // A non-blocking attempt at one operation.
                if !pending.is_empty() && self.rng.one_in(2) {
                    let o = pending[self.rng.index(pending.len())];
                    self.send_step(o, false).await
                } else {
                    let k = self.rng.index(self.open.len());
                    self.recv_step(k, false).await
                }
            } else if pending.is_empty()
                && self.open.len() == 1
                && !(self.flags.select && self.rng.one_in(2))
            {
                self.recv_step(0, true).await
            } else {
                let sends = self.pick_sends(2);
                let mut modes = vec![0];
                if !force {
                    if self.flags.default {
                        modes.push(1);
                    }
                    if self.flags.timeouts {
                        modes.push(2);
                        modes.push(3);
                    }
                }
                let mode = modes[self.rng.index(modes.len())];
                self.select_step(&sends, mode).await
            };
            if progress {
                self.fails = 0;
            } else {
                self.fails += 1;
            }
        }
    }

    /// The receive loop of the `JoinAll`/`Unordered` styles (no sends).
    async fn run_recv_loop(&mut self) {
        self.outs.clear();
        self.run_generic().await;
    }

    /// `SelectAll`: `select_all` over `fanout` receive futures spread over the open channels
    /// and one send future.
    async fn run_select_all(&mut self, fanout: usize) {
        let w = self.w;
        loop {
            self.side().await;
            let pending = self.pending();
            if pending.is_empty() && self.open.is_empty() {
                break;
            }
            let mut futs: Vec<Pin<Box<dyn Future<Output = Ev> + Send + 'w>>> = vec![];
            let n = if self.open.is_empty() {
                0
            } else {
                fanout.max(self.open.len())
            };
            for i in 0..n {
                // The first futures cover every open channel: the goroutine waits on all.
                let k = if i < self.open.len() {
                    i
                } else {
                    self.rng.index(self.open.len())
                };
                let c = &w.chans[self.open[k]];
                futs.push(Box::pin(async move { Ev::Recv(k, c.recv().await) }));
            }
            let send = pending.first().copied();
            if let Some(o) = send {
                let c = &w.chans[self.outs[o].chan];
                let m = w.msg(&self.outs[o]);
                futs.push(Box::pin(async move { Ev::Sent(0, c.send(m).await) }));
            }
            note(w, self.id, 40);
            let (ev, _, rest) = select_all(futs).await;
            drop(rest);
            match ev {
                Ev::Recv(k, v) => {
                    self.received(k, v);
                    if let Some(o) = send {
                        self.settle(o, Sent::Unknown);
                    }
                }
                Ev::Sent(_, r) => {
                    send_result(r, "select_all");
                    self.settle(send.unwrap(), Sent::Ok);
                }
                _ => unreachable!(),
            }
        }
    }

    /// `TokioSelect`: `tokio::select!` over the open channels and one send.
    async fn run_tokio_select(&mut self) {
        let w = self.w;
        loop {
            self.side().await;
            let pending = self.pending();
            if pending.is_empty() && self.open.is_empty() {
                break;
            }
            let rc = |k: usize| {
                self.open
                    .get(k)
                    .map(|&c| w.chans[c].clone())
                    .unwrap_or_else(Chan::nil)
            };
            let (r0, r1, r2) = (rc(0), rc(1), rc(2));
            let n = self.open.len();
            let send = pending.first().copied();
            let s0 = send
                .map(|o| w.chans[self.outs[o].chan].clone())
                .unwrap_or_else(Chan::nil);
            let m0 = send
                .map(|o| w.msg(&self.outs[o]))
                .unwrap_or_else(Msg::dummy);
            note(w, self.id, 41);
            let ev = tokio::select! {
                v = r0.recv(), if n > 0 => Ev::Recv(0, v),
                v = r1.recv(), if n > 1 => Ev::Recv(1, v),
                v = r2.recv(), if n > 2 => Ev::Recv(2, v),
                r = s0.send(m0), if send.is_some() => Ev::Sent(0, r),
            };
            match ev {
                Ev::Recv(k, v) => {
                    self.received(k, v);
                    if let Some(o) = send {
                        self.settle(o, Sent::Unknown);
                    }
                }
                Ev::Sent(_, r) => {
                    send_result(r, "tokio::select!");
                    self.settle(send.unwrap(), Sent::Ok);
                }
                _ => unreachable!(),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn select_block(
    r0: &Chan<Msg>,
    r1: &Chan<Msg>,
    r2: &Chan<Msg>,
    s0: &Chan<Msg>,
    m0: Msg,
    s1: &Chan<Msg>,
    m1: Msg,
) -> Ev {
    select! {
        recv(r0) -> v => Ev::Recv(0, v),
        recv(r1) -> v => Ev::Recv(1, v),
        recv(r2) -> v => Ev::Recv(2, v),
        send(s0, m0) -> r => Ev::Sent(0, r),
        send(s1, m1) -> r => Ev::Sent(1, r),
    }
}

/// Settles an attempt to send `o`'s current value (see the module header). Returns whether
/// the value was sent; on the last value, closes the channel or tells its closer.
fn settle(w: &World, o: &mut Out, how: Sent, id: usize) -> bool {
    let dropped = {
        let mut d = w.ledgers[o.stream].dropped.lock().unwrap();
        match d.iter().position(|&s| s == o.next) {
            Some(i) => {
                d.swap_remove(i);
                true
            }
            None => false,
        }
    };
    let sent = match how {
        Sent::Ok => {
            assert!(
                !dropped,
                "g{id}: stream {} value {}: the send completed but its value was dropped",
                o.stream, o.next
            );
            true
        }
        Sent::Lost => {
            assert!(
                dropped,
                "g{id}: stream {} value {}: a losing select! case did not give its value back",
                o.stream, o.next
            );
            false
        }
        Sent::Unknown => !dropped,
    };
    if sent {
        o.next += 1;
        if o.next == o.len {
            if w.prog.self_close[o.chan] {
                w.chans[o.chan].close();
            } else {
                w.wgs[o.chan].done();
            }
        }
    }
    sent
}

/// One attempt to send `o`'s current value (a blocking kind if `block`). Returns whether it
/// was sent.
async fn send_attempt(
    w: &World,
    o: &mut Out,
    rng: &mut Rng,
    f: Flags,
    block: bool,
    id: usize,
) -> bool {
    // A non-blocking attempt must not wait indefinitely: its goroutine may have channels to
    // receive from that this attempt does not watch (see the module header of `program`).
    let mut kinds = vec![];
    if block {
        kinds.push(0);
        if f.stream_api {
            kinds.push(5);
        }
    } else {
        if f.try_ops {
            kinds.push(1);
        }
        if f.timeouts {
            kinds.push(2);
            kinds.push(4);
            if f.stream_api {
                kinds.push(6);
            }
        }
        if f.default {
            kinds.push(3);
        }
        if kinds.is_empty() {
            kinds.push(1);
        }
    }
    let kind = kinds[rng.index(kinds.len())];
    note(w, id, 10 + kind as u64);
    let c = &w.chans[o.chan];
    let m = w.msg(o);
    let d = Duration::from_micros(rng.below(3) * 500);
    let how = match kind {
        0 => send_result(c.send(m).await, "send"),
        1 => match c.try_send(m) {
            Ok(()) => Sent::Ok,
            Err(TrySendError::Full(m)) => {
                drop(m);
                Sent::Lost
            }
            Err(TrySendError::Closed(m)) => send_result(Err(SendError(m)), "try_send"),
        },
        2 => match timeout(d, c.send(m)).await {
            Ok(r) => send_result(r, "timeout(send)"),
            Err(_) => Sent::Unknown,
        },
        3 => select! {
            send(c, m) -> r => send_result(r, "select! send/default"),
            default => Sent::Lost,
        },
        4 => select! {
            send(c, m) -> r => send_result(r, "select! send/after"),
            recv(after(d)) -> _t => Sent::Lost,
        },
        5 => {
            let mut tx = c.sender();
            send_result(futures::SinkExt::send(&mut tx, m).await, "Sink::send")
        }
        _ => {
            // The sender (holding a value start_send queued but no receiver took) is dropped
            // with the attempt: the value comes back to the ledger, or was sent.
            let mut tx = c.sender();
            match timeout(d, futures::SinkExt::send(&mut tx, m)).await {
                Ok(r) => send_result(r, "timeout(Sink::send)"),
                Err(_) => Sent::Unknown,
            }
        }
    };
    settle(w, o, how, id)
}

/// The `JoinAll`/`Unordered` streams: each stream's own loop of attempts.
async fn stream_loop(w: &World, mut o: Out, seed: u64, f: Flags, id: usize) {
    let mut rng = Rng::new(seed);
    let mut fails = 0;
    while o.pending() {
        if f.yields && rng.one_in(4) {
            gorun::yield_now().await;
        }
        let block = fails >= FORCE_AFTER || rng.one_in(2);
        let sent = send_attempt(w, &mut o, &mut rng, f, block, id).await;
        fails = if sent { 0 } else { fails + 1 };
    }
}

async fn take_token(w: &World) {
    let mut g = w.tokens.lock().await;
    while *g == 0 {
        g = w.cond.wait(g).await;
    }
    *g -= 1;
}

async fn goroutine(w: Arc<World>, id: usize) -> Report {
    let w = &*w;
    let spec = &w.prog.gors[id];
    if w.prog.gate {
        note(w, id, 3);
        let mut g = w.gate.lock().await;
        while !*g {
            g = w.gate_cond.wait(g).await;
        }
    }
    let mut g = G::new(w, id, spec.seed, spec.flags);
    for &c in &spec.recvs {
        let share = w
            .prog
            .quota_split(c)
            .into_iter()
            .find(|&(x, _)| x == id)
            .unwrap()
            .1;
        g.left[c] = share;
        if share != Some(0) {
            g.open.push(c);
        }
    }
    g.takes_left = spec.cond_takes;
    g.outs = w
        .prog
        .streams
        .iter()
        .enumerate()
        .filter(|(_, s)| s.owner == id)
        .map(|(k, s)| Out {
            stream: k,
            chan: s.chan,
            next: 0,
            len: s.len,
        })
        .collect();
    match spec.style {
        Style::Generic => g.run_generic().await,
        Style::SelectAll => g.run_select_all(spec.fanout).await,
        Style::TokioSelect => g.run_tokio_select().await,
        Style::JoinAll | Style::Unordered => {
            let outs = std::mem::take(&mut g.outs);
            let flags = spec.flags;
            let seed = spec.seed;
            let streams = outs
                .into_iter()
                .enumerate()
                .map(|(i, o)| stream_loop(w, o, seed.wrapping_add(i as u64 + 1), flags, id));
            if spec.style == Style::JoinAll {
                futures::join!(futures::future::join_all(streams), g.run_recv_loop());
            } else {
                let all: FuturesUnordered<_> = streams.collect();
                futures::join!(all.collect::<Vec<()>>(), g.run_recv_loop());
            }
        }
    }
    while g.takes_left > 0 {
        g.takes_left -= 1;
        note(w, id, 2);
        take_token(w).await;
    }
    note(w, id, 50);
    g.report
}

async fn cond_producer(w: Arc<World>, tokens: u64, seed: u64) -> Report {
    let mut rng = Rng::new(seed);
    for _ in 0..tokens {
        let mut g = w.tokens.lock().await;
        *g += 1;
        if rng.one_in(4) {
            w.cond.broadcast();
            drop(g);
        } else if rng.one_in(3) {
            drop(g);
            w.cond.signal();
        } else {
            w.cond.signal();
            drop(g);
        }
        if rng.one_in(2) {
            gorun::yield_now().await;
        }
    }
    Report::default()
}

async fn closer(w: Arc<World>, c: usize) -> Report {
    w.wgs[c].wait().await;
    w.chans[c].close();
    Report::default()
}

/// Where a program's goroutines run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exec {
    /// A gorun runtime with this many workers.
    Gorun(usize),
    /// A multi-thread tokio runtime with this many workers (gorun's primitives are plain
    /// futures).
    Tokio(usize),
}

type Joined = Pin<Box<dyn Future<Output = Result<Report, String>> + Send>>;

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a goroutine panicked".to_string()
    }
}

fn spawn<F: Future<Output = Report> + Send + 'static>(exec: Exec, f: F) -> Joined {
    match exec {
        Exec::Gorun(_) => {
            let h = gorun::go(f);
            Box::pin(async move {
                h.await.map_err(|e| {
                    if e.is_panic() {
                        panic_text(e.into_panic())
                    } else {
                        "a goroutine was cancelled".to_string()
                    }
                })
            })
        }
        Exec::Tokio(_) => {
            let h = tokio::spawn(f);
            Box::pin(async move {
                h.await.map_err(|e| match e.try_into_panic() {
                    Ok(p) => panic_text(p),
                    Err(_) => "a task was cancelled".to_string(),
                })
            })
        }
    }
}

/// Runs the program to its end and checks it (`Err` says what went wrong).
async fn main_program(prog: Arc<Program>, exec: Exec) -> Result<(), String> {
    let p = &*prog;
    let nchans = p.caps.len();
    let w = Arc::new(World {
        prog: prog.clone(),
        chans: p.caps.iter().map(|&c| chan(c)).collect(),
        ledgers: p
            .streams
            .iter()
            .map(|_| Arc::new(Ledger::default()))
            .collect(),
        wgs: (0..nchans).map(|_| WaitGroup::new()).collect(),
        counter: Mutex::new(0),
        sem: Semaphore::new(p.sem_permits),
        tokens: Mutex::new(0),
        cond: Cond::new(),
        gate: Mutex::new(false),
        gate_cond: Cond::new(),
        status: (0..p.gors.len()).map(|_| AtomicU64::new(0)).collect(),
    });
    LAST_WORLD.with(|l| *l.borrow_mut() = Some(w.clone()));
    let mut joins = FuturesUnordered::new();
    for c in 0..nchans {
        if !p.self_close[c] {
            let n = p.streams_on(c);
            if n > 0 {
                w.wgs[c].add(n);
            }
            joins.push(spawn(exec, closer(w.clone(), c)));
        }
    }
    for g in 0..p.gors.len() {
        joins.push(spawn(exec, goroutine(w.clone(), g)));
    }
    let tokens: u64 = p.gors.iter().map(|g| g.cond_takes as u64).sum();
    for i in 0..p.cond_producers {
        let share = tokens / p.cond_producers as u64
            + u64::from((i as u64) < tokens % p.cond_producers as u64);
        joins.push(spawn(
            exec,
            cond_producer(w.clone(), share, p.seed.wrapping_add(i as u64)),
        ));
    }
    if p.gate {
        let mut g = w.gate.lock().await;
        *g = true;
        w.gate_cond.broadcast();
    }
    let mut received: Vec<Vec<u32>> = vec![vec![]; p.streams.len()];
    let mut incs = 0;
    while let Some(r) = joins.next().await {
        let r = r?;
        incs += r.incs;
        for (s, q) in r.received {
            received[s as usize].push(q);
        }
    }
    for (k, s) in p.streams.iter().enumerate() {
        let got = &mut received[k];
        got.sort_unstable();
        if got.iter().copied().ne(0..s.len) {
            let mut shown = got.clone();
            shown.truncate(40);
            return Err(format!(
                "stream s{k} (g{} -> c{}, {} values): received {:?}{}",
                s.owner,
                s.chan,
                s.len,
                shown,
                if got.len() > 40 { " ..." } else { "" }
            ));
        }
        let left = w.ledgers[k].dropped.lock().unwrap();
        if !left.is_empty() {
            return Err(format!(
                "stream s{k}: values {left:?} dropped after their send was counted"
            ));
        }
    }
    for (c, ch) in w.chans.iter().enumerate() {
        if !ch.is_closed() || !ch.is_empty() {
            return Err(format!("channel c{c} not closed and drained at the end"));
        }
    }
    let counter = *w.counter.lock().await;
    if counter != incs {
        return Err(format!(
            "mutex counter {counter}, expected {incs} increments"
        ));
    }
    let tokens_left = *w.tokens.lock().await;
    if tokens_left != 0 {
        return Err(format!("{tokens_left} cond tokens left over"));
    }
    if w.sem.available_permits() != p.sem_permits {
        return Err(format!(
            "semaphore has {} permits, expected {}",
            w.sem.available_permits(),
            p.sem_permits
        ));
    }
    Ok(())
}

/// Why a run failed.
#[derive(Debug)]
pub enum Failure {
    /// It did not finish within the bound; the goroutine dump (gorun) is attached.
    Hang(String),
    /// It finished but broke a check, or a goroutine panicked.
    Check(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Hang(d) => write!(f, "HANG: did not finish within the bound\n{d}"),
            Failure::Check(m) => write!(f, "CHECK FAILED: {m}"),
        }
    }
}

enum Rt {
    Gorun(gorun::runtime::Runtime),
    Tokio(tokio::runtime::Runtime),
}

struct Armed {
    deadline: Instant,
    stop: Option<oneshot::Sender<()>>,
    fired_at: Option<Instant>,
}

/// One watchdog thread per runner: fires the stop signal of a run past its bound, and aborts
/// the process if even that does not end the run.
struct Dog {
    slot: StdMutex<Option<Armed>>,
}

/// Runs programs on one runtime, reused across programs (rebuilt after a failure).
pub struct Runner {
    exec: Exec,
    rt: Option<Rt>,
    dog: Arc<Dog>,
}

impl Runner {
    pub fn new(exec: Exec) -> Runner {
        let dog = Arc::new(Dog {
            slot: StdMutex::new(None),
        });
        let weak: Weak<Dog> = Arc::downgrade(&dog);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(20));
            let Some(dog) = weak.upgrade() else { return };
            let mut slot = dog.slot.lock().unwrap();
            if let Some(a) = slot.as_mut() {
                let now = Instant::now();
                if now > a.deadline {
                    if let Some(tx) = a.stop.take() {
                        let _ = tx.send(());
                        a.fired_at = Some(now);
                    } else if a
                        .fired_at
                        .is_some_and(|t| now - t > Duration::from_secs(30))
                    {
                        eprintln!("liveness: a hung run did not stop 30 s after its stop signal: aborting");
                        std::process::abort();
                    }
                }
            }
        });
        let mut r = Runner {
            exec,
            rt: None,
            dog,
        };
        r.rebuild();
        r
    }

    fn rebuild(&mut self) {
        if let Some(rt) = self.rt.take() {
            match rt {
                Rt::Gorun(rt) => rt.shutdown_timeout(Duration::from_secs(5)),
                Rt::Tokio(rt) => rt.shutdown_timeout(Duration::from_secs(5)),
            }
        }
        self.rt = Some(match self.exec {
            Exec::Gorun(n) => Rt::Gorun(
                gorun::runtime::Builder::new()
                    .workers(n)
                    .thread_name("liveness")
                    .build()
                    .expect("gorun runtime"),
            ),
            Exec::Tokio(n) => Rt::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(n)
                    .enable_all()
                    .build()
                    .expect("tokio runtime"),
            ),
        });
    }

    /// Runs `p` once; a hang is declared after `limit`.
    pub fn run(&mut self, p: &Program, limit: Duration) -> Result<(), Failure> {
        let (tx, rx) = oneshot::channel::<()>();
        *self.dog.slot.lock().unwrap() = Some(Armed {
            deadline: Instant::now() + limit,
            stop: Some(tx),
            fired_at: None,
        });
        let exec = self.exec;
        let prog = Arc::new(p.clone());
        let fut = async move {
            let main = Box::pin(main_program(prog, exec));
            match futures::future::select(main, rx).await {
                Either::Left((r, _)) => Some(r),
                Either::Right(_) => None,
            }
        };
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| match self.rt.as_ref().unwrap() {
            Rt::Gorun(rt) => rt.block_on(fut),
            Rt::Tokio(rt) => rt.block_on(fut),
        }));
        *self.dog.slot.lock().unwrap() = None;
        let res = match out {
            Ok(Some(Ok(()))) => return Ok(()),
            Ok(Some(Err(m))) => Failure::Check(m),
            Ok(None) => Failure::Hang(format!(
                "{}{}",
                activities(),
                match self.rt.as_ref().unwrap() {
                    Rt::Gorun(rt) => rt.block_on(async { gorun::runtime::dump() }),
                    Rt::Tokio(_) => String::from("(on tokio: no dump)"),
                }
            )),
            Err(p) => Failure::Check(format!("block_on panicked: {}", panic_text(p))),
        };
        self.rebuild();
        Err(res)
    }
}
