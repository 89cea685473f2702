//! What the hyper and tokio trait impls (`compat_hyper`, `compat_tokio`) share: a read into
//! uninitialized memory, straight from the socket (both traits hand out such buffers; zeroing
//! them first would cost a memset per read), and the write side, which both traits spell as
//! futures-io's `AsyncWrite` does (`poll_shutdown` for `poll_close`).

use crate::reactor::IoSource;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::task::{Context, Poll};

/// Reads into `dst` once the socket (a byte stream) is readable; returns how many bytes are
/// now initialized at its start. A short read clears the read readiness, as the futures-io
/// reads do (`IoSource::poll_read_stream`).
pub(crate) fn poll_read_uninit<T: AsFd + AsRawFd>(
    s: &IoSource<T>,
    cx: &mut Context<'_>,
    dst: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    s.poll_read_stream(cx, dst.len(), |io| {
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

/// Implements `$trait` (hyper's `Write` or tokio's `AsyncWrite`: the same methods) for `$t` by
/// forwarding to its futures-io `AsyncWrite`.
macro_rules! write_via_futures_io {
    ($trait:path, $t:ty) => {
        impl $trait for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures::io::AsyncWrite::poll_write(self, cx, buf)
            }
            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures::io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                true
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures::io::AsyncWrite::poll_flush(self, cx)
            }
            /// Shuts the write direction down (the peer reads end-of-stream).
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures::io::AsyncWrite::poll_close(self, cx)
            }
        }
    };
}
pub(crate) use write_via_futures_io;
