//! The byte-stream machinery shared by `TcpStream` and `UnixStream`: `AsyncRead`/`AsyncWrite`
//! on the registered socket, and owned read/write halves usable from two goroutines at once
//! (each direction has its own waker list in the reactor, see `reactor::registration`). A read
//! that returns less than its buffer clears the read readiness (`IoSource::poll_read_stream`),
//! so the next one waits for the reactor instead of costing a read that returns `EAGAIN`.

/// Generates, for a stream type `$stream` wrapping `Arc<IoSource<$std>>` in field `inner`, its
/// futures-io impls (also on `&$stream`), and the halves `$read`/`$write` with theirs. The
/// calling module defines `conn_error(e, op, &$std) -> io::Error`, which names the connection
/// in the error (see `net::OpError`).
macro_rules! stream_impls {
    ($stream:ident, $read:ident, $write:ident, $std:ty, $setup:literal) => {
        use futures::io::{AsyncRead, AsyncWrite};
        use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
        use std::pin::Pin;
        use std::task::{Context, Poll};

        use crate::reactor::Direction;

        fn poll_read(
            s: &crate::reactor::IoSource<$std>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let len = buf.len();
            s.poll_read_stream(cx, len, |s| (&*s).read(buf))
                .map_err(|e| conn_error(e, "read", s.get_ref()))
        }

        fn poll_read_vectored(
            s: &crate::reactor::IoSource<$std>,
            cx: &mut Context<'_>,
            bufs: &mut [IoSliceMut<'_>],
        ) -> Poll<io::Result<usize>> {
            let len = bufs.iter().map(|b| b.len()).sum();
            s.poll_read_stream(cx, len, |s| (&*s).read_vectored(bufs))
                .map_err(|e| conn_error(e, "read", s.get_ref()))
        }

        fn poll_write(
            s: &crate::reactor::IoSource<$std>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            s.poll_io(cx, Direction::Write, |s| (&*s).write(buf))
                .map_err(|e| conn_error(e, "write", s.get_ref()))
        }

        fn poll_write_vectored(
            s: &crate::reactor::IoSource<$std>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            s.poll_io(cx, Direction::Write, |s| (&*s).write_vectored(bufs))
                .map_err(|e| conn_error(e, "write", s.get_ref()))
        }

        fn poll_close(s: &crate::reactor::IoSource<$std>) -> Poll<io::Result<()>> {
            match s.get_ref().shutdown(std::net::Shutdown::Write) {
                Err(e) if e.kind() != io::ErrorKind::NotConnected => {
                    Poll::Ready(Err(conn_error(e, "shutdown", s.get_ref())))
                }
                _ => Poll::Ready(Ok(())),
            }
        }

        macro_rules! read_impl {
            ($t:ty) => {
                impl AsyncRead for $t {
                    fn poll_read(
                        self: Pin<&mut Self>,
                        cx: &mut Context<'_>,
                        buf: &mut [u8],
                    ) -> Poll<io::Result<usize>> {
                        poll_read(&self.inner, cx, buf)
                    }
                    fn poll_read_vectored(
                        self: Pin<&mut Self>,
                        cx: &mut Context<'_>,
                        bufs: &mut [IoSliceMut<'_>],
                    ) -> Poll<io::Result<usize>> {
                        poll_read_vectored(&self.inner, cx, bufs)
                    }
                }
            };
        }

        macro_rules! write_impl {
            ($t:ty) => {
                impl AsyncWrite for $t {
                    fn poll_write(
                        self: Pin<&mut Self>,
                        cx: &mut Context<'_>,
                        buf: &[u8],
                    ) -> Poll<io::Result<usize>> {
                        poll_write(&self.inner, cx, buf)
                    }
                    fn poll_write_vectored(
                        self: Pin<&mut Self>,
                        cx: &mut Context<'_>,
                        bufs: &[IoSlice<'_>],
                    ) -> Poll<io::Result<usize>> {
                        poll_write_vectored(&self.inner, cx, bufs)
                    }
                    fn poll_flush(
                        self: Pin<&mut Self>,
                        _: &mut Context<'_>,
                    ) -> Poll<io::Result<()>> {
                        Poll::Ready(Ok(()))
                    }
                    /// Shuts the write direction down (the peer reads end-of-stream).
                    fn poll_close(
                        self: Pin<&mut Self>,
                        _: &mut Context<'_>,
                    ) -> Poll<io::Result<()>> {
                        poll_close(&self.inner)
                    }
                }
            };
        }

        read_impl!($stream);
        read_impl!(&$stream);
        read_impl!($read);
        write_impl!($stream);
        write_impl!(&$stream);
        write_impl!($write);

        /// The reading half of a stream, from `split`.
        #[doc = concat!(
            "```\nuse futures::io::{AsyncReadExt, AsyncWriteExt};\n",
            "# futures::executor::block_on(async {\n", $setup,
            "\nlet (mut rd, _wr) = a.split();\n(&b).write_all(b\"x\").await?;\n",
            "let mut buf = [0; 1];\nrd.read_exact(&mut buf).await?;\n",
            "# std::io::Result::Ok(()) }).unwrap();\n```"
        )]
        #[derive(Debug)]
        pub struct $read {
            inner: std::sync::Arc<crate::reactor::IoSource<$std>>,
        }

        /// The writing half of a stream, from `split`. Closing it (`AsyncWriteExt::close`)
        /// shuts the write direction down.
        #[doc = concat!(
            "```\nuse futures::io::{AsyncReadExt, AsyncWriteExt};\n",
            "# futures::executor::block_on(async {\n", $setup,
            "\nlet (_rd, mut wr) = a.split();\nwr.write_all(b\"x\").await?;\nwr.close().await?;\n",
            "let mut all = Vec::new();\n(&b).read_to_end(&mut all).await?;\nassert_eq!(all, b\"x\");\n",
            "# std::io::Result::Ok(()) }).unwrap();\n```"
        )]
        #[derive(Debug)]
        pub struct $write {
            inner: std::sync::Arc<crate::reactor::IoSource<$std>>,
        }

        impl $stream {
            /// Splits the stream into a reading and a writing half, which may be moved to two
            /// goroutines. The socket closes when both are dropped.
            #[doc = concat!(
                "```\n# futures::executor::block_on(async {\n", $setup,
                "\nlet (rd, wr) = a.split();\n# drop((rd, wr, b));\n",
                "# std::io::Result::Ok(()) }).unwrap();\n```"
            )]
            pub fn split(self) -> ($read, $write) {
                (
                    $read {
                        inner: self.inner.clone(),
                    },
                    $write { inner: self.inner },
                )
            }

            /// Shuts down the read, write or both directions.
            #[doc = concat!(
                "```\nuse futures::io::AsyncReadExt;\n# futures::executor::block_on(async {\n", $setup,
                "\na.shutdown(std::net::Shutdown::Write)?;\nlet mut all = Vec::new();\n",
                "(&b).read_to_end(&mut all).await?;\nassert!(all.is_empty());\n",
                "# std::io::Result::Ok(()) }).unwrap();\n```"
            )]
            pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
                self.inner.get_ref().shutdown(how)
            }
        }
    };
}
