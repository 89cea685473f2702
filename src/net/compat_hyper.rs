//! hyper 1.x's I/O traits (`hyper::rt::Read`/`Write`) on gorun's streams and their split
//! halves (cargo feature `hyper`): hand a `TcpStream` straight to hyper's `serve_connection`
//! or client `handshake`, no adapter needed. See [`crate::hyper`] for the executor and timer.

use super::compat::{poll_read_uninit, write_via_futures_io};
use hyper::rt::{Read, ReadBufCursor, Write};
use std::io;
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

hyper_read!(super::tcp::TcpStream);
hyper_read!(super::tcp::ReadHalf);
hyper_read!(super::unix::UnixStream);
hyper_read!(super::unix::ReadHalf);
write_via_futures_io!(Write, super::tcp::TcpStream);
write_via_futures_io!(Write, super::tcp::WriteHalf);
write_via_futures_io!(Write, super::unix::UnixStream);
write_via_futures_io!(Write, super::unix::WriteHalf);
