//! Loom model of `JoinHandle::abort` against a goroutine that parks, with the steps written as
//! `task::Goroutine::poll` and `JoinHandle::abort` take them: the goroutine publishes where it
//! waits (`TaskMeta::key`: a registry slot or, for a goroutine parked in a sleep, the sleep's
//! timer key) and then re-checks `aborted`; `abort` sets `aborted` and then reads the key and
//! wakes the task through it. A sleep's entry may fire (waking the task and freeing the entry)
//! at any moment, and a woken goroutine may park in a second sleep.
//!
//! The four accesses of the pair are read-modify-writes, as in `task`: loom lets a plain SeqCst
//! load see a stale value, and with plain loads this model fails (the code was so written
//! before this model existed; real hardware gives plain SeqCst accesses the order the pair
//! needs, loom does not model it).
//!
//! Property: every run ends with the goroutine either completed as cancelled by one of its own
//! polls, or woken after `abort` set the flag (its next poll sees the flag first thing).

use crate::loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;

const UNREGISTERED: u32 = u32::MAX;
const SLEEP_TAG: u32 = 1 << 31;

struct Task {
    aborted: AtomicBool,
    key: AtomicU32,
    /// Wake-ups delivered (by a timer firing or by `abort`).
    woken: AtomicUsize,
    /// Set by the goroutine's poll that completes as cancelled.
    cancelled: AtomicBool,
    /// The wheel: sleep entries by key, `true` while holding the task's waker.
    wheel: Mutex<[bool; 2]>,
}

impl Task {
    fn new() -> Arc<Task> {
        Arc::new(Task {
            aborted: AtomicBool::new(false),
            key: AtomicU32::new(UNREGISTERED),
            woken: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
            wheel: Mutex::new([false; 2]),
        })
    }

    /// One poll that parks in sleep `k` (`Goroutine::poll`): `false` if it completed as
    /// cancelled.
    fn poll_and_sleep(&self, k: u32) -> bool {
        if self.aborted.load(Acquire) {
            self.cancelled.store(true, SeqCst);
            return false;
        }
        // The future: `Sleep::poll` registers its entry with the task's waker.
        self.wheel.lock().unwrap()[k as usize] = true;
        // `Goroutine::poll`, on `Pending`: publish the sleep key, then look at the flag again.
        self.key.swap(SLEEP_TAG | k, SeqCst);
        if self.aborted.fetch_or(false, SeqCst) {
            self.cancelled.store(true, SeqCst);
            return false;
        }
        true
    }

    /// The wheel fires entry `k`: frees it and wakes the task if it held the waker.
    fn fire(&self, k: u32) -> bool {
        let had = std::mem::replace(&mut self.wheel.lock().unwrap()[k as usize], false);
        if had {
            self.woken.fetch_add(1, SeqCst);
        }
        had
    }

    /// `JoinHandle::abort`; returns the sleep entry it woke the task through, if any.
    fn abort(&self) -> Option<u32> {
        self.aborted.swap(true, SeqCst);
        let key = self.key.fetch_or(0, SeqCst);
        if key != UNREGISTERED && key & SLEEP_TAG != 0 {
            // `task_sleep_waker`: wake through the entry if it still holds the waker.
            let k = key & !SLEEP_TAG;
            if self.wheel.lock().unwrap()[k as usize] {
                self.woken.fetch_add(1, SeqCst);
                return Some(k);
            }
        }
        None
    }

    fn check(&self) {
        assert!(
            self.cancelled.load(SeqCst) || self.woken.load(SeqCst) > 0,
            "abort lost: the goroutine is parked, not cancelled and not woken"
        );
    }
}

#[test]
fn loom_abort_of_a_goroutine_parking_in_a_sleep_is_never_lost() {
    crate::loom::model(|| {
        let t = Task::new();
        let t1 = t.clone();
        let g = thread::spawn(move || {
            t1.poll_and_sleep(0);
        });
        let _ = t.abort();
        g.join().unwrap();
        t.check();
    });
}

/// The goroutine parks in sleep 0, the sleep fires (waking it), and its next poll parks in
/// sleep 1, while `abort` runs at any point: it may read the stale key of sleep 0, whose entry
/// is gone or about to go. Then the second poll must see the flag.
#[test]
fn loom_abort_racing_a_fired_sleep_and_a_second_sleep_is_never_lost() {
    crate::loom::model(|| {
        let t = Task::new();
        let t1 = t.clone();
        let g = thread::spawn(move || {
            if !t1.poll_and_sleep(0) {
                return None;
            }
            // The first sleep fires and wakes the task (in this thread: the firing precedes
            // the next poll, as a wake-up precedes the poll it causes).
            t1.fire(0);
            t1.poll_and_sleep(1).then_some(1)
        });
        let woke = t.abort();
        let parked_in = g.join().unwrap();
        if let Some(k) = parked_in {
            assert_eq!(
                woke,
                Some(k),
                "abort lost: parked in sleep {k}, abort woke {woke:?}"
            );
        } else {
            assert!(t.cancelled.load(SeqCst) || woke.is_some());
        }
    });
}
