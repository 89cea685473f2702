//! Random *balanced* Go-like programs: what they are, how a seed makes one, and how a failing
//! one is shrunk.
//!
//! # Why a balanced program must terminate on a correct runtime
//!
//! A program has channels, goroutines and *streams*. A stream is one goroutine sending the
//! values `0..len` to one channel, in order (the value carries its stream and sequence
//! number). Each channel with a stream has at least one receiving goroutine, and no goroutine
//! both sends to and receives from the same channel. A channel is closed after its last value:
//! by its only sender itself (`self_close`) or by a closer goroutine that waits on the channel's
//! `WaitGroup` (one `add` per stream, one `done` when a stream has sent its last value).
//!
//! Every goroutine keeps this rule: **whenever it blocks, it waits on every channel it still
//! receives from** (a `select!` with all of them, a plain `recv` if there is only one, a
//! `select_all`/`tokio::select!` with all of them); it may wait on any subset of its pending
//! sends. Non-blocking attempts (`try_*`, `default`, timeouts) may target anything, but after a
//! few attempts in a row that did nothing, the goroutine makes a blocking attempt.
//! Mutexes and semaphores are never held across a channel operation. A `Cond` token consumer
//! may block anywhere, but tokens are produced only by dedicated goroutines that never block
//! on a channel, and as many tokens are produced as are consumed.
//!
//! Then, if every goroutine were blocked: take a goroutine blocked on a channel `c` it sends to
//! (if none is blocked on a send, all wait to receive; their channels are not closed, so some
//! stream is not finished, so its sender is blocked on a send: contradiction). `c` is open, so a
//! receiver `r` of `c` is blocked and waits on `c`. If `c` is buffered, a blocked sender means
//! a full buffer and a blocked receiver an empty one; if it is unbuffered, a sender and a
//! receiver (different goroutines) wait on it at once. Either way a correct runtime completes
//! one of them. So every run ends, and every value is received exactly once.

use std::fmt;

/// A small deterministic PRNG (splitmix64): no dependency, and a seed replays a program.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_F42D_4C95_7F2D)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// How a goroutine drives its operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// One operation at a time: `send`/`recv`/`select!`/`try_*`/timeouts, chosen at random.
    Generic,
    /// Each stream is its own future; `futures::future::join_all` over them and the receive loop.
    JoinAll,
    /// As `JoinAll`, with a `FuturesUnordered`.
    Unordered,
    /// Receives with `futures::future::select_all` over `fanout` receive futures (and one send
    /// future), dropping the losers.
    SelectAll,
    /// `tokio::select!` over the receive futures and one send future.
    TokioSelect,
}

/// Which optional kinds of operation a goroutine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags {
    pub select: bool,
    pub try_ops: bool,
    pub timeouts: bool,
    pub default: bool,
    /// `Receiver` as a `Stream`, `Sender` as a `Sink`.
    pub stream_api: bool,
    pub mutex: bool,
    pub sem: bool,
    pub yields: bool,
}

impl Flags {
    pub const NONE: Flags = Flags {
        select: false,
        try_ops: false,
        timeouts: false,
        default: false,
        stream_api: false,
        mutex: false,
        sem: false,
        yields: false,
    };

    fn random(r: &mut Rng) -> Flags {
        Flags {
            select: r.one_in(2),
            try_ops: r.one_in(2),
            timeouts: r.one_in(4),
            default: r.one_in(2),
            stream_api: r.one_in(4),
            mutex: r.one_in(4),
            sem: r.one_in(5),
            yields: r.one_in(3),
        }
    }

