//! Driving one future to completion on a plain thread, for the `*_blocking` methods.
//!
//! The thread parks until the future's waker unparks it (the waker `block_on` uses, see
//! `runtime::block_on_plain_thread`). A gorun worker thread must never do
//! this (it would stop every goroutine queued on it, and deadlock if the future waits for one of
//! them), so the call panics there with a message naming the method and the async alternative.

use std::future::Future;
#[cfg(all(test, loom))]
use std::{
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Wake, Waker},
};

/// Runs `fut` on this thread. `what` names the blocking method and `instead` its async form.
pub(crate) fn block_on<F: Future>(what: &str, instead: &str, fut: F) -> F::Output {
    assert!(
        !crate::runtime::on_worker_thread(),
        "{what} called on a gorun worker thread, where it would block every goroutine \
         scheduled there; use `{instead}` instead"
    );
    crate::runtime::block_on_plain_thread(fut)
}

/// `crate::sync::blocking::loom_block_on` without loom's `futures` feature: drives `fut` on a loom thread,
/// parking on a loom `Notify` that the waker signals.
#[cfg(all(test, loom))]
pub(crate) fn loom_block_on<F: Future>(fut: F) -> F::Output {
    struct NotifyWaker(loom::sync::Notify);
    impl Wake for NotifyWaker {
        fn wake(self: Arc<Self>) {
            self.0.notify();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.notify();
        }
    }
    let notify = Arc::new(NotifyWaker(loom::sync::Notify::new()));
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        notify.0.wait();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn blocking_calls_panic_on_a_worker_thread() {
        let r = std::thread::spawn(|| {
            crate::runtime::set_on_worker_thread(true);
            crate::sync::WaitGroup::new().wait_blocking();
        })
        .join();
        let err = r.unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.starts_with("WaitGroup::wait_blocking called on a gorun worker thread"),
            "{msg}"
        );
        let r = std::thread::spawn(|| {
            crate::runtime::set_on_worker_thread(true);
            drop(crate::sync::Mutex::new(()).lock_blocking());
        })
        .join();
        assert!(r.is_err());
    }
}
