//! Unix domain sockets: [`UnixListener`] and [`UnixStream`] on the runtime's reactor.
//!
//! Addresses are socket files or, on Linux, names in the abstract namespace: a path whose first
//! byte is NUL (`"\0name"`, shown as `@name` in errors, as Go does) or a
//! `std::os::unix::net::SocketAddr`. `connect` never blocks a thread: a non-blocking `AF_UNIX`
//! connect completes at once or fails at once; on a listener whose backlog is full it fails
//! with `EAGAIN` (`ErrorKind::WouldBlock`), as in Go and tokio. A listener removes the socket
//! file it created when dropped (as Go's `Close` does), unless the file was replaced since.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::ready;

use super::addr::{accept_retrying, annotate, annotate_conn};
use crate::reactor::IoSource;

/// The socket address `path` names: an abstract name if its first byte is NUL.
fn addr_of_path(path: &Path) -> io::Result<SocketAddr> {
    match path.as_os_str().as_bytes() {
        [0, name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(path),
    }
}

/// How an address is shown in errors: its path, `@name` for an abstract one, or `(unnamed)`.
fn display(a: &SocketAddr) -> String {
    if let Some(p) = a.as_pathname() {
        p.display().to_string()
    } else if let Some(n) = a.as_abstract_name() {
        format!("@{}", String::from_utf8_lossy(n))
    } else {
        "(unnamed)".to_owned()
    }
}

/// How `path` is shown in errors.
fn display_path(path: &Path) -> String {
    match path.as_os_str().as_bytes() {
        [0, name @ ..] => format!("@{}", String::from_utf8_lossy(name)),
        _ => path.display().to_string(),
    }
}

/// `a` as a C `sockaddr_un` and its length.
fn sockaddr_un_of(a: &SocketAddr) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: all-zero bytes are a valid `sockaddr_un` (an integer and a byte array).
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let (bytes, lead): (&[u8], usize) = if let Some(p) = a.as_pathname() {
        (p.as_os_str().as_bytes(), 0)
    } else if let Some(n) = a.as_abstract_name() {
        (n, 1)
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot connect to an unnamed Unix socket address",
        ));
    };
    // std's `SocketAddr` already checked the length (a path leaves room for its NUL).
    for (d, s) in sun.sun_path[lead..].iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let len = base + lead + bytes.len() + if lead == 0 { 1 } else { 0 };
    Ok((sun, len as libc::socklen_t))
}

/// The socket file a listener created and must remove when dropped: its path and identity
/// (device and inode), so that a file put there by someone else since is left alone.
#[derive(Debug)]
struct OwnedPath {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl OwnedPath {
    fn of(a: &SocketAddr) -> Option<OwnedPath> {
        use std::os::unix::fs::MetadataExt;
        let path = a.as_pathname()?;
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(OwnedPath {
            path: path.to_owned(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    fn remove(self) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

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
    /// The socket file `bind` created, removed on drop.
    owned: Option<OwnedPath>,
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        if let Some(p) = self.owned.take() {
            p.remove();
        }
    }
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist), or to an abstract name if `path`
    /// starts with a NUL byte (`"\0name"`). Binding never waits, so this is not `async`. Errors
    /// name the path. Dropping the listener removes the file it created.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gorun-doc-b{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::bind(&path).unwrap();
    /// assert!(gorun::net::UnixListener::bind(&path).is_err(), "in use");
    /// drop(l);
    /// assert!(!path.exists(), "removed on drop");
    /// let l = gorun::net::UnixListener::bind("\0gorun-doc-abstract").unwrap();
    /// assert!(l.local_addr().unwrap().as_pathname().is_none());
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let addr = addr_of_path(path).map_err(|e| annotate(e, "bind", &display_path(path)))?;
        UnixListener::bind_addr(&addr)
    }

    /// Binds to `addr`: a path or, with `std::os::linux::net::SocketAddrExt`, an abstract name.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// let addr = std::os::unix::net::SocketAddr::from_abstract_name(b"gorun-doc-addr").unwrap();
    /// let l = gorun::net::UnixListener::bind_addr(&addr).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_abstract_name(), Some(&b"gorun-doc-addr"[..]));
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let l = std::os::unix::net::UnixListener::bind_addr(addr)
            .map_err(|e| annotate(e, "bind", &display(addr)))?;
        let owned = OwnedPath::of(addr);
        let mut l = UnixListener::from_std(l)?;
        l.owned = owned;
        Ok(l)
    }

