//! `cargo bench --bench compare`: gorun against tokio, smol and Go on the same workloads.
//!
//! # How a number is taken
//!
//! Every measurement runs in a fresh child process: this binary re-executes itself
//! ([`std::env::current_exe`]) as `--child WORKLOAD RUNTIME SIZE`. The child builds that one
//! runtime with [`WORKERS`] worker threads, runs the workload once, checks that the result is
//! right (a skynet sum, a counter, every echoed byte: a wrong result panics, so the child fails),
//! and prints one line `ms=<wall ms of the workload> rss_kb=<VmHWM>`. A fresh process per
//! measurement keeps one runtime's heap, threads and caches out of another's numbers and makes
//! the peak RSS (`VmHWM` in `/proc/self/status`) that runtime's own. The Go program in
//! `benches/go/` takes the same arguments and prints the same line; the harness builds it once
//! per run into `target/` when `go` is on the PATH and runs it with `GOMAXPROCS=2`.
//!
//! Each workload runs for several rounds (default 5). Within a round every runtime runs once, the
//! order rotated from round to round, so slow drift of the machine (other builds, thermal) lands
//! on every column alike. The table shows the median per runtime; after each workload one line
//! `RESULT workload=.. gorun_ms=.. best_peer=.. best_ms=.. ratio=.. gorun_rss_mb=.. best_rss_mb=..`
//! is printed for scripts (`best_rss_mb` is the lowest peak RSS among the peers).
//!
//! A child that exits non-zero, prints no result line or runs past the time limit (it is killed)
//! is shown as FAILED, with the tail of its stderr under the table; the harness never hangs.
//!
//! # Usage
//!
//! ```text
//! cargo bench --bench compare [-- [--quick] [--rounds N] [--timeout SECS] [WORKLOAD..]]
//! COMPARE_WORKLOADS=spawn,chain cargo bench --bench compare
//! cargo bench --bench compare --features hyper -- http   # gorun's HTTP server needs `hyper`
//! ```
//!
//! `http` is measured differently: the child only serves (it prints `addr=..`, serves until
//! its standard input ends, then prints `rss_kb=..`), and the harness itself is the client,
//! the same for every server: 64 plain threads with a keep-alive connection each, sharing
//! SIZE `GET /` requests. Its time is the client's, from all connections open to the last
//! response. The servers are hyper on gorun (`gorun::hyper`, feature `hyper`), hyper on tokio
//! (hyper-util's `TokioIo`), and Go's `net/http`; smol has no column there.
//!
//! `main` is `pingpong` driven from the program's main body the way each runtime's user writes
//! it, where the other workloads run in a task the harness spawns: gorun's body runs as
//! `#[gorun::main]` expands it (`Runtime::__run_main`: goroutine 1, on a worker), tokio's as
//! `#[tokio::main]` does (`Runtime::block_on` on the calling thread), smol's under
//! `async_io::block_on(EX.run(body))` on the calling thread, Go's in the main goroutine. Its
//! time starts inside the body.
//!
//! `--quick` runs one round at a tenth of each size. Workload names given as arguments or in
//! `COMPARE_WORKLOADS` limit the run. Cargo's own `--bench` argument is ignored.
//!
//! # The peers
//!
//! Each runtime's version lives in `compare/<runtime>_side.rs` and is written the way a user of
//! that runtime would write it, with that runtime's own primitives where it has them: tokio's
//! multi-thread runtime with `tokio::sync`, `tokio::select!`, `tokio_util::task::TaskTracker`;
//! "smol" is async-executor on two threads running `Executor::run` under `async_io::block_on`
//! (exactly how `smol` runs its executor), with async-channel, async-io and async-lock; Go uses
//! goroutines, channels, `select`, `sync` and `net`. Where a peer lacks what Go has (a channel of
//! capacity 0, a multi-consumer tokio channel, a WaitGroup in smol) the side file says what it
//! uses instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "compare/gorun_side.rs"]
mod gorun_side;
#[path = "compare/smol_side.rs"]
mod smol_side;
#[path = "compare/tokio_side.rs"]
mod tokio_side;

