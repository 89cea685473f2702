//! The blocking pool: threads for `go_blocking` closures, started on demand up to a bound and
//! retired after a while idle (tokio's `spawn_blocking` shape).
//!
//! Invariants (all fields guarded by `state`'s lock):
//! - A queued job is picked up by an idle thread if one is idle and not yet signalled
//!   (`idle > notified`: one is signalled per job, and counted in `notified` until it wakes),
//!   otherwise a new thread is started while fewer than `max` exist; past that, jobs wait.
//!   So no job ever waits for a running job while the pool is below its bound.
//! - `active` (jobs running) changes under the lock together with the queue, so the deadlock
//!   detector sees a job either queued or running, never neither.
//! - After shutdown no job starts: queued ones are dropped (their goroutines are cancelled),
//!   and idle threads exit.

use super::scheduler::Shared;
use super::task::Runnable;
use crate::loom::Unpoison;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) struct BlockingPool {
    state: Mutex<State>,
    cond: Condvar,
    /// Signalled when a thread exits (for `shutdown`'s wait).
    exited: Condvar,
    max: usize,
}

struct State {
    queue: VecDeque<Runnable>,
    threads: usize,
    idle: usize,
    /// Jobs running (for deadlock detection).
    active: usize,
    /// Idle threads signalled and not yet awake (tokio's `num_notify`): a signalled thread
    /// still counts in `idle` until it re-takes the lock, so without this count two quick
    /// jobs would both signal the one idle thread and the second would wait for the first.
    notified: usize,
    shutdown: bool,
    next_id: usize,
}

/// What a push must do to get its job picked up.
#[derive(Debug, PartialEq, Eq)]
enum OnPush {
    /// Signal one idle thread (counted in `notified`).
    Notify,
    /// Start a new thread (counted in `threads`).
    Spawn,
    /// Every thread is busy and the pool is at its bound: the job waits its turn.
    Wait,
}

impl State {
    /// Decides, under the lock, who picks up a job just queued, and counts it.
    fn on_push(&mut self, max: usize) -> OnPush {
        if self.idle > self.notified {
            self.notified += 1;
            OnPush::Notify
        } else if self.threads < max {
            self.threads += 1;
            OnPush::Spawn
        } else {
            OnPush::Wait
        }
    }
}

impl BlockingPool {
    pub(crate) fn new(max: usize) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                active: 0,
                notified: 0,
                shutdown: false,
                next_id: 0,
            }),
            cond: Condvar::new(),
            exited: Condvar::new(),
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unpoison()
    }

    pub(crate) fn push(&self, job: Runnable, shared: &Arc<Shared>) {
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            drop(job);
            return;
        }
        st.queue.push_back(job);
        match st.on_push(self.max) {
            OnPush::Notify => {
                drop(st);
                self.cond.notify_one();
            }
            OnPush::Wait => {}
            OnPush::Spawn => self.spawn_thread(st, shared),
        }
    }

    /// Starts a thread (counted in `st.threads` by `on_push` already).
    fn spawn_thread(&self, mut st: std::sync::MutexGuard<'_, State>, shared: &Arc<Shared>) {
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

    /// Threads in the pool, busy or idle (for `runtime::metrics`).
    pub(crate) fn num_threads(&self) -> usize {
        self.lock().threads
    }

    /// No job queued or running.
    pub(crate) fn is_idle(&self) -> bool {
        let st = self.lock();
        st.active == 0 && st.queue.is_empty()
    }

    fn thread_main(&self, shared: &Arc<Shared>) {
        let _ours = super::deadlock::sched_thread();
        let _enter = super::handle::enter(super::Handle {
            shared: shared.clone(),
        });
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                st.active += 1;
                drop(st);
                job.run();
                st = self.lock();
                st.active -= 1;
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
                let _asleep = super::deadlock::asleep();
                st = self.cond.wait_timeout(st, deadline - now).unpoison().0;
            }
            st.idle -= 1;
            // Whether it was signalled or not, a thread leaving the wait takes one pending
            // notification with it: the job it was for is picked up by this thread or was
            // taken by a busy one.
            st.notified = st.notified.saturating_sub(1);
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
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut st = self.lock();
        while st.threads > 0 {
            match deadline {
                None => st = self.exited.wait(st).unpoison(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    st = self.exited.wait_timeout(st, d - now).unpoison().0;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(threads: usize, idle: usize) -> State {
        State {
            queue: VecDeque::new(),
            threads,
            idle,
            active: 0,
            notified: 0,
            shutdown: false,
            next_id: 0,
        }
    }

    /// Two jobs pushed before the one idle thread wakes: the second must start a thread, not
    /// signal the same one again (it would then wait for the first job to return, forever if
    /// that job waits for the second).
    #[test]
    fn a_signalled_idle_thread_is_not_signalled_twice() {
        let mut st = state(1, 1);
        assert_eq!(st.on_push(8), OnPush::Notify);
        assert_eq!(st.on_push(8), OnPush::Spawn);
        assert_eq!(st.threads, 2);
        // At the bound, the job waits for a thread to come back.
        let mut st = state(1, 1);
        assert_eq!(st.on_push(1), OnPush::Notify);
        assert_eq!(st.on_push(1), OnPush::Wait);
    }
}
