//! hyper 1.x's I/O traits (`hyper::rt::Read`/`Write`) on gorun's streams and their split
//! halves (cargo feature `hyper`): hand a `TcpStream` straight to hyper's `serve_connection`
//! or client `handshake`, no adapter needed. See [`crate::hyper`] for the executor and timer.

use super::compat::poll_read_uninit;
use hyper::rt::{Read, ReadBufCursor, Write};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

macro_rules! hyper_read {
    ($t:ty) => {
        impl Read for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: the cursor's memory is only written to (by `read(2)`), never
                // de-initialized; `poll_read_uninit` reports how much it wrote.
                let n = ready!(poll_read_uninit(self.source(), cx, unsafe { buf.as_mut() }))?;
                // SAFETY: the read initialized the first `n` bytes of the cursor.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }
    };
}

macro_rules! hyper_write {
    ($t:ty) => {
        impl Write for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                futures::io::AsyncWrite::poll_write(self, cx, buf)
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                futures::io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                true
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures::io::AsyncWrite::poll_flush(self, cx)
            }
            /// Shuts the write direction down (the peer reads end-of-stream).
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                futures::io::AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

hyper_read!(super::tcp::TcpStream);
hyper_read!(super::tcp::ReadHalf);
hyper_read!(super::unix::UnixStream);
hyper_read!(super::unix::ReadHalf);
hyper_write!(super::tcp::TcpStream);
hyper_write!(super::tcp::WriteHalf);
hyper_write!(super::unix::UnixStream);
hyper_write!(super::unix::WriteHalf);
