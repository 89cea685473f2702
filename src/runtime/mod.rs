//! The runtime: worker threads running goroutines on a work-stealing scheduler, one reactor
//! and timer wheel, and a blocking-thread pool.
//!
//! Most programs never touch this module: [`go`](crate::go) outside any runtime starts the
//! global runtime (one worker per core), and `#[gorun::main]` builds one for `main`. Embed a
//! runtime of your own with [`Builder`]:
//!
//! ```
//! use gorun::runtime::Builder;
//! let rt = Builder::new().workers(2).build().unwrap();
//! let sum = rt.block_on(async {
//!     let hs: Vec<_> = (0..10u64).map(|i| gorun::go(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for h in hs { sum += h.await.unwrap(); }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```

mod blocking;
mod builder;
pub(crate) use crate::util::coop;
pub(crate) mod deadlock;
mod dump;
mod handle;
pub(crate) mod metrics;
pub(crate) mod scheduler;
pub(crate) mod signal;
mod site;
mod task;
mod wait;

pub(crate) use wait::{pending, Wait};

pub use builder::Builder;
pub use dump::dump;
pub use handle::{EnterGuard, Handle, TryCurrentError};
pub use metrics::{metrics, Metrics};
#[cfg(all(test, not(loom)))]
pub(crate) use task::goroutine_sizes;
pub use task::{JoinError, JoinHandle};

use crate::loom::Unpoison;
use scheduler::Shared;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// What a panicking goroutine does.
///
/// ```
/// use gorun::runtime::{Builder, PanicPolicy};
/// let rt = Builder::new().panic_policy(PanicPolicy::Contain).build().unwrap();
/// let err = rt.block_on(gorun::go(async { panic!("oops") })).unwrap_err();
/// assert!(err.is_panic());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PanicPolicy {
    /// Print `goroutine N panicked: MSG` on stderr; the goroutine's `JoinHandle` yields a
    /// [`JoinError`] and every other goroutine keeps running. The default.
    #[default]
    Contain,
    /// Print the same line, then exit the process with status 2, as Go does.
    Abort,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) thread_name: String,
    pub(crate) max_blocking_threads: usize,
    pub(crate) panic_policy: PanicPolicy,
    pub(crate) detect_deadlock: bool,
}

thread_local! {
    /// Set on runtime worker threads, so that blocking calls made there can panic with a clear
    /// message instead of deadlocking a worker.
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread is inside `Runtime::block_on` (nesting is refused). A
    /// `go_blocking` closure may call `block_on`: its thread is not a worker.
    static IN_BLOCK_ON: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is one of gorun's worker threads.
pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER.try_with(|w| w.get()).unwrap_or(false)
}

pub(crate) fn set_on_worker_thread(on: bool) {
    ON_WORKER.with(|w| w.set(on));
}

