//! Which workers are parked, and how many are searching for work (Go's "spinning M" protocol,
//! in tokio's shape).
//!
//! # Protocol
//!
//! `state` packs two counters: `searching` (workers looking for work to steal, low 16 bits)
//! and `unparked` (workers not parked, high bits). `sleepers` lists parked workers.
//!
//! - New work (a spawn, a wake from outside, a task pushed on a local queue) calls
//!   [`Idle::worker_to_notify`]: only if nobody searches and somebody sleeps, one sleeper is
//!   taken off the list, counted as unparked *and searching*, and woken. So a burst of work
//!   wakes one worker at a time; the woken searcher wakes the next one when it finds work
//!   (see `Worker::transition_from_searching`), which is what keeps all cores busy.
//! - At most half of the workers search at once ([`Idle::transition_to_searching`]).
//! - A worker that parks removes itself from the counters and adds itself to `sleepers` under
//!   the lock ([`Idle::transition_to_parked`]). If it was the *last* searcher it must then look
//!   at every queue once more before sleeping.
//!
//! # Invariant (no lost wake-up)
//!
//! If a task sits in a queue, then some worker is unparked and will look at that queue, or a
//! notification is on its way to a parked worker. Proof sketch: the producer publishes the task
//! and then (SeqCst) reads `state`. If it reads `searching > 0`, some searcher has not yet done
//! its final decrement; the last searcher decrements (SeqCst) and then re-checks every queue,
//! so by the total order of SeqCst operations one of the two sees the other. If it reads
//! `searching == 0` it wakes a sleeper (any one), unless all workers are unparked, in which case
//! each of them will look at the queues before it parks (parking re-checks the queues after
//! putting itself on `sleepers`, under the same lock the notifier takes).
//!
//! A worker *standing aside* (`worker::aside`) sleeps for a bounded time while counted as
//! unparked and off the sleepers list: no notification is meant for it, and like any unparked
//! worker it looks at the queues when it wakes, before it could park. It stands aside only
//! while another unparked worker does not ([`Idle::try_stand_aside`]), so the argument above
//! holds with "will look" meaning "within that bounded time" for the tasks it handed over.
//!
//! "A queue" here is one that the notification protocol serves: the injection queue and the
//! local queues. A worker's `runnext` is pushed only by that worker's thread while it runs, and
//! it empties it before it parks, so its owner is the unparked worker that will look at it
//! (the last searcher's re-check ignores it; a parked worker looks again after `worker::WATCH`
//! in case its owner is stuck in one task: `worker::BACKLOG`).
//!
//! The worker-side steps (announce, re-check, notify) are
//! `worker::protocol::{search, run_task, wait_for_work}` and `worker::Pool::notify_parked`;
//! loom runs them, with this type, in `scheduler::tests_loom`.