// ---------------------------------------------------------------------------------------------
// Workload parameters shared by every side (benches/go/main.go repeats them; keep them equal).

/// Worker threads of every runtime (`GOMAXPROCS` for Go).
pub const WORKERS: usize = 2;
/// `yield`: this many goroutines share the SIZE yields.
pub const YIELDERS: u64 = 1000;
/// `mpmc`: senders, receivers and channel capacity.
pub const MPMC_SENDERS: u64 = 4;
pub const MPMC_RECEIVERS: u64 = 4;
pub const MPMC_CAP: usize = 1024;
/// `pool`: goroutines taking jobs from one channel, its capacity, and the work of one job.
pub const POOL_WORKERS: u64 = 4;
pub const POOL_CAP: usize = 16;
pub const POOL_WORK: u32 = 1000;
/// `skynet`: children per node; SIZE must be a power of it.
pub const SKYNET_FANOUT: u64 = 10;
/// `select`: channels (one sender each) the selecting goroutine reads.
pub const SELECT_CHANNELS: u64 = 4;
/// `mutex`: goroutines sharing the SIZE increments.
pub const MUTEX_TASKS: u64 = 4;
/// `sleep`: how long each goroutine sleeps.
pub const SLEEP: Duration = Duration::from_secs(1);
/// `timers`: goroutines sharing the SIZE timers.
pub const TIMER_TASKS: u64 = 4;
/// `echo`: concurrent clients sharing the SIZE round trips, and the message size.
pub const ECHO_CLIENTS: u64 = 100;
pub const ECHO_MSG: usize = 64;
/// `http`: keep-alive connections of the client, and the body every server answers `/` with.
pub const HTTP_CONNS: u64 = 64;
pub const HTTP_BODY: &str = "Hello, World!\n";

/// `timers`: the delay of the `i`-th timer: 30 s plus up to a second (no timer may fire before
/// it is stopped, even on a loaded machine), spread so they do not all land in one wheel slot.
pub fn timer_delay(i: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_millis(i % 1024)
}

