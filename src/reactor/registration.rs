//! Readiness of one I/O source, and the handle that keeps a source registered.
//!
//! # Protocol
//!
//! Sources are registered once, in edge-triggered mode, for both directions and the peer's
//! shutdown (`EPOLLRDHUP`). Each source has an [`IoState`]: one atomic word holding
//! `READABLE`, `WRITABLE`, `READ_CLOSED`, `ERROR` and `SHUTDOWN` bits plus an event counter
//! (`tick`) in the upper bits, and one waker list per direction (guarded by
//! `IoState::waiters`, the channels' short spin lock: `util::lock`). This is tokio's
//! `ScheduledIo` with a lock and waker lists instead of an intrusive list.
//!
//! - Reading is ready while any of `READABLE`, `READ_CLOSED` (the peer shut its writing
//!   down, or the connection is gone: `EPOLLRDHUP`/`EPOLLHUP`) and `ERROR` (`EPOLLERR`) is
//!   set; writing while `WRITABLE` is (an error or hang-up also sets it, see `epoll`).
//! - The reactor, on an event, first sets the bits and bumps `tick` (one atomic
//!   `fetch_update`), then locks `waiters` and takes the wakers of the ready directions.
//! - An operation first loads the word. If its direction is not ready it registers its waker
//!   under the lock, then loads the word again: either that load sees the reactor's bits, or the
//!   reactor's lock came after ours and finds our waker. No wake-up is lost (loom-checked below).
//! - When the operation then gets `WouldBlock` it clears its direction's bits (for reading all
//!   three: a read that would block has no end-of-stream or error to deliver) with a
//!   compare-and-swap that only succeeds if `tick` is unchanged since the load it acted on, so
//!   readiness delivered while it was trying is never erased (edge-triggered mode would not
//!   repeat it).
//! - A stream read that returns fewer bytes than asked for (but some) drained the socket's
//!   receive queue, so it clears `READABLE` the same way ([`IoState::clear_drained`], tokio's
//!   `poll_read`): the next read parks instead of trying a read that returns `EAGAIN`. It leaves
//!   `READ_CLOSED` and `ERROR` alone. That is what makes it safe: when the peer's data and its
//!   FIN (or a reset) came in one edge that was dispatched before the read, the end-of-stream
//!   (or error) is still to be read after the data and no new edge will come, but `READ_CLOSED`
//!   (or `ERROR`) keeps reading ready. Whatever arrives after the edge the read's snapshot saw
//!   brings a new edge, which either moved `tick` (the clear does nothing) or comes after the
//!   clear and sets the bit again.
//! - Sources start out ready in both directions: the first operation just tries.
//! - Once `SHUTDOWN` is set (the runtime is gone) every waiter is woken and every later
//!   operation fails with an error instead of waiting forever.
//!
//! Several tasks may wait on one direction (two goroutines reading one `UdpSocket`): readiness
//! wakes them all. A waiter that is a future ([`IoSource::io`](super::IoSource::io): UDP, TCP
//! connect) holds a slot of its own in the direction's list ([`WaitSlot`]) and removes it when
//! it is dropped, so a wait abandoned by `select!` or `timeout` does not keep its task alive nor
//! grow the list; slots are named by key and by the list's generation (bumped each time
//! readiness empties it), so a stale slot is never mistaken for a newer waiter's. Poll-style
//! callers (stream reads and writes, `accept`), which have no drop to hook, keep one entry per
//! distinct waker (deduplicated with `will_wake`), which their next poll or readiness replaces.
//!
//! Rejected: oneshot mode, which needs an `epoll_ctl` per wait to re-arm (a syscall per read
//! that would block); level-triggered mode, which keeps reporting a ready source nobody reads.

use std::io;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::util::lock::ChanLock;

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

const READABLE: usize = 1;
const WRITABLE: usize = 2;
const SHUTDOWN: usize = 4;
const READ_CLOSED: usize = 8;
const ERROR: usize = 16;
const TICK_SHIFT: u32 = 5;

impl Direction {
    /// The bits that make `self` ready (and that a `WouldBlock` clears).
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE,
        }
    }
}

/// Readiness reported by the reactor for one source: a set of `READABLE`, `WRITABLE`,
/// `READ_CLOSED` and `ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready(usize);

