//! Readiness of one I/O source, and the handle that keeps a source registered.
//!
//! # Protocol
//!
//! Sources are registered once, in edge-triggered mode, for both directions. Each source has an
//! [`IoState`]: one atomic word holding `READABLE`, `WRITABLE` and `SHUTDOWN` bits plus an event
//! counter (`tick`) in the upper bits, and one waker list per direction (guarded by
//! `IoState::waiters`). This is tokio's `ScheduledIo` with a mutex instead of an intrusive list.
//!
//! - The reactor, on an event, first sets the bits and bumps `tick` (one atomic
//!   `fetch_update`), then locks `waiters` and takes the wakers of the ready directions.
//! - An operation first loads the word. If its direction is not ready it registers its waker
//!   under the lock, then loads the word again: either that load sees the reactor's bits, or the
//!   reactor's lock came after ours and finds our waker. No wake-up is lost (loom-checked below).
//! - When the operation then gets `WouldBlock` it clears its bit with a compare-and-swap that
//!   only succeeds if `tick` is unchanged since the load it acted on, so readiness delivered
//!   while it was trying is never erased (edge-triggered mode would not repeat it).
//! - Sources start out ready in both directions: the first operation just tries.
//! - Once `SHUTDOWN` is set (the runtime is gone) every waiter is woken and every later
//!   operation fails with an error instead of waiting forever.
//!
//! Several tasks may wait on one direction (two goroutines reading one `UdpSocket`): the list
//! keeps each distinct waker (deduplicated with `will_wake`) and readiness wakes them all.
//!
//! Rejected: oneshot mode, which needs an `epoll_ctl` per wait to re-arm (a syscall per read
//! that would block); level-triggered mode, which keeps reporting a ready source nobody reads.

use std::io;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

const READABLE: usize = 1;
const WRITABLE: usize = 2;
const SHUTDOWN: usize = 4;
const TICK_SHIFT: u32 = 3;

