//! Loom model of the park/unpark protocol (`idle` + `park`), with the worker's steps written
//! exactly as `worker::Worker::{search, wait_for_work}` take them. A lost wake-up shows up as a
//! loom deadlock (every thread blocked).

use super::idle::Idle;
use super::park::{Drive, DriverSlot, Parker};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::loom::thread;
use std::time::Duration;

/// A reactor stand-in: blocks until `unpark`.
struct FakeDriver {
    notified: Mutex<bool>,
    cv: Condvar,
}

impl Drive for FakeDriver {
    fn poll(&self, _timeout: Option<Duration>) -> usize {
        let mut n = self.notified.lock().unwrap();
        while !*n {
            n = self.cv.wait(n).unwrap();
        }
        *n = false;
        0
    }
    fn unpark(&self) {
        *self.notified.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

struct Rt {
    idle: Idle,
    parkers: Vec<Parker>,
    slot: DriverSlot<FakeDriver>,
    /// The run queues, reduced to a count of tasks.
    queue: AtomicUsize,
    /// Tasks run so far; the model ends (like a shutdown) when all `total` have run.
    consumed: AtomicUsize,
    total: usize,
}

impl Rt {
    fn new(workers: usize, total: usize) -> Arc<Rt> {
        Arc::new(Rt {
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            slot: DriverSlot::new(FakeDriver {
                notified: Mutex::new(false),
                cv: Condvar::new(),
            }),
            queue: AtomicUsize::new(0),
            consumed: AtomicUsize::new(0),
            total,
        })
    }

    fn take(&self) -> bool {
        let mut n = self.queue.load(SeqCst);
        while n > 0 {
            match self.queue.compare_exchange(n, n - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(a) => n = a,
            }
        }
        false
    }

    fn notify_parked(&self) {
        if let Some(i) = self.idle.worker_to_notify() {
            self.parkers[i].unpark(&self.slot);
        }
    }

    /// Producer side: publish a task, then notify (as `Shared::schedule_remote`).
    fn submit(&self) {
        self.queue.fetch_add(1, SeqCst);
        self.notify_parked();
    }

    fn finished(&self) -> bool {
        self.consumed.load(SeqCst) == self.total
    }

    /// Runs one task; the one that runs the last task shuts the model down (wakes everyone).
    fn run_task(&self) {
        if self.consumed.fetch_add(1, SeqCst) + 1 == self.total {
            for p in &self.parkers {
                p.unpark(&self.slot);
            }
        }
    }

    /// One worker, as `Worker::run_loop`: runs until every task has run.
    fn worker(&self, idx: usize) {
        let mut searching = false;
        while !self.finished() {
            if self.take() {
                if searching {
                    searching = false;
                    if self.idle.transition_from_searching() {
                        self.notify_parked();
                    }
                }
                self.run_task();
                continue;
            }
            if !searching && self.idle.transition_to_searching() {
                searching = true;
                continue; // search again as a searcher
            }
            // park
            let was = std::mem::replace(&mut searching, false);
            if self.idle.transition_to_parked(idx, was) && self.queue.load(SeqCst) > 0 {
                self.notify_parked();
            }
            loop {
                self.parkers[idx].park(&self.slot, None);
                if self.finished() {
                    return;
                }
                if self.queue.load(SeqCst) > 0 {
                    if !self.idle.unpark_self(idx) {
                        searching = true;
                    }
                    break;
                }
                if !self.idle.is_parked(idx) {
                    searching = true;
                    break;
                }
            }
        }
    }
}

#[test]
fn one_worker_one_external_submit() {
    crate::loom::model(|| {
        let rt = Rt::new(1, 1);
        let r = rt.clone();
        let w = thread::spawn(move || r.worker(0));
        rt.submit();
        w.join().unwrap();
    });
}

#[test]
fn two_workers_two_submits() {
    crate::loom::model_bounded(3, || {
        let rt = Rt::new(2, 2);
        let (r0, r1) = (rt.clone(), rt.clone());
        let w0 = thread::spawn(move || r0.worker(0));
        let w1 = thread::spawn(move || r1.worker(1));
        rt.submit();
        rt.submit();
        w0.join().unwrap();
        w1.join().unwrap();
    });
}

#[test]
fn parker_unpark_before_and_during_park() {
    crate::loom::model(|| {
        let rt = Rt::new(2, 0);
        // Hold the driver so worker 1 parks on its condvar.
        let r = rt.clone();
        let t = thread::spawn(move || {
            r.parkers[1].park(&r.slot, None);
        });
        rt.parkers[1].unpark(&rt.slot);
        t.join().unwrap();
    });
}
