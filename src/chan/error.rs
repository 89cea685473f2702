//! The errors of channel operations. Each one gives the unsent value back, so nothing is lost,
//! and each implements `Debug`, `Display` and `Error` whatever `T` is (the value is not printed).

use std::fmt;

/// `send` failed because the channel is closed; holds the value that was not sent.
///
/// Go panics on a send to a closed channel; gorun returns the value instead.
///
/// ```
/// use gorun::chan::{chan, SendError};
/// let c = chan::<i32>(1);
/// c.close();
/// let err = futures::executor::block_on(c.send(7)).unwrap_err();
/// assert_eq!(err, SendError(7));
/// assert_eq!(err.to_string(), "send on closed channel");
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let c = gorun::chan::chan::<String>(0);
    /// c.close();
    /// let e = futures::executor::block_on(c.send("hi".into())).unwrap_err();
    /// assert_eq!(e.into_inner(), "hi");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send on closed channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why `try_send` did not send; holds the value that was not sent.
///
/// ```
/// use gorun::chan::{chan, TrySendError};
/// let c = chan::<i32>(1);
/// assert!(c.try_send(1).is_ok());
/// assert_eq!(c.try_send(2), Err(TrySendError::Full(2)));
/// c.close();
/// assert_eq!(c.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full, or on an unbuffered channel no receiver is waiting.
    Full(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let c = gorun::chan::chan::<i32>(0);
    /// assert_eq!(c.try_send(5).unwrap_err().into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the send failed because the channel was full (or had no waiting receiver).
    ///
    /// ```
    /// let c = gorun::chan::chan::<i32>(0);
    /// assert!(c.try_send(5).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the send failed because the channel was closed.
    ///
    /// ```
    /// let c = gorun::chan::chan::<i32>(0);
    /// c.close();
    /// assert!(c.try_send(5).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full: no room and no waiting receiver"),
            TrySendError::Closed(_) => f.write_str("send on closed channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}

/// Why `try_recv` returned no value.
///
/// ```
/// use gorun::chan::{chan, TryRecvError};
/// let c = chan::<i32>(1);
/// assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
/// c.close();
/// assert_eq!(c.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing to receive now (no buffered value, no waiting sender).
    Empty,
    /// The channel is closed and drained.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receive on empty channel"),
            TryRecvError::Closed => f.write_str("receive on closed and drained channel"),
        }
    }
}

impl std::error::Error for TryRecvError {}
