//! The reactor: one per runtime, on raw epoll (`epoll.rs`: one system call per wait), plus
//! the runtime's timer wheels.
//!
//! # Who drives it
//!
//! There is no reactor thread. Whichever worker is about to park with nothing to run calls
//! [`Driver::poll`], which blocks in `epoll_pwait2` (or `epoll_wait`) until an I/O source is
//! ready, the next timer is due, or [`Driver::unpark`] (the poller's notifier, an eventfd) is
//! called because work was submitted. A busy runtime calls `poll(Some(Duration::ZERO))` every
//! few dozen scheduler ticks so I/O is served even when no worker ever idles, and every 8 ticks
//! a busy worker looks at the wheels' earliest-deadline hints and, once one has passed
//! ([`Driver::timers_may_be_due`]), calls [`Driver::fire_due_timers`] without polling (Go's
//! `checkTimers`). The scheduler guarantees that only one thread holds the driver (is inside
//! `poll` or firing timers) at a time (Go's netpoller is driven the same way from
//! `findrunnable`; tokio's driver is "taken" by the parking worker), and that a worker leaving
//! the driver to run tasks wakes a sleeping one to take it over (Go's `wakeNetPoller`).
//!
//! # What `poll` does
//!
//! 1. Under each wheel's lock in turn: compute the wait, `min(timeout, time to the next
//!    deadline of any wheel)`, and record in each wheel's `parked_until` the tick it sleeps
//!    towards as far as the wheels seen so far tell (see the invariants).
//! 2. Wait in epoll for at most that long: one system call (`epoll.rs`), plus a read of the
//!    eventfd when it was what woke the wait.
//! 3. Dispatch I/O events: set readiness (readable, writable, read-closed, error) on each
//!    source's [`IoState`] and wake its waiters.
//! 4. Fire every timer due at the clock reading taken when firing starts (not those that
//!    come due meanwhile: the call is bounded), in batches of [`FIRE_BATCH`] so the lock is
//!    held briefly, waking the tasks only after the lock is released.
//!
//! # Invariants
//!
//! - There is one timer wheel per worker and one for every other thread (Go's per-P timers): a
//!   timer goes into the wheel of the thread that creates it, so workers creating and stopping
//!   timers do not contend on one lock; a timer key names its wheel in its top bits
//!   (`timers.rs`). Only the thread holding the driver fires timers, of every wheel.
//! - A wheel's `parked_until` (guarded by its lock) is `0` unless a thread is inside `poll`,
//!   and is then at least the tick that thread will wake at. Scheduling a timer due before it
//!   lowers it and calls `unpark`, so the parked thread recomputes its timeout. `before_park`
//!   visits the wheels one after another, setting each one's `parked_until` to the minimum of
//!   the deadlines seen so far, which is never earlier than the final wake-up: a timer added to a
//!   wheel already visited either is due before that wheel's `parked_until` (and unparks, maybe
//!   needlessly) or is due after the thread wakes anyway; one added to a wheel not yet visited
//!   is seen. The poller's notify is sticky (an eventfd), so a notify that comes before the
//!   wait is not lost (`epoll.rs`).
//! - No timer fires before its deadline: deadlines round *up* to whole milliseconds, the clock
//!   rounds *down* (see `timers.rs`), and a wait that can only count milliseconds rounds its
//!   timeout up.
//! - A registered source is deleted from epoll before its file descriptor is closed.
//! - After [`Driver::shutdown`], every I/O waiter has been woken and every I/O operation fails
//!   with an error; timers stay pending forever (never fired early), their wakers, callbacks
//!   and ownerless channels dropped at once, so the tasks they refer to are freed. The entry
//!   of a `Timer` or `Ticker` still held is kept: it holds nothing of the runtime's (a kept
//!   firing time, or its channel held weakly), so `stop` still removes a firing from before
//!   the shutdown and `c()` still delivers it.

mod epoll;
mod registration;
mod source;
mod timer_chan;
mod timers;
mod wheel;

pub(crate) use registration::{Direction, IoState};
pub(crate) use source::IoSource;
pub(crate) use timer_chan::{TimerChan, TimerChannel};
pub(crate) use timers::{deadline_from, TimerAction};

use crate::loom::Unpoison;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::util::lock::ChanLock;
use wheel::Wheel;

