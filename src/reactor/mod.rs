//! The reactor: one per runtime, on the `polling` crate (epoll on Linux).
//!
//! Whichever worker is about to park with nothing to run calls [`Driver::park`], which blocks
//! in `epoll_wait` until an I/O source is ready, the next timer is due, or [`Driver::unpark`]
//! (the poller's notifier) is called because work was submitted. Only one thread drives the
//! reactor at a time; the scheduler guarantees that (see `runtime::scheduler::park`).

use std::io;
use std::sync::Mutex;
use std::time::Duration;

/// The runtime's reactor and timer driver.
pub(crate) struct Driver {
    poller: polling::Poller,
    /// Buffer for `epoll_wait` results; guarded by its lock, taken only by the driving thread.
    events: Mutex<polling::Events>,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Driver> {
        Ok(Driver {
            poller: polling::Poller::new()?,
            events: Mutex::new(polling::Events::new()),
        })
    }

    /// Blocks for at most `timeout` (`None`: until woken) for I/O readiness, a due timer or an
    /// [`unpark`](Self::unpark). Only one thread may be inside `park` at a time.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.clear();
        // An interrupted wait (EINTR) is a spurious wake-up, which callers tolerate.
        let _ = self.poller.wait(&mut events, timeout);
    }

    /// Wakes the thread blocked in [`park`](Self::park), or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        let _ = self.poller.notify();
    }

    /// Called once when the runtime shuts down.
    pub(crate) fn shutdown(&self) {}
}
