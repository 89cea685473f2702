//! The user-facing handles: [`Chan`] (both directions), [`Sender`] and [`Receiver`].
//! Each is a reference-counted pointer to the one shared channel (`None` for the nil channel);
//! all the protocol lives in `chan.rs` and `state.rs`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Sink, Stream};

use super::chan::{block_here, Inner, RecvFuture, SendFuture};
use super::error::{SendError, TryRecvError, TrySendError};
use crate::loom::sync::Arc;

/// Makes a channel of capacity `cap`, as Go's `make(chan T, cap)`.
///
/// `cap == 0` is unbuffered: a send completes only when a receiver takes the value.
/// `cap > 0` is a FIFO buffer of that many values.
///
/// ```
/// use gorun::chan::chan;
/// let c = chan::<&str>(1);
/// futures::executor::block_on(async {
///     c.send("hello").await.unwrap();
///     assert_eq!(c.recv().await, Some("hello"));
/// });
/// ```
pub fn chan<T>(cap: usize) -> Chan<T> {
    Chan {
        inner: Some(Arc::new(Inner::new(cap))),
    }
}

/// A channel handle that can send, receive and close (Go's `chan T`). Clones are the same
/// channel. For `T: Send` it is `Send + Sync` and so are its futures.
///
/// ```
/// use gorun::chan::{chan, Chan};
/// let c: Chan<i32> = chan(0);
/// let c2 = c.clone();
/// let t = std::thread::spawn(move || c2.send_blocking(42).unwrap());
/// assert_eq!(c.recv_blocking(), Some(42));
/// t.join().unwrap();
/// ```
pub struct Chan<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// The send-only view of a channel (Go's `chan<- T`). Also a [`futures::Sink`].
///
/// ```
/// let c = gorun::chan::chan::<i32>(1);
/// let tx = c.sender();
/// tx.try_send(1).unwrap();
/// assert_eq!(c.try_recv(), Ok(1));
/// ```
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
    /// The `Sink` send in progress (only touched through `Pin<&mut Self>`).
    sink_key: HandleKey,
}

/// The receive-only view of a channel (Go's `<-chan T`). Also a [`futures::Stream`] that ends
/// when the channel is closed and drained.
///
/// ```
/// use futures::StreamExt;
/// let c = gorun::chan::chan::<i32>(3);
/// for i in 0..3 { c.try_send(i).unwrap(); }
/// c.close();
/// let v: Vec<i32> = futures::executor::block_on(c.receiver().collect());
/// assert_eq!(v, [0, 1, 2]);
/// ```
pub struct Receiver<T> {
    inner: Option<Arc<Inner<T>>>,
    /// The `Stream` receive in progress (only touched through `Pin<&mut Self>`).
    stream_key: HandleKey,
}

/// The waiter key a handle keeps between polls of its `Stream` or `Sink`, in 4 bytes:
/// `Option<usize>` would make every `Sender` and `Receiver` 24 bytes instead of 16 (a `Timer`
/// holds a `Receiver`). Keys are below `MAX_WAITERS` (`u32::MAX`), which stands for none.
#[derive(Clone, Copy)]
struct HandleKey(u32);

impl HandleKey {
    const NONE: HandleKey = HandleKey(u32::MAX);

    fn get(self) -> Option<usize> {
        (self.0 != u32::MAX).then_some(self.0 as usize)
    }

    fn is_none(self) -> bool {
        self.0 == u32::MAX
    }

    /// Runs `f` on the key as the channel's operations take it, and keeps what it leaves.
    fn with<R>(&mut self, f: impl FnOnce(&mut Option<usize>) -> R) -> R {
        let mut k = self.get();
        let r = f(&mut k);
        self.0 = k.map_or(u32::MAX, |k| {
            u32::try_from(k).expect("waiter keys are below MAX_WAITERS")
        });
        r
    }
}

// Every handle is one word of channel and one of key (see `HandleKey`).
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<Receiver<std::time::Instant>>() == 16);