/// A gorun runtime. Dropping it shuts it down: workers stop, unfinished goroutines are dropped
/// (their destructors run), threads are joined.
///
/// ```
/// let rt = gorun::runtime::Runtime::new().unwrap();
/// let h = rt.go(async { 40 + 2 });
/// assert_eq!(rt.block_on(h).unwrap(), 42);
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared.config.workers)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with [`Builder::new`]'s defaults.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    fn start(config: Config) -> io::Result<Runtime> {
        signal::install_if_requested();
        let workers = config.workers;
        let driver = crate::reactor::Driver::new(workers)?;
        let name = config.thread_name.clone();
        let shared = Arc::new(Shared::new(config, driver));
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let s = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{name}-worker-{i}"))
                .spawn(move || scheduler::worker::run(s, i));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let rt = Runtime {
                        handle: Handle { shared },
                        threads: Mutex::new(threads),
                    };
                    rt.shutdown_inner(Some(Duration::from_secs(1)));
                    return Err(e);
                }
            }
        }
        deadlock::register_runtime(&shared);
        metrics::start_schedtrace(&shared);
        Ok(Runtime {
            handle: Handle { shared },
            threads: Mutex::new(threads),
        })
    }

    /// This runtime's [`Handle`].
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a goroutine on this runtime.
    ///
    /// ```
    /// let rt = gorun::runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(rt.go(async { 7 })).unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn go<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.go(fut)
    }

    /// Runs `fut` to completion on the current thread, with this runtime entered (so `go`
    /// inside spawns here); goroutines run on the workers meanwhile.
    ///
    /// # Panics
    /// If called from a runtime worker thread or inside another `block_on`: blocking there
    /// would stall the goroutines it is meant to wait for. Use `.await` instead.
    ///
    /// ```
    /// let rt = gorun::runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 2 }), 3);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        if on_worker_thread() {
            panic!(
                "Runtime::block_on called from inside a gorun runtime worker (a goroutine): \
                 blocking a worker would stall the goroutines it waits for; use `.await` instead"
            );
        }
        if IN_BLOCK_ON.with(|b| b.get()) {
            panic!(
                "Runtime::block_on called from inside another block_on: the outer future \
                 could not make progress meanwhile; use `.await` instead"
            );
        }
        struct InBlockOn;
        impl Drop for InBlockOn {
            fn drop(&mut self) {
                let _ = IN_BLOCK_ON.try_with(|b| b.set(false));
            }
        }
        IN_BLOCK_ON.with(|b| b.set(true));
        let _in_block_on = InBlockOn;
        let _enter = handle::enter(self.handle.clone());
        let shared = &self.handle.shared;
        shared.block_on_count.fetch_add(1, Relaxed);
        struct Count<'a>(&'a Shared);
        impl Drop for Count<'_> {
            fn drop(&mut self) {
                self.0.block_on_count.fetch_sub(1, Relaxed);
            }
        }
        let _count = Count(shared);
        park_on(fut, shared.config.detect_deadlock, false)
    }

    /// Runs `fut` as the program's main goroutine and waits for it on this thread: what
    /// `#[gorun::main]` and `#[gorun::test]` expand to for a `Send` body. The body is goroutine 1
    /// of a fresh program (`[main]` in dumps) and runs on a worker like any goroutine, so its
    /// channel operations with other goroutines cost what theirs cost (driven from this thread
    /// through `block_on`, every hand-off would cross threads). A panic in it is resumed here
    /// with its payload; deadlock detection applies as for `block_on`.
    #[doc(hidden)]
    #[track_caller]
    pub fn __run_main<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if on_worker_thread() || IN_BLOCK_ON.with(|b| b.get()) {
            panic!("gorun: a main goroutine can only be started from a plain thread");
        }
        let shared = &self.handle.shared;
        let body = {
            let shared = shared.clone();
            async move {
                let v = fut.await;
                shared.shutdown.store(true, SeqCst);
                v
            }
        };
        let main = {
            let _enter = handle::enter(self.handle.clone());
            shared.spawn(body, std::panic::Location::caller())
        };
        shared.main_goroutine.store(main.id(), Relaxed);
        match park_on(main, shared.config.detect_deadlock, true) {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => panic!("gorun: the main goroutine was cancelled: its runtime shut down"),
        }
    }

    /// Shuts down, waiting at most `timeout` for worker and blocking threads to stop (threads
    /// still busy in a long synchronous call are detached). Unfinished goroutines are dropped.
    ///
    /// ```
    /// let rt = gorun::runtime::Runtime::new().unwrap();
    /// rt.go(std::future::pending::<()>());
    /// rt.shutdown_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.shutdown_inner(Some(timeout));
        // Drop finds it already done.
    }

    fn shutdown_inner(&self, timeout: Option<Duration>) {
        let shared = &self.handle.shared;
        if shared.shutdown_begun.swap(true, SeqCst) {
            return;
        }
        shared.shutdown.store(true, SeqCst);
        // A deadline past what `Instant` can hold is no deadline (`Duration::MAX` waits for
        // good): nothing from here on may panic, the shutdown flag being set already.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        shared.unpark_all();
        let threads = std::mem::take(&mut *self.threads.lock().unpoison());
        if scheduler::worker::current_of(shared).is_some() {
            // On one of this runtime's own workers (a goroutine dropped its runtime): it
            // cannot wait for itself to leave its loop, and cancelling goroutines while the
            // other workers still run them would race their polls. A thread of its own
            // finishes the shutdown once every worker, this one included, has left its loop.
            let s = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{}-shutdown", shared.config.thread_name))
                .spawn(move || {
                    let _ours = deadlock::sched_thread();
                    finish_shutdown(&s, threads, deadline);
                });
            if spawned.is_ok() {
                return;
            }
            // No thread to be had: cancel what can be cancelled from here, without waiting.
            finish_shutdown(shared, Vec::new(), deadline);
            return;
        }
        finish_shutdown(shared, threads, deadline);
    }
}