    /// The same flags with the `i`-th one cleared (`None` if it was already clear).
    fn without(self, i: usize) -> Option<Flags> {
        let mut f = self;
        let b = match i {
            0 => &mut f.select,
            1 => &mut f.try_ops,
            2 => &mut f.timeouts,
            3 => &mut f.default,
            4 => &mut f.stream_api,
            5 => &mut f.mutex,
            6 => &mut f.sem,
            _ => &mut f.yields,
        };
        if !*b {
            return None;
        }
        *b = false;
        Some(f)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gor {
    pub style: Style,
    /// Channels it receives from until they are closed.
    pub recvs: Vec<usize>,
    pub flags: Flags,
    /// `Cond` tokens it consumes.
    pub cond_takes: u32,
    /// `SelectAll`: how many receive futures race at once.
    pub fanout: usize,
    /// Seed of its own choices at run time.
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub chan: usize,
    pub owner: usize,
    pub len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub seed: u64,
    pub caps: Vec<usize>,
    /// The channel's only stream's owner closes it (otherwise a closer goroutine does).
    pub self_close: Vec<bool>,
    /// The channel's receivers each take a fixed share of its values and then stop (a random
    /// split, fixed by the seed, of the channel's values), instead of receiving until it is
    /// closed: a wake-up lost while another receiver would have come back is then a hang.
    pub quota: Vec<bool>,
    pub gors: Vec<Gor>,
    pub streams: Vec<Stream>,
    /// Goroutines wait at a `Cond` start gate that the main goroutine opens.
    pub gate: bool,
    /// Dedicated goroutines producing the `Cond` tokens.
    pub cond_producers: usize,
    pub sem_permits: usize,
}

/// The most receive channels a goroutine of a style other than `SelectAll` has (`select!`
/// and `tokio::select!` have a fixed number of arms).
pub const MAX_RECVS: usize = 3;

fn random_style(r: &mut Rng) -> Style {
    match r.below(20) {
        0..=11 => Style::Generic,
        12..=13 => Style::JoinAll,
        14..=15 => Style::Unordered,
        16..=17 => Style::SelectAll,
        _ => Style::TokioSelect,
    }
}

impl Program {
    pub fn generate(seed: u64) -> Program {
        let mut r = Rng::new(seed);
        let nchans = r.range(1, 4) as usize;
        let caps: Vec<usize> = (0..nchans)
            .map(|_| if r.one_in(3) { 0 } else { r.below(5) as usize })
            .collect();
        let ngors = r.range(2, 6) as usize;
        let mut gors: Vec<Gor> = (0..ngors)
            .map(|_| {
                let style = random_style(&mut r);
                Gor {
                    style,
                    recvs: vec![],
                    flags: Flags::random(&mut r),
                    cond_takes: 0,
                    fanout: r.range(1, 8) as usize,
                    seed: r.next_u64(),
                }
            })
            .collect();
        let big = r.one_in(16);
        if big {
            // Hundreds of gorun futures inside one goroutine.
            let g = r.index(ngors);
            gors[g].style = [Style::JoinAll, Style::Unordered, Style::SelectAll][r.index(3)];
            gors[g].fanout = r.range(100, 300) as usize;
        }
        // Receivers: every channel gets one or two.
        for c in 0..nchans {
            let want = r.range(1, 2);
            for _ in 0..want {
                let cands: Vec<usize> = (0..ngors)
                    .filter(|&g| {
                        !gors[g].recvs.contains(&c)
                            && (gors[g].style == Style::SelectAll
                                || gors[g].recvs.len() < MAX_RECVS)
                    })
                    .collect();
                if cands.is_empty() {
                    break;
                }
                let g = cands[r.index(cands.len())];
                gors[g].recvs.push(c);
            }
        }
        // Streams, sent by goroutines that do not receive from the channel.
        let mut streams = vec![];
        for c in 0..nchans {
            let owners: Vec<usize> = (0..ngors)
                .filter(|&g| !gors[g].recvs.contains(&c))
                .collect();
            if owners.is_empty() || gors.iter().all(|g| !g.recvs.contains(&c)) {
                continue;
            }
            let n = r.range(0, 3);
            for _ in 0..n {
                let owner = owners[r.index(owners.len())];
                let len = if r.one_in(10) {
                    20
                } else {
                    r.range(1, 6) as u32
                };
                streams.push(Stream {
                    chan: c,
                    owner,
                    len,
                });
            }
        }
        if big {
            if let Some(g) = gors
                .iter()
                .position(|g| matches!(g.style, Style::JoinAll | Style::Unordered))
            {
                let n = gors[g].fanout;
                let chans: Vec<usize> = (0..nchans)
                    .filter(|&c| {
                        !gors[g].recvs.contains(&c) && gors.iter().any(|h| h.recvs.contains(&c))
                    })
                    .collect();
                if !chans.is_empty() {
                    for _ in 0..n {
                        let chan = chans[r.index(chans.len())];
                        streams.push(Stream {
                            chan,
                            owner: g,
                            len: r.range(1, 2) as u32,
                        });
                    }
                }
            }
        }
        let self_close = (0..nchans)
            .map(|c| streams.iter().filter(|s| s.chan == c).count() == 1 && r.one_in(2))
            .collect();
        let quota = (0..nchans).map(|_| r.one_in(2)).collect();
        let gate = r.one_in(3);
        let mut cond_producers = 0;
        if r.one_in(3) {
            cond_producers = r.range(1, 2) as usize;
            for _ in 0..r.range(1, 3) {
                let g = r.index(ngors);
                gors[g].cond_takes += r.range(1, 3) as u32;
            }
        }
        Program {
            seed,
            caps,
            self_close,
            quota,
            gors,
            streams,
            gate,
            cond_producers,
            sem_permits: r.range(1, 3) as usize,
        }
    }

    /// Whether the program keeps the rules that make it terminate (see the module header).
    pub fn is_valid(&self) -> bool {
        let n = self.caps.len();
        self.self_close.len() == n
            && self.quota.len() == n
            && self.streams.iter().all(|s| {
                s.chan < n
                    && s.owner < self.gors.len()
                    && s.len > 0
                    && !self.gors[s.owner].recvs.contains(&s.chan)
                    && self.gors.iter().any(|g| g.recvs.contains(&s.chan))
            })
            && self.gors.iter().all(|g| {
                g.recvs.iter().all(|&c| c < n)
                    && (g.style == Style::SelectAll || g.recvs.len() <= MAX_RECVS)
                    && g.fanout > 0
            })
            && (0..n).all(|c| !self.self_close[c] || self.streams_on(c) == 1)
            && (self.cond_producers > 0 || self.gors.iter().all(|g| g.cond_takes == 0))
            && self.sem_permits > 0
    }

    pub fn streams_on(&self, c: usize) -> usize {
        self.streams.iter().filter(|s| s.chan == c).count()
    }

    /// The receivers of channel `c` (goroutine indices, in order) and each one's share of its
    /// values (all `None` if `c` is not in quota mode).
    pub fn quota_split(&self, c: usize) -> Vec<(usize, Option<u32>)> {
        let rx: Vec<usize> = (0..self.gors.len())
            .filter(|&g| self.gors[g].recvs.contains(&c))
            .collect();
        if !self.quota[c] || rx.is_empty() {
            return rx.into_iter().map(|g| (g, None)).collect();
        }
        let total: u32 = self
            .streams
            .iter()
            .filter(|s| s.chan == c)
            .map(|s| s.len)
            .sum();
        let mut r = Rng::new(self.seed ^ (c as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut counts = vec![0u32; rx.len()];
        for _ in 0..total {
            counts[r.index(rx.len())] += 1;
        }
        rx.into_iter()
            .zip(counts)
            .map(|(g, n)| (g, Some(n)))
            .collect()
    }

    pub fn total_values(&self) -> u64 {
        self.streams.iter().map(|s| s.len as u64).sum()
    }

    fn remove_gor(&self, g: usize) -> Program {
        let mut p = self.clone();
        p.gors.remove(g);
        p.streams.retain(|s| s.owner != g);
        for s in &mut p.streams {
            if s.owner > g {
                s.owner -= 1;
            }
        }
        p.fix_self_close();
        p
    }

    fn remove_chan(&self, c: usize) -> Program {
        let mut p = self.clone();
        p.caps.remove(c);
        p.self_close.remove(c);
        p.quota.remove(c);
        p.streams.retain(|s| s.chan != c);
        for s in &mut p.streams {
            if s.chan > c {
                s.chan -= 1;
            }
        }
        for g in &mut p.gors {
            g.recvs.retain(|&x| x != c);
            for x in &mut g.recvs {
                if *x > c {
                    *x -= 1;
                }
            }
        }
        p
    }

    fn fix_self_close(&mut self) {
        for c in 0..self.caps.len() {
            if self.streams_on(c) != 1 {
                self.self_close[c] = false;
            }
        }
    }

    /// Smaller variants of this program, most aggressive first (they may be invalid).
    pub fn shrink_candidates(&self) -> Vec<Program> {
        let mut out = vec![];
        for g in (0..self.gors.len()).rev() {
            out.push(self.remove_gor(g));
        }
        for c in (0..self.caps.len()).rev() {
            out.push(self.remove_chan(c));
        }
        for s in (0..self.streams.len()).rev() {
            let mut p = self.clone();
            p.streams.remove(s);
            p.fix_self_close();
            out.push(p);
        }
        // Many streams at once (the `big` programs).
        if self.streams.len() > 8 {
            let mut p = self.clone();
            p.streams.truncate(self.streams.len() / 2);
            p.fix_self_close();
            out.push(p);
        }
        for s in 0..self.streams.len() {
            if self.streams[s].len > 1 {
                let mut p = self.clone();
                p.streams[s].len /= 2;
                out.push(p);
                let mut p = self.clone();
                p.streams[s].len -= 1;
                out.push(p);
            }
        }
        if self.gate {
            let mut p = self.clone();
            p.gate = false;
            out.push(p);
        }
        if self.cond_producers > 0 {
            let mut p = self.clone();
            p.cond_producers = 0;
            for g in &mut p.gors {
                g.cond_takes = 0;
            }
            out.push(p);
        }
        for g in 0..self.gors.len() {
            if self.gors[g].style != Style::Generic && self.gors[g].recvs.len() <= MAX_RECVS {
                let mut p = self.clone();
                p.gors[g].style = Style::Generic;
                out.push(p);
            }
            if self.gors[g].fanout > 1 {
                let mut p = self.clone();
                p.gors[g].fanout /= 2;
                out.push(p);
            }
            for i in 0..8 {
                if let Some(f) = self.gors[g].flags.without(i) {
                    let mut p = self.clone();
                    p.gors[g].flags = f;
                    out.push(p);
                }
            }
            for i in 0..self.gors[g].recvs.len() {
                let mut p = self.clone();
                p.gors[g].recvs.remove(i);
                out.push(p);
            }
        }
        for c in 0..self.caps.len() {
            if self.self_close[c] {
                let mut p = self.clone();
                p.self_close[c] = false;
                out.push(p);
            }
            if self.quota[c] {
                let mut p = self.clone();
                p.quota[c] = false;
                out.push(p);
            }
            if self.caps[c] > 0 {
                let mut p = self.clone();
                p.caps[c] -= 1;
                out.push(p);
            }
        }
        out.retain(|p| p.is_valid() && p != self);
        out
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "program (seed {}): channel capacities {:?}, gate {}, cond producers {}, semaphore {}",
            self.seed, self.caps, self.gate, self.cond_producers, self.sem_permits
        )?;
        for (i, g) in self.gors.iter().enumerate() {
            let sends: Vec<String> = self
                .streams
                .iter()
                .enumerate()
                .filter(|(_, s)| s.owner == i)
                .map(|(k, s)| format!("s{k}:c{}x{}", s.chan, s.len))
                .collect();
            writeln!(
                f,
                "  g{i}: {:?} recv {:?} send [{}] cond_takes {} fanout {} seed {} {:?}",
                g.style,
                g.recvs,
                sends.join(" "),
                g.cond_takes,
                g.fanout,
                g.seed,
                g.flags
            )?;
        }
        for c in 0..self.caps.len() {
            if self.self_close[c] {
                writeln!(f, "  c{c} is closed by its only sender")?;
            }
            if self.quota[c] {
                writeln!(
                    f,
                    "  c{c}: each receiver takes a fixed share {:?}",
                    self.quota_split(c)
                )?;
            }
        }
        Ok(())
    }
}
