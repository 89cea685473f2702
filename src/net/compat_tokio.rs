//! tokio's I/O traits (`tokio::io::AsyncRead`/`AsyncWrite`) on gorun's streams and their split
//! halves (cargo feature `tokio`), so tokio-based libraries accept them: hyper-util's `TokioIo`,
//! tokio-rustls, tonic's transport. The futures-io impls stay; import one trait family at a
//! time (both have `read`/`write` extension methods).
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # gorun::block_on(async {
//! let (mut a, mut b) = gorun::net::UnixStream::pair()?;
//! a.write_all(b"ping").await?;
//! let mut buf = [0; 4];
//! b.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"ping");
//! # std::io::Result::Ok(()) }).unwrap();
//! ```

use super::compat::poll_read_uninit;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

macro_rules! tokio_read {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: the unfilled part is only written to (by `read(2)`), never
                // de-initialized; `poll_read_uninit` reports how much it wrote.
                let n = ready!(poll_read_uninit(self.source(), cx, unsafe {
                    buf.unfilled_mut()
                }))?;
                // SAFETY: the read initialized the first `n` bytes of the unfilled part.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }
    };
}

macro_rules! tokio_write {
    ($t:ty) => {
        impl AsyncWrite for $t {
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

tokio_read!(super::tcp::TcpStream);
tokio_read!(super::tcp::ReadHalf);
tokio_read!(super::unix::UnixStream);
tokio_read!(super::unix::ReadHalf);
tokio_write!(super::tcp::TcpStream);
tokio_write!(super::tcp::WriteHalf);
tokio_write!(super::unix::UnixStream);
tokio_write!(super::unix::WriteHalf);