/// The rest of a shutdown, once the flag is set and the workers told: waits (until `deadline`)
/// for the workers to leave their loops, cancels every goroutine left, and shuts the reactor
/// and the blocking pool down. Nothing here panics: a goroutine destructor's panic is caught
/// and reported by the goroutine's wrapper (`task::Goroutine`).
fn finish_shutdown(
    shared: &Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
    deadline: Option<Instant>,
) {
    let mut exited = shared.exited.lock().unpoison();
    while *exited < threads.len() {
        match deadline {
            None => exited = shared.exited_cv.wait(exited).unpoison(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    break;
                }
                exited = shared.exited_cv.wait_timeout(exited, d - now).unpoison().0;
            }
        }
    }
    let all_exited = *exited >= threads.len();
    drop(exited);
    if all_exited {
        for t in threads {
            let _ = t.join();
        }
    }
    cancel_all(shared);
    // Finished goroutines kept for a spawner (`task::dead`): their metadata holds the runtime.
    drop(shared.dead.take_all());
    shared.driver().shutdown();
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    shared.blocking.shutdown(left);
}

/// Cancels every goroutine left (the workers have stopped, or were given up on): wakes each
/// waiting one so that it is scheduled into the injection queue, and drops it from there
/// (dropping its future). Destructors may wake or spawn more: repeat until nothing is left,
/// then close the injection queue, so that a goroutine woken later is cancelled by its waker
/// instead of left in a queue nobody drains (`scheduler::schedule`).
pub(crate) fn cancel_all(shared: &Shared) {
    let drop_all = |tasks: Vec<task::Runnable>| {
        let any = !tasks.is_empty();
        drop(tasks);
        any
    };
    loop {
        let wakers = shared.registry.close_and_take();
        let had = !wakers.is_empty();
        for w in wakers {
            w.wake();
        }
        let dropped = drop_all(shared.inject.drain());
        if !had && !dropped {
            break;
        }
    }
    while drop_all(shared.inject.close_and_drain()) {}
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown_inner(None);
    }
}

/// The waker of a thread blocked in [`park_on`]. A wake sets `NOTIFIED` and unparks the thread
/// (a system call) only if it is `PARKED`: a thread still spinning after its last poll sees the
/// flag and polls again without either side entering the kernel.
struct ThreadWaker {
    thread: Thread,
    state: std::sync::atomic::AtomicU8,
}

const IDLE: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.swap(NOTIFIED, AcqRel) == PARKED {
            self.thread.unpark();
        }
    }
}

impl ThreadWaker {
    /// Spin rounds (1 to 256 pauses each, about 1,300 pauses in all: a few to a few tens of
    /// µs, depending on the CPU's pause) before parking: long enough for a goroutine's answer
    /// to a message from this thread, short enough not to matter when the wait is long.
    const SPINS: u32 = 12;

