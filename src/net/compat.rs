//! What the hyper and tokio trait impls (`compat_hyper`, `compat_tokio`) share: a read into
//! uninitialized memory, straight from the socket (both traits hand out such buffers; zeroing
//! them first would cost a memset per read).

use crate::reactor::{Direction, IoSource};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::task::{Context, Poll};

/// Reads into `dst` once the socket is readable; returns how many bytes are now initialized
/// at its start.
pub(crate) fn poll_read_uninit<T: AsFd + AsRawFd>(
    s: &IoSource<T>,
    cx: &mut Context<'_>,
    dst: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    s.poll_io(cx, Direction::Read, |io| {
        // SAFETY: `dst` is valid for writes of `dst.len()` bytes (`MaybeUninit` needs no
        // initialization before being written); `read(2)` only writes, never reads, the buffer.
        let n = unsafe { libc::read(io.as_raw_fd(), dst.as_mut_ptr().cast(), dst.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}