/// What timers, sleeps and sockets hold to reach their driver: an `Arc` of an `Arc`. Each
/// worker has its own outer `Arc` (and threads outside the workers share one), so that creating
/// and dropping a million timers on two workers does not bounce one reference count between
/// their cores; the inner `Arc` is cloned once per worker.
pub(crate) type DriverRef = Arc<Arc<Driver>>;

/// Timers fired per lock acquisition in `poll`.
const FIRE_BATCH: usize = 1024;

/// Registered I/O sources.
struct IoRegistry {
    /// Key = the epoll event key of the source.
    sources: Slab<Arc<IoState>>,
    shutdown: bool,
}

/// The timer half of the driver (see `timers.rs`).
pub(crate) struct TimerState {
    wheel: Wheel<TimerAction>,
    /// The tick the parked thread sleeps towards; 0 when nobody is parked, `u64::MAX` when it
    /// sleeps with no timer to wait for.
    parked_until: u64,
    shutdown: bool,
    /// The generation of the last sleep registered (see `timers`).
    sleep_gen: u32,
}

/// The runtime's reactor and timer driver.
pub(crate) struct Driver {
    poller: epoll::Epoll,
    /// Buffer for the wait's results; guarded by its lock, taken only by the driving thread.
    events: Mutex<epoll::Events>,
    /// Guarded by its lock: the I/O sources.
    io: Mutex<IoRegistry>,
    /// One timer wheel per worker, and a last one for other threads, each guarded by its lock
    /// with the parked thread's deadline. Spin-then-yield locks, as the channels': every
    /// critical section is short and never waits, and under contention a `std` mutex sends the
    /// loser to sleep in the kernel and makes the next unlock a system call.
    wheels: Box<[ChanLock<TimerState>]>,
    /// Tick 0 of the wheel.
    start: Instant,
    /// Number of registered I/O sources (read without the lock by busy workers deciding
    /// whether to poll for events between tasks).
    io_sources: AtomicUsize,
    /// A clock reading (as [`instant_to_ns`](Self::instant_to_ns) counts it) taken by the
    /// last firing of timers: the clock has certainly passed it, so a `Sleep` woken by that
    /// firing sees its deadline passed without reading the clock again (see
    /// [`has_passed`](Self::has_passed)).
    clock_floor: AtomicI64,
    /// Per wheel, a tick at or before its earliest deadline (`u64::MAX`: no timer), for
    /// busy workers' cheap look at timers (`timers_may_be_due`). Written under the wheel's
    /// lock: lowered when a timer is scheduled earlier, set exactly when due timers are fired.
    /// Early after a timer is cancelled, which costs one needless firing that corrects it.
    earliest: Box<[EarliestTick]>,
}

/// One wheel's earliest-deadline hint, on its own cache lines (each worker writes its own).
#[repr(align(128))]
pub(crate) struct EarliestTick(pub(crate) AtomicU64);

impl Driver {
    /// A driver with timer wheels for `workers` workers (and one for other threads).
    pub(crate) fn new(workers: usize) -> io::Result<Driver> {
        let wheels = (workers + 1).clamp(1, timers::MAX_WHEELS);
        Ok(Driver {
            poller: epoll::Epoll::new()?,
            events: Mutex::new(epoll::Events::new()),
            io: Mutex::new(IoRegistry {
                sources: Slab::new(),
                shutdown: false,
            }),
            wheels: (0..wheels)
                .map(|_| {
                    ChanLock::new(TimerState {
                        wheel: Wheel::new(),
                        parked_until: 0,
                        shutdown: false,
                        sleep_gen: 0,
                    })
                })
                .collect(),
            start: Instant::now(),
            io_sources: AtomicUsize::new(0),
            clock_floor: AtomicI64::new(i64::MIN),
            earliest: (0..wheels)
                .map(|_| EarliestTick(AtomicU64::new(u64::MAX)))
                .collect(),
        })
    }

    /// Whether the clock has passed `deadline_ns` (as [`instant_to_ns`](Self::instant_to_ns)
    /// counts it). First against the last firing's clock reading, which is in the past
    /// whatever thread took it and however stale the load: a sleep woken by its timer (whose
    /// deadline that reading passed) needs no clock read of its own, a million of them ~8% of
    /// the `sleep` workload's samples.
    #[inline]
    pub(crate) fn has_passed(&self, deadline_ns: i64) -> bool {
        deadline_ns <= self.clock_floor.load(Relaxed)
            || self.instant_to_ns(Instant::now()) >= deadline_ns
    }

