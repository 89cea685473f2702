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

/// `e` with `op addr: ` in front of its message (`connect 127.0.0.1:1: Connection refused`),
/// keeping its kind.
pub(crate) fn annotate(e: io::Error, op: &str, addr: &dyn std::fmt::Display) -> io::Error {
    let msg = e.to_string();
    let msg = match msg.rfind(" (os error ") {
        Some(i) => &msg[..i],
        None => &msg[..],
    };
    io::Error::new(e.kind(), format!("{op} {addr}: {msg}"))
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
}
