//! `gorun::net`: TCP, UDP and Unix sockets on the runtime's one reactor.
//!
//! Every socket is a std socket in non-blocking mode, registered (edge-triggered) with the
//! reactor of the runtime it was created on, or the global runtime's outside any runtime. An
//! operation tries the system call; on `WouldBlock` its goroutine waits for the reactor to
//! report readiness, as Go's netpoller does. Host names are resolved on the blocking pool.
//! Errors are `io::Error`s that keep their `ErrorKind` and name the address:
//! `connect 127.0.0.1:1: Connection refused`.
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
mod stream;
pub mod tcp;
mod udp;
pub mod unix;

pub use addr::ToSocketAddrs;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
