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

use super::compat::{poll_read_uninit, write_via_futures_io};
use std::io;
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

tokio_read!(super::tcp::TcpStream);
tokio_read!(super::tcp::ReadHalf);
tokio_read!(super::unix::UnixStream);
tokio_read!(super::unix::ReadHalf);
write_via_futures_io!(AsyncWrite, super::tcp::TcpStream);
write_via_futures_io!(AsyncWrite, super::tcp::WriteHalf);
write_via_futures_io!(AsyncWrite, super::unix::UnixStream);
write_via_futures_io!(AsyncWrite, super::unix::WriteHalf);
