//! Loom models of the worker loop's park/unpark protocol, on the real code: each worker thread
//! runs [`worker::run_loop`] itself (with its [`search`](worker::protocol::search),
//! [`run_task`](worker::protocol::run_task),
//! [`wait_for_work`](worker::protocol::wait_for_work) and [`Pool::notify_parked`]), over
//! the real [`Idle`], [`Parker`] and [`DriverSlot`]. Only what the loop is generic over is a
//! stand-in: the run queues are counters of tasks ([`Queues`]) and the reactor is a condvar
//! that dispatches "events" by scheduling a task on the worker parked in it
//! ([`FakeDriver`]), as the real reactor's wakers do (`schedule_local`, no notification).
//!
//! A lost wake-up shows up as a loom deadlock (every thread blocked): each model ends only
//! when every task has run, and the task that runs last shuts the model down as
//! `Runtime::drop` does (`Pool::unpark_all`).
//!
//! Each model fails when one of the loop's steps is broken (checked by hand, see the commit
//! that introduced this file): `one_worker_one_external_submit` without the last searcher's
//! re-check in `park`, `reactor_is_handed_over_by_a_worker_that_leaves_it` without the
//! hand-off after a wake-up in the reactor.

use super::idle::Idle;
use super::park::{Drive, DriverSlot, Parker};
use super::worker::{self, Core, Pool};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::loom::thread;
use std::cell::Cell;
use std::time::Duration;

loom::thread_local! {
    /// The index of the worker running on this thread (the real reactor's wakers find it
    /// through `worker::current_of`).
    static WORKER: Cell<usize> = Cell::new(usize::MAX);
}

/// The run queues, reduced to counts of tasks: one local queue per worker (`runnext`
/// included) and the injection queue.
struct Queues {
    local: Vec<AtomicUsize>,
    inject: AtomicUsize,
}

/// Takes one task from a queue, if it holds any.
fn take(q: &AtomicUsize) -> bool {
    let mut n = q.load(SeqCst);
    while n > 0 {
        match q.compare_exchange(n, n - 1, SeqCst, SeqCst) {
            Ok(_) => return true,
            Err(a) => n = a,
        }
    }
    false
}

/// A reactor stand-in: `poll` blocks until `unpark` or an event; it dispatches every pending
/// event by putting a task on the local queue of the worker that drives it.
struct FakeDriver {
    state: Mutex<DriverState>,
    cv: Condvar,
    queues: Arc<Queues>,
    /// Events dispatched so far (a task may wait for them: see `Rt::blocks_until_events`).
    dispatched: Mutex<usize>,
    dispatched_cv: Condvar,
}

#[derive(Default)]
struct DriverState {
    notified: bool,
    pending: usize,
}

impl FakeDriver {
    /// An event arrives (I/O readiness, a timer), to be dispatched by whoever drives.
    fn fire(&self) {
        self.state.lock().unwrap().pending += 1;
        self.cv.notify_one();
    }
}

impl Drive for FakeDriver {
    fn poll(&self, _timeout: Option<Duration>) -> usize {
        let mut s = self.state.lock().unwrap();
        while !s.notified && s.pending == 0 {
            s = self.cv.wait(s).unwrap();
        }
        s.notified = false;
        let n = std::mem::take(&mut s.pending);
        drop(s);
        if n > 0 {
            let idx = WORKER.with(Cell::get);
            self.queues.local[idx].fetch_add(n, SeqCst);
            *self.dispatched.lock().unwrap() += n;
            self.dispatched_cv.notify_all();
        }
        n
    }

    fn unpark(&self) {
        self.state.lock().unwrap().notified = true;
        self.cv.notify_one();
    }
}

/// The runtime stand-in ([`Pool`]): the real idle state, parkers and driver slot.
struct Rt {
    idle: Idle,
    parkers: Vec<Parker>,
    slot: DriverSlot<FakeDriver>,
    queues: Arc<Queues>,
    /// Tasks run so far; the model shuts down when all `total` have run.
    consumed: AtomicUsize,
    total: usize,
    /// Every task, when run, waits until this many events have been dispatched (a goroutine
    /// that runs long, until a timer or I/O it depends on has fired).
    blocks_until_events: usize,
}

impl Rt {
    fn new(workers: usize, total: usize, blocks_until_events: usize) -> Arc<Rt> {
        let queues = Arc::new(Queues {
            local: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            inject: AtomicUsize::new(0),
        });
        Arc::new(Rt {
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            slot: DriverSlot::new(FakeDriver {
                state: Mutex::new(DriverState::default()),
                cv: Condvar::new(),
                queues: queues.clone(),
                dispatched: Mutex::new(0),
                dispatched_cv: Condvar::new(),
            }),
            queues,
            consumed: AtomicUsize::new(0),
            total,
            blocks_until_events,
        })
    }

    /// A wake from outside the workers, as `Shared::schedule_remote`: publish on the
    /// injection queue, then notify.
    fn submit(&self) {
        self.queues.inject.fetch_add(1, SeqCst);
        self.notify_parked();
    }

