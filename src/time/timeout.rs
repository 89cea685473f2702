//! [`timeout`]: bound the time a future may take.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::sleep::{sleep, Sleep};

/// The error of a [`timeout`] whose time ran out.
///
/// ```
/// use gorun::time::{timeout, Duration, Elapsed};
/// let r: Result<(), Elapsed> = futures::executor::block_on(
///     timeout(Duration::from_millis(5), std::future::pending()),
/// );
/// assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`].
    ///
    /// ```
    /// use gorun::time::{timeout, Duration};
    /// let t = timeout(Duration::from_secs(1), async { 7 });
    /// assert_eq!(futures::executor::block_on(t), Ok(7));
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

/// Runs `fut` for at most `d`: `Ok(output)` if it finished in time, `Err(Elapsed)` otherwise
/// (the future is then dropped). Like Go's `context.WithTimeout` for one call.
///
/// ```
/// use gorun::time::{sleep, timeout, Duration};
/// futures::executor::block_on(async {
///     assert_eq!(timeout(Duration::from_secs(5), async { 1 }).await, Ok(1));
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60)));
///     assert!(slow.await.is_err());
/// });
/// ```
pub fn timeout<F: IntoFuture>(d: Duration, fut: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: fut.into_future(),
        sleep: sleep(d),
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}