use crate::loom::sync::atomic::{
    AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use crate::loom::sync::Mutex;

const SEARCH_MASK: usize = 0xFFFF;
const UNPARK_SHIFT: usize = 16;
const UNPARK_ONE: usize = 1 << UNPARK_SHIFT;

pub(crate) struct Idle {
    state: AtomicUsize,
    /// Indices of parked workers; guarded by its lock.
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
    /// Workers standing aside (unparked, but sleeping for a while: `worker::aside`).
    aside: AtomicUsize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
            aside: AtomicUsize::new(0),
        }
    }

    fn searching(state: usize) -> usize {
        state & SEARCH_MASK
    }

    fn unparked(state: usize) -> usize {
        state >> UNPARK_SHIFT
    }

    /// Whether a notification should wake someone: nobody searches and somebody sleeps.
    ///
    /// A read-modify-write rather than a load: an RMW reads the latest value in `state`'s
    /// modification order and synchronizes with the parking worker's RMW, so the argument in
    /// the module docs holds even with only acquire/release reasoning (which is all loom
    /// models of SeqCst, and all this needs).
    fn should_wake(&self) -> bool {
        let s = self.state.fetch_add(0, SeqCst);
        Self::searching(s) == 0 && Self::unparked(s) < self.num_workers
    }

    /// A cheap, possibly stale guess of [`should_wake`](Self::should_wake) (a plain load, no
    /// cache-line ownership). Only for notifications that are not needed for liveness: a
    /// worker pushing onto its *own* queue will run that task itself if nobody steals it, so
    /// waking a helper there is only about parallelism.
    pub(crate) fn may_need_wake(&self) -> bool {
        let s = self.state.load(Relaxed);
        Self::searching(s) == 0 && Self::unparked(s) < self.num_workers
    }

    /// Picks a parked worker to wake for new work, already counted as unparked and searching.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_wake() {
            return None;
        }
        let mut sleepers = self.sleepers.lock().unwrap();
        if !self.should_wake() {
            return None;
        }
        let idx = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | 1, SeqCst);
        Some(idx)
    }

    /// Becomes a searcher, unless half of the workers already search.
    pub(crate) fn transition_to_searching(&self) -> bool {
        let s = self.state.load(SeqCst);
        if 2 * Self::searching(s) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// Stops searching; returns whether this was the last searcher.
    pub(crate) fn transition_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(Self::searching(prev) > 0);
        Self::searching(prev) == 1
    }

    /// Parks worker `idx`; returns whether it was the last searcher (then the caller must
    /// re-check every queue before sleeping).
    pub(crate) fn transition_to_parked(&self, idx: usize, was_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap();
        let dec = UNPARK_ONE | usize::from(was_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(idx);
        was_searching && Self::searching(prev) == 1
    }

    /// Whether worker `idx` is still on the sleepers list (a wake-up that did not come from
    /// [`worker_to_notify`](Self::worker_to_notify) leaves it there).
    pub(crate) fn is_parked(&self, idx: usize) -> bool {
        self.sleepers.lock().unwrap().contains(&idx)
    }

    /// Takes worker `idx` off the sleepers list by itself (it found work after a spurious or
    /// driver wake-up). Returns false if a notifier had already taken it off (and counted it as
    /// searching).
    pub(crate) fn unpark_self(&self, idx: usize) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap();
        if let Some(pos) = sleepers.iter().position(|&i| i == idx) {
            sleepers.swap_remove(pos);
            self.state.fetch_add(UNPARK_ONE, SeqCst);
            true
        } else {
            false
        }
    }

    /// Counts the calling (unparked) worker as standing aside (`worker::aside`) if another
    /// unparked worker does not, and at most half of the workers would: returns false,
    /// counting nothing, otherwise. Two workers deciding at once both count first and then
    /// look, so one of them sees the other: at least one unparked worker never stands aside.
    pub(crate) fn try_stand_aside(&self) -> bool {
        let aside = self.aside.fetch_add(1, SeqCst) + 1;
        if 2 * aside <= self.num_workers && Self::unparked(self.state.load(SeqCst)) > aside {
            return true;
        }
        self.aside.fetch_sub(1, SeqCst);
        false
    }

    /// Ends [`try_stand_aside`](Self::try_stand_aside).
    pub(crate) fn end_stand_aside(&self) {
        self.aside.fetch_sub(1, SeqCst);
    }

    /// Number of workers standing aside (a snapshot).
    #[cfg(test)]
    pub(crate) fn aside_count(&self) -> usize {
        self.aside.load(SeqCst)
    }

    /// Number of parked workers (a snapshot).
    pub(crate) fn num_parked(&self) -> usize {
        self.num_workers - Self::unparked(self.state.load(SeqCst))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Idle;

    #[test]
    fn at_most_half_of_the_workers_stand_aside_and_never_the_last_one_running() {
        let idle = Idle::new(4);
        assert!(idle.try_stand_aside());
        assert!(idle.try_stand_aside());
        assert!(!idle.try_stand_aside(), "a third of four");
        assert_eq!(idle.aside_count(), 2);
        idle.end_stand_aside();
        idle.end_stand_aside();
        // Three of four parked: the one left running may not stand aside.
        for i in 0..3 {
            idle.transition_to_parked(i, false);
        }
        assert!(!idle.try_stand_aside(), "the only worker running");
        assert_eq!(idle.aside_count(), 0, "a refusal counts nothing");
        assert!(idle.unpark_self(0));
        assert!(idle.try_stand_aside(), "another worker runs");

        let one = Idle::new(1);
        assert!(!one.try_stand_aside());
    }
}
