//! [`IoSource`]: a non-blocking OS object registered with the current runtime's reactor.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

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
    /// Registers `io` with the current runtime's reactor.
    pub(crate) fn new(io: T) -> io::Result<IoSource<T>> {
        let driver = crate::runtime::driver_handle();
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
        let unit = ready!(crate::runtime::coop::proceed(cx));
        loop {
            let snapshot = ready!(self.state.poll_ready(cx, dir))?;
            match f(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.state.clear(dir, snapshot),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => {
                    unit.made_progress();
                    return Poll::Ready(r);
                }
            }
        }
    }

    /// [`poll_io`](Self::poll_io) as a future.
    pub(crate) async fn io<R>(
        &self,
        dir: Direction,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_io(cx, dir, &mut f)).await
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