impl Ready {
    pub(crate) const EMPTY: Ready = Ready(0);
    /// Data (or a connection) to read.
    pub(crate) const READABLE: Ready = Ready(READABLE);
    /// Room to write, or a hang-up or error a write will meet.
    pub(crate) const WRITABLE: Ready = Ready(WRITABLE);
    /// The peer shut its writing down, or the connection is gone: reads end in end-of-stream
    /// (or an error) once the data is read.
    pub(crate) const READ_CLOSED: Ready = Ready(READ_CLOSED);
    /// An error is pending on the socket.
    pub(crate) const ERROR: Ready = Ready(ERROR);

    /// Whether every bit of `other` is in `self`.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

#[derive(Default)]
struct WakerList {
    /// Poll-style waiters, one entry per distinct waker.
    anon: Vec<Waker>,
    /// Future waiters, one slot each (see [`WaitSlot`]).
    owned: slab::Slab<Waker>,
    /// Bumped each time readiness or shutdown empties the list.
    gen: u64,
}

impl WakerList {
    fn register(&mut self, w: &Waker) {
        if !self.anon.iter().any(|x| x.will_wake(w)) {
            self.anon.push(w.clone());
        }
    }

    /// Registers `w` in the future's own slot (reusing it while it is current); returns the
    /// waker it replaced, to be dropped outside the lock.
    fn register_slot(&mut self, w: &Waker, slot: &mut Option<WaitSlot>) -> Option<Waker> {
        if let Some(s) = slot {
            if s.gen == self.gen {
                if let Some(old) = self.owned.get_mut(s.key) {
                    if old.will_wake(w) {
                        return None;
                    }
                    return Some(std::mem::replace(old, w.clone()));
                }
            }
        }
        let key = self.owned.insert(w.clone());
        *slot = Some(WaitSlot { key, gen: self.gen });
        None
    }

    /// Removes the future's slot if it is still current; returns its waker.
    fn unregister(&mut self, slot: WaitSlot) -> Option<Waker> {
        if slot.gen == self.gen {
            self.owned.try_remove(slot.key)
        } else {
            None
        }
    }

    fn take_all(&mut self, out: &mut Vec<Waker>) {
        out.append(&mut self.anon);
        out.extend(self.owned.drain());
        self.gen = self.gen.wrapping_add(1);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.anon.len() + self.owned.len()
    }
}

/// The slot a waiting future holds in a direction's list (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitSlot {
    key: usize,
    gen: u64,
}

#[derive(Default)]
struct Waiters {
    read: WakerList,
    write: WakerList,
}

/// Readiness state of one registered source, shared by the reactor and the source's owner.
pub(crate) struct IoState {
    /// `tick << TICK_SHIFT | ERROR? | READ_CLOSED? | SHUTDOWN? | WRITABLE? | READABLE?`.
    readiness: AtomicUsize,
    /// Guarded by this lock: the tasks waiting for each direction.
    waiters: ChanLock<Waiters>,
}

impl IoState {
    pub(crate) fn new() -> IoState {
        IoState {
            readiness: AtomicUsize::new(READABLE | WRITABLE),
            waiters: ChanLock::new(Waiters::default()),
        }
    }

    /// Called by the reactor: records readiness and pushes the wakers to wake into `out`.
    pub(crate) fn set_ready(&self, ready: Ready, out: &mut Vec<Waker>) {
        let bits = ready.0;
        if bits == 0 {
            return;
        }
        let _ = self.readiness.fetch_update(SeqCst, SeqCst, |cur| {
            Some((cur | bits).wrapping_add(1 << TICK_SHIFT))
        });
        let mut w = self.waiters.lock();
        if bits & Direction::Read.mask() != 0 {
            w.read.take_all(out);
        }
        if bits & Direction::Write.mask() != 0 {
            w.write.take_all(out);
        }
    }