/// `pool`: one job, about a microsecond of CPU that no compiler can skip (`POOL_WORK` rounds of
/// xorshift from `seed`; benches/go/main.go has the same loop).
pub fn pool_job(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..POOL_WORK {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// `0 + 1 + .. + (n - 1)`: what summing the values `0..n` must give.
pub fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// `skynet`: checks that `n` is a power of [`SKYNET_FANOUT`] and returns the expected root sum.
pub fn skynet_expect(n: u64) -> u64 {
    let mut m = n;
    while m > 1 && m % SKYNET_FANOUT == 0 {
        m /= SKYNET_FANOUT;
    }
    assert!(m == 1, "skynet size {n} is not a power of {SKYNET_FANOUT}");
    sum_below(n)
}

/// `select`: what the selecting goroutine has received so far.
pub struct Tally {
    pub sum: u64,
    pub count: u64,
    /// Channels not yet seen closed.
    pub open: u64,
}

impl Tally {
    pub fn new(open: u64) -> Tally {
        Tally {
            sum: 0,
            count: 0,
            open,
        }
    }

    /// Records one receive; returns false when it reported a closed channel.
    pub fn take(&mut self, v: Option<u64>) -> bool {
        match v {
            Some(v) => {
                self.sum += v;
                self.count += 1;
                true
            }
            None => {
                self.open -= 1;
                false
            }
        }
    }

    /// Panics unless exactly the values `0..n` arrived.
    pub fn check(&self, n: u64) {
        assert_eq!(self.count, n, "select: wrong number of messages");
        assert_eq!(self.sum, sum_below(n), "select: wrong sum");
    }
}

// ---------------------------------------------------------------------------------------------
// The workload table.

/// Runs one workload once at SIZE on one runtime: builds the runtime with [`WORKERS`] workers,
/// runs, panics if the result is wrong, and returns the wall time of the workload alone (runtime
/// start-up excluded).
pub type RunFn = fn(u64) -> Duration;

/// `http`: starts this runtime's hello-world HTTP/1.1 server on a loopback port (a server
/// per process: it runs until the process exits) and returns its address.
pub type ServeFn = fn() -> std::net::SocketAddr;

/// One runtime's implementation of every workload.
pub struct Fns {
    pub spawn: RunFn,
    /// `spawn_wg`: as `spawn`, waited for with a WaitGroup (or the runtime's nearest thing).
    pub spawn_wg: RunFn,
    pub chain: RunFn,
    pub yields: RunFn,
    pub pingpong: RunFn,
    /// `main`: `pingpong` driven from the main body as the runtime's `main` runs it, not from a
    /// task the harness spawns.
    pub main: RunFn,
    pub mpmc: RunFn,
    /// `pool`: `POOL_WORKERS` goroutines take SIZE jobs from one channel and do each.
    pub pool: RunFn,
    pub skynet: RunFn,
    pub select: RunFn,
    pub waitgroup: RunFn,
    /// `chans`: SIZE channels, a receiver blocked on each, then one send on each.
    pub chans: RunFn,
    pub mutex: RunFn,
    pub sleep: RunFn,
    pub timers: RunFn,
    pub echo: RunFn,
    /// `None`: this runtime has no HTTP server in the comparison (its column stays empty).
    pub http: Option<ServeFn>,
}

/// The Rust runtimes built into this binary, in column order.
const SIDES: &[(&str, &Fns)] = &[
    ("gorun", &gorun_side::FNS),
    ("tokio", &tokio_side::FNS),
    ("smol", &smol_side::FNS),
];

/// Table columns; every column but gorun is a peer.
const COLUMNS: [&str; 4] = ["gorun", "tokio", "smol", "go"];

struct Workload {
    name: &'static str,
    /// Default SIZE (`--quick` uses a tenth).
    size: u64,
    what: &'static str,
    pick: fn(&Fns) -> RunFn,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn",
        size: 1_000_000,
        what: "spawn SIZE empty goroutines, wait for all",
        pick: |f| f.spawn,
    },
    Workload {
        name: "spawn_wg",
        size: 1_000_000,
        what: "spawn SIZE goroutines adding to a sum, wait with a WaitGroup",
        pick: |f| f.spawn_wg,
    },
    Workload {
        name: "chain",
        size: 1_000_000,
        what: "each goroutine spawns the next, SIZE deep",
        pick: |f| f.chain,
    },
    Workload {
        name: "yield",
        size: 1_000_000,
        what: "1000 goroutines each yielding SIZE/1000 times",
        pick: |f| f.yields,
    },
    Workload {
        name: "pingpong",
        size: 1_000_000,
        what: "SIZE round trips over two unbuffered channels",
        pick: |f| f.pingpong,
    },
    Workload {
        name: "main",
        size: 1_000_000,
        what: "pingpong's SIZE round trips, driven from the runtime's main body",
        pick: |f| f.main,
    },
    Workload {
        name: "mpmc",
        size: 1_000_000,
        what: "4 senders, 4 receivers, cap 1024, SIZE messages",
        pick: |f| f.mpmc,
    },
    Workload {
        name: "pool",
        size: 200_000,
        what: "4 goroutines take SIZE jobs (~1 us of CPU each) from one channel",
        pick: |f| f.pool,
    },
    Workload {
        name: "skynet",
        size: 1_000_000,
        what: "SIZE-leaf goroutine tree, sums through channels",
        pick: |f| f.skynet,
    },
    Workload {
        name: "select",
        size: 1_000_000,
        what: "one goroutine selects over 4 fed channels, SIZE messages",
        pick: |f| f.select,
    },
    Workload {
        name: "waitgroup",
        size: 1_000_000,
        what: "SIZE goroutines each calling done on one WaitGroup",
        pick: |f| f.waitgroup,
    },
    Workload {
        name: "chans",
        size: 1_000_000,
        what: "SIZE channels with a blocked receiver each, then one send on each",
        pick: |f| f.chans,
    },
    Workload {
        name: "mutex",
        size: 1_000_000,
        what: "4 goroutines share SIZE increments under one async mutex",
        pick: |f| f.mutex,
    },
    Workload {
        name: "sleep",
        size: 1_000_000,
        what: "SIZE goroutines each sleeping 1 s",
        pick: |f| f.sleep,
    },
    Workload {
        name: "timers",
        size: 1_000_000,
        what: "SIZE timers created, then stopped",
        pick: |f| f.timers,
    },
    Workload {
        name: "echo",
        size: 1_000_000,
        what: "100 TCP clients share SIZE 64-byte round trips",
        pick: |f| f.echo,
    },
    Workload {
        name: "http",
        size: 200_000,
        what: "hello-world HTTP/1.1 server, SIZE requests over 64 keep-alive connections",
        // Not a RunFn: the server runs in the child, the client in the harness (`run_http`).
        pick: |f| f.echo,
    },
];

fn workload(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

// ---------------------------------------------------------------------------------------------
// Child side.

/// `--child WORKLOAD RUNTIME SIZE`: run once, print `ms=.. rss_kb=..`.
fn child(args: &[String]) {
    let [name, runtime, size] = args else {
        panic!("usage: compare --child WORKLOAD RUNTIME SIZE (got {args:?})");
    };
    let w = workload(name).unwrap_or_else(|| panic!("unknown workload {name:?}"));
    let (_, fns) = SIDES
        .iter()
        .find(|(n, _)| n == runtime)
        .unwrap_or_else(|| panic!("runtime {runtime:?} is not built into this binary"));
    let size: u64 = size.parse().unwrap_or_else(|_| panic!("bad size {size:?}"));
    if w.name == "http" {
        return http_child(fns);
    }
    let took = (w.pick)(fns)(size);
    println!(
        "ms={:.1} rss_kb={}",
        took.as_secs_f64() * 1e3,
        peak_rss_kb().unwrap_or(0)
    );
}

/// `--child http RUNTIME SIZE`: start the server, print `addr=..`, serve until standard input
/// ends, then print `rss_kb=..` and exit (the harness runs the client and takes the time).
fn http_child(fns: &Fns) {
    use std::io::Write;
    let serve = fns
        .http
        .expect("http: this runtime has no HTTP server in the comparison");
    let addr = serve();
    println!("addr={addr}");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    println!("rss_kb={}", peak_rss_kb().unwrap_or(0));
    let _ = std::io::stdout().flush();
    // Skip the runtime's shutdown: the server's connections are the client's, now closed.
    std::process::exit(0);
}

/// The `http` client, the same for every server: [`HTTP_CONNS`] plain threads, each with one
/// keep-alive connection (blocking std sockets, 30 s read/write timeouts so nothing hangs),
/// share `size` `GET /` requests; every response must be `200` with [`HTTP_BODY`]. Returns
/// the wall time from the moment every connection is open until the last response.
fn http_client(addr: std::net::SocketAddr, size: u64) -> Result<Duration, String> {
    use std::io::{BufRead, BufReader, Write};
    let conns = HTTP_CONNS;
    let start = std::sync::Arc::new(std::sync::Barrier::new(conns as usize + 1));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let share = size / conns + u64::from(c < size % conns);
            let start = start.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let connected = std::net::TcpStream::connect(addr)
                    .and_then(|s| {
                        s.set_nodelay(true)?;
                        s.set_read_timeout(Some(Duration::from_secs(30)))?;
                        s.set_write_timeout(Some(Duration::from_secs(30)))?;
                        Ok(s)
                    })
                    .map_err(|e| format!("http client: connect {addr}: {e}"));
                start.wait();
                let mut conn = BufReader::new(connected?);
                let mut line = String::new();
                let mut body = Vec::new();
                for _ in 0..share {
                    conn.get_mut()
                        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                        .map_err(|e| format!("http client: write: {e}"))?;
                    let mut status_ok = false;
                    let mut len = None;
                    let mut first = true;
                    loop {
                        line.clear();
                        let n = conn
                            .read_line(&mut line)
                            .map_err(|e| format!("http client: read: {e}"))?;
                        if n == 0 {
                            return Err("http client: the server closed the connection".into());
                        }
                        let l = line.trim_end();
                        if first {
                            status_ok = l.starts_with("HTTP/1.1 200");
                            first = false;
                        } else if l.is_empty() {
                            break;
                        } else if let Some((k, v)) = l.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse::<usize>().ok();
                            }
                        }
                    }
                    let len = len.ok_or("http client: no Content-Length")?;
                    body.resize(len, 0);
                    std::io::Read::read_exact(&mut conn, &mut body)
                        .map_err(|e| format!("http client: read body: {e}"))?;
                    if !status_ok || body != HTTP_BODY.as_bytes() {
                        return Err(format!(
                            "http client: wrong response: {:?}",
                            String::from_utf8_lossy(&body)
                        ));
                    }
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut first_err = None;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => first_err = first_err.or(Some(e)),
            Err(_) => first_err = first_err.or(Some("http client: a thread panicked".into())),
        }
    }
    let took = t0.elapsed();
    match first_err {
        None => Ok(took),
        Some(e) => Err(e),
    }
}