macro_rules! common_methods {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// The number of values buffered (Go's `len(c)`).
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(4);
            /// c.try_send(1).unwrap();
            #[doc = concat!("assert_eq!(c.", common_methods!(@view $ty), ".len(), 1);")]
            /// ```
            pub fn len(&self) -> usize {
                self.inner.as_deref().map_or(0, Inner::len)
            }

            /// Whether nothing is buffered.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(4);
            #[doc = concat!("assert!(c.", common_methods!(@view $ty), ".is_empty());")]
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The capacity (Go's `cap(c)`); 0 for unbuffered and nil channels.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(4);
            #[doc = concat!("assert_eq!(c.", common_methods!(@view $ty), ".cap(), 4);")]
            /// ```
            pub fn cap(&self) -> usize {
                self.inner.as_deref().map_or(0, Inner::cap)
            }

            /// Whether the channel has been closed.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(0);
            /// c.close();
            #[doc = concat!("assert!(c.", common_methods!(@view $ty), ".is_closed());")]
            /// ```
            pub fn is_closed(&self) -> bool {
                self.inner.as_deref().is_some_and(Inner::is_closed)
            }

            /// Whether `self` and `other` are handles of the same channel (nil channels are
            /// all equal).
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(0);
            #[doc = concat!("assert!(c.", common_methods!(@view $ty), ".same_channel(&c.", common_methods!(@view $ty), "));")]
            /// ```
            pub fn same_channel(&self, other: &Self) -> bool {
                match (&self.inner, &other.inner) {
                    (Some(a), Some(b)) => std::ptr::eq(&**a, &**b),
                    (None, None) => true,
                    _ => false,
                }
            }

            pub(crate) fn inner(&self) -> Option<&Inner<T>> {
                self.inner.as_deref()
            }
        }

        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match &self.inner {
                    Some(i) => write!(f, concat!(stringify!($ty), "({:?})"), i),
                    None => f.write_str(concat!(stringify!($ty), "(nil)")),
                }
            }
        }
    };
    (@view Chan) => { "clone()" };
    (@view Sender) => { "sender()" };
    (@view Receiver) => { "receiver()" };
}

common_methods!(Chan);
common_methods!(Sender);
common_methods!(Receiver);

macro_rules! send_methods {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// Sends `v`, waiting until a receiver takes it (unbuffered) or there is room
            /// (buffered). `Err` holds `v` if the channel is or becomes closed. On a nil
            /// channel it waits forever.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(1);
            #[doc = concat!("let s = c.", send_methods!(@view $ty), ";")]
            /// futures::executor::block_on(s.send(5)).unwrap();
            /// assert_eq!(c.try_recv(), Ok(5));
            /// ```
            pub fn send(&self, v: T) -> SendFuture<'_, T> {
                SendFuture::new(self.inner.as_deref(), v)
            }

            /// Sends without waiting: `Full` if there is no room (or, unbuffered, no receiver
            /// waiting), `Closed` if closed; both give `v` back.
            ///
            /// On an unbuffered channel one value at a time can be on its way to a waiting
            /// receiver: while an earlier `try_send`'s value has not been taken by the receiver
            /// it was given to, another `try_send` gives `Full` even if a second receiver
            /// waits (Go would succeed). This is what keeps a sender's values in order when
            /// that receiver is cancelled and its value goes back to the channel.
            ///
            /// ```
            /// use gorun::chan::TrySendError;
            /// let c = gorun::chan::chan::<i32>(0);
            #[doc = concat!("let s = c.", send_methods!(@view $ty), ";")]
            /// assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
            /// ```
            pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
                match self.inner.as_deref() {
                    Some(i) => i.try_send(v),
                    None => Err(TrySendError::Full(v)),
                }
            }

            /// [`send`](Self::send) for plain threads: parks the thread until done.
            ///
            /// # Panics
            /// On a gorun runtime worker thread (it would block the worker): use `.send(v).await`.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(1);
            #[doc = concat!("c.", send_methods!(@view $ty), ".send_blocking(3).unwrap();")]
            /// assert_eq!(c.recv_blocking(), Some(3));
            /// ```
            pub fn send_blocking(&self, v: T) -> Result<(), SendError<T>> {
                block_here(self.send(v), "send_blocking")
            }

            /// Closes the channel: every waiting receiver and sender wakes; receivers drain the
            /// buffer and then get `None`; pending and later sends fail with the value.
            ///
            /// # Panics
            /// `close of closed channel` on a second close; `close of nil channel` on
            /// [`Chan::nil`], as in Go.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(1);
            /// c.try_send(1).unwrap();
            #[doc = concat!("c.", send_methods!(@view $ty), ".close();")]
            /// assert_eq!(c.recv_blocking(), Some(1));
            /// assert_eq!(c.recv_blocking(), None);
            /// ```
            pub fn close(&self) {
                match self.inner.as_deref() {
                    Some(i) => i.close(),
                    None => panic!("close of nil channel"),
                }
            }
        }
    };
    (@view Chan) => {
        "clone()"
    };
    (@view Sender) => {
        "sender()"
    };
}

send_methods!(Chan);
send_methods!(Sender);

