//! `gorun::net`: TCP, UDP and Unix sockets on the runtime's one reactor.
//!
//! Every socket is a std socket in non-blocking mode, registered (edge-triggered) with the
//! reactor of the runtime it was created on, or the global runtime's outside any runtime. An
//! operation tries the system call; on `WouldBlock` its goroutine waits for the reactor to
//! report readiness, as Go's netpoller does. Host names are resolved on the blocking pool.
//!
//! # Errors
//!
//! Every error is an `io::Error` whose payload is an [`OpError`] (Go's `net.OpError`): the
//! message names the operation and address (`connect 127.0.0.1:1: Connection refused`,
//! `accept 127.0.0.1:80: ...`, `read 127.0.0.1:80->127.0.0.1:5000: Connection reset by peer`),
//! `kind()` is the OS error's, and the OS error itself is kept whole: [`raw_os_error`] (or
//! `OpError::raw_os_error`, or the error's `source()`, an `io::Error`) gives its code.
//! `io::Error::raw_os_error()` on the outer error is `None`, because std keeps the code only in
//! errors without a message; we chose naming the address, as Go does, over that one accessor.
//!
//! # Accept loops
//!
//! `accept` retries a connection aborted before it was accepted (`ECONNABORTED`) itself, as Go
//! does, and returns every other error. Out of descriptors (`EMFILE`), the pending connection
//! stays queued and the listener stays ready, so a loop that retries at once spins on a core:
//! back off as Go's `http.Server` does, 5 ms doubling up to 1 s, reset by a success.
//!
//! ```no_run
//! use gorun::time::{sleep, Duration};
//! # async fn serve(l: gorun::net::TcpListener) {
//! let mut backoff = Duration::ZERO;
//! loop {
//!     let conn = match l.accept().await {
//!         Ok((conn, _)) => {
//!             backoff = Duration::ZERO;
//!             conn
//!         }
//!         Err(e) => {
//!             backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
//!             eprintln!("{e}; retrying in {backoff:?}");
//!             sleep(backoff).await;
//!             continue;
//!         }
//!     };
//!     gorun::go(async move { drop(conn) });
//! }
//! # }
//! ```
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use gorun::net::{TcpListener, TcpStream};
//! # futures::executor::block_on(async {
//! let l = TcpListener::bind("127.0.0.1:0").await?;
//! let mut c = TcpStream::connect(l.local_addr()?).await?;
//! let (mut s, _) = l.accept().await?;
//! s.write_all(b"hello").await?;
//! let mut buf = [0; 5];
//! c.read_exact(&mut buf).await?;
//! # std::io::Result::Ok(()) }).unwrap();
//! ```

mod addr;
#[cfg(any(feature = "hyper", feature = "tokio"))]
mod compat;
#[cfg(feature = "hyper")]
mod compat_hyper;
#[cfg(feature = "tokio")]
mod compat_tokio;
#[macro_use]
mod sockopt;
#[macro_use]
mod stream;
pub mod tcp;
mod udp;
pub mod unix;

pub use addr::{raw_os_error, OpError, ToSocketAddrs};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
