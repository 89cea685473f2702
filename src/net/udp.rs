//! UDP: [`UdpSocket`] on the runtime's reactor.

use std::io;
use std::net::SocketAddr;

use super::addr::{annotate, each_addr, resolve, ToSocketAddrs};
use crate::reactor::{Direction, IoSource};

/// A UDP socket (Go's `net.ListenUDP` / `net.DialUDP`). All methods take `&self`; several
/// goroutines may send and receive on one socket at once.
///
/// ```
/// use gorun::net::UdpSocket;
/// # futures::executor::block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"hello", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: IoSource<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`. Errors name the address.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let s = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_ne!(s.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let a = addr.to_addrs();
        let display = a.display;
        let addrs = resolve(a.kind)
            .await
            .map_err(|e| annotate(e, "bind", &display))?;
        let s = each_addr(addrs, std::net::UdpSocket::bind)
            .map_err(|e| annotate(e, "bind", &display))?;
        s.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(s, crate::runtime::driver_handle())?,
        })
    }

    /// Sets the default peer: [`send`](Self::send) goes there and only its datagrams are
    /// received.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let a = addr.to_addrs();
        let display = a.display;
        let addrs = resolve(a.kind)
            .await
            .map_err(|e| annotate(e, "connect", &display))?;
        each_addr(addrs, |a| self.io.get_ref().connect(a))
            .map_err(|e| annotate(e, "connect", &display))
    }

    /// Sends one datagram to `target`; returns the bytes sent.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_eq!(a.send_to(b"x", a.local_addr()?).await?, 1);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let a = target.to_addrs();
        let display = a.display;
        let addrs = resolve(a.kind)
            .await
            .map_err(|e| annotate(e, "send_to", &display))?;
        let to = *addrs.first().ok_or_else(super::addr::no_addresses)?;
        self.io
            .io(Direction::Write, |s| s.send_to(buf, to))
            .await
            .map_err(|e| annotate(e, "send_to", &display))
    }

    /// Receives one datagram; returns its length and sender.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"me", a.local_addr()?).await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(a.recv_from(&mut buf).await?, (2, a.local_addr()?));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io(Direction::Read, |s| s.recv_from(buf))
            .await
            .map_err(|e| self.error(e, "recv_from"))
    }

    /// `e` naming this socket (`local->peer` if connected).
    fn error(&self, e: io::Error, op: &'static str) -> io::Error {
        let s = self.io.get_ref();
        match (s.local_addr(), s.peer_addr()) {
            (Ok(l), Ok(p)) => annotate(e, op, &format_args!("{l}->{p}")),
            (Ok(l), Err(_)) => annotate(e, op, &l),
            _ => annotate(e, op, &"?"),
        }
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?;
    /// a.send(b"loop").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(a.recv(&mut buf).await?, 4);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .io(Direction::Write, |s| s.send(buf))
            .await
            .map_err(|e| self.error(e, "send"))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?;
    /// a.send(b"1").await?;
    /// let mut buf = [0; 1];
    /// a.recv(&mut buf).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .io(Direction::Read, |s| s.recv(buf))
            .await
            .map_err(|e| self.error(e, "recv"))
    }

    /// The local address.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let a = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.peer_addr().is_err(), "not connected");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Registers a std socket with the current runtime's reactor (switching it to
    /// non-blocking mode).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let s = gorun::net::UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
    /// s.send_to(b"x", s.local_addr()?).await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(s, crate::runtime::driver_handle())?,
        })
    }

    /// The std socket, deregistered from the reactor, still in non-blocking mode (a new
    /// descriptor: this one is closed).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let s = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let addr = s.local_addr()?;
    /// assert_eq!(s.into_std()?.local_addr()?, addr);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        use std::os::fd::AsFd;
        Ok(super::sockopt::dup(self.io.get_ref().as_fd())?.into())
    }

    /// Sets the IP time-to-live of the datagrams sent (`IP_TTL`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let s = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// s.set_ttl(9)?;
    /// assert_eq!(s.ttl()?, 9);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The `IP_TTL` option.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let s = gorun::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(s.ttl()? > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }
}

fd_impls!(UdpSocket, io);
