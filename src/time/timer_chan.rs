//! The reactor's view of a timer's channel: [`TimerChannel`] for the channels `after`, `tick`,
//! `Timer` and `Ticker` deliver on. The reactor sits below `chan` and holds them type-erased
//! (`reactor::timer_chan`); this is the one implementation it calls.

use std::time::Instant;

use crate::chan::{Chan, WeakChan};
use crate::reactor::{TimerChan, TimerChannel};

impl TimerChannel for WeakChan<Instant> {
    fn send_time(&self, now: Instant) -> bool {
        match self.upgrade() {
            Some(c) => {
                let _ = c.try_send(now);
                true
            }
            None => false,
        }
    }

    fn take_time(&self) -> bool {
        self.upgrade().is_some_and(|c| c.try_recv().is_ok())
    }

    fn handles(&self) -> usize {
        WeakChan::handles(self)
    }

    fn into_raw(self) -> *const () {
        WeakChan::into_raw(self)
    }

    unsafe fn from_raw(raw: *const ()) -> Self {
        // SAFETY: the trait's contract is `WeakChan::from_raw`'s.
        unsafe { WeakChan::from_raw(raw) }
    }
}

/// `ch`, held weakly, for a timer entry.
pub(super) fn weak(ch: &Chan<Instant>) -> TimerChan {
    TimerChan::new(ch.downgrade())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::chan::chan;

    #[test]
    fn a_timer_chan_sends_counts_and_lets_go() {
        let c = chan::<Instant>(1);
        let t = weak(&c);
        assert_eq!(std::mem::size_of::<TimerChan>(), 8);
        assert_eq!(t.handles(), 1);
        let now = Instant::now();
        assert!(t.send_time(now));
        assert!(t.send_time(now), "a full channel drops the value");
        assert_eq!(c.try_recv(), Ok(now));
        assert!(c.try_recv().is_err());
        assert!(!t.take_time(), "nothing to take");
        assert!(t.send_time(now));
        assert!(t.take_time(), "the value was taken");
        assert!(c.try_recv().is_err());
        let r = c.receiver();
        assert_eq!(t.handles(), 2, "looking did not drop or leak a handle");
        drop((c, r));
        assert_eq!(t.handles(), 0);
        assert!(!t.send_time(now), "the channel is gone");
        drop(t);
        // Dropping gives the weak reference back: a `Weak` of the channel's allocation, so a
        // leak would show only to a leak checker; dropping many at least exercises the path.
        for _ in 0..1000 {
            drop(weak(&chan::<Instant>(1)));
        }
    }
}