    /// Waits for a wake after a `Pending` poll: spins, then parks (at most `timeout`). Returns
    /// whether a wake came. Either way the state is `IDLE` again, ready for the next poll.
    fn wait(&self, timeout: Option<Duration>) -> bool {
        for round in 0..Self::SPINS {
            if self.state.load(Acquire) == NOTIFIED {
                self.state.store(IDLE, Relaxed);
                return true;
            }
            for _ in 0..(1u32 << round.min(8)) {
                std::hint::spin_loop();
            }
        }
        if self
            .state
            .compare_exchange(IDLE, PARKED, AcqRel, Acquire)
            .is_ok()
        {
            let start = Instant::now();
            // std's park can return spuriously: wait until woken or timed out.
            while self.state.load(Acquire) == PARKED {
                match timeout {
                    None => thread::park(),
                    Some(t) => match t.checked_sub(start.elapsed()) {
                        Some(left) if !left.is_zero() => thread::park_timeout(left),
                        _ => break,
                    },
                }
            }
        }
        // NOTIFIED (woken) or PARKED (timed out): back to IDLE before the next poll.
        self.state.swap(IDLE, AcqRel) == NOTIFIED
    }
}

/// Drives `fut` to completion on the current plain thread (the `*_blocking` methods of channels
/// and sync types), with the same waker as `block_on`: spin briefly, then park. The callers
/// refuse worker threads first, each with its own message.
pub(crate) fn block_on_plain_thread<F: Future>(fut: F) -> F::Output {
    park_on(fut, false, false)
}

/// Drives `fut` on the current thread, parking it while the future is pending; with
/// `detect_deadlock`, panics with Go's message when nothing can ever wake it (see `deadlock`).
/// `main_goroutine`: `fut` waits for the program's main goroutine, which the dump lists.
fn park_on<F: Future>(fut: F, detect_deadlock: bool, main_goroutine: bool) -> F::Output {
    thread_local! {
        static WAKER: Arc<ThreadWaker> = Arc::new(ThreadWaker {
            thread: thread::current(),
            state: std::sync::atomic::AtomicU8::new(IDLE),
        });
    }
    let thread_waker = WAKER.with(|w| w.clone());
    // A wake left over from an earlier `park_on` on this thread only costs one extra poll.
    let waker = Waker::from(thread_waker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut backoff = deadlock::Backoff::new();
    let mut suspect = false;
    let wait_slot = std::sync::atomic::AtomicU8::new(0);
    loop {
        let poll = wait::polling(&wait_slot, || {
            coop::with_budget(|| fut.as_mut().poll(&mut cx))
        });
        if let Poll::Ready(v) = poll {
            return v;
        }
        if !detect_deadlock {
            thread_waker.wait(None);
            continue;
        }
        let wait = backoff.next();
        if thread_waker.wait(Some(wait)) {
            // Woken: poll again, and start the checks over.
            backoff = deadlock::Backoff::new();
            suspect = false;
            continue;
        }
        // Timed out: is anything left that could wake us? Two checks in a row, with a poll of
        // the future in between (the loop's), before the verdict.
        if deadlock::nothing_can_wake() {
            if suspect {
                if main_goroutine {
                    panic!("{}", deadlock::report(None));
                }
                let main = Wait::from_u8(wait_slot.load(Relaxed));
                panic!("{}", deadlock::report(Some(main.describe())));
            }
            suspect = true;
        } else {
            suspect = false;
        }
    }
}

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// The global runtime: the one installed by `Builder::build_global`, or else started on first
/// use with one worker per core (`GORUN_WORKERS` of them when set).
pub(crate) fn global() -> &'static Runtime {
    GLOBAL.get_or_init(|| {
        Builder::new()
            .thread_name("gorun-global")
            .build()
            .expect("gorun: failed to start the global runtime")
    })
}

/// Runs `f` with the current runtime (or the global one); on a worker thread without cloning
/// the runtime's `Arc`.
#[inline]
pub(crate) fn with_current_or_global<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    let mut f = Some(f);
    if let Some(r) = scheduler::worker::with_current_shared(|s| (f.take().expect("called once"))(s))
    {
        return r;
    }
    let f = f.take().expect("called once");
    f(&current_or_global().shared)
}

/// The current runtime's handle, or the global runtime's.
pub(crate) fn current_or_global() -> Handle {
    Handle::try_current().unwrap_or_else(|_| global().handle().clone())
}

/// The reactor of the runtime this thread belongs to, or of the global runtime.
pub(crate) fn driver_handle() -> crate::reactor::DriverRef {
    scheduler::worker::current_driver().unwrap_or_else(|| current_or_global().driver())
}
