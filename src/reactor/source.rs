//! [`IoSource`]: a non-blocking OS object registered with the current runtime's reactor.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use super::registration::WaitSlot;
use super::{Direction, DriverRef, IoState};

/// Owns `io` (already in non-blocking mode) and keeps it registered with a reactor until
/// dropped; then deregisters it before `io` is closed.
pub(crate) struct IoSource<T: AsFd> {
    driver: DriverRef,
    key: usize,
    state: Arc<IoState>,
    // Declared last: dropped (closed) after `Drop::drop` has deregistered it.
    io: T,
}

impl<T: AsFd> IoSource<T> {
    /// Registers `io` with `driver` (the current runtime's: `runtime::driver_handle()`).
    pub(crate) fn new(io: T, driver: DriverRef) -> io::Result<IoSource<T>> {
        let (key, state) = driver.register(io.as_fd())?;
        Ok(IoSource {
            driver,
            key,
            state,
            io,
        })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// Runs the non-blocking operation `f` once `dir` is ready, retrying after each
    /// `WouldBlock` once the reactor reports new readiness.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        crate::util::coop::poll_op(cx, |cx| loop {
            let snapshot = ready!(self.state.poll_ready(cx, dir))?;
            match f(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.state.clear(dir, snapshot),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        })
    }

    /// [`poll_io`](Self::poll_io) for a read from a byte stream (TCP, Unix) into buffers of
    /// `len` bytes in all: a read that returns fewer bytes than that, but some, drained the
    /// socket, so it also clears the read readiness ([`IoState::clear_drained`]) and the next
    /// read waits for the reactor instead of trying a read that would return `EAGAIN`. Not for
    /// datagrams (a short datagram says nothing about the next one), nor for sockets with
    /// `SO_PASSCRED` (Linux ends a read at a change of sender there).
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut f: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        crate::util::coop::poll_op(cx, |cx| loop {
            let snapshot = ready!(self.state.poll_ready(cx, Direction::Read))?;
            match f(&self.io) {
                Ok(n) if n > 0 && n < len => {
                    self.state.clear_drained(snapshot);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.state.clear(Direction::Read, snapshot)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        })
    }

    /// [`poll_io`](Self::poll_io) as a future, whose waker leaves the source's waiter list
    /// when it is dropped unfinished (see `registration`).
    pub(crate) async fn io<R>(
        &self,
        dir: Direction,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        struct Unregister<'a> {
            state: &'a IoState,
            dir: Direction,
            slot: Option<WaitSlot>,
        }
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                if let Some(slot) = self.slot.take() {
                    self.state.unregister(self.dir, slot);
                }
            }
        }
        let mut guard = Unregister {
            state: &self.state,
            dir,
            slot: None,
        };
        std::future::poll_fn(|cx| {
            crate::util::coop::poll_op(cx, |cx| loop {
                let snapshot = ready!(self.state.poll_ready_slot(cx, dir, &mut guard.slot))?;
                match f(&self.io) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.state.clear(dir, snapshot)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => return Poll::Ready(r),
                }
            })
        })
        .await
    }
}

impl<T: AsFd> Drop for IoSource<T> {
    fn drop(&mut self) {
        self.driver.deregister(self.io.as_fd(), self.key);
    }
}

impl<T: AsFd + std::fmt::Debug> std::fmt::Debug for IoSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::future::Future;
    use std::os::fd::AsFd;

    struct Count;
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {}
    }

    /// A read future dropped unfinished (a `select!` or `timeout` that gave up on it) takes its
    /// waker out of the socket's waiter list: its task is released and the list does not grow.
    #[test]
    fn a_dropped_io_future_releases_its_waker() {
        let driver: DriverRef = Arc::new(Arc::new(super::super::Driver::new(1).unwrap()));
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let (key, state) = driver.register(sock.as_fd()).unwrap();
        let src = IoSource {
            driver: driver.clone(),
            key,
            state,
            io: sock,
        };
        let task = Arc::new(Count);
        let waker = std::task::Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..100 {
            let mut buf = [0u8; 8];
            let mut fut = std::pin::pin!(src.io(Direction::Read, |s| s.recv(&mut buf)));
            assert!(
                fut.as_mut().poll(&mut cx).is_pending(),
                "nobody sent anything"
            );
        }
        assert_eq!(
            Arc::strong_count(&task),
            2,
            "dropped reads kept their waker"
        );
    }
}
