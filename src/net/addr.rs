//! Address arguments of `gorun::net` and the error messages that name them.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What can be turned into socket addresses: `SocketAddr` and friends, `(ip, port)`,
/// `(host, port)` and `"host:port"` strings. Like `std::net::ToSocketAddrs`, except that host
/// names are resolved on the runtime's blocking pool, never on a worker.
///
/// Sealed: the resolution machinery is private.
///
/// ```
/// fn takes<A: gorun::net::ToSocketAddrs>(_: A) {}
/// takes("127.0.0.1:80");
/// takes(("localhost", 80));
/// takes(std::net::SocketAddr::from(([127, 0, 0, 1], 80)));
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use std::net::SocketAddr;

    /// The addresses, or the name to look up on the blocking pool.
    pub enum Kind {
        Ready(Vec<SocketAddr>),
        Lookup(String),
        HostPort(String, u16),
    }

    /// A resolved-or-not address with its text for error messages.
    pub struct Addrs {
        pub(crate) display: String,
        pub(crate) kind: Kind,
    }

    pub trait Sealed {
        #[doc(hidden)]
        fn to_addrs(&self) -> Addrs;
    }
}

use sealed::{Addrs, Kind};

fn ready(a: SocketAddr) -> Addrs {
    Addrs {
        display: a.to_string(),
        kind: Kind::Ready(vec![a]),
    }
}

macro_rules! direct {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl sealed::Sealed for $t {
            fn to_addrs(&self) -> Addrs {
                ready(SocketAddr::from(*self))
            }
        }
    )*};
}

direct!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
    ([u8; 4], u16)
);

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn to_addrs(&self) -> Addrs {
        match self.parse::<SocketAddr>() {
            Ok(a) => ready(a),
            Err(_) => Addrs {
                display: self.to_owned(),
                kind: Kind::Lookup(self.to_owned()),
            },
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn to_addrs(&self) -> Addrs {
        self.as_str().to_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn to_addrs(&self) -> Addrs {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => ready(SocketAddr::new(ip, port)),
            Err(_) => Addrs {
                display: format!("{host}:{port}"),
                kind: Kind::HostPort(host.to_owned(), port),
            },
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn to_addrs(&self) -> Addrs {
        (self.0.as_str(), self.1).to_addrs()
    }
}

impl ToSocketAddrs for &[SocketAddr] {}
impl sealed::Sealed for &[SocketAddr] {
    fn to_addrs(&self) -> Addrs {
        Addrs {
            display: match self.first() {
                Some(a) => a.to_string(),
                None => "[]".to_owned(),
            },
            kind: Kind::Ready(self.to_vec()),
        }
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn to_addrs(&self) -> Addrs {
        (**self).to_addrs()
    }
}

impl Kind {
    /// Resolves on the current thread (call only on the blocking pool for lookups).
    pub(crate) fn resolve_blocking(self) -> io::Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs as _;
        match self {
            Kind::Ready(v) => Ok(v),
            Kind::Lookup(s) => Ok(s.to_socket_addrs()?.collect()),
            Kind::HostPort(h, p) => Ok((h.as_str(), p).to_socket_addrs()?.collect()),
        }
    }
}

/// Resolves `addrs`, looking names up on the blocking pool.
pub(crate) async fn resolve(kind: Kind) -> io::Result<Vec<SocketAddr>> {
    match kind {
        Kind::Ready(v) => Ok(v),
        kind => blocking(move || kind.resolve_blocking()).await,
    }
}

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> io::Result<R> + Send + 'static,
) -> io::Result<R> {
    match crate::go_blocking(f).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::other(
            "the blocking-pool task failed or was cancelled",
        )),
    }
}

/// The error of a `gorun::net` operation, as Go's `net.OpError`: what was done (`op`), to or on
/// what address, and the operating system's error, kept whole.
///
/// Every `io::Error` a socket returns carries one of these as its payload, with the kind of the
/// OS error, so the message names the address (`connect 127.0.0.1:1: Connection refused`),
/// `kind()` is the OS error's, and the OS error itself is reachable three ways: [`raw_os_error`],
/// [`OpError::raw_os_error`] after `get_ref()` + `downcast_ref`, or the error's `source()` (an
/// `io::Error`), as error-chain walkers find it. `io::Error::raw_os_error()` of the outer error
/// is `None`: std keeps an OS code only in errors without a message.
///
/// ```
/// use gorun::net::{OpError, TcpStream};
/// # futures::executor::block_on(async {
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// drop(l); // nobody listens there now
/// let e = TcpStream::connect(addr).await.unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(gorun::net::raw_os_error(&e), Some(libc::ECONNREFUSED));
/// let op = e.get_ref().unwrap().downcast_ref::<OpError>().unwrap();
/// assert_eq!((op.op(), op.addr()), ("connect", addr.to_string().as_str()));
/// # });
/// ```
#[derive(Debug)]
pub struct OpError {
    op: &'static str,
    addr: String,
    err: io::Error,
}

impl OpError {
    /// The operation: `connect`, `bind`, `accept`, `read`, `write`, `send_to`, ...
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let e = gorun::net::UnixStream::connect("/nonexistent/x.sock").await.unwrap_err();
    /// let op = e.get_ref().unwrap().downcast_ref::<gorun::net::OpError>().unwrap();
    /// assert_eq!(op.op(), "connect");
    /// # });
    /// ```
    pub fn op(&self) -> &str {
        self.op
    }

