//! What every lesson of the tour shares: printing that the tests can capture, durations that
//! `GORUN_TOUR_FAST=1` shortens, Go's `defer`, a wall clock for "Tick at ..." lines, and a tiny
//! `rand.Intn`.
//!
//! Lessons print with `outln!`/`out!` (the `fmt.Println`/`fmt.Print` of the tour): to stdout
//! normally, into a buffer while [`capture`] runs (that is how `tests/examples.rs` checks each
//! lesson's output). Lessons write their sleeps as `secs(1)` or `millis(500)`: Go's
//! `time.Second`, `500 * time.Millisecond`, divided by [`FAST_FACTOR`] in fast mode.
#![allow(dead_code, unused_macros)] // each example binary uses a different part of this file

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Fast mode divides every lesson duration by this.
pub const FAST_FACTOR: u32 = 10;

static FORCE_FAST: AtomicBool = AtomicBool::new(false);

/// Where `outln!` writes: `None` = stdout, `Some(buf)` = captured. Guarded by its mutex.
static SINK: Mutex<Option<String>> = Mutex::new(None);

/// Serializes [`capture`]s: one lesson's output at a time.
static CAPTURE: Mutex<()> = Mutex::new(());

/// Like `println!`, into the tour's output (stdout, or the [`capture`] buffer).
macro_rules! outln {
    () => { common::emit(::std::string::String::from("\n")) };
    ($($arg:tt)*) => { common::emit(::std::format!("{}\n", ::std::format_args!($($arg)*))) };
}

/// Like `print!`, into the tour's output (stdout, or the [`capture`] buffer).
macro_rules! out {
    ($($arg:tt)*) => { common::emit(::std::format!($($arg)*)) };
}

/// Writes `s` to the tour's output. Used by `outln!` and `out!`.
pub fn emit(s: String) {
    use std::io::Write;
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    match sink.as_mut() {
        Some(buf) => buf.push_str(&s),
        None => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(s.as_bytes());
            let _ = stdout.flush();
        }
    }
}

/// Runs `f` (a lesson's `main`) with the tour's output captured, and returns that output.
/// Captures are serialized; a panic in `f` still restores stdout, then propagates.
pub fn capture(f: impl FnOnce()) -> String {
    let _serial = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            *SINK.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(String::new());
    let restore = Restore;
    f();
    let out = SINK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    drop(restore);
    out
}

/// Turns fast mode on for this process, whatever the environment says (the tests use it).
pub fn force_fast() {
    FORCE_FAST.store(true, Ordering::Relaxed);
}

/// True when `GORUN_TOUR_FAST=1` (or [`force_fast`]): durations are divided by [`FAST_FACTOR`].
pub fn fast() -> bool {
    FORCE_FAST.load(Ordering::Relaxed) || std::env::var("GORUN_TOUR_FAST").is_ok_and(|v| v == "1")
}

/// A lesson duration: `d`, or `d / FAST_FACTOR` in fast mode.
pub fn scaled(d: Duration) -> Duration {
    if fast() {
        d / FAST_FACTOR
    } else {
        d
    }
}

/// The inverse of [`scaled`]: how long `d` would have been at full speed (for printing).
pub fn unscaled(d: Duration) -> Duration {
    if fast() {
        d * FAST_FACTOR
    } else {
        d
    }
}

/// `n * time.Second`, shortened in fast mode.
pub fn secs(n: u64) -> Duration {
    scaled(Duration::from_secs(n))
}

/// `n * time.Millisecond`, shortened in fast mode.
pub fn millis(n: u64) -> Duration {
    scaled(Duration::from_millis(n))
}

/// Go's `defer f()`: runs `f` when the returned guard is dropped, at the end of the scope,
/// even when the scope unwinds from a panic.
pub fn defer<F: FnOnce()>(f: F) -> Defer<F> {
    Defer(Some(f))
}

/// The guard of [`defer`].
pub struct Defer<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for Defer<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// The UTC time of day of `t` as `15:04:05.000`, for Go's `fmt.Println(time.Now())` lines.
pub fn wall(t: Instant) -> String {
    let now = Instant::now();
    let sys = if t <= now {
        SystemTime::now() - (now - t)
    } else {
        SystemTime::now() + (t - now)
    };
    let ms = sys
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let day = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day / 3_600_000,
        day % 3_600_000 / 60_000,
        day % 60_000 / 1000,
        day % 1000
    )
}

/// Go's `rand.Intn(n)`: a pseudo-random number in `0..n` (xorshift, seeded per thread).
pub fn rand_intn(n: u64) -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x9E37_79B9_7F4A_7C15);
            h.finish() | 1
        });
    }
    assert!(n > 0, "invalid argument to Intn");
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x % n
    })
}

/// The command-line arguments the tour passes on to a lesson (`tour gopl_du /usr`).
static ARGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Sets the arguments that [`args`] returns (Go's `os.Args[1:]` for the next lesson).
pub fn set_args(args: Vec<String>) {
    *ARGS.lock().unwrap_or_else(|e| e.into_inner()) = args;
}

/// Go's `os.Args[1:]` for the running lesson.
pub fn args() -> Vec<String> {
    ARGS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Set by the tour when it runs one lesson alone: lessons that read standard input then
/// read the real one.
static INTERACTIVE: AtomicBool = AtomicBool::new(false);

/// Makes [`stdin`] the real standard input (the tour does this for a lesson run alone).
pub fn set_interactive(on: bool) {
    INTERACTIVE.store(on, Ordering::Relaxed);
}

/// A lesson's `os.Stdin`: the real one (`gorun::io::stdin()`) when the tour runs that lesson
/// alone (`cargo run --example tour -- gopl_netcat`: type lines, Ctrl-D ends), otherwise
/// `canned`, as if typed, so that a whole tour run and the tests need no typing.
pub fn stdin(canned: &str) -> std::pin::Pin<Box<dyn gorun::io::AsyncBufRead + Send>> {
    if INTERACTIVE.load(Ordering::Relaxed) {
        eprintln!("(reading standard input: type lines, Ctrl-D ends)");
        Box::pin(gorun::io::stdin())
    } else {
        Box::pin(futures::io::Cursor::new(canned.as_bytes().to_vec()))
    }
}
