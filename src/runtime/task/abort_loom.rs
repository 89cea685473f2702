//! Loom model of `JoinHandle::abort` against a goroutine's first wait, on the real code: a real
//! runtime state (`Shared`, with its registry and injection queue), a real goroutine whose
//! first poll (`Goroutine::poll`, run by `Runnable::run` on one thread) registers it, and the
//! real `JoinHandle::abort` on another. The pair under test is the Dekker pair of `registry`:
//! the poll writes `key` then reads `aborted`, `abort` writes `aborted` then reads `key` and
//! wakes the task through its registry entry.
//!
//! The four accesses are read-modify-writes (`task`'s atomics come through the `crate::loom`
//! facade, the registry's lock too): loom lets a plain SeqCst load see a stale value, and with
//! plain loads this model fails (real hardware gives plain SeqCst accesses the order the pair
//! needs, loom does not model it).
//!
//! Property, over every interleaving: nothing but `abort` ever wakes the goroutine, yet once
//! both sides are done and every task woken into the injection queue has run, the goroutine
//! has finished as cancelled and its future was dropped: `abort` is never lost. A second model
//! aborts a goroutine that is already registered (the common case: `abort` finds the entry).

use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::thread;
use crate::runtime::scheduler::shutdown_loom::{config, SetOnDrop};
use crate::runtime::scheduler::Shared;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

/// A runtime state and a goroutine on it that waits forever (nothing wakes it but `abort`),
/// spawned from outside (so it sits in the injection queue), and its drop flag.
fn setup() -> (Arc<Shared>, super::JoinHandle<()>, Arc<AtomicBool>) {
    let shared = Arc::new(Shared::new(
        config(),
        crate::reactor::Driver::new(1).unwrap(),
    ));
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let handle = shared.spawn(
        async move {
            let _guard = guard;
            poll_fn(|_| Poll::<()>::Pending).await
        },
        std::panic::Location::caller(),
    );
    (shared, handle, dropped)
}

/// Runs, as a worker would, every task in the injection queue; then checks the property and
/// shuts the runtime state down.
fn finish(shared: Arc<Shared>, handle: super::JoinHandle<()>, dropped: Arc<AtomicBool>) {
    while let Some(r) = shared.inject.pop() {
        r.run();
    }
    assert!(
        handle.is_finished(),
        "abort lost: the goroutine waits, registered or not, and nobody will wake it"
    );
    assert!(
        dropped.load(SeqCst),
        "the aborted goroutine's future was not dropped"
    );
    let err = futures::executor::block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
    shared
        .shutdown
        .store(true, std::sync::atomic::Ordering::SeqCst);
    crate::runtime::cancel_all(&shared);
}

#[test]
fn loom_abort_racing_the_first_wait_is_never_lost() {
    crate::loom::model_bounded(3, || {
        let (shared, handle, dropped) = setup();
        let first = shared
            .inject
            .pop()
            .expect("a spawn from outside is injected");
        // The goroutine's first poll (it returns `Pending` and registers) on its own thread.
        let poller = thread::spawn(move || {
            first.run();
        });
        handle.abort();
        poller.join().unwrap();
        finish(shared, handle, dropped);
    });
}

#[test]
fn loom_abort_of_a_registered_goroutine_wakes_it() {
    crate::loom::model_bounded(3, || {
        let (shared, handle, dropped) = setup();
        shared.inject.pop().expect("injected").run();
        assert!(!handle.is_finished());
        let aborter = thread::spawn(move || {
            handle.abort();
            handle
        });
        let handle = aborter.join().unwrap();
        finish(shared, handle, dropped);
    });
}