    /// Records a clock reading taken at `now` for [`has_passed`](Self::has_passed).
    fn advance_clock_floor(&self, now: Instant) {
        let ns = self.instant_to_ns(now);
        if self.clock_floor.load(Relaxed) < ns {
            self.clock_floor.fetch_max(ns, Relaxed);
        }
    }

    /// `t` as signed nanoseconds from `start` (a compact deadline for `Sleep`), saturating
    /// about 292 years away on either side.
    pub(crate) fn instant_to_ns(&self, t: Instant) -> i64 {
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match t.checked_duration_since(self.start) {
            Some(d) => ns(d),
            None => -ns(self.start.saturating_duration_since(t)),
        }
    }

    /// The inverse of [`instant_to_ns`](Self::instant_to_ns) (exact within its range).
    pub(crate) fn ns_to_instant(&self, ns: i64) -> Instant {
        let d = Duration::from_nanos(ns.unsigned_abs());
        if ns >= 0 {
            self.start.checked_add(d)
        } else {
            self.start.checked_sub(d)
        }
        .unwrap_or(self.start)
    }

    /// Blocks for at most `timeout` (`None`: until woken) or until the next timer is due, then
    /// dispatches I/O readiness and fires every due timer; returns the number of I/O events.
    /// Only one thread may be inside `poll` at a time. (The worker that calls it with a
    /// timeout is parked in it: see `runtime::scheduler::park`.)
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> usize {
        let mut events = self.events.lock().unpoison();
        let wait = self.before_park(timeout);
        // An interrupted wait (EINTR) is a spurious wake-up, which callers tolerate. Asleep
        // for the deadlock detector only while in the wait: the timers it fires after are
        // in its hands, no longer in the wheels.
        {
            let _asleep = crate::util::threads::asleep();
            // An error other than `EINTR` (the descriptors are the driver's own, the buffer
            // valid) would be a bug; it too is a spurious wake-up, with no events.
            let _ = self.poller.wait(&mut events, wait);
        }
        let n = events.len();
        self.dispatch(&events);
        drop(events);
        self.fire_due_timers();
        n
    }

    /// Wakes the thread blocked in [`poll`](Self::poll), or makes its next `poll` return at once.
    pub(crate) fn unpark(&self) {
        let _ = self.poller.notify();
    }