macro_rules! recv_methods {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// Receives the next value, waiting for one; `None` once the channel is closed and
            /// drained. On a nil channel it waits forever.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(1);
            /// c.try_send(8).unwrap();
            #[doc = concat!("let r = c.", recv_methods!(@view $ty), ";")]
            /// assert_eq!(futures::executor::block_on(r.recv()), Some(8));
            /// ```
            pub fn recv(&self) -> RecvFuture<'_, T> {
                RecvFuture::new(self.inner.as_deref())
            }

            /// Receives without waiting: `Empty` if nothing is ready, `Closed` once closed and
            /// drained.
            ///
            /// ```
            /// use gorun::chan::TryRecvError;
            /// let c = gorun::chan::chan::<i32>(1);
            #[doc = concat!("let r = c.", recv_methods!(@view $ty), ";")]
            /// assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
            /// ```
            pub fn try_recv(&self) -> Result<T, TryRecvError> {
                match self.inner.as_deref() {
                    Some(i) => i.try_recv(),
                    None => Err(TryRecvError::Empty),
                }
            }

            /// [`recv`](Self::recv) for plain threads: parks the thread until done.
            ///
            /// # Panics
            /// On a gorun runtime worker thread (it would block the worker): use `.recv().await`.
            ///
            /// ```
            /// let c = gorun::chan::chan::<i32>(0);
            /// let tx = c.sender();
            /// std::thread::spawn(move || tx.send_blocking(1).unwrap());
            #[doc = concat!("assert_eq!(c.", recv_methods!(@view $ty), ".recv_blocking(), Some(1));")]
            /// ```
            pub fn recv_blocking(&self) -> Option<T> {
                block_here(self.recv(), "recv_blocking")
            }
        }
    };
    (@view Chan) => { "clone()" };
    (@view Receiver) => { "receiver()" };
}

recv_methods!(Chan);
recv_methods!(Receiver);

impl<T> Chan<T> {
    /// The nil channel (Go's zero-value `var c chan T`): never ready. Sends and receives wait
    /// forever, `try_*` report `Full`/`Empty`, its `select!` cases are never chosen, and
    /// `close` panics.
    ///
    /// ```
    /// use gorun::chan::{Chan, TryRecvError};
    /// let c = Chan::<i32>::nil();
    /// assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    /// assert_eq!(c.cap(), 0);
    /// ```
    pub fn nil() -> Self {
        Chan { inner: None }
    }

    /// Whether this is the nil channel.
    ///
    /// ```
    /// assert!(gorun::chan::Chan::<u8>::nil().is_nil());
    /// assert!(!gorun::chan::chan::<u8>(0).is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        self.inner.is_none()
    }

    /// A send-only handle of the same channel.
    ///
    /// ```
    /// let c = gorun::chan::chan::<i32>(1);
    /// c.sender().try_send(1).unwrap();
    /// assert_eq!(c.len(), 1);
    /// ```
    pub fn sender(&self) -> Sender<T> {
        Sender {
            inner: self.inner.clone(),
            sink_key: HandleKey::NONE,
        }
    }

    /// A receive-only handle of the same channel.
    ///
    /// ```
    /// let c = gorun::chan::chan::<i32>(1);
    /// c.try_send(1).unwrap();
    /// assert_eq!(c.receiver().try_recv(), Ok(1));
    /// ```
    pub fn receiver(&self) -> Receiver<T> {
        Receiver {
            inner: self.inner.clone(),
            stream_key: HandleKey::NONE,
        }
    }
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
            sink_key: HandleKey::NONE,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver {
            inner: self.inner.clone(),
            stream_key: HandleKey::NONE,
        }
    }
}

impl<T> From<Chan<T>> for Sender<T> {
    fn from(c: Chan<T>) -> Self {
        Sender {
            inner: c.inner,
            sink_key: HandleKey::NONE,
        }
    }
}

impl<T> From<Chan<T>> for Receiver<T> {
    fn from(c: Chan<T>) -> Self {
        Receiver {
            inner: c.inner,
            stream_key: HandleKey::NONE,
        }
    }
}

/// A reference to a channel that does not keep it alive (the timer wheel's hold on a timer's
/// channel: once every handle is gone the channel is freed, and the timer, finding it gone,
/// is collected, as Go 1.23 collects unreferenced timers). Under loom, whose `Arc` has no weak
/// count, it holds the channel.
pub(crate) struct WeakChan<T> {
    #[cfg(not(loom))]
    inner: std::sync::Weak<Inner<T>>,
    #[cfg(loom)]
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Chan<T> {
    /// A [`WeakChan`] of this channel (a nil channel gives one that is always gone).
    pub(crate) fn downgrade(&self) -> WeakChan<T> {
        #[cfg(not(loom))]
        let inner = self
            .inner
            .as_ref()
            .map_or_else(std::sync::Weak::new, Arc::downgrade);
        #[cfg(loom)]
        let inner = self.inner.clone();
        WeakChan { inner }
    }
}

impl<T> WeakChan<T> {
    /// The channel, if some handle still holds it.
    pub(crate) fn upgrade(&self) -> Option<Chan<T>> {
        #[cfg(not(loom))]
        let inner = self.inner.upgrade();
        #[cfg(loom)]
        let inner = self.inner.clone();
        inner.map(|i| Chan { inner: Some(i) })
    }

