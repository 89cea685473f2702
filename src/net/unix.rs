//! Unix domain sockets: [`UnixListener`] and [`UnixStream`] on the runtime's reactor.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::task::ready;

use super::addr::{annotate, blocking};
use crate::reactor::IoSource;

/// A Unix socket listening for connections (Go's `net.Listen("unix", path)`).
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use gorun::net::{UnixListener, UnixStream};
/// # futures::executor::block_on(async {
/// let path = std::env::temp_dir().join(format!("gorun-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let l = UnixListener::bind(&path)?;
/// let mut c = UnixStream::connect(&path).await?;
/// let (mut s, _) = l.accept().await?;
/// c.write_all(b"hi").await?;
/// let mut buf = [0; 2];
/// s.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hi");
/// std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: IoSource<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist). Binding never waits, so this is
    /// not `async`. Errors name the path.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gorun-doc-b{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::bind(&path).unwrap();
    /// assert!(gorun::net::UnixListener::bind(&path).is_err(), "in use");
    /// # drop(l); std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let l = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| annotate(e, "bind", &path.display()))?;
        l.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(l)?,
        })
    }

    /// Waits for the next connection.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("gorun-doc-a{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::bind(&path)?;
    /// let _c = gorun::net::UnixStream::connect(&path).await?;
    /// let (_s, _addr) = l.accept().await?;
    /// # std::fs::remove_file(&path)?; std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection (what [`accept`](Self::accept) awaits).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("gorun-doc-p{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::bind(&path)?;
    /// assert!(futures::poll!(std::future::poll_fn(|cx| l.poll_accept(cx))).is_pending());
    /// # std::fs::remove_file(&path)?; std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (s, a) = ready!(self
            .io
            .poll_io(cx, crate::reactor::Direction::Read, |l| l.accept()))?;
        std::task::Poll::Ready(UnixStream::from_std(s).map(|s| (s, a)))
    }

    /// The connections, as a `futures::Stream` (it never ends).
    ///
    /// ```
    /// use futures::StreamExt;
    /// # futures::executor::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("gorun-doc-i{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::bind(&path)?;
    /// let _c = gorun::net::UnixStream::connect(&path).await?;
    /// let _s = l.incoming().next().await.unwrap()?;
    /// # std::fs::remove_file(&path)?; std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("gorun-doc-l{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::bind(&path).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// The stream of connections of a [`UnixListener`], from [`UnixListener::incoming`].
///
/// ```
/// # let path = std::env::temp_dir().join(format!("gorun-doc-n{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let l = gorun::net::UnixListener::bind(&path).unwrap();
/// let _incoming: gorun::net::unix::Incoming<'_> = l.incoming();
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl futures::Stream for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A Unix stream connection: `futures::io::AsyncRead`/`AsyncWrite` (also through
/// `&UnixStream`) and [`split`](Self::split) into halves for two goroutines.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// # futures::executor::block_on(async {
/// let (a, b) = gorun::net::UnixStream::pair()?;
/// (&a).write_all(b"ab").await?;
/// let mut buf = [0; 2];
/// (&b).read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ab");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct UnixStream {
    inner: Arc<IoSource<std::os::unix::net::UnixStream>>,
}

impl UnixStream {
    fn from_std(s: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        Ok(UnixStream {
            inner: Arc::new(IoSource::new(s)?),
        })
    }

    /// Connects to the socket at `path` (the connect call runs on the blocking pool). Errors
    /// name the path.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let e = gorun::net::UnixStream::connect("/nonexistent/gorun.sock").await.unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    /// assert!(e.to_string().starts_with("connect /nonexistent/gorun.sock: "));
    /// # });
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref().to_path_buf();
        let p = path.clone();
        let s = blocking(move || std::os::unix::net::UnixStream::connect(&p))
            .await
            .map_err(|e| annotate(e, "connect", &path.display()))?;
        UnixStream::from_std(s)
    }

    /// A connected pair of streams.
    ///
    /// ```
    /// let (a, b) = gorun::net::UnixStream::pair().unwrap();
    /// # drop((a, b));
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// The remote address.
    ///
    /// ```
    /// let (a, _b) = gorun::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// let (a, _b) = gorun::net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

stream_impls!(
    UnixStream,
    ReadHalf,
    WriteHalf,
    std::os::unix::net::UnixStream,
    "let (a, b) = gorun::net::UnixStream::pair()?;"
);

// The registered socket, for the hyper/tokio trait impls (`net::compat`).
#[cfg(any(feature = "hyper", feature = "tokio"))]
impl UnixStream {
    pub(crate) fn source(&self) -> &crate::reactor::IoSource<std::os::unix::net::UnixStream> {
        &self.inner
    }
}
#[cfg(any(feature = "hyper", feature = "tokio"))]
impl ReadHalf {
    pub(crate) fn source(&self) -> &crate::reactor::IoSource<std::os::unix::net::UnixStream> {
        &self.inner
    }
}
