//! Raw epoll for the reactor: one `epoll` instance, one `eventfd` to interrupt its wait, and
//! nothing else, so a reactor wait is one system call.
//!
//! # Algorithm
//!
//! - Sources are added once, edge-triggered, for both directions and for the peer's shutdown:
//!   `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`, with their reactor key as the event's data.
//!   They are never modified (no `EPOLL_CTL_MOD`: edge-triggered registrations need no
//!   re-arming) and are deleted before their descriptor is closed.
//! - Waiting is one `epoll_pwait2` with a `timespec` (nanosecond timeouts, Linux 5.11+), or,
//!   where the kernel or a seccomp filter refuses it (`ENOSYS`, `EPERM`), `epoll_wait` with the
//!   timeout rounded *up* to whole milliseconds, so a wait never ends before its timer is due.
//!   `EINTR` ends the wait with no events: a spurious wake-up, which the reactor's callers
//!   tolerate.
//! - [`Epoll::notify`] wakes the wait through an `eventfd` registered once (`EPOLLIN |
//!   EPOLLET`, data [`NOTIFY_KEY`]). Each write to an eventfd is a new edge even while its
//!   counter is non-zero, so the counter need not be drained for the next notify to be seen;
//!   it is read (reset) only in a wait that saw it fire, to keep it far from its limit.
//! - A `notified` flag coalesces notifies: only the one that turns it on writes. The waiter
//!   that sees the eventfd fire reads the counter, *then* turns the flag off.
//!
//! # Invariants
//!
//! - A notify is never lost: it either writes the eventfd (an edge that the next wait, or the
//!   current one, reports: eventfd readiness is sticky until read) or finds the flag on. The
//!   flag is on only from a notify's swap until the wait that saw its edge turns it off, after
//!   its read; a notify that finds it on comes before that wait returns, and the thread that
//!   waited re-examines the runtime's state after its wait anyway (it was woken). A notify
//!   after the flag went off writes again.
//! - Event data [`NOTIFY_KEY`] is never a source's key (sources are slab indices).
//! - Both descriptors are close-on-exec and closed when the [`Epoll`] is dropped.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::registration::Ready;

/// The event data of the eventfd (no source has this key).
const NOTIFY_KEY: u64 = u64::MAX;

/// Events harvested per wait (more stay queued in the kernel for the next wait).
const EVENTS_CAPACITY: usize = 1024;

/// One epoll instance and its notify eventfd.
pub(crate) struct Epoll {
    epfd: OwnedFd,
    eventfd: OwnedFd,
    /// On from a notify's write until the wait that saw it (see the module docs).
    notified: AtomicBool,
    /// Off once `epoll_pwait2` was refused: later waits go straight to `epoll_wait`.
    pwait2: AtomicBool,
}

/// One source's readiness from a wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    /// The key the source was added with.
    pub(crate) key: usize,
    /// What the kernel reported.
    pub(crate) ready: Ready,
}

/// The buffer a wait fills.
pub(crate) struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    pub(crate) fn new() -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_CAPACITY],
            len: 0,
        }
    }

    /// The sources' events of the last wait (the eventfd's is left out).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().filter_map(|ev| {
            // Copied out: the struct is packed on x86-64, its fields cannot be borrowed.
            let (flags, data) = (ev.events, ev.u64);
            (data != NOTIFY_KEY).then(|| Event {
                key: data as usize,
                ready: ready_of(flags),
            })
        })
    }

    /// Whether the last wait reported no source (an interrupted or notified wait reports none).
    pub(crate) fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The number of sources' events of the last wait.
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }
}

/// The readiness an epoll event reports, as mio (tokio's) reads it, except that an error also
/// makes the source writable (a writer then meets the error instead of waiting for an edge
/// that may not come, as Go's netpoller does).
fn ready_of(flags: u32) -> Ready {
    let has = |f: libc::c_int| flags & f as u32 != 0;
    let mut r = Ready::EMPTY;
    if has(libc::EPOLLIN) || has(libc::EPOLLPRI) {
        r = r | Ready::READABLE;
    }
    if has(libc::EPOLLOUT) || has(libc::EPOLLHUP) || has(libc::EPOLLERR) {
        r = r | Ready::WRITABLE;
    }
    // `EPOLLRDHUP`: the peer shut its writing down (FIN); `EPOLLHUP`: both directions are
    // down (reset, or never connected).
    if has(libc::EPOLLRDHUP) || has(libc::EPOLLHUP) {
        r = r | Ready::READ_CLOSED;
    }
    if has(libc::EPOLLERR) {
        r = r | Ready::ERROR;
    }
    r
}