/// One `http` measurement: the child serves, this process is the client.
fn run_http(program: &Path, runtime: &str, size: u64, timeout: Duration) -> Result<Sample, String> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(program)
        .args(["--child", "http", runtime, &size.to_string()])
        .env("GOMAXPROCS", WORKERS.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let fail = |child: &mut std::process::Child, why: String| {
        let _ = child.kill();
        let _ = child.wait();
        why
    };
    let addr = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) => match l.strip_prefix("addr=").and_then(|a| a.parse().ok()) {
            Some(a) => a,
            None => return Err(fail(&mut child, format!("bad first line {l:?}"))),
        },
        Err(_) => {
            let why = fail(&mut child, "no `addr=..` line from the server".into());
            return Err(format!(
                "{why}; stderr ends:\n{}",
                tail(&err.join().unwrap_or_default(), 10)
            ));
        }
    };
    // The client gets the whole time limit; a stuck connection times out after 30 s.
    let client = http_client(addr, size);
    drop(child.stdin.take()); // EOF: the server prints its peak RSS and exits
    let deadline = Instant::now() + timeout.min(Duration::from_secs(30));
    let rss_kb = loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => {
                if let Some(v) = l.strip_prefix("rss_kb=") {
                    break v.trim().parse::<u64>().ok();
                }
            }
            Err(_) => break None,
        }
    };
    let _ = fail(&mut child, String::new());
    let took = client?;
    let rss_kb = rss_kb.ok_or_else(|| {
        format!(
            "no `rss_kb=..` line; stderr ends:\n{}",
            tail(&err.join().unwrap_or_default(), 10)
        )
    })?;
    Ok(Sample {
        ms: took.as_secs_f64() * 1e3,
        rss_kb,
    })
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Harness side.