    /// Registers a std listener with the current runtime's reactor (switching it to
    /// non-blocking mode). Its socket file is not removed on drop (gorun did not create it).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gorun-doc-f{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = gorun::net::UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?)?;
    /// # drop(l); std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(l, crate::runtime::driver_handle())?,
            owned: None,
        })
    }

    /// The std listener of the same socket, deregistered from the reactor, still in
    /// non-blocking mode (a new descriptor; the socket file is then left for the caller).
    ///
    /// ```
    /// let l = gorun::net::UnixListener::bind("\0gorun-doc-into-std")?;
    /// let std_l = l.into_std()?;
    /// # drop(std_l);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_std(mut self) -> io::Result<std::os::unix::net::UnixListener> {
        use std::os::fd::AsFd;
        let fd = super::sockopt::dup(self.io.get_ref().as_fd())?;
        self.owned = None;
        Ok(fd.into())
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
        let (s, a) = ready!(self.io.poll_io(cx, crate::reactor::Direction::Read, |l| {
            accept_retrying(|| l.accept())
        }))
        .map_err(|e| self.accept_error(e))?;
        std::task::Poll::Ready(
            UnixStream::from_std(s)
                .map(|s| (s, a))
                .map_err(|e| self.accept_error(e)),
        )
    }

    fn accept_error(&self, e: io::Error) -> io::Error {
        match self.local_addr() {
            Ok(a) => annotate(e, "accept", &display(&a)),
            Err(_) => annotate(e, "accept", &"?"),
        }
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

fd_impls!(UnixListener, io);

/// The error `e` of operation `op` on connection `s`, naming its local and peer addresses.
fn conn_error(e: io::Error, op: &'static str, s: &std::os::unix::net::UnixStream) -> io::Error {
    let local = s.local_addr().map(|a| display(&a));
    let peer = s.peer_addr().map(|a| display(&a));
    annotate_conn(e, op, local, peer)
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
    /// Registers a connected std stream with the current runtime's reactor (switching it to
    /// non-blocking mode).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = gorun::net::UnixStream::from_std(a)?;
    /// # drop(a);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(s: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        Ok(UnixStream {
            inner: Arc::new(IoSource::new(s, crate::runtime::driver_handle())?),
        })
    }

    /// The std stream of the same connection, deregistered from the reactor, still in
    /// non-blocking mode (a new descriptor: this one is closed).
    ///
    /// ```
    /// let (a, _b) = gorun::net::UnixStream::pair()?;
    /// let a: std::os::unix::net::UnixStream = a.into_std()?;
    /// # drop(a);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        use std::os::fd::AsFd;
        Ok(super::sockopt::dup(self.inner.get_ref().as_fd())?.into())
    }

    /// Connects to the socket at `path`, or to an abstract name if `path` starts with a NUL
    /// byte. Never blocks a thread: on a listener whose backlog is full it fails at once with
    /// `EAGAIN` (`ErrorKind::WouldBlock`), as Go does. Errors name the path.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let e = gorun::net::UnixStream::connect("/nonexistent/gorun.sock").await.unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    /// assert!(e.to_string().starts_with("connect /nonexistent/gorun.sock: "));
    /// # });
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let addr = addr_of_path(path).map_err(|e| annotate(e, "connect", &display_path(path)))?;
        UnixStream::connect_addr(&addr).await
    }

    /// Connects to `addr`: a path or, with `std::os::linux::net::SocketAddrExt`, an abstract
    /// name.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// # futures::executor::block_on(async {
    /// let addr = std::os::unix::net::SocketAddr::from_abstract_name(b"gorun-doc-c")?;
    /// let l = gorun::net::UnixListener::bind_addr(&addr)?;
    /// let _c = gorun::net::UnixStream::connect_addr(&addr).await?;
    /// l.accept().await?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        connect_nonblocking(addr)
            .await
            .map_err(|e| annotate(e, "connect", &display(addr)))
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

fd_impls!(UnixStream, inner);

/// Connects a new non-blocking `AF_UNIX` stream socket to `addr`. Linux completes or refuses
/// such a connect at once (`EAGAIN` when the listener's backlog is full); `EINPROGRESS` is
/// handled anyway, as for TCP, by waiting for writability and reading `SO_ERROR`.
async fn connect_nonblocking(addr: &SocketAddr) -> io::Result<UnixStream> {
    use std::os::fd::FromRawFd;
    let (sun, len) = sockaddr_un_of(addr)?;
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket just created and owned by nobody else; the std stream takes
    // ownership and closes it when dropped (also on every early return below).
    let std_stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    // SAFETY: `sun` is a valid `sockaddr_un` whose first `len` bytes are the address, and
    // `fd` is open (owned by `std_stream`).
    let r = unsafe {
        libc::connect(
            fd,
            (&sun as *const libc::sockaddr_un).cast::<libc::sockaddr>(),
            len,
        )
    };
    let in_progress = if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        true
    } else {
        false
    };
    let stream = UnixStream {
        inner: Arc::new(IoSource::new(std_stream, crate::runtime::driver_handle())?),
    };
    if in_progress {
        stream
            .inner
            .io(crate::reactor::Direction::Write, |s| {
                match s.take_error()? {
                    Some(e) => Err(e),
                    None => match s.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    },
                }
            })
            .await?;
    }
    Ok(stream)
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
