//! TCP: [`TcpListener`] and [`TcpStream`] on the runtime's reactor.
//!
//! Sockets are std's, switched to non-blocking mode and registered (edge-triggered) with the
//! reactor of the runtime they were created on. `connect` runs name resolution *and* the
//! connect call on the blocking pool: std offers no non-blocking connect, and the crate has no
//! `libc`/`socket2` dependency to build one; a connect on the pool costs one pool thread for the
//! duration of the handshake, which Go's netpoller avoids but which matters only for very high
//! connection rates.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::ready;

use super::addr::{annotate, blocking, each_addr, resolve, ToSocketAddrs};
use crate::reactor::IoSource;

/// A TCP socket listening for connections (Go's `net.Listen("tcp", addr)`).
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use gorun::net::{TcpListener, TcpStream};
/// futures::executor::block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = l.local_addr()?;
///     let mut c = TcpStream::connect(addr).await?;
///     let (mut s, _) = l.accept().await?;
///     c.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     s.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     std::io::Result::Ok(())
/// }).unwrap();
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: IoSource<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (`"127.0.0.1:0"` picks a free port). Errors name the address.
    ///
    /// ```
    /// let l = futures::executor::block_on(gorun::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let a = addr.to_addrs();
        let display = a.display;
        let addrs = resolve(a.kind)
            .await
            .map_err(|e| annotate(e, "bind", &display))?;
        let l = each_addr(addrs, std::net::TcpListener::bind)
            .map_err(|e| annotate(e, "bind", &display))?;
        l.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(l)?,
        })
    }

    /// Waits for the next connection.
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// loop {
    ///     let (conn, peer) = l.accept().await?;
    ///     println!("{peer} connected");
    ///     # drop(conn);
    /// }
    /// # std::io::Result::Ok(()) });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection (what [`accept`](Self::accept) awaits).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let pending = futures::poll!(std::future::poll_fn(|cx| l.poll_accept(cx)));
    /// assert!(pending.is_pending());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (s, a) = ready!(self
            .io
            .poll_io(cx, crate::reactor::Direction::Read, |l| l.accept()))?;
        std::task::Poll::Ready(TcpStream::from_std(s).map(|s| (s, a)))
    }

    /// The connections, as a `futures::Stream` (it never ends).
    ///
    /// ```
    /// use futures::StreamExt;
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let _c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// let s = l.incoming().next().await.unwrap()?;
    /// # drop(s); std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(l.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// The stream of connections of a [`TcpListener`], from [`TcpListener::incoming`].
///
/// ```
/// # futures::executor::block_on(async {
/// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
/// let incoming: gorun::net::tcp::Incoming<'_> = l.incoming();
/// # drop(incoming); std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl futures::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A TCP connection (Go's `net.Conn`): `futures::io::AsyncRead` and `AsyncWrite`, also through
/// `&TcpStream`, and [`split`](Self::split) into halves for two goroutines.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// # futures::executor::block_on(async {
/// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
/// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
/// c.set_nodelay(true)?;
/// let (s, _) = l.accept().await?;
/// let (mut rd, mut wr) = s.split();
/// (&c).write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// rd.read_exact(&mut buf).await?;
/// wr.write_all(&buf).await?;
/// wr.close().await?; // shuts the write side down
/// let mut back = Vec::new();
/// (&c).read_to_end(&mut back).await?;
/// assert_eq!(back, b"ping");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct TcpStream {
    inner: Arc<IoSource<std::net::TcpStream>>,
}

impl TcpStream {
    fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream {
            inner: Arc::new(IoSource::new(s)?),
        })
    }

    /// Connects to `addr` (`"host:port"` is resolved on the blocking pool; each address is
    /// tried in turn). Errors name the address and keep their kind, e.g.
    /// `connect 127.0.0.1:1: Connection refused` with `ErrorKind::ConnectionRefused`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let port = l.local_addr()?.port();
    /// let c = gorun::net::TcpStream::connect(("localhost", port)).await?;
    /// assert_eq!(c.peer_addr()?.port(), port);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let a = addr.to_addrs();
        let display = a.display;
        let kind = a.kind;
        let s = blocking(move || {
            let addrs = kind.resolve_blocking()?;
            each_addr(addrs, std::net::TcpStream::connect)
        })
        .await
        .map_err(|e| annotate(e, "connect", &display))?;
        TcpStream::from_std(s)
    }

    /// The remote address.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert_eq!(c.peer_addr()?, l.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// let (s, peer) = l.accept().await?;
    /// assert_eq!(c.local_addr()?, peer);
    /// # drop(s); std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Enables or disables Nagle's algorithm (`TCP_NODELAY`; Go enables it by default).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.set_nodelay(true)?;
    /// assert!(c.nodelay()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// let _ = c.nodelay()?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }
}

stream_impls!(
    TcpStream,
    ReadHalf,
    WriteHalf,
    std::net::TcpStream,
    "let l = gorun::net::TcpListener::bind(\"127.0.0.1:0\").await?;\n\
     let a = gorun::net::TcpStream::connect(l.local_addr()?).await?;\n\
     let (b, _) = l.accept().await?;"
);