/// One successful measurement.
#[derive(Clone, Copy)]
struct Sample {
    ms: f64,
    rss_kb: u64,
}

/// What the table shows for one workload on one runtime.
enum Cell {
    /// Median over the rounds.
    Median { ms: f64, rss_mb: f64 },
    /// Some round failed; the reason (with stderr tail).
    Failed(String),
    /// Not measured (runtime not built, or Go missing).
    Absent,
}

struct Row {
    name: &'static str,
    size: u64,
    /// One per entry of [`COLUMNS`].
    cells: Vec<Cell>,
}

struct Options {
    quick: bool,
    rounds: usize,
    timeout: Duration,
    workloads: Vec<&'static Workload>,
}

fn parse_options(args: &[String]) -> Options {
    let mut opts = Options {
        quick: false,
        rounds: 5,
        timeout: Duration::from_secs(180),
        workloads: Vec::new(),
    };
    let mut names: Vec<String> = std::env::var("COMPARE_WORKLOADS")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| -> String {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .clone()
        };
        match a.as_str() {
            "--bench" => {} // passed by `cargo bench`
            "--quick" => opts.quick = true,
            "--rounds" => opts.rounds = value("--rounds").parse().expect("--rounds N"),
            "--timeout" => {
                opts.timeout =
                    Duration::from_secs(value("--timeout").parse().expect("--timeout SECS"))
            }
            s if s.starts_with("--") => eprintln!("compare: ignoring unknown option {s}"),
            s => names.push(s.to_string()),
        }
    }
    if opts.quick {
        opts.rounds = 1;
    }
    opts.rounds = opts.rounds.max(1);
    opts.workloads = if names.is_empty() {
        WORKLOADS.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                workload(n).unwrap_or_else(|| {
                    let all: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
                    panic!("unknown workload {n:?}; known: {}", all.join(","))
                })
            })
            .collect()
    };
    opts
}