/// `r` (a system call's return value) as a result: negative means `errno`.
fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Epoll {
    /// A new epoll instance with its eventfd registered.
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointer; the result is checked before use.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epfd` is a descriptor just created and owned by nobody else.
        let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
        // SAFETY: eventfd takes no pointer; the result is checked before use.
        let efd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `efd` is a descriptor just created and owned by nobody else.
        let eventfd = unsafe { OwnedFd::from_raw_fd(efd) };
        let ep = Epoll {
            epfd,
            eventfd,
            notified: AtomicBool::new(false),
            pwait2: AtomicBool::new(true),
        };
        ep.ctl(
            libc::EPOLL_CTL_ADD,
            ep.eventfd.as_raw_fd(),
            libc::EPOLLIN | libc::EPOLLET,
            NOTIFY_KEY,
        )?;
        Ok(ep)
    }

    fn ctl(
        &self,
        op: libc::c_int,
        fd: libc::c_int,
        flags: libc::c_int,
        data: u64,
    ) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: flags as u32,
            u64: data,
        };
        // SAFETY: `ev` is a valid `epoll_event` that outlives the call (the kernel copies it;
        // `EPOLL_CTL_DEL` ignores it); `epfd` is open, and a bad `fd` is an error, not UB.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    /// Adds `fd`, edge-triggered, for reading, writing and the peer's shutdown, under `key`.
    /// The caller deletes it ([`delete`](Self::delete)) before closing it: epoll forgets a
    /// descriptor only when its file is closed everywhere, so a forgotten one could keep
    /// reporting `key` after the key was given to another source.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let flags = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), flags, key as u64)
    }

    /// Deletes `fd`.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0)
    }

    /// Waits for events for at most `timeout` (`None`: until an event or a notify) and fills
    /// `events` with them. An interrupted wait (`EINTR`) returns `Ok` with no events.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.len = 0;
        let n = match self.wait_raw(events, timeout) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        events.len = n;
        let fired = events.buf[..n].iter().any(|ev| {
            let data = ev.u64;
            data == NOTIFY_KEY
        });
        if fired {
            let mut counter = 0u64;
            // SAFETY: `counter` is 8 writable bytes, the size an eventfd read needs; the
            // eventfd is open (owned by `self`). Its result is not needed: the counter is
            // non-zero after the edge seen, and if a racing read emptied it, `EAGAIN` is fine.
            let _ = unsafe {
                libc::read(
                    self.eventfd.as_raw_fd(),
                    (&mut counter as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
            self.notified.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The wait itself: `epoll_pwait2` for a non-trivial timeout while the kernel takes it,
    /// else `epoll_wait`. Returns the number of entries filled.
    fn wait_raw(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let cap = events.buf.len() as libc::c_int;
        let buf = events.buf.as_mut_ptr();
        if let Some(t) = timeout.filter(|t| !t.is_zero() && t.subsec_nanos() % 1_000_000 != 0) {
            if self.pwait2.load(Ordering::Relaxed) {
                let ts = libc::timespec {
                    tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                    tv_nsec: t.subsec_nanos() as _,
                };
                // SAFETY: `buf` has room for `cap` events and is not otherwise borrowed during
                // the call; `ts` is a valid timespec that outlives it; a null signal mask
                // means "leave the mask alone" (its size argument is then ignored).
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        self.epfd.as_raw_fd(),
                        buf,
                        cap,
                        &ts as *const libc::timespec,
                        std::ptr::null::<libc::sigset_t>(),
                        0usize,
                    )
                };
                if r >= 0 {
                    return Ok(r as usize);
                }
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENOSYS) | Some(libc::EPERM) => {
                        self.pwait2.store(false, Ordering::Relaxed)
                    }
                    _ => return Err(e),
                }
            }
        }
        let ms = match timeout {
            None => -1,
            Some(t) => {
                // Rounded up: a wait never ends before the deadline it was computed for.
                let ms = t.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: `buf` has room for `cap` events and is not otherwise borrowed during the call.
        let r = unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), buf, cap, ms) };
        cvt(r).map(|n| n as usize)
    }

    /// Wakes the thread in [`wait`](Self::wait), or makes its next wait return at once.
    pub(crate) fn notify(&self) -> io::Result<()> {
        if self.notified.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let one = 1u64;
        // SAFETY: `one` is 8 readable bytes, the size an eventfd write takes; the eventfd is
        // open (owned by `self`).
        let r = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            // `EAGAIN`: the counter is at its limit, so the eventfd is readable: the edge the
            // next wait needs is pending anyway.
            if e.kind() != io::ErrorKind::WouldBlock {
                self.notified.store(false, Ordering::SeqCst);
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::time::Instant;

    /// A connected, non-blocking TCP pair: (the one added to `ep` under key 7, its peer).
    fn pair(ep: &Epoll) -> (std::net::TcpStream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        a.set_nonblocking(true).unwrap();
        ep.add(a.as_fd(), 7).unwrap();
        (a, b)
    }

    /// Waits (bounded) until an event for key 7 with all of `want` arrives; panics past 10 s.
    fn wait_for(ep: &Epoll, want: Ready) -> Ready {
        let mut events = Events::new();
        let end = Instant::now() + Duration::from_secs(10);
        let mut seen = Ready::EMPTY;
        while Instant::now() < end {
            ep.wait(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            for ev in events.iter() {
                assert_eq!(ev.key, 7);
                seen = seen | ev.ready;
            }
            if seen.contains(want) {
                return seen;
            }
        }
        panic!("no event with {want:?} in 10 s (saw {seen:?})");
    }

    #[test]
    fn the_peers_shutdown_is_reported_as_read_closed() {
        let ep = Epoll::new().unwrap();
        let (a, mut b) = pair(&ep);
        // The add reports the fresh socket's state: writable, nothing to read.
        let first = wait_for(&ep, Ready::WRITABLE);
        assert!(!first.contains(Ready::READ_CLOSED));
        b.write_all(b"abc").unwrap();
        b.shutdown(std::net::Shutdown::Write).unwrap();
        let r = wait_for(&ep, Ready::READABLE | Ready::READ_CLOSED);
        assert!(!r.contains(Ready::ERROR), "{r:?}");
        ep.delete(a.as_fd()).unwrap();
    }

    #[test]
    fn a_reset_is_reported_as_an_error_and_read_closed() {
        let ep = Epoll::new().unwrap();
        let (a, b) = pair(&ep);
        wait_for(&ep, Ready::WRITABLE);
        // SO_LINGER with a zero timeout: closing sends a reset instead of a FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `linger` is a valid `struct linger` of the size passed, `b` is open.
        let r = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&b),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        drop(b);
        wait_for(&ep, Ready::ERROR | Ready::READ_CLOSED | Ready::WRITABLE);
        ep.delete(a.as_fd()).unwrap();
    }

    #[test]
    fn a_deleted_source_reports_nothing() {
        let ep = Epoll::new().unwrap();
        let (a, mut b) = pair(&ep);
        wait_for(&ep, Ready::WRITABLE);
        ep.delete(a.as_fd()).unwrap();
        b.write_all(b"x").unwrap();
        let mut events = Events::new();
        ep.wait(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        assert!(events.is_empty());
        assert_eq!(events.len(), 0);
    }

    /// Notifies before the wait, during it, and many at once: each wakes exactly one wait
    /// (coalesced ones included), and the next wait sleeps its full timeout again.
    #[test]
    fn notify_wakes_one_wait_and_is_never_lost() {
        let ep = std::sync::Arc::new(Epoll::new().unwrap());
        let mut events = Events::new();
        ep.notify().unwrap();
        ep.notify().unwrap(); // coalesced: no second write
        let t = Instant::now();
        ep.wait(&mut events, Some(Duration::from_secs(10))).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "a notify before the wait was lost"
        );
        assert!(events.is_empty(), "the eventfd is not a source");
        assert!(!ep.notified.load(Ordering::SeqCst));
        // Consumed: the next wait sleeps until its timeout.
        let t = Instant::now();
        ep.wait(&mut events, Some(Duration::from_millis(30)))
            .unwrap();
        assert!(t.elapsed() >= Duration::from_millis(30));
        // A notify from another thread while the wait sleeps wakes it.
        let ep2 = ep.clone();
        let notifier = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ep2.notify().unwrap();
        });
        let t = Instant::now();
        ep.wait(&mut events, None).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(20));
        notifier.join().unwrap();
        // Many notifies in a row, from several threads, still leave exactly one wake-up.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let ep = ep.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        ep.notify().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let t = Instant::now();
        ep.wait(&mut events, Some(Duration::from_secs(10))).unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        let t = Instant::now();
        ep.wait(&mut events, Some(Duration::from_millis(30)))
            .unwrap();
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    /// Waits never end before their timeout, with nanosecond timeouts (`epoll_pwait2`) and
    /// with the millisecond fallback (`epoll_wait`, the timeout rounded up).
    #[test]
    fn waits_last_at_least_their_timeout_on_both_paths() {
        let ep = Epoll::new().unwrap();
        let mut events = Events::new();
        for fallback in [false, true] {
            if fallback {
                ep.pwait2.store(false, Ordering::Relaxed);
            }
            for us in [1, 300, 1_500, 2_700] {
                let d = Duration::from_micros(us);
                let t = Instant::now();
                ep.wait(&mut events, Some(d)).unwrap();
                assert!(t.elapsed() >= d, "{d:?} (fallback: {fallback})");
            }
        }
        let t = Instant::now();
        ep.wait(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        // The longest timeouts are valid on both paths (a notify ends them).
        for fallback in [false, true] {
            ep.pwait2.store(!fallback, Ordering::Relaxed);
            for d in [
                Duration::MAX,
                Duration::from_secs(u64::MAX),
                Duration::from_secs(40 * 86_400),
            ] {
                ep.notify().unwrap();
                ep.wait(&mut events, Some(d)).unwrap();
            }
        }
    }
}
