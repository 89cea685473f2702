//! Loom model of a foreign wake against shutdown, on the real code: a real runtime state
//! (`Shared`, with its reactor, registry and queues), a real goroutine, its waker called from a
//! plain thread (`scheduler::schedule`) while the runtime shuts down (`runtime::cancel_all`,
//! what `Runtime::drop` does once its workers have stopped) and is freed.
//!
//! Properties, over every interleaving with up to 3 preemptions:
//! - the runtime is never freed while the waking thread's `schedule` still uses it (checked
//!   by `scheduler::loom_check`: before the fix, `schedule` borrowed the runtime through the
//!   task it had just pushed, which the drain could drop at once);
//! - the goroutine is cancelled (its future dropped) whichever side wins, and no task is left
//!   in the closed injection queue.

use super::Shared;
use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::thread;
use crate::runtime::{Config, PanicPolicy};
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A one-worker runtime's configuration for the loom models (also `task::abort_loom`'s).
pub(crate) fn config() -> Config {
    Config {
        workers: 1,
        thread_name: "loom".into(),
        max_blocking_threads: 1,
        panic_policy: PanicPolicy::Contain,
        detect_deadlock: false,
    }
}

/// Sets its flag when dropped: tells a model that a goroutine's future was dropped.
pub(crate) struct SetOnDrop(pub(crate) Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn loom_foreign_wake_against_shutdown() {
    crate::loom::model_bounded(3, || {
        let shared = Arc::new(Shared::new(
            config(),
            crate::reactor::Driver::new(1).unwrap(),
        ));
        let dropped = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let (guard, slot2) = (SetOnDrop(dropped.clone()), slot.clone());
        let handle = shared.spawn(
            async move {
                let _guard = guard;
                poll_fn(|cx| {
                    *slot2.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await
            },
            std::panic::Location::caller(),
        );
        // Detached: the task's metadata holds the last reference to the runtime but ours.
        drop(handle);
        // Run it once, as a worker would: it parks (registered, its waker handed out).
        let first = shared
            .inject
            .pop()
            .expect("a spawn from outside is injected");
        first.run();
        let waker = slot.lock().unwrap().take().expect("the goroutine ran");
        let foreign = thread::spawn(move || waker.wake());
        // (The runtime's own steps before the drain touch no loom-tracked state: a yield lets
        // the model start the wake before them as well as anywhere after.)
        thread::yield_now();
        // Runtime::drop with its workers gone.
        shared
            .shutdown
            .store(true, std::sync::atomic::Ordering::SeqCst);
        crate::runtime::cancel_all(&shared);
        let weak = Arc::downgrade(&shared);
        drop(shared);
        foreign.join().unwrap();
        assert!(dropped.load(SeqCst), "the goroutine was not cancelled");
        assert!(weak.upgrade().is_none(), "the runtime leaked");
    });
}