/// Builds `benches/go` into `target/` with `go build`; `Err` says why there is no Go column.
fn build_go() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/go");
    // current_exe is target/<profile>/deps/compare-HASH; put the Go binary in target/<profile>.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot place the Go binary")?;
    let out = dir.join("compare-go");
    let result = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .stdin(Stdio::null())
        .output();
    match result {
        Err(e) => Err(format!("`go` not runnable ({e}); Go column skipped")),
        Ok(o) if !o.status.success() => Err(format!(
            "`go build` failed ({}); Go column skipped:\n{}",
            o.status,
            tail(&String::from_utf8_lossy(&o.stderr), 10)
        )),
        Ok(_) => Ok(out),
    }
}

/// The last `n` lines of `s`.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The first `h` and last `t` lines of `s` (a panic message tends to be at one end or the
/// other: Rust's at the end, Go's before the goroutine dump).
fn head_tail(s: &str, h: usize, t: usize) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    if lines.len() <= h + t {
        return lines.join("\n");
    }
    let skipped = format!("... ({} lines)", lines.len() - h - t);
    let kept = lines[..h]
        .iter()
        .copied()
        .chain([skipped.as_str()])
        .chain(lines[lines.len() - t..].iter().copied());
    kept.collect::<Vec<_>>().join("\n")
}

/// Runs `program --child WORKLOAD RUNTIME SIZE` in a fresh process, killing it past `timeout`,
/// and parses its `ms=.. rss_kb=..` line.
fn run_child(
    program: &Path,
    workload: &str,
    runtime: &str,
    size: u64,
    timeout: Duration,
) -> Result<Sample, String> {
    let mut cmd = Command::new(program);
    cmd.args(["--child", workload, runtime, &size.to_string()])
        .env("GOMAXPROCS", WORKERS.to_string())
        .env("RUST_BACKTRACE", "0") // the panic message, not a backtrace, in the stderr tail
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    // Drain both pipes on their own threads so a chatty child cannot block on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let why = match status {
        None => format!("timed out after {} s, killed", timeout.as_secs()),
        Some(s) if !s.success() => format!("exited with {s}"),
        Some(_) => match parse_sample(&stdout) {
            Some(sample) => return Ok(sample),
            None => format!("no `ms=.. rss_kb=..` line in stdout {:?}", tail(&stdout, 3)),
        },
    };
    let stderr = head_tail(&stderr, 4, 10);
    if stderr.is_empty() {
        Err(why)
    } else {
        Err(format!(
            "{why}; stderr ends:\n    {}",
            stderr.replace('\n', "\n    ")
        ))
    }
}