impl Direction {
    fn bit(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

#[derive(Default)]
struct WakerList(Vec<Waker>);

impl WakerList {
    fn register(&mut self, w: &Waker) {
        if !self.0.iter().any(|x| x.will_wake(w)) {
            self.0.push(w.clone());
        }
    }
}

#[derive(Default)]
struct Waiters {
    read: WakerList,
    write: WakerList,
}

/// Readiness state of one registered source, shared by the reactor and the source's owner.
pub(crate) struct IoState {
    /// `tick << TICK_SHIFT | SHUTDOWN? | WRITABLE? | READABLE?`.
    readiness: AtomicUsize,
    /// Guarded by this lock: the tasks waiting for each direction.
    waiters: Mutex<Waiters>,
}

impl IoState {
    pub(crate) fn new() -> IoState {
        IoState {
            readiness: AtomicUsize::new(READABLE | WRITABLE),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Called by the reactor: records readiness and pushes the wakers to wake into `out`.
    pub(crate) fn set_ready(&self, readable: bool, writable: bool, out: &mut Vec<Waker>) {
        let bits = (if readable { READABLE } else { 0 }) | (if writable { WRITABLE } else { 0 });
        if bits == 0 {
            return;
        }
        let _ = self.readiness.fetch_update(SeqCst, SeqCst, |cur| {
            Some((cur | bits).wrapping_add(1 << TICK_SHIFT))
        });
        let mut w = self.waiters.lock().unwrap();
        if readable {
            out.append(&mut w.read.0);
        }
        if writable {
            out.append(&mut w.write.0);
        }
    }

    /// Called at shutdown: fails every current and future wait.
    pub(crate) fn shutdown(&self, out: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, SeqCst);
        let mut w = self.waiters.lock().unwrap();
        out.append(&mut w.read.0);
        out.append(&mut w.write.0);
    }

    /// `Ready(Ok(snapshot))` once `dir` is ready (the snapshot is passed to
    /// [`clear`](Self::clear) after a `WouldBlock`); otherwise registers the waker.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> Poll<io::Result<usize>> {
        let cur = self.readiness.load(SeqCst);
        if let Some(r) = Self::check(cur, dir) {
            return Poll::Ready(r);
        }
        {
            let mut w = self.waiters.lock().unwrap();
            match dir {
                Direction::Read => w.read.register(cx.waker()),
                Direction::Write => w.write.register(cx.waker()),
            }
        }
        let cur = self.readiness.load(SeqCst);
        match Self::check(cur, dir) {
            Some(r) => Poll::Ready(r),
            None => crate::runtime::pending(crate::runtime::Wait::Io),
        }
    }

    fn check(cur: usize, dir: Direction) -> Option<io::Result<usize>> {
        if cur & SHUTDOWN != 0 {
            Some(Err(shut_down()))
        } else if cur & dir.bit() != 0 {
            Some(Ok(cur))
        } else {
            None
        }
    }

    /// Clears `dir` after an operation would block, unless an event arrived since `snapshot`.
    pub(crate) fn clear(&self, dir: Direction, snapshot: usize) {
        let mut cur = self.readiness.load(SeqCst);
        loop {
            if cur >> TICK_SHIFT != snapshot >> TICK_SHIFT {
                return;
            }
            match self
                .readiness
                .compare_exchange(cur, cur & !dir.bit(), SeqCst, SeqCst)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }
}

/// The error every operation gets once its runtime's reactor has shut down.
pub(crate) fn shut_down() -> io::Error {
    io::Error::other("gorun: the runtime's reactor has shut down")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn clear_keeps_readiness_that_arrived_meanwhile() {
        let s = IoState::new();
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        let snap = match s.poll_ready(&mut cx, Direction::Read) {
            Poll::Ready(Ok(v)) => v,
            _ => panic!("starts ready"),
        };
        // An event arrives between the try and the clear.
        s.set_ready(true, false, &mut Vec::new());
        s.clear(Direction::Read, snap);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_ready());
        let snap = match s.poll_ready(&mut cx, Direction::Read) {
            Poll::Ready(Ok(v)) => v,
            _ => unreachable!(),
        };
        s.clear(Direction::Read, snap);
        assert!(s.poll_ready(&mut cx, Direction::Read).is_pending());
        assert!(s.poll_ready(&mut cx, Direction::Write).is_ready());
    }

    #[test]
    fn shutdown_fails_waiters() {
        let s = IoState::new();
        let w = noop_waker();
        let mut cx = Context::from_waker(&w);
        if let Poll::Ready(Ok(snap)) = s.poll_ready(&mut cx, Direction::Write) {
            s.clear(Direction::Write, snap);
        }
        assert!(s.poll_ready(&mut cx, Direction::Write).is_pending());
        let mut out = Vec::new();
        s.shutdown(&mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(
            s.poll_ready(&mut cx, Direction::Write),
            Poll::Ready(Err(_))
        ));
    }
}

#[cfg(loom)]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;

    /// A reader that finds the source not ready and a reactor delivering an event concurrently:
    /// the reader must always complete (loom reports a deadlock if its wake-up is lost).
    #[test]
    fn readiness_wakeup_is_never_lost() {
        crate::loom::model(|| {
            let s = Arc::new(IoState::new());
            // Consume the initial readiness, as a read that got WouldBlock does.
            let snap = s.readiness.load(SeqCst);
            s.clear(Direction::Read, snap);
            let s2 = s.clone();
            let reactor = loom::thread::spawn(move || {
                let mut out = Vec::new();
                s2.set_ready(true, false, &mut out);
                for w in out {
                    w.wake();
                }
            });
            loom::future::block_on(std::future::poll_fn(|cx| s.poll_ready(cx, Direction::Read)))
                .unwrap();
            reactor.join().unwrap();
        });
    }

    /// A `clear` racing with a new event never erases that event.
    #[test]
    fn clear_never_erases_a_new_event() {
        crate::loom::model(|| {
            let s = Arc::new(IoState::new());
            let snap = s.readiness.load(SeqCst);
            let s2 = s.clone();
            let reactor = loom::thread::spawn(move || {
                s2.set_ready(true, false, &mut Vec::new());
            });
            s.clear(Direction::Read, snap);
            reactor.join().unwrap();
            assert_ne!(s.readiness.load(SeqCst) & READABLE, 0);
        });
    }
}
