//! hyper 1.x on gorun (cargo feature `hyper`): [`GorunExecutor`] and [`GorunTimer`], named
//! after hyper-util's `TokioExecutor`/`TokioTimer`, and `hyper::rt::Read`/`Write` on
//! [`TcpStream`](crate::net::TcpStream), [`UnixStream`](crate::net::UnixStream) and their
//! split halves. A server is a goroutine per connection, as with Go's `net/http`:
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::{server::conn::http1, service::service_fn, Request, Response};
//! use std::convert::Infallible;
//!
//! # gorun::block_on(async {
//! let listener = gorun::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! gorun::go(async move {
//!     loop {
//!         let Ok((stream, _)) = listener.accept().await else { return };
//!         gorun::go(async move {
//!             let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
//!                 Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!             });
//!             let _ = http1::Builder::new()
//!                 .timer(gorun::hyper::GorunTimer::new())
//!                 .serve_connection(stream, hello)
//!                 .await;
//!         });
//!     }
//! });
//!
//! // The client side, on gorun too.
//! let stream = gorun::net::TcpStream::connect(addr).await?;
//! let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
//! gorun::go(conn);
//! let req = Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new()).unwrap();
//! let res = sender.send_request(req).await.unwrap();
//! let body = res.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "hello");
//! # std::io::Result::Ok(()) }).unwrap();
//! ```

use crate::time::Sleep;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Runs hyper's background tasks (HTTP/2 connection drivers, a pooled client's connections)
/// as goroutines: `hyper::rt::Executor` by [`go`](crate::go), on the current runtime (or the
/// global one).
///
/// ```
/// use hyper::rt::Executor;
/// let exec = gorun::hyper::GorunExecutor::new();
/// let done = gorun::chan::chan::<u8>(1);
/// let tx = done.clone();
/// exec.execute(async move { tx.send(1).await.unwrap() });
/// assert_eq!(done.recv_blocking(), Some(1));
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct GorunExecutor {}

impl GorunExecutor {
    /// The executor (it holds nothing: each `execute` is a `go`).
    pub fn new() -> GorunExecutor {
        GorunExecutor {}
    }
}

impl<F> hyper::rt::Executor<F> for GorunExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        drop(crate::go(fut));
    }
}

/// hyper's timers (header-read timeouts, keep-alive, pool idle) on gorun's timer wheel.
///
/// ```
/// use hyper::rt::Timer;
/// use std::time::Duration;
/// let timer = gorun::hyper::GorunTimer::new();
/// gorun::block_on(async {
///     timer.sleep(Duration::from_millis(1)).await;
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct GorunTimer {}

impl GorunTimer {
    /// The timer (it holds nothing: each sleep is a [`gorun::time::Sleep`](crate::time::Sleep)).
    pub fn new() -> GorunTimer {
        GorunTimer {}
    }
}

/// A gorun `Sleep` as a `hyper::rt::Sleep`.
struct GorunSleep(Sleep);

impl Future for GorunSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for GorunSleep {}

impl hyper::rt::Timer for GorunTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GorunSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GorunSleep(crate::time::sleep_until(deadline)))
    }

    /// Moves the deadline of a sleep made here in place (no new allocation).
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<GorunSleep>() {
            Some(mut s) => s.0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
