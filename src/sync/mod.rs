//! `gorun::sync`: Go's `sync` package for async Rust — [`WaitGroup`], [`Mutex`], [`RwMutex`],
//! [`Once`], [`Cond`] and the weighted [`Semaphore`] of `x/sync/semaphore`.
//!
//! Everything here is a plain future with wakers: it knows nothing of gorun's runtime and works
//! under any executor (tokio, `futures::executor`, ...). The `*_blocking` methods drive the
//! same futures from a plain thread and panic on a gorun worker thread.
//!
//! # How it is built
//!
//! - [`Mutex`] is Go's `sync.Mutex` algorithm (`raw_mutex.rs`): one compare-and-swap to lock
//!   or unlock uncontended, barging under contention (a running task re-locks without a
//!   context switch) and direct handoff to a waiter passed over for more than 1 ms, so nobody
//!   starves.
//! - One fair FIFO semaphore (`semaphore.rs`, tokio's `batch_semaphore` shape) is the base of
//!   [`RwMutex`] (a reader takes one permit, a writer all of them) and [`Semaphore`]. Its
//!   uncontended acquire and release are one compare-and-swap each; under contention, waiters
//!   are served strictly in arrival order with direct handoff, and a waiting writer blocks new
//!   readers.
//! - Waiters live in a slab-backed FIFO list (`waitlist.rs`) behind a short lock, so a
//!   cancelled (dropped) `lock()`/`acquire()` future is removed in O(1) and gives back every
//!   permit it had been handed: nothing leaks and no wake-up is lost.
//! - [`WaitGroup`] is one atomic word (counter, epoch, waiting flag) plus a waiter list:
//!   `done()` is one atomic decrement unless it releases waiters.
//! - Every leaf future first spends one unit of the task's cooperative budget, so a task looping
//!   on an uncontended lock still lets other goroutines run.
//!
//! ```
//! use gorun::sync::{Mutex, WaitGroup};
//! use std::sync::Arc;
//! futures::executor::block_on(async {
//!     let counter = Arc::new(Mutex::new(0));
//!     let wg = WaitGroup::new();
//!     let mut threads = Vec::new();
//!     for _ in 0..4 {
//!         wg.add(1);
//!         let (counter, wg) = (counter.clone(), wg.clone());
//!         threads.push(std::thread::spawn(move || {
//!             *counter.lock_blocking() += 1;
//!             wg.done();
//!         }));
//!     }
//!     wg.wait().await;
//!     assert_eq!(*counter.lock().await, 4);
//!     threads.into_iter().for_each(|t| t.join().unwrap());
//! });
//! ```

pub(crate) mod blocking;
mod cond;
mod mutex;
mod once;
mod raw_mutex;
mod rwmutex;
mod semaphore;
mod wait_group;
mod waitlist;
mod weighted;

pub use cond::{Cond, CondWait};
pub use mutex::{Lock, Mutex, MutexGuard, TryLockError};
pub use once::Once;
pub use rwmutex::{ReadLock, RwMutex, RwMutexReadGuard, RwMutexWriteGuard, WriteLock};
pub use wait_group::{Wait, WaitGroup};
pub use weighted::{Acquire, Permit, Semaphore, TryAcquireError};
