//! THROWAWAY scaffold for the `timenet` branch: stand-ins for the pieces of the runtime that
//! `time` and `net` need, so the branch compiles and its tests run before the real runtime and
//! channels land. At merge the lead deletes this file and wires the real ones:
//!
//! - [`driver_handle`]: a global [`Driver`] driven by one background thread looping
//!   `park(None)` (the real runtime drives its driver from the worker about to park).
//! - [`go`]: one OS thread per future, run with a parking `block_on`.
//! - [`go_blocking`]: one OS thread per closure.
//! - [`chan`]: a minimal capacity-1 channel with the method names of `gorun::chan` that the
//!   time module uses (`chan`, `Chan::try_send`, `Chan::receiver`, `Receiver::recv`,
//!   `Receiver::try_recv`).
//!
//! Nothing outside this file may depend on anything here except those signatures.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::reactor::Driver;

/// The driver of the (stand-in) global runtime, started on first use.
pub(crate) fn driver_handle() -> Arc<Driver> {
    static GLOBAL: OnceLock<Arc<Driver>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let driver = Arc::new(Driver::new().expect("scaffold: cannot create the reactor"));
            let d = driver.clone();
            std::thread::Builder::new()
                .name("gorun-scaffold-reactor".into())
                .spawn(move || loop {
                    d.park(None);
                })
                .expect("scaffold: cannot spawn the reactor thread");
            driver
        })
        .clone()
}

/// Why a stand-in task did not produce its value.
#[derive(Debug)]
pub struct JoinError(String);

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task failed: {}", self.0)
    }
}

impl std::error::Error for JoinError {}

/// Stand-in join handle: resolves to the task's output.
pub struct JoinHandle<T> {
    rx: futures::channel::oneshot::Receiver<T>,
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.map_err(|_| JoinError("panicked or cancelled".into())))
    }
}

/// Stand-in `go`: runs `f` on its own OS thread.
pub fn go<F>(f: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(block_on(f));
    });
    JoinHandle { rx }
}

/// Runs `f` to completion on this thread (parks between polls).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unparker(std::thread::Thread);
    impl std::task::Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Stand-in `go_blocking`: runs `f` on its own OS thread.
pub fn go_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    JoinHandle { rx }
}

/// Minimal capacity-1 channel standing in for `gorun::chan` (only what `time` uses).
pub mod chan {
    use super::*;

    struct State<T> {
        slot: Option<T>,
        waker: Option<Waker>,
    }

    /// Stand-in for `gorun::chan::Chan`.
    pub struct Chan<T>(Arc<Mutex<State<T>>>);

    impl<T> Clone for Chan<T> {
        fn clone(&self) -> Self {
            Chan(self.0.clone())
        }
    }

    /// Stand-in for `gorun::chan::Receiver`.
    pub struct Receiver<T>(Arc<Mutex<State<T>>>);

    impl<T> Clone for Receiver<T> {
        fn clone(&self) -> Self {
            Receiver(self.0.clone())
        }
    }

    /// Stand-in for `gorun::chan::TrySendError`.
    #[derive(Debug)]
    pub enum TrySendError<T> {
        /// The slot holds a value.
        Full(T),
    }

    /// Stand-in for `gorun::chan::TryRecvError`.
    #[derive(Debug, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing to receive.
        Empty,
    }

    /// A capacity-1 channel (`cap` is ignored: the scaffold only serves timers).
    pub fn chan<T>(_cap: usize) -> Chan<T> {
        Chan(Arc::new(Mutex::new(State {
            slot: None,
            waker: None,
        })))
    }

    impl<T> Chan<T> {
        /// Stores `v` unless the slot is full.
        pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
            let mut s = self.0.lock().unwrap();
            if s.slot.is_some() {
                return Err(TrySendError::Full(v));
            }
            s.slot = Some(v);
            let w = s.waker.take();
            drop(s);
            if let Some(w) = w {
                w.wake();
            }
            Ok(())
        }

        /// The receiving view.
        pub fn receiver(&self) -> Receiver<T> {
            Receiver(self.0.clone())
        }
    }

    impl<T> Receiver<T> {
        /// Takes the value if there is one.
        pub fn try_recv(&self) -> Result<T, TryRecvError> {
            self.0
                .lock()
                .unwrap()
                .slot
                .take()
                .ok_or(TryRecvError::Empty)
        }

        /// Waits for a value (never `None`: the stand-in cannot be closed).
        pub async fn recv(&self) -> Option<T> {
            std::future::poll_fn(|cx| {
                let mut s = self.0.lock().unwrap();
                match s.slot.take() {
                    Some(v) => Poll::Ready(Some(v)),
                    None => {
                        s.waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            })
            .await
        }
    }
}
