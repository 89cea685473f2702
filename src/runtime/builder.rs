//! `Builder`: configure and start an embedded runtime.

use super::{Config, PanicPolicy, Runtime};
use std::io;

/// Configures a [`Runtime`]: worker count (Go's `GOMAXPROCS`), thread names, the blocking
/// pool's bound, what a panicking goroutine does, and deadlock detection.
///
/// ```
/// use gorun::runtime::{Builder, PanicPolicy};
/// let rt = Builder::new()
///     .workers(2)
///     .thread_name("my-app")
///     .max_blocking_threads(16)
///     .panic_policy(PanicPolicy::Contain)
///     .detect_deadlock(true)
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 }), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    config: Config,
    /// A `GORUN_WORKERS` that is not a worker count: `build` reports it.
    env_error: Option<String>,
}

/// The worker count `GORUN_WORKERS` asks for: `Ok(None)` when unset.
fn env_workers() -> Result<Option<usize>, String> {
    match std::env::var("GORUN_WORKERS") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=0x7FFF).contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "GORUN_WORKERS={v:?} is not a worker count (a whole number from 1 to 32767)"
            )),
        },
        Err(e) => Err(format!("GORUN_WORKERS: {e}")),
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per core, or `GORUN_WORKERS` of them when that environment
    /// variable is set (Go's `GOMAXPROCS`: it applies to the global runtime, `#[gorun::main]`'s
    /// and every `Builder` that does not call [`workers`](Builder::workers)); thread name
    /// `gorun`, 512 blocking threads, `PanicPolicy::Contain`, deadlock detection on.
    ///
    /// A `GORUN_WORKERS` that is not a number from 1 to 32767 makes [`build`](Builder::build)
    /// fail with an `InvalidInput` error that says so (unless `workers` was called).
    pub fn new() -> Builder {
        let (env, env_error) = match env_workers() {
            Ok(n) => (n, None),
            Err(e) => (None, Some(e)),
        };
        Builder {
            env_error,
            config: Config {
                workers: env.unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                }),
                thread_name: "gorun".to_string(),
                max_blocking_threads: 512,
                panic_policy: PanicPolicy::Contain,
                detect_deadlock: true,
            },
        }
    }

    /// Number of worker threads (at least 1; Go's `GOMAXPROCS`).
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn workers(mut self, n: usize) -> Builder {
        assert!(
            n > 0,
            "runtime::Builder::workers: the worker count must be at least 1"
        );
        assert!(
            n <= 0x7FFF,
            "runtime::Builder::workers: at most 32767 workers are supported"
        );
        self.config.workers = n;
        self.env_error = None;
        self
    }

    /// Prefix of the worker (`NAME-worker-i`) and blocking (`NAME-blocking-i`) thread names.
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.config.thread_name = name.into();
        self
    }

    /// Bound on the threads running `go_blocking` closures at once (at least 1).
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.config.max_blocking_threads = n.max(1);
        self
    }

    /// What a panicking goroutine does (see [`PanicPolicy`]).
    pub fn panic_policy(mut self, policy: PanicPolicy) -> Builder {
        self.config.panic_policy = policy;
        self
    }

    /// Whether `block_on` reports a certain deadlock with Go's message instead of hanging.
    pub fn detect_deadlock(mut self, on: bool) -> Builder {
        self.config.detect_deadlock = on;
        self
    }

    /// Starts the runtime's workers.
    ///
    /// # Errors
    /// When threads cannot be started, or `GORUN_WORKERS` is malformed (see [`Builder::new`]).
    pub fn build(self) -> io::Result<Runtime> {
        if let Some(e) = self.env_error {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
        }
        Runtime::start(self.config)
    }

    /// Starts this runtime and makes it the global one: the runtime that [`go`](crate::go),
    /// [`block_on`](crate::block_on), timers and sockets use outside any other runtime.
    /// Call it early in `main`, before anything has started the global runtime.
    ///
    /// # Errors
    /// `AlreadyExists` if the global runtime is already running (something used it first, or
    /// `build_global` was called before); the errors of [`build`](Builder::build).
    ///
    /// ```
    /// use gorun::runtime::Builder;
    /// Builder::new().workers(2).thread_name("app").build_global().unwrap();
    /// let name = gorun::block_on(gorun::go(async {
    ///     std::thread::current().name().unwrap().to_string()
    /// }))
    /// .unwrap();
    /// assert!(name.starts_with("app-worker-"));
    /// // Only once per process.
    /// let again = Builder::new().build_global().unwrap_err();
    /// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    /// ```
    pub fn build_global(self) -> io::Result<()> {
        let already = || {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "runtime::Builder::build_global: the global runtime is already running",
            )
        };
        if super::GLOBAL.get().is_some() {
            return Err(already());
        }
        let rt = self.build()?;
        // Lost a race with a concurrent first use: ours is dropped (shut down).
        super::GLOBAL.set(rt).map_err(|_| already())
    }
}