    /// The address the operation was on (`127.0.0.1:80`, a path, or for a connection
    /// `local->peer`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let e = gorun::net::UnixStream::connect("/nonexistent/x.sock").await.unwrap_err();
    /// let op = e.get_ref().unwrap().downcast_ref::<gorun::net::OpError>().unwrap();
    /// assert_eq!(op.addr(), "/nonexistent/x.sock");
    /// # });
    /// ```
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The operating system's error, unchanged.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let e = gorun::net::UnixStream::connect("/nonexistent/x.sock").await.unwrap_err();
    /// let op = e.get_ref().unwrap().downcast_ref::<gorun::net::OpError>().unwrap();
    /// assert_eq!(op.error().raw_os_error(), Some(libc::ENOENT));
    /// # });
    /// ```
    pub fn error(&self) -> &io::Error {
        &self.err
    }

    /// The OS error code, if the error came from the OS.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let e = gorun::net::UnixStream::connect("/nonexistent/x.sock").await.unwrap_err();
    /// let op = e.get_ref().unwrap().downcast_ref::<gorun::net::OpError>().unwrap();
    /// assert_eq!(op.raw_os_error(), Some(libc::ENOENT));
    /// # });
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        self.err.raw_os_error()
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let msg = self.err.to_string();
        let msg = match msg.rfind(" (os error ") {
            Some(i) => &msg[..i],
            None => &msg[..],
        };
        write!(f, "{} {}: {msg}", self.op, self.addr)
    }
}

impl std::error::Error for OpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

/// The OS error code of `e`, looking inside the [`OpError`] every `gorun::net` error carries
/// (`e.raw_os_error()` itself is `None` for those).
///
/// ```
/// # futures::executor::block_on(async {
/// let a = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
/// let e = gorun::net::TcpListener::bind(a.local_addr()?).await.unwrap_err();
/// assert_eq!(gorun::net::raw_os_error(&e), Some(libc::EADDRINUSE));
/// assert_eq!(gorun::net::raw_os_error(&std::io::Error::from_raw_os_error(5)), Some(5));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub fn raw_os_error(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|p| p.downcast_ref::<OpError>())
            .and_then(OpError::raw_os_error)
    })
}

/// The error `e` of operation `op` on a connection, naming it `local->peer` (the peer omitted
/// if no longer known, `?` if neither is).
pub(crate) fn annotate_conn<A: std::fmt::Display>(
    e: io::Error,
    op: &'static str,
    local: io::Result<A>,
    peer: io::Result<A>,
) -> io::Error {
    match (local, peer) {
        (Ok(l), Ok(p)) => annotate(e, op, &format_args!("{l}->{p}")),
        (Ok(l), Err(_)) => annotate(e, op, &l),
        _ => annotate(e, op, &"?"),
    }
}

/// `accept`, retried while it fails with a connection aborted before it was accepted
/// (`ECONNABORTED`), as Go does.
pub(crate) fn accept_retrying<T>(mut accept: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match accept() {
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
            r => return r,
        }
    }
}

/// `e` wrapped in an [`OpError`] naming `op` and `addr` (`connect 127.0.0.1:1: Connection
/// refused`), keeping its kind and the OS error. An error that already is one stays as it is.
pub(crate) fn annotate(e: io::Error, op: &'static str, addr: &dyn std::fmt::Display) -> io::Error {
    if e.get_ref().is_some_and(|p| p.is::<OpError>()) {
        return e;
    }
    io::Error::new(
        e.kind(),
        OpError {
            op,
            addr: addr.to_string(),
            err: e,
        },
    )
}

/// The error for an address list that resolved to nothing.
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "no addresses to use")
}

/// Tries `f` on each address in turn; the first success, or the last error.
pub(crate) fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::sealed::Sealed;
    use super::*;

    #[test]
    fn literal_addresses_need_no_lookup() {
        assert!(matches!("127.0.0.1:80".to_addrs().kind, Kind::Ready(_)));
        assert!(matches!(("::1", 80).to_addrs().kind, Kind::Ready(_)));
        assert!(matches!("localhost:80".to_addrs().kind, Kind::Lookup(_)));
    }

    #[test]
    fn annotate_keeps_kind_and_names_address() {
        let e = io::Error::from_raw_os_error(111);
        let kind = e.kind();
        let a = annotate(e, "connect", &"127.0.0.1:1");
        assert_eq!(a.kind(), kind);
        assert!(a.to_string().starts_with("connect 127.0.0.1:1: "), "{a}");
        assert!(!a.to_string().contains("os error"), "{a}");
    }

    #[test]
    fn annotate_keeps_the_os_error() {
        let a = annotate(
            io::Error::from_raw_os_error(libc::ECONNREFUSED),
            "connect",
            &"127.0.0.1:1",
        );
        assert_eq!(raw_os_error(&a), Some(libc::ECONNREFUSED));
        let src = std::error::Error::source(&a).expect("the OS error is the source");
        let os = src.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(os.raw_os_error(), Some(libc::ECONNREFUSED));
        // Annotating twice keeps the first address.
        let b = annotate(a, "read", &"elsewhere");
        assert!(b.to_string().starts_with("connect 127.0.0.1:1: "), "{b}");
    }
}
