//! TCP: [`TcpListener`] and [`TcpStream`] on the runtime's reactor.
//!
//! Sockets are std's, switched to non-blocking mode and registered (edge-triggered) with the
//! reactor of the runtime they were created on. `connect` looks names up on the blocking pool
//! (the system resolver only blocks), then connects without blocking, as Go's netpoller does:
//! a non-blocking socket (libc's `socket`), `connect` returning `EINPROGRESS`, and a wait for
//! writability on the reactor, after which `SO_ERROR` tells the outcome. A thousand pending
//! handshakes cost no thread.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::ready;

use super::addr::{
    accept_retrying, annotate, annotate_conn, each_addr, no_addresses, resolve, ToSocketAddrs,
};
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
    /// Binds to `addr` (`"127.0.0.1:0"` picks a free port). Errors name the address. As in Go,
    /// `SO_REUSEADDR` is set, so a server can restart while old connections are in
    /// `TIME_WAIT`.
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
            io: IoSource::new(l, crate::runtime::driver_handle())?,
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
        let (s, a) = ready!(self.io.poll_io(cx, crate::reactor::Direction::Read, |l| {
            accept_retrying(|| l.accept())
        }))
        .map_err(|e| self.accept_error(e))?;
        std::task::Poll::Ready(
            TcpStream::from_std(s)
                .map(|s| (s, a))
                .map_err(|e| self.accept_error(e)),
        )
    }

    fn accept_error(&self, e: io::Error) -> io::Error {
        match self.local_addr() {
            Ok(a) => annotate(e, "accept", &a),
            Err(_) => annotate(e, "accept", &"?"),
        }
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

    /// Registers a std listener with the current runtime's reactor (switching it to
    /// non-blocking mode).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let std_l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let l = gorun::net::TcpListener::from_std(std_l)?;
    /// let _c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// l.accept().await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(l, crate::runtime::driver_handle())?,
        })
    }

    /// The std listener of the same socket, deregistered from the reactor, still in
    /// non-blocking mode (a new descriptor: this one is closed; `Err` only if the process has
    /// no descriptor left).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = l.local_addr()?;
    /// let std_l = l.into_std()?;
    /// assert_eq!(std_l.local_addr()?, addr);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        use std::os::fd::AsFd;
        Ok(super::sockopt::dup(self.io.get_ref().as_fd())?.into())
    }

    /// Sets the IP time-to-live of accepted connections' packets (`IP_TTL`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// l.set_ttl(42)?;
    /// assert_eq!(l.ttl()?, 42);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The `IP_TTL` option.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(l.ttl()? > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }
}

fd_impls!(TcpListener, io);

