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
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per core, thread name `gorun`, 512 blocking threads,
    /// `PanicPolicy::Contain`, deadlock detection on.
    pub fn new() -> Builder {
        Builder {
            config: Config {
                workers: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
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
    pub fn build(self) -> io::Result<Runtime> {
        Runtime::start(self.config)
    }
}