    /// Called once when the runtime shuts down (by `runtime::finish_shutdown`, after every
    /// goroutine left has been cancelled): fails every I/O waiter (and later operation), drops
    /// every timer's waker, callback and ownerless channel (the timers stay pending forever).
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        {
            let mut io = self.io.lock().unpoison();
            io.shutdown = true;
            for (_, s) in io.sources.iter() {
                s.shutdown(&mut wakers);
            }
        }
        for w in wakers {
            w.wake();
        }
        let dropped = self.shutdown_timers();
        drop(dropped);
        self.unpark();
    }

    /// True while any timer is pending or any I/O source is registered.
    pub(crate) fn has_pending_work(&self) -> bool {
        self.wheels.iter().any(|w| w.lock().wheel.scheduled() > 0)
            || !self.io.lock().unpoison().sources.is_empty()
    }

    fn dispatch(&self, events: &epoll::Events) {
        if events.is_empty() {
            return;
        }
        let mut wakers: Vec<Waker> = Vec::new();
        {
            let io = self.io.lock().unpoison();
            for ev in events.iter() {
                if let Some(s) = io.sources.get(ev.key) {
                    s.set_ready(ev.ready, &mut wakers);
                }
            }
        }
        for w in wakers {
            w.wake();
        }
    }

    /// Registers `fd` (edge-triggered, both directions and the peer's shutdown). The caller
    /// must call [`deregister`](Self::deregister) before closing `fd`.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<(usize, Arc<IoState>)> {
        let mut io = self.io.lock().unpoison();
        if io.shutdown {
            return Err(registration::shut_down());
        }
        let state = Arc::new(IoState::new());
        let key = io.sources.insert(state.clone());
        // The descriptor must be deleted before it is closed (else its events could name the
        // key after it went to another source): the only caller, `IoSource`, owns it and calls
        // `deregister` (which deletes it) in its `Drop` before the descriptor's own drop.
        if let Err(e) = self.poller.add(fd, key) {
            io.sources.remove(key);
            return Err(e);
        }
        self.io_sources.fetch_add(1, Relaxed);
        Ok((key, state))
    }

    /// Whether any I/O source is registered.
    pub(crate) fn has_io_sources(&self) -> bool {
        self.io_sources.load(Relaxed) > 0
    }

    /// Removes the source registered under `key`.
    pub(crate) fn deregister(&self, fd: BorrowedFd<'_>, key: usize) {
        let _ = self.poller.delete(fd);
        if self.io.lock().unpoison().sources.try_remove(key).is_some() {
            self.io_sources.fetch_sub(1, Relaxed);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn unpark_before_park_is_not_lost() {
        let d = Driver::new(1).unwrap();
        d.unpark();
        let t = Instant::now();
        d.poll(Some(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn the_clock_floor_only_ever_says_a_deadline_passed_when_it_did() {
        let d = Driver::new(1).unwrap();
        let now = Instant::now();
        let later = now + Duration::from_secs(3600);
        assert!(!d.has_passed(d.instant_to_ns(later)));
        assert!(d.has_passed(d.instant_to_ns(now)), "from the clock itself");
        d.advance_clock_floor(now);
        assert_eq!(d.clock_floor.load(Relaxed), d.instant_to_ns(now));
        assert!(d.has_passed(d.instant_to_ns(now)));
        assert!(!d.has_passed(d.instant_to_ns(later)));
        // An older reading never moves the floor back.
        d.advance_clock_floor(d.start);
        assert_eq!(d.clock_floor.load(Relaxed), d.instant_to_ns(now));
    }

    #[test]
    fn io_sources_are_counted() {
        use std::os::fd::AsFd;
        let d = Driver::new(1).unwrap();
        assert!(!d.has_io_sources());
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (ka, _) = d.register(a.as_fd()).unwrap();
        let (kb, _) = d.register(b.as_fd()).unwrap();
        assert!(d.has_io_sources());
        d.deregister(a.as_fd(), ka);
        d.deregister(a.as_fd(), ka); // a second deregistration counts nothing
        assert!(d.has_io_sources());
        d.deregister(b.as_fd(), kb);
        assert!(!d.has_io_sources());
    }

    #[test]
    fn park_honours_timeout_without_timers() {
        let d = Driver::new(1).unwrap();
        let t = Instant::now();
        d.poll(Some(Duration::from_millis(20)));
        assert!(t.elapsed() >= Duration::from_millis(20));
        assert!(!d.has_pending_work());
    }

    #[test]
    fn timer_fires_in_park_and_not_before() {
        let d = Driver::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        struct W(std::sync::Mutex<std::sync::mpsc::Sender<()>>);
        impl std::task::Wake for W {
            fn wake(self: Arc<Self>) {
                let _ = self.0.lock().unwrap().send(());
            }
        }
        let waker = Waker::from(Arc::new(W(std::sync::Mutex::new(tx))));
        let deadline = Instant::now() + Duration::from_millis(30);
        let (key, gen) = d.sleep_register(d.instant_to_ns(deadline), &waker).unwrap();
        assert!(d.has_pending_work());
        while rx.try_recv().is_err() {
            d.poll(None);
        }
        assert!(Instant::now() >= deadline);
        assert!(!d.has_pending_work());
        // Firing freed the entry: cancelling it now is a no-op, and its key is reusable.
        assert!(!d.sleep_update_waker(key, gen, &waker));
        d.sleep_cancel(key, gen);
        let (key2, gen2) = d
            .sleep_register(d.instant_to_ns(deadline + Duration::from_secs(60)), &waker)
            .unwrap();
        assert_eq!(key2, key, "the fired entry's slot is reused");
        d.sleep_cancel(key, gen); // the old sleep's name must not free the new entry
        assert!(d.has_pending_work());
        assert!(d.sleep_update_waker(key2, gen2, &waker));
        d.sleep_cancel(key2, gen2);
        assert!(!d.has_pending_work());
    }

    /// One call fires the timers due when it began, not those that come due while it fires:
    /// otherwise a stream of timers coming due as fast as it fires them keeps the thread that
    /// drives the reactor firing for ever, away from its own tasks (a million sleeps coming due
    /// at 5,000 a millisecond kept one worker firing for tens of milliseconds, and the median
    /// sleep ended 60-115 ms late). Here every wake-up takes 2 µs and re-arms its timer at once:
    /// the old loop, which read the clock again for every batch of 1,024, never returned.
    #[test]
    fn one_call_fires_only_the_timers_due_when_it_began() {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        const TIMERS: usize = 4096;
        struct ReArm {
            d: Arc<Driver>,
            fired: AtomicUsize,
            stop: AtomicBool,
        }
        struct W(Arc<ReArm>);
        impl std::task::Wake for W {
            fn wake(self: Arc<Self>) {
                let r = &self.0;
                r.fired.fetch_add(1, Relaxed);
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(2) {
                    std::hint::spin_loop();
                }
                if !r.stop.load(Relaxed) {
                    let now = r.d.instant_to_ns(Instant::now());
                    r.d.sleep_register(now, &Waker::from(self.clone())).unwrap();
                }
            }
        }
        let r = Arc::new(ReArm {
            d: Arc::new(Driver::new(1).unwrap()),
            fired: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let now = r.d.instant_to_ns(Instant::now());
        for _ in 0..TIMERS {
            let w = Waker::from(Arc::new(W(r.clone())));
            r.d.sleep_register(now, &w).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
        let (tx, rx) = std::sync::mpsc::channel();
        let r2 = r.clone();
        std::thread::spawn(move || {
            r2.d.fire_due_timers();
            tx.send(r2.fired.load(Relaxed)).unwrap();
        });
        let fired = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("fire_due_timers kept firing timers that came due while it fired");
        assert_eq!(fired, TIMERS, "exactly the timers due when it began");
        // The re-armed ones fire in later calls; stop re-arming and let them drain.
        r.stop.store(true, Relaxed);
        let deadline = Instant::now() + Duration::from_secs(20);
        while r.d.has_pending_work() {
            assert!(Instant::now() < deadline, "the re-armed timers never fired");
            std::thread::sleep(Duration::from_millis(1));
            r.d.fire_due_timers();
        }
        assert_eq!(r.fired.load(Relaxed), 2 * TIMERS);
    }

    #[test]
    fn an_earlier_timer_unparks_a_thread_parked_without_timeout() {
        let d = Arc::new(Driver::new(1).unwrap());
        let d2 = d.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let parker = std::thread::spawn(move || {
            d2.poll(None); // no timer yet: would sleep forever unless unparked
            tx.send(Instant::now()).unwrap();
        });
        std::thread::sleep(Duration::from_millis(50));
        let waker = futures::task::noop_waker();
        let deadline = Instant::now() + Duration::from_millis(10);
        let (key, gen) = d.sleep_register(d.instant_to_ns(deadline), &waker).unwrap();
        let woke = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("registering a timer did not unpark the parked thread");
        parker.join().unwrap();
        // It was woken to recompute its timeout; a later poll fires the timer on time.
        while d.has_pending_work() {
            d.poll(None);
        }
        assert!(Instant::now() >= deadline);
        let _ = woke;
        d.sleep_cancel(key, gen);
    }

    #[test]
    fn shutdown_fails_io_and_drops_timer_wakers() {
        let d = Driver::new(1).unwrap();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsFd;
        let (key, state) = d.register(sock.as_fd()).unwrap();
        let waker = futures::task::noop_waker();
        let (t, gen) = d
            .sleep_register(
                d.instant_to_ns(Instant::now() + Duration::from_secs(60)),
                &waker,
            )
            .unwrap();
        d.shutdown();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(matches!(
            state.poll_ready(&mut cx, Direction::Read),
            std::task::Poll::Ready(Err(_))
        ));
        let (w, local) = timers::split(t);
        assert!(!d.wheels[w].lock().wheel.is_scheduled(local));
        assert!(d.register(sock.as_fd()).is_err());
        assert!(d
            .sleep_register(d.instant_to_ns(Instant::now()), &waker)
            .is_none());
        d.deregister(sock.as_fd(), key);
        d.sleep_cancel(t, gen);
        assert!(d.wheels.iter().all(|w| w.lock().wheel.allocated() == 0));
    }
}