    /// How many handles hold the channel (0: it is gone).
    pub(crate) fn handles(&self) -> usize {
        #[cfg(not(loom))]
        return self.inner.strong_count();
        #[cfg(loom)]
        return self.inner.as_ref().map_or(0, Arc::strong_count);
    }

    /// The reference as one pointer (the reactor holds timer channels this way, not knowing
    /// their type: `reactor::timer_chan`); [`from_raw`](Self::from_raw) takes it back.
    pub(crate) fn into_raw(self) -> *const () {
        #[cfg(not(loom))]
        return self.inner.into_raw().cast();
        #[cfg(loom)]
        return self
            .inner
            .map_or(std::ptr::null(), |i| Arc::into_raw(i).cast());
    }

    /// The reference [`into_raw`](Self::into_raw) gave.
    ///
    /// # Safety
    /// `raw` comes from `into_raw` of a `WeakChan<T>`, and is taken back once.
    pub(crate) unsafe fn from_raw(raw: *const ()) -> WeakChan<T> {
        #[cfg(not(loom))]
        // SAFETY: per this function's contract, `raw` is `Weak::into_raw`'s, taken back once.
        let inner = unsafe { std::sync::Weak::from_raw(raw.cast::<Inner<T>>()) };
        #[cfg(loom)]
        // SAFETY: as above, for `Arc::into_raw`'s (null stood for `None`).
        let inner = (!raw.is_null()).then(|| unsafe { Arc::from_raw(raw.cast::<Inner<T>>()) });
        WeakChan { inner }
    }
}

impl<T> Unpin for Sender<T> {}
impl<T> Unpin for Receiver<T> {}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner.as_deref(), self.sink_key.get()) {
            inner.cancel_send(k);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let (Some(inner), Some(k)) = (self.inner.as_deref(), self.stream_key.get()) {
            inner.cancel_recv(k);
        }
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        match this.inner.as_deref() {
            None => Poll::Pending,
            Some(inner) => this.stream_key.with(|k| inner.poll_recv(k, cx, true)),
        }
    }
}

/// Sending through [`futures::Sink`]: `start_send` queues the value (a buffered channel with
/// room takes it at once); `poll_ready`/`poll_flush` wait until a receiver took it. The error is
/// [`SendError`] once the channel is closed. `poll_close` only flushes: closing the channel
/// belongs to [`Sender::close`], as other senders may share it.
impl<T> Sink<T> for Sender<T> {
    type Error = SendError<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_deref() else {
            // A nil channel never accepts; poll_ready never returned Ready, so this is a
            // contract violation by the caller: keep the value from vanishing silently.
            panic!("start_send on a nil channel's Sender (poll_ready never completes)");
        };
        assert!(
            this.sink_key.is_none(),
            "start_send called without poll_ready"
        );
        let mut slot = Some(item);
        match this.sink_key.with(|k| inner.poll_send(&mut slot, k, None)) {
            Poll::Ready(r) => r,
            Poll::Pending => Ok(()),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        match this.inner.as_deref() {
            None => Poll::Pending,
            Some(inner) => {
                if this.sink_key.is_none() {
                    return Poll::Ready(Ok(()));
                }
                this.sink_key
                    .with(|k| inner.poll_send(&mut None, k, Some(cx)))
            }
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.inner.is_none() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(this).poll_flush(cx)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::chan;

    /// Runs `f` on a fresh thread marked as a gorun worker and returns its panic message.
    fn panic_on_worker(f: impl FnOnce() + Send + 'static) -> String {
        let r = std::thread::spawn(move || {
            crate::runtime::set_on_worker_thread(true);
            f();
        })
        .join();
        let e = r.expect_err("blocking call did not panic on a worker thread");
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    #[test]
    fn recv_blocking_panics_on_a_worker_thread() {
        let msg = panic_on_worker(|| {
            let c = chan::<u8>(1);
            c.try_send(1).unwrap();
            let _ = c.recv_blocking();
        });
        assert!(
            msg.contains("recv_blocking") && msg.contains("worker thread"),
            "{msg}"
        );
    }

    #[test]
    fn send_blocking_panics_on_a_worker_thread() {
        let msg = panic_on_worker(|| {
            let c = chan::<u8>(1);
            let _ = c.sender().send_blocking(1);
        });
        assert!(
            msg.contains("send_blocking") && msg.contains("worker thread"),
            "{msg}"
        );
    }

    #[test]
    fn blocking_calls_work_on_plain_threads() {
        let c = chan::<u8>(1);
        c.send_blocking(1).unwrap();
        assert_eq!(c.receiver().recv_blocking(), Some(1));
    }
}