fn parse_sample(stdout: &str) -> Option<Sample> {
    let line = stdout.lines().rev().find(|l| l.starts_with("ms="))?;
    let mut ms = None;
    let mut rss_kb = None;
    for kv in line.split_whitespace() {
        match kv.split_once('=')? {
            ("ms", v) => ms = v.parse().ok(),
            ("rss_kb", v) => rss_kb = v.parse().ok(),
            _ => {}
        }
    }
    Some(Sample {
        ms: ms?,
        rss_kb: rss_kb?,
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Runs every round of one workload and reduces each column to a [`Cell`].
fn measure(w: &Workload, size: u64, opts: &Options, programs: &[Option<PathBuf>]) -> Row {
    let mut samples: Vec<Vec<Result<Sample, String>>> = vec![Vec::new(); COLUMNS.len()];
    for round in 0..opts.rounds {
        for k in 0..COLUMNS.len() {
            let col = (round + k) % COLUMNS.len(); // rotate the order every round
            let Some(program) = &programs[col] else {
                continue;
            };
            let r = if w.name == "http" {
                // A runtime without an HTTP server in the comparison keeps an empty column.
                if SIDES
                    .iter()
                    .any(|(n, f)| *n == COLUMNS[col] && f.http.is_none())
                {
                    continue;
                }
                run_http(program, COLUMNS[col], size, opts.timeout)
            } else {
                run_child(program, w.name, COLUMNS[col], size, opts.timeout)
            };
            match &r {
                Ok(s) => eprintln!(
                    "  {} round {}/{}: {:<5} {:>9.1} ms {:>8.1} MB",
                    w.name,
                    round + 1,
                    opts.rounds,
                    COLUMNS[col],
                    s.ms,
                    s.rss_kb as f64 / 1024.0
                ),
                Err(e) => eprintln!(
                    "  {} round {}/{}: {:<5} FAILED: {}",
                    w.name,
                    round + 1,
                    opts.rounds,
                    COLUMNS[col],
                    e.lines().next().unwrap_or("")
                ),
            }
            samples[col].push(r);
        }
    }
    let cells = samples
        .into_iter()
        .map(|runs| {
            if runs.is_empty() {
                return Cell::Absent;
            }
            if let Some(Err(e)) = runs.iter().find(|r| r.is_err()) {
                return Cell::Failed(e.clone());
            }
            let ok: Vec<Sample> = runs.into_iter().flatten().collect();
            Cell::Median {
                ms: median(ok.iter().map(|s| s.ms).collect()),
                rss_mb: median(ok.iter().map(|s| s.rss_kb as f64 / 1024.0).collect()),
            }
        })
        .collect();
    Row {
        name: w.name,
        size,
        cells,
    }
}

/// What a row says about gorun against its peers.
struct Standing {
    /// gorun's median (ms, MB), if measured.
    gorun: Option<(f64, f64)>,
    /// The fastest peer: (column, ms).
    fastest: Option<(usize, f64)>,
    /// The peer with the lowest peak RSS: (column, MB).
    leanest: Option<(usize, f64)>,
}

impl Standing {
    fn of(row: &Row) -> Standing {
        let mut st = Standing {
            gorun: None,
            fastest: None,
            leanest: None,
        };
        for (col, cell) in row.cells.iter().enumerate() {
            if let Cell::Median { ms, rss_mb } = *cell {
                if COLUMNS[col] == "gorun" {
                    st.gorun = Some((ms, rss_mb));
                    continue;
                }
                if st.fastest.is_none_or(|(_, b)| ms < b) {
                    st.fastest = Some((col, ms));
                }
                if st.leanest.is_none_or(|(_, b)| rss_mb < b) {
                    st.leanest = Some((col, rss_mb));
                }
            }
        }
        st
    }

    /// gorun's time over the fastest peer's.
    fn ratio(&self) -> Option<f64> {
        match (self.gorun, self.fastest) {
            (Some((g, _)), Some((_, b))) if b > 0.0 => Some(g / b),
            _ => None,
        }
    }
}

/// The machine-readable line printed after each workload.
fn result_line(row: &Row) -> String {
    let st = Standing::of(row);
    let (gorun, fastest, leanest) = (st.gorun, st.fastest, st.leanest);
    let num = |x: Option<f64>, prec: usize| x.map_or("NA".to_string(), |v| format!("{v:.prec$}"));
    format!(
        "RESULT workload={} gorun_ms={} best_peer={} best_ms={} ratio={} gorun_rss_mb={} best_rss_mb={} best_rss_peer={}",
        row.name,
        num(gorun.map(|g| g.0), 1),
        fastest.map_or("NA", |(c, _)| COLUMNS[c]),
        num(fastest.map(|f| f.1), 1),
        num(st.ratio(), 2),
        num(gorun.map(|g| g.1), 1),
        num(leanest.map(|l| l.1), 1),
        leanest.map_or("NA", |(c, _)| COLUMNS[c]),
    )
}

/// Prints the table of medians (ms, then peak RSS in MB), then every failure's reason.
fn print_table(rows: &[Row]) {
    let mut header = format!("{:<10} {:>9}", "workload", "size");
    for c in COLUMNS {
        header += &format!(" {:>10}", format!("{c} ms"));
    }
    header += &format!(" {:>7}", "ratio");
    for c in COLUMNS {
        header += &format!(" {:>9}", format!("{c} MB"));
    }
    println!("\n{header}\n{}", "-".repeat(header.len()));
    let mut failures = Vec::new();
    for row in rows {
        let mut line = format!("{:<10} {:>9}", row.name, row.size);
        for (col, cell) in row.cells.iter().enumerate() {
            line += &match cell {
                Cell::Median { ms, .. } => format!(" {ms:>10.1}"),
                Cell::Failed(why) => {
                    failures.push(format!("{} / {}: {}", row.name, COLUMNS[col], why));
                    format!(" {:>10}", "FAILED")
                }
                Cell::Absent => format!(" {:>10}", "-"),
            };
        }
        let ratio = Standing::of(row)
            .ratio()
            .map_or("-".into(), |r| format!("{r:.2}"));
        line += &format!(" {ratio:>7}");
        for cell in &row.cells {
            line += &match cell {
                Cell::Median { rss_mb, .. } => format!(" {rss_mb:>9.1}"),
                Cell::Failed(_) => format!(" {:>9}", "FAILED"),
                Cell::Absent => format!(" {:>9}", "-"),
            };
        }
        println!("{line}");
    }
    println!("(median wall ms of the workload; ratio = gorun / fastest peer; MB = peak RSS)");
    for f in failures {
        println!("FAILED {f}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let opts = parse_options(&args);
    let exe = std::env::current_exe().expect("current_exe");
    let mut notes = Vec::new();
    let programs: Vec<Option<PathBuf>> = COLUMNS
        .iter()
        .map(|&c| match c {
            "go" => match build_go() {
                Ok(p) => Some(p),
                Err(why) => {
                    notes.push(why);
                    None
                }
            },
            _ if SIDES.iter().any(|(n, _)| *n == c) => Some(exe.clone()),
            _ => {
                notes.push(format!(
                    "{c} is not built into this binary; its column is empty"
                ));
                None
            }
        })
        .collect();
    for n in &notes {
        eprintln!("compare: {n}");
    }
    eprintln!(
        "compare: {} round(s), {} workers, {} sizes, one fresh process per measurement",
        opts.rounds,
        WORKERS,
        if opts.quick { "1/10" } else { "full" }
    );
    let mut rows = Vec::new();
    for w in &opts.workloads {
        let size = if opts.quick { w.size / 10 } else { w.size };
        eprintln!("{}: {} (SIZE={size})", w.name, w.what);
        let row = measure(w, size, &opts, &programs);
        println!("{}", result_line(&row));
        rows.push(row);
    }
    print_table(&rows);
    for n in notes {
        println!("note: {n}");
    }
}
