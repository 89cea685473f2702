//! gorun: Go's concurrency for Rust — goroutines, Go-exact channels and `select!`,
//! `WaitGroup`, `Mutex`, `Context`, timers and TCP on one work-stealing runtime.
//!
//! `go(fut)` spawns a goroutine: a stackless task scheduled on a multi-threaded work-stealing
//! executor (per-worker run queues with Go's `runnext` slot, one reactor, one timer wheel).
//! Outside any runtime, `go` starts a global runtime with one worker per core, so a plain
//! `fn main` works as in Go; `#[gorun::main]` gives `main` a runtime of its own.
//!
//! # Quick start
//!
//! A worker pool with a `range` over a channel, a `WaitGroup` and a `select` with a timeout;
//! the Go it ports is in the comments.
//!
//! ```
//! use gorun::prelude::*;
//!
//! #[gorun::main]
//! async fn main() {
//!     let jobs = chan::<u64>(0); // jobs := make(chan uint64)
//!     let results = chan::<u64>(10); // results := make(chan uint64, 10)
//!     let wg = WaitGroup::new(); // var wg sync.WaitGroup
//!     for _ in 0..3 {
//!         let (jobs, results) = (jobs.clone(), results.clone());
//!         wg.go(async move { // wg.Go(func() {
//!             while let Some(n) = jobs.recv().await { // for n := range jobs {
//!                 results.send(n * n).await.unwrap(); // results <- n * n
//!             }
//!         });
//!     }
//!     for n in 1..=10 {
//!         jobs.send(n).await.unwrap(); // jobs <- n
//!     }
//!     jobs.close(); // close(jobs)
//!     wg.wait().await; // wg.Wait()
//!     let mut sum = 0;
//!     for _ in 0..10 {
//!         sum += results.recv().await.unwrap(); // sum += <-results
//!     }
//!     select! {
//!         recv(results) -> v => println!("one too many: {v:?}"), // case v := <-results:
//!         recv(after(Duration::from_millis(10))) -> _ => println!("sum = {sum}"), // case <-time.After(..):
//!     }
//!     assert_eq!(sum, 385);
//! }
//! ```
//!
//! # Where next
//!
//! - `cargo run --release --example tour`: every classic Go concurrency lesson (Go by Example,
//!   "The Go Programming Language" chapter 8, the first goroutine tutorials) ported to gorun,
//!   each with its Go original beside it (`examples/tour/`).
//! - `docs/porting.md`: a table from every Go construct to its gorun form, and the differences
//!   that matter (`.await`, send on a closed channel returns `Err`, `select!` arm syntax).
//! - `docs/design.md`: how the runtime works inside.
//! - The modules: [`chan`] and [`select!`] (channels), [`sync`] (`WaitGroup`, `Mutex`, ...),
//!   [`time`] (sleep, timers, tickers), [`context`], [`errgroup`], [`net`], [`signal`],
//!   [`io`] (stdin, stdout) and [`runtime`].
//! - `docs/embedding.md`: gorun inside a tokio or hyper service, and hyper on gorun.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod loom;
pub(crate) mod rand;
pub(crate) mod reactor;
pub(crate) mod util;

pub mod chan;
pub mod context;
pub mod errgroup;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
pub mod net;
pub mod runtime;
pub mod signal;
pub mod sync;
pub mod time;

pub use gorun_macros::{main, test};
pub use runtime::{JoinError, JoinHandle};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The names a Go programmer reaches for: `use gorun::prelude::*;`.
pub mod prelude {
    pub use crate::chan::{chan, Chan};
    pub use crate::context::Context;
    pub use crate::select;
    pub use crate::sync::{Mutex, RwMutex, WaitGroup};
    pub use crate::time::{after, sleep, tick};
    pub use crate::{go, go_blocking, yield_now};
    // The extension traits of async I/O and streams (`read_exact`, `write_all`, `lines`,
    // `next`, `send` on a `Sink`): no direct `futures` dependency needed for the common cases.
    pub use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    pub use futures::{SinkExt, StreamExt};
    pub use std::time::Duration;
}

/// Spawns a goroutine: runs `fut` concurrently on the current runtime (or, outside any
/// runtime, on the global one) and returns a [`JoinHandle`] for its result. Dropping the
/// handle detaches the goroutine, which keeps running — Go's `go f()`.
///
/// ```
/// // From plain synchronous code: the global runtime starts on first use.
/// let h = gorun::go(async { "hello from a goroutine" });
/// assert_eq!(gorun::block_on(h).unwrap(), "hello from a goroutine");
/// ```
#[track_caller]
pub fn go<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = std::panic::Location::caller();
    runtime::with_current_or_global(|shared| shared.spawn(fut, location))
}

/// Runs blocking code (file I/O, a long computation, a C call) on the runtime's blocking-thread
/// pool, so it does not stall a worker — what a Go goroutine in a syscall gets for free.
///
/// ```
/// let h = gorun::go_blocking(|| std::fs::read_dir("/").map(|d| d.count()).unwrap_or(0));
/// assert!(gorun::block_on(h).unwrap() > 0);
/// ```
#[track_caller]
pub fn go_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = std::panic::Location::caller();
    runtime::with_current_or_global(|shared| shared.spawn_blocking(f, location))
}

/// Lets other goroutines run: the current one goes to the back of its worker's queue — Go's
/// `runtime.Gosched()`.
///
/// ```
/// gorun::block_on(async {
///     gorun::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The number of live goroutines on the current runtime (or the global one), counting those
/// being driven by `block_on` — Go's `runtime.NumGoroutine()`.
///
/// ```
/// gorun::block_on(async {
///     assert!(gorun::num_goroutine() >= 1);
/// });
/// ```
pub fn num_goroutine() -> usize {
    runtime::current_or_global().num_goroutine()
}

/// Runs a future to completion on the global runtime from synchronous code.
///
/// # Panics
/// When called from a goroutine or inside another `block_on` (see [`runtime::Runtime::block_on`]).
///
/// ```
/// assert_eq!(gorun::block_on(async { 1 + 1 }), 2);
/// ```
#[track_caller]
pub fn block_on<F: Future>(fut: F) -> F::Output {
    runtime::global().block_on(fut)
}
