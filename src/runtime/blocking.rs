//! The blocking pool: threads for `go_blocking` closures, started on demand up to a bound and
//! retired after a while idle (tokio's `spawn_blocking` shape).
//!
//! Invariants (all fields guarded by `state`'s lock):
//! - A queued job is picked up by an idle thread if `idle > 0` (one is signalled per job),
//!   otherwise a new thread is started while fewer than `max` exist; past that, jobs wait.
//! - After shutdown no job starts: queued ones are dropped (their goroutines are cancelled),
//!   and idle threads exit.

use super::scheduler::Shared;
use super::task::Runnable;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) struct BlockingPool {
    state: Mutex<State>,
    cond: Condvar,
    /// Signalled when a thread exits (for `shutdown`'s wait).
    exited: Condvar,
    max: usize,
    /// Jobs currently running (for deadlock detection and dumps).
    pub(crate) active: AtomicUsize,
}

struct State {
    queue: VecDeque<Runnable>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    next_id: usize,
}

impl BlockingPool {
    pub(crate) fn new(max: usize) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                shutdown: false,
                next_id: 0,
            }),
            cond: Condvar::new(),
            exited: Condvar::new(),
            max: max.max(1),
            active: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, job: Runnable, shared: &Arc<Shared>) {
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            drop(job);
            return;
        }
        st.queue.push_back(job);
        if st.idle > 0 {
            drop(st);
            self.cond.notify_one();
            return;
        }
        if st.threads < self.max {
            st.threads += 1;
            let id = st.next_id;
            st.next_id += 1;
            drop(st);
            let shared2 = shared.clone();
            let name = format!("{}-blocking-{id}", shared.config.thread_name);
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || shared2.blocking.thread_main(&shared2));
            if spawned.is_err() {
                // The job stays queued for an existing thread; if there is none it runs when
                // one is started by a later job.
                self.lock().threads -= 1;
            }
        }
    }

    /// Threads in the pool, busy or idle (for `runtime::metrics`).
    pub(crate) fn num_threads(&self) -> usize {
        self.lock().threads
    }

    /// No job queued or running.
    pub(crate) fn is_idle(&self) -> bool {
        self.active.load(SeqCst) == 0 && self.lock().queue.is_empty()
    }

    fn thread_main(&self, shared: &Arc<Shared>) {
        let _ours = super::deadlock::gorun_thread();
        let _enter = super::handle::enter(super::Handle {
            shared: shared.clone(),
        });
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                self.active.fetch_add(1, SeqCst);
                drop(st);
                job.run();
                self.active.fetch_sub(1, SeqCst);
                st = self.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let deadline = Instant::now() + KEEP_ALIVE;
            let mut timed_out = false;
            while st.queue.is_empty() && !st.shutdown {
                let now = Instant::now();
                if now >= deadline {
                    timed_out = true;
                    break;
                }
                st = self
                    .cond
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            st.idle -= 1;
            if timed_out && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
        drop(st);
        self.exited.notify_all();
    }

    /// Stops the pool: drops queued jobs, wakes idle threads, and waits up to `timeout`
    /// (forever if `None`) for running jobs to finish. Returns whether every thread exited.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let queued = {
            let mut st = self.lock();
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        self.cond.notify_all();
        drop(queued);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        while st.threads > 0 {
            match deadline {
                None => st = self.exited.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    st = self
                        .exited
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
    }
}
