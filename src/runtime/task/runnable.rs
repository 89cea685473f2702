//! [`Runnable`]: async-task's `Runnable` for gorun's tasks, which makes the task's metadata
//! current on the thread while the task is run or dropped, so that the goroutine wrapper finds
//! it without keeping a pointer to it (8 bytes per goroutine, and a 104-byte instead of a
//! 112-byte task for the `sleep` workload's goroutines: a 112- instead of a 128-byte malloc
//! chunk).
//!
//! # Why this is sound
//!
//! async-task polls a task's future only in `Runnable::run`, and drops it only in
//! `Runnable::run` or when the `Runnable` is dropped: `Task` handles and wakers never touch the
//! future (they schedule the task, handing a `Runnable` to the schedule function, so that "its
//! future gets dropped by the executor"). That is what makes `spawn_local` sound (a `!Send`
//! future must stay on the thread that uses its `Runnable`, while the `Task` may move to
//! another thread) and what `spawn_unchecked`'s safety contract states ("if `Fut` is not
//! `Send`, its `Runnable` must be used and dropped on the original thread"). This type is the
//! only way gorun holds a task's `Runnable`: the schedule functions wrap async-task's at once,
//! and both ways of consuming one (`run`, `Drop`) make its metadata current first, through
//! `Runnable::metadata`. So whenever a goroutine's wrapper is polled or dropped, the current
//! metadata is its own.
//!
//! # Invariants
//!
//! - [`current`] is non-null exactly while a `Runnable` of this thread is being run or dropped,
//!   and is then that task's metadata, valid for the call (the `Runnable` holds a reference
//!   to the task).
//! - Runs and drops nest (a goroutine's destructor may drop another task's `Runnable`): each
//!   restores the previous value when it ends, also by unwinding.

use super::TaskMeta;
use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

thread_local! {
    static CURRENT: Cell<*const TaskMeta> = const { Cell::new(ptr::null()) };
}

/// The metadata of the task being run or dropped on this thread.
///
/// # Safety
/// The reference must not be used after the current run or drop of the task ends (the
/// registry may keep it as a pointer beside one of the task's wakers, which keeps it valid).
///
/// # Panics
/// Outside a `Runnable`'s `run` or drop (impossible for a goroutine's wrapper, see the
/// module docs).
#[inline]
pub(super) unsafe fn current<'a>() -> &'a TaskMeta {
    let p = CURRENT.with(|c| c.get());
    assert!(
        !p.is_null(),
        "gorun: a goroutine was polled or dropped outside its Runnable"
    );
    // SAFETY: non-null only while a `Runnable` of this task is being run or dropped on this
    // thread, which keeps the task, and its metadata, alive; the caller keeps the reference
    // no longer than that.
    unsafe { &*p }
}

/// Makes `meta` current until dropped, then restores the previous value.
struct Enter(*const TaskMeta);

impl Enter {
    #[inline]
    fn new(meta: &TaskMeta) -> Enter {
        Enter(CURRENT.with(|c| c.replace(meta)))
    }
}

impl Drop for Enter {
    #[inline]
    fn drop(&mut self) {
        let prev = self.0;
        let _ = CURRENT.try_with(|c| c.set(prev));
    }
}

/// A scheduled gorun task (async-task's `Runnable`, see the module docs).
#[repr(transparent)]
pub(crate) struct Runnable(ManuallyDrop<async_task::Runnable<TaskMeta>>);

impl Runnable {
    #[inline]
    pub(super) fn new(r: async_task::Runnable<TaskMeta>) -> Runnable {
        Runnable(ManuallyDrop::new(r))
    }

    #[inline]
    fn into_inner(self) -> async_task::Runnable<TaskMeta> {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: taken once; `me` is never dropped, so `Drop` does not see it again.
        unsafe { ManuallyDrop::take(&mut me.0) }
    }

    /// The task's metadata.
    #[inline]
    pub(crate) fn metadata(&self) -> &TaskMeta {
        self.0.metadata()
    }

    /// Polls the task once (`async_task::Runnable::run`), with its metadata current.
    #[inline]
    pub(crate) fn run(self) -> bool {
        let r = self.into_inner();
        let _enter = Enter::new(r.metadata());
        let woken = r.run();
        // A finished goroutine whose output was not dropped here has a `JoinHandle`: its
        // memory is freed where that is dropped (`dead`).
        super::dead::run_done();
        woken
    }

    /// The raw pointer of the task (`async_task::Runnable::into_raw`), for the run queues.
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<()> {
        self.into_inner().into_raw()
    }

    /// # Safety
    /// As `async_task::Runnable::from_raw`: `ptr` comes from [`into_raw`](Self::into_raw) of a
    /// gorun task and is converted back once.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: NonNull<()>) -> Runnable {
        // SAFETY: the caller's contract, as async-task states it; every gorun task's metadata
        // is a `TaskMeta`.
        Runnable::new(unsafe { async_task::Runnable::from_raw(ptr) })
    }
}

impl Drop for Runnable {
    fn drop(&mut self) {
        // SAFETY: taken once, here; `self.0` is not used afterwards.
        let r = unsafe { ManuallyDrop::take(&mut self.0) };
        let _enter = Enter::new(r.metadata());
        drop(r);
    }
}