    /// Starts worker `idx` of `rt` on a thread of its own.
    fn spawn_worker(rt: &Arc<Rt>, idx: usize) -> thread::JoinHandle<()> {
        let rt = rt.clone();
        thread::spawn(move || {
            WORKER.with(|w| w.set(idx));
            worker::run_loop(&W {
                rt,
                idx,
                searching: Cell::new(false),
            })
        })
    }
}

impl Pool for Rt {
    type Driver = FakeDriver;

    fn idle(&self) -> &Idle {
        &self.idle
    }

    fn parker(&self, idx: usize) -> &Parker {
        &self.parkers[idx]
    }

    fn num_workers(&self) -> usize {
        self.parkers.len()
    }

    fn driver_slot(&self) -> &DriverSlot<FakeDriver> {
        &self.slot
    }

    fn is_shutdown(&self) -> bool {
        self.consumed.load(SeqCst) == self.total
    }

    fn has_work(&self) -> bool {
        self.queues.inject.load(SeqCst) > 0 || self.queues.local.iter().any(|q| q.load(SeqCst) > 0)
    }
}

/// One worker's stand-in ([`Core`]).
struct W {
    rt: Arc<Rt>,
    idx: usize,
    searching: Cell<bool>,
}

impl Core for W {
    type Pool = Rt;
    type Task = ();

    fn pool(&self) -> &Rt {
        &self.rt
    }

    fn index(&self) -> usize {
        self.idx
    }

    fn searching(&self) -> &Cell<bool> {
        &self.searching
    }

    fn begin_turn(&self) -> u32 {
        0
    }

    fn next_task(&self, _tick: u32) -> Option<()> {
        take(&self.rt.queues.local[self.idx]).then_some(())
    }

    /// The other workers' queues, then the injection queue (the real order).
    fn steal(&self) -> Option<()> {
        let q = &self.rt.queues;
        let others = (0..q.local.len()).filter(|&v| v != self.idx);
        for v in others {
            if take(&q.local[v]) {
                return Some(());
            }
        }
        take(&q.inject).then_some(())
    }

    fn run(&self, (): ()) {
        let rt = &*self.rt;
        if rt.blocks_until_events > 0 {
            let d = &rt.slot.driver;
            let mut n = d.dispatched.lock().unwrap();
            while *n < rt.blocks_until_events {
                n = d.dispatched_cv.wait(n).unwrap();
            }
        }
        if rt.consumed.fetch_add(1, SeqCst) + 1 == rt.total {
            // The last task: shut down, as `Runtime::drop` does.
            rt.unpark_all();
        }
    }

    fn has_local_work(&self) -> bool {
        self.rt.queues.local[self.idx].load(SeqCst) > 0
    }
}

/// The last searcher's re-check: the only worker searches, misses the task pushed meanwhile,
/// and the producer, seeing it search, wakes nobody.
#[test]
fn one_worker_one_external_submit() {
    crate::loom::model(|| {
        let rt = Rt::new(1, 1, 0);
        let w = Rt::spawn_worker(&rt, 0);
        rt.submit();
        w.join().unwrap();
    });
}

/// Two producers' notifications against two workers searching and parking.
#[test]
fn two_workers_two_submits() {
    crate::loom::model_bounded(3, || {
        let rt = Rt::new(2, 2, 0);
        let w0 = Rt::spawn_worker(&rt, 0);
        let w1 = Rt::spawn_worker(&rt, 1);
        rt.submit();
        rt.submit();
        w0.join().unwrap();
        w1.join().unwrap();
    });
}

/// The reactor hand-off (Go's `wakeNetPoller`): a worker woken in the reactor with a task runs
/// it, and the task runs until a second event has been dispatched; only a worker parked in
/// the reactor can dispatch it, so the first must wake the other to take its place.
#[test]
fn reactor_is_handed_over_by_a_worker_that_leaves_it() {
    crate::loom::model_bounded(3, || {
        let rt = Rt::new(2, 2, 2);
        let w0 = Rt::spawn_worker(&rt, 0);
        let w1 = Rt::spawn_worker(&rt, 1);
        rt.slot.driver.fire();
        rt.slot.driver.fire();
        w0.join().unwrap();
        w1.join().unwrap();
    });
}

#[test]
fn parker_unpark_before_and_during_park() {
    crate::loom::model(|| {
        let rt = Rt::new(2, 0, 0);
        // Worker 1 parks alone, so in the (free) driver; the condvar side is exercised by the
        // two-worker models.
        let r = rt.clone();
        let t = thread::spawn(move || {
            r.parkers[1].park(&r.slot, None);
        });
        rt.parkers[1].unpark(&rt.slot);
        t.join().unwrap();
    });
}

/// Two workers deciding at once to stand aside (`worker::aside`), while both run: exactly one
/// may, so one worker always keeps running; and once it is back, the other may.
#[test]
fn two_running_workers_never_both_stand_aside() {
    crate::loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let idle = idle.clone();
                thread::spawn(move || idle.try_stand_aside())
            })
            .collect();
        let asides: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(asides.iter().filter(|&&a| a).count(), 1, "{asides:?}");
        idle.end_stand_aside();
        assert!(idle.try_stand_aside(), "the way is free again");
    });
}
