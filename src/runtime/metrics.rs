//! Scheduler metrics ([`metrics`], [`Metrics`]) and `GORUN_SCHEDTRACE=<ms>`, Go's
//! `GODEBUG=schedtrace`.
//!
//! # Counters
//!
//! Each worker has its own [`Counters`] slot on its own cache lines, written only by that
//! worker's thread with a relaxed load and store (no locked instruction on the hot paths:
//! a poll, a spawn, a steal, a park). Threads that are not workers (spawns from outside) share
//! one last slot, updated with `fetch_add`. A reader sums the slots with relaxed loads: the
//! totals are snapshots, each counter exact but not taken at one instant with the others.

use super::scheduler::Shared;
use super::Handle;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// One thread's event counters (see the module docs).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) spawned: AtomicU64,
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    /// Times the worker stood aside (`worker::aside`); internal, not in [`Metrics`].
    pub(crate) asides: AtomicU64,
}

/// Adds one to a counter only the calling thread writes (a worker's own slot).
#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
}

/// A snapshot of a runtime's scheduler, from [`metrics`] or [`Handle::metrics`].
///
/// ```
/// gorun::block_on(async {
///     gorun::go(async {}).await.unwrap();
///     let m = gorun::runtime::metrics();
///     assert!(m.goroutines_spawned >= 1);
///     assert_eq!(m.local_queue_depths.len(), m.workers);
///     println!("{m}"); // one schedtrace line
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Worker threads (Go's `GOMAXPROCS`).
    pub workers: usize,
    /// Workers parked with nothing to do.
    pub idle_workers: usize,
    /// Live goroutines (spawned, not finished), as `Handle::num_goroutine` without
    /// `block_on` futures.
    pub live_goroutines: usize,
    /// Goroutines spawned since the runtime started.
    pub goroutines_spawned: u64,
    /// Goroutine polls run by the workers.
    pub polls: u64,
    /// Successful steals (a batch taken from another worker's queue counts once).
    pub steals: u64,
    /// Times a worker went to sleep for want of work.
    pub parks: u64,
    /// Goroutines waiting in the global injection queue.
    pub injection_queue_depth: usize,
    /// Each worker's local run queue length (its `runnext` slot included).
    pub local_queue_depths: Vec<usize>,
    /// Threads of the blocking pool (running `go_blocking` closures, or idle).
    pub blocking_threads: usize,
}

impl fmt::Display for Metrics {
    /// One line in the spirit of Go's `schedtrace`:
    /// `workers=2 idleworkers=1 goroutines=3 spawned=10 polls=52 steals=1 parks=4 blockingthreads=0 runqueue=0 [0 1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "workers={} idleworkers={} goroutines={} spawned={} polls={} steals={} parks={} \
             blockingthreads={} runqueue={} [",
            self.workers,
            self.idle_workers,
            self.live_goroutines,
            self.goroutines_spawned,
            self.polls,
            self.steals,
            self.parks,
            self.blocking_threads,
            self.injection_queue_depth
        )?;
        for (i, d) in self.local_queue_depths.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// The current runtime's metrics (or the global runtime's, outside any).
///
/// ```
/// let m = gorun::runtime::metrics();
/// assert!(m.workers >= 1);
/// ```
pub fn metrics() -> Metrics {
    super::current_or_global().metrics()
}

impl Handle {
    /// This runtime's metrics.
    ///
    /// ```
    /// let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    /// rt.block_on(rt.go(async {})).unwrap();
    /// let m = rt.handle().metrics();
    /// assert_eq!(m.workers, 2);
    /// assert!(m.goroutines_spawned >= 1 && m.polls >= 1);
    /// ```
    pub fn metrics(&self) -> Metrics {
        collect(&self.shared)
    }
}

pub(crate) fn collect(s: &Shared) -> Metrics {
    let sum = |f: fn(&Counters) -> &AtomicU64| -> u64 {
        s.counters
            .iter()
            .map(|c| f(c).load(Relaxed))
            .fold(0, u64::wrapping_add)
    };
    Metrics {
        workers: s.config.workers,
        idle_workers: s.idle.num_parked(),
        live_goroutines: s.live_count(),
        goroutines_spawned: sum(|c| &c.spawned),
        polls: sum(|c| &c.polls),
        steals: sum(|c| &c.steals),
        parks: sum(|c| &c.parks),
        injection_queue_depth: s.inject.len(),
        local_queue_depths: s
            .remotes
            .iter()
            .map(|r| r.queue.len() + usize::from(!r.runnext.load(Relaxed).is_null()))
            .collect(),
        blocking_threads: s.blocking.num_threads(),
    }
}

/// Starts the `GORUN_SCHEDTRACE` thread for this runtime if the variable is set: every
/// interval it prints `SCHED <elapsed>ms: <metrics>` on stderr, until the runtime shuts down.
/// A value that is not a positive number of milliseconds is reported once and ignored.
pub(crate) fn start_schedtrace(shared: &Arc<Shared>) {
    let Ok(v) = std::env::var("GORUN_SCHEDTRACE") else {
        return;
    };
    let ms = match v.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => ms,
        _ => {
            eprintln!(
                "gorun: GORUN_SCHEDTRACE={v:?} is not a positive number of milliseconds; ignored"
            );
            return;
        }
    };
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let start = Instant::now();
    let _ = std::thread::Builder::new()
        .name(format!("{}-schedtrace", shared.config.thread_name))
        .spawn(move || {
            let _ours = super::deadlock::gorun_thread();
            loop {
                std::thread::sleep(Duration::from_millis(ms));
                let Some(s) = weak.upgrade() else { return };
                if s.is_shutdown() {
                    return;
                }
                eprintln!("SCHED {}ms: {}", start.elapsed().as_millis(), collect(&s));
            }
        });
}