/// The error `e` of operation `op` on connection `s`, naming it `local->peer`.
fn conn_error(e: io::Error, op: &'static str, s: &std::net::TcpStream) -> io::Error {
    annotate_conn(e, op, s.local_addr(), s.peer_addr())
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
    /// Registers a connected std stream with the current runtime's reactor (switching it to
    /// non-blocking mode).
    ///
    /// ```
    /// use futures::io::AsyncWriteExt;
    /// # futures::executor::block_on(async {
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_c = std::net::TcpStream::connect(l.local_addr()?)?;
    /// let mut c = gorun::net::TcpStream::from_std(std_c)?;
    /// c.write_all(b"hi").await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream {
            inner: Arc::new(IoSource::new(s, crate::runtime::driver_handle())?),
        })
    }

    /// The std stream of the same connection, deregistered from the reactor, still in
    /// non-blocking mode (a new descriptor: this one is closed; `Err` only if the process has
    /// no descriptor left).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// let std_c = c.into_std()?;
    /// assert_eq!(std_c.peer_addr()?, l.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        use std::os::fd::AsFd;
        Ok(super::sockopt::dup(self.inner.get_ref().as_fd())?.into())
    }

    /// [`connect`](Self::connect) with a time limit on the whole of it (name lookup included),
    /// as Go's `DialTimeout`; past it, an `ErrorKind::TimedOut` error naming the address.
    ///
    /// ```
    /// use gorun::time::Duration;
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect_timeout(l.local_addr()?, Duration::from_secs(5)).await?;
    /// # drop(c); std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn connect_timeout(
        addr: impl ToSocketAddrs,
        timeout: std::time::Duration,
    ) -> io::Result<TcpStream> {
        let display = addr.to_addrs().display;
        match crate::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(r) => r,
            Err(_) => Err(annotate(
                io::Error::new(io::ErrorKind::TimedOut, "i/o timeout"),
                "connect",
                &display,
            )),
        }
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
        let connect = async move {
            let mut last = None;
            for a in resolve(kind).await? {
                match connect_nonblocking(a).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(no_addresses))
        };
        connect.await.map_err(|e| annotate(e, "connect", &display))
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

    /// Turns TCP keep-alive on with probes every `period` (whole seconds, at least 1; it is
    /// also the idle time before the first probe, as Go's `SetKeepAlivePeriod`), or off with
    /// `None`.
    ///
    /// ```
    /// use gorun::time::Duration;
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.set_keepalive(Some(Duration::from_secs(30)))?;
    /// assert_eq!(c.keepalive()?, Some(Duration::from_secs(30)));
    /// c.set_keepalive(None)?;
    /// assert_eq!(c.keepalive()?, None);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_keepalive(&self, period: Option<std::time::Duration>) -> io::Result<()> {
        use std::os::fd::AsFd;
        super::sockopt::set_keepalive(self.inner.get_ref().as_fd(), period)
    }

    /// The keep-alive period if keep-alive is on (the idle time before the first probe).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert_eq!(c.keepalive()?, None, "off by default");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn keepalive(&self) -> io::Result<Option<std::time::Duration>> {
        use std::os::fd::AsFd;
        super::sockopt::keepalive(self.inner.get_ref().as_fd())
    }

    /// Sets the IP time-to-live of this connection's packets (`IP_TTL`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// c.set_ttl(17)?;
    /// assert_eq!(c.ttl()?, 17);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// The `IP_TTL` option.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let l = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let c = gorun::net::TcpStream::connect(l.local_addr()?).await?;
    /// assert!(c.ttl()? > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get_ref().ttl()
    }
}

fd_impls!(TcpStream, inner);

stream_impls!(
    TcpStream,
    ReadHalf,
    WriteHalf,
    std::net::TcpStream,
    "let l = gorun::net::TcpListener::bind(\"127.0.0.1:0\").await?;\n\
     let a = gorun::net::TcpStream::connect(l.local_addr()?).await?;\n\
     let (b, _) = l.accept().await?;"
);

/// Connects to `addr` without blocking a thread: a non-blocking socket, `connect` (which
/// answers `EINPROGRESS`), then a wait on the reactor until the socket is writable, which it
/// becomes when the handshake succeeded or failed; `SO_ERROR` says which.
async fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket just created and owned by nobody else; the std stream takes
    // ownership and closes it when dropped (also on every early return below).
    let std_stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let (storage, len) = sockaddr_of(addr);
    // SAFETY: `storage` holds a valid `sockaddr_in`/`sockaddr_in6` of `len` bytes for the
    // socket's address family, and `fd` is open (owned by `std_stream`).
    let r = unsafe {
        libc::connect(
            fd,
            (&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
            len,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    let stream = TcpStream {
        inner: Arc::new(IoSource::new(std_stream, crate::runtime::driver_handle())?),
    };
    stream
        .inner
        .io(crate::reactor::Direction::Write, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                // Still connecting: wait for the next writability edge.
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(stream)
}

/// `addr` as a C socket address and its length.
fn sockaddr_of(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid `sockaddr_storage` (plain integers and arrays).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: `sockaddr_storage` is larger than and aligned for `sockaddr_in`.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: `sockaddr_storage` is larger than and aligned for `sockaddr_in6`.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

// The registered socket, for the hyper/tokio trait impls (`net::compat`).
#[cfg(any(feature = "hyper", feature = "tokio"))]
impl TcpStream {
    pub(crate) fn source(&self) -> &crate::reactor::IoSource<std::net::TcpStream> {
        &self.inner
    }
}
#[cfg(any(feature = "hyper", feature = "tokio"))]
impl ReadHalf {
    pub(crate) fn source(&self) -> &crate::reactor::IoSource<std::net::TcpStream> {
        &self.inner
    }
}
