//! Parking an idle worker: on the reactor if it is free, else on a condition variable.
//!
//! # Protocol
//!
//! Each worker has a [`Parker`] whose `state` is one of `EMPTY`, `PARKED_CONDVAR`,
//! `PARKED_DRIVER` or `NOTIFIED` (tokio's `park.rs` shape). The first idle worker that finds
//! the driver free (`DriverSlot::taken` false, taken by a CAS) sleeps in the reactor's
//! `epoll_wait`, so that I/O readiness and timers wake it; the others sleep on their condvar.
//!
//! - `unpark` swaps the state to `NOTIFIED` and, depending on what it replaced, does nothing
//!   (`EMPTY`, `NOTIFIED`: the parker will see the notification before sleeping), signals the
//!   condvar under its mutex (`PARKED_CONDVAR`), or calls the driver's notifier
//!   (`PARKED_DRIVER`).
//! - `park` consumes a pending `NOTIFIED` and returns at once. Otherwise it CASes
//!   `EMPTY -> PARKED_*` and only then sleeps, so a notification is either seen by that CAS
//!   failing or delivered to the sleeping thread: none is lost.
//! - For the condvar, the CAS is done with the mutex held and the notifier takes the same mutex
//!   before signalling, so the signal cannot fall between the CAS and the wait.
//! - Spurious wake-ups are allowed: the worker loop re-checks its state after every `park`.
//!
//! Loom runs it, under the real worker loop, in `scheduler::tests_loom`.

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// What a worker can sleep in besides its condvar: the reactor.
pub(crate) trait Drive {
    /// Blocks up to `timeout` (forever if `None`) or until [`unpark`](Drive::unpark); returns
    /// how many I/O events it dispatched.
    fn poll(&self, timeout: Option<Duration>) -> usize;
    fn unpark(&self);
    /// Whether a timer may be due that nobody has fired yet (a cheap check: a clock read).
    fn timers_may_be_due(&self) -> bool {
        false
    }
    /// Fires every due timer, without waiting for I/O.
    fn fire_timers(&self) {}
}

impl Drive for crate::reactor::Driver {
    fn poll(&self, timeout: Option<Duration>) -> usize {
        crate::reactor::Driver::poll(self, timeout)
    }
    fn unpark(&self) {
        crate::reactor::Driver::unpark(self)
    }
    fn timers_may_be_due(&self) -> bool {
        crate::reactor::Driver::timers_may_be_due(self)
    }
    fn fire_timers(&self) {
        crate::reactor::Driver::fire_due_timers(self)
    }
}

/// The runtime's one driver and the flag saying whether a thread is driving it.
pub(crate) struct DriverSlot<D> {
    pub(crate) driver: D,
    taken: AtomicBool,
}

impl<D: Drive> DriverSlot<D> {
    pub(crate) fn new(driver: D) -> Self {
        DriverSlot {
            driver,
            taken: AtomicBool::new(false),
        }
    }

    /// Polls the driver without blocking if no other thread is driving it (used by busy
    /// workers so timers and I/O are serviced even when nobody is idle).
    pub(crate) fn poll_now(&self) -> Option<usize> {
        if self.try_take() {
            let n = self.driver.poll(Some(Duration::ZERO));
            self.release();
            Some(n)
        } else {
            None
        }
    }

    /// Fires due timers from a busy worker, if any may be due and no other thread drives the
    /// driver (a thread parked in it fires them itself, on time). No I/O poll: a look at the
    /// wheels' earliest-deadline hints (and a clock read while a timer is scheduled).
    pub(crate) fn fire_timers_if_due(&self) {
        if self.driver.timers_may_be_due() && self.try_take() {
            self.driver.fire_timers();
            self.release();
        }
    }

    /// Whether a thread holds the driver (parked in it, or a busy worker firing timers).
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(SeqCst)
    }

    fn try_take(&self) -> bool {
        !self.taken.load(SeqCst)
            && self
                .taken
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_ok()
    }

    fn release(&self) {
        self.taken.store(false, SeqCst);
    }
}

pub(crate) struct Parker {
    state: AtomicUsize,
    /// Guards the condvar hand-off (no data).
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Sleeps until unparked (or, in the driver, until I/O or a timer fires; or `timeout`).
    /// Returns whether it slept in the driver (then the caller, if it goes on to run tasks,
    /// leaves the driver to nobody: see `Worker::wait_for_work`).
    pub(crate) fn park<D: Drive>(&self, slot: &DriverSlot<D>, timeout: Option<Duration>) -> bool {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return false;
        }
        if slot.try_take() {
            self.park_driver(slot, timeout);
            slot.release();
            true
        } else {
            self.park_condvar(timeout);
            false
        }
    }

    fn park_driver<D: Drive>(&self, slot: &DriverSlot<D>, timeout: Option<Duration>) {
        match self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(s) => unreachable!("parker in state {s} while parking"),
        }
        slot.driver.poll(timeout);
        // Either NOTIFIED (consumed here) or still PARKED_DRIVER (I/O, timer, timeout).
        self.state.swap(EMPTY, SeqCst);
    }

    fn park_condvar(&self, timeout: Option<Duration>) {
        let mut guard = self.mutex.lock().unwrap();
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(s) => unreachable!("parker in state {s} while parking"),
        }
        // Asleep for the deadlock detector: this worker holds nothing while it waits.
        let _asleep = crate::runtime::deadlock::asleep();
        loop {
            guard = match timeout {
                None => self.condvar.wait(guard).unwrap(),
                Some(t) => {
                    let (g, res) = self.condvar.wait_timeout(guard, t).unwrap();
                    if res.timed_out() {
                        // Back to EMPTY unless a notification raced in (then consume it).
                        self.state.swap(EMPTY, SeqCst);
                        return;
                    }
                    g
                }
            };
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            // Spurious wake-up: sleep again.
        }
    }

    /// Wakes the worker, or makes its next `park` return at once.
    pub(crate) fn unpark<D: Drive>(&self, slot: &DriverSlot<D>) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the parker's CAS-then-wait.
                drop(self.mutex.lock().unwrap());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => slot.driver.unpark(),
            s => unreachable!("parker in state {s}"),
        }
    }
}