    /// Called at shutdown: fails every current and future wait.
    pub(crate) fn shutdown(&self, out: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, SeqCst);
        let mut w = self.waiters.lock();
        w.read.take_all(out);
        w.write.take_all(out);
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
            let mut w = self.waiters.lock();
            match dir {
                Direction::Read => w.read.register(cx.waker()),
                Direction::Write => w.write.register(cx.waker()),
            }
        }
        let cur = self.readiness.load(SeqCst);
        match Self::check(cur, dir) {
            Some(r) => Poll::Ready(r),
            None => crate::util::wait::pending(crate::util::wait::Wait::Io),
        }
    }

    /// [`poll_ready`](Self::poll_ready) for a future that holds `slot` (initially `None`) and
    /// calls [`unregister`](Self::unregister) with it when dropped.
    pub(crate) fn poll_ready_slot(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        slot: &mut Option<WaitSlot>,
    ) -> Poll<io::Result<usize>> {
        let cur = self.readiness.load(SeqCst);
        if let Some(r) = Self::check(cur, dir) {
            return Poll::Ready(r);
        }
        let replaced = {
            let mut w = self.waiters.lock();
            match dir {
                Direction::Read => w.read.register_slot(cx.waker(), slot),
                Direction::Write => w.write.register_slot(cx.waker(), slot),
            }
        };
        drop(replaced);
        let cur = self.readiness.load(SeqCst);
        match Self::check(cur, dir) {
            Some(r) => Poll::Ready(r),
            None => crate::util::wait::pending(crate::util::wait::Wait::Io),
        }
    }

    /// Removes a dropped future's waker from `dir`'s list (if readiness has not taken it).
    pub(crate) fn unregister(&self, dir: Direction, slot: WaitSlot) {
        let removed = {
            let mut w = self.waiters.lock();
            match dir {
                Direction::Read => w.read.unregister(slot),
                Direction::Write => w.write.unregister(slot),
            }
        };
        // Dropped outside the lock: it may be the last reference to its task.
        drop(removed);
    }

    #[cfg(test)]
    fn waiters(&self, dir: Direction) -> usize {
        let w = self.waiters.lock();
        match dir {
            Direction::Read => w.read.len(),
            Direction::Write => w.write.len(),
        }
    }

    fn check(cur: usize, dir: Direction) -> Option<io::Result<usize>> {
        if cur & SHUTDOWN != 0 {
            Some(Err(shut_down()))
        } else if cur & dir.mask() != 0 {
            Some(Ok(cur))
        } else {
            None
        }
    }

    /// Clears `dir` after an operation would block, unless an event arrived since `snapshot`.
    pub(crate) fn clear(&self, dir: Direction, snapshot: usize) {
        self.clear_bits(dir.mask(), snapshot);
    }

    /// Clears `READABLE` (but not `READ_CLOSED` or `ERROR`) after a stream read returned fewer
    /// bytes than asked for, unless an event arrived since `snapshot` (see the module docs).
    pub(crate) fn clear_drained(&self, snapshot: usize) {
        self.clear_bits(READABLE, snapshot);
    }

    fn clear_bits(&self, bits: usize, snapshot: usize) {
        let mut cur = self.readiness.load(SeqCst);
        loop {
            if cur >> TICK_SHIFT != snapshot >> TICK_SHIFT {
                return;
            }
            match self
                .readiness
                .compare_exchange(cur, cur & !bits, SeqCst, SeqCst)
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
        s.set_ready(Ready::READABLE, &mut Vec::new());
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

    struct Count;
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    fn not_ready(s: &IoState, dir: Direction) {
        let snap = s.readiness.load(SeqCst);
        s.clear(dir, snap);
    }

    /// A future's slot: replaced on re-poll, removed on drop (the waker, and so its task, is
    /// released), and two futures of one task each keep their own.
    #[test]
    fn a_dropped_waiter_leaves_the_list() {
        let s = IoState::new();
        not_ready(&s, Direction::Read);
        let task = std::sync::Arc::new(Count);
        let w = Waker::from(task.clone());
        let mut cx = Context::from_waker(&w);
        let (mut a, mut b) = (None, None);
        assert!(s
            .poll_ready_slot(&mut cx, Direction::Read, &mut a)
            .is_pending());
        assert!(s
            .poll_ready_slot(&mut cx, Direction::Read, &mut a)
            .is_pending());
        assert!(s
            .poll_ready_slot(&mut cx, Direction::Read, &mut b)
            .is_pending());
        assert_eq!(s.waiters(Direction::Read), 2);
        s.unregister(Direction::Read, a.unwrap());
        assert_eq!(s.waiters(Direction::Read), 1);
        assert_eq!(std::sync::Arc::strong_count(&task), 3); // ours, `w`, b's slot
        let mut out = Vec::new();
        s.set_ready(Ready::READABLE, &mut out);
        assert_eq!(out.len(), 1, "the other future of the task is still woken");
        drop(out);
        // A slot from before the readiness is stale: removing it removes nothing newer.
        not_ready(&s, Direction::Read);
        let mut c = None;
        assert!(s
            .poll_ready_slot(&mut cx, Direction::Read, &mut c)
            .is_pending());
        s.unregister(Direction::Read, b.unwrap());
        assert_eq!(s.waiters(Direction::Read), 1);
        s.unregister(Direction::Read, c.unwrap());
        assert_eq!(s.waiters(Direction::Read), 0);
        assert_eq!(std::sync::Arc::strong_count(&task), 2);
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
