//! A timer's channel as the reactor holds it: weakly, and without naming its type.
//!
//! A `Chan` timer entry sends the firing time on a channel (`after`, `tick`, `Timer`,
//! `Ticker`), but the reactor sits below `chan` (see `docs/design.md`, "Layers") and cannot
//! name `chan::WeakChan<Instant>`. The time layer, which can, implements [`TimerChannel`] for
//! it and hands each reference over as a [`TimerChan`]: the reference turned into one raw
//! pointer. The functions that use the pointer are the implementing type's, kept in one
//! [`VTable`] for the whole program, registered by the first `TimerChan` made: so an entry's
//! channel stays one word, as the typed `Weak` was, and a timer entry stays 40 bytes (a
//! vtable pointer in every entry would make every entry, every sleep's included, 48).
//!
//! # Invariants
//!
//! - The registered vtable is that of the one type `C` every `TimerChan` is made from
//!   (checked by `TypeId` in [`TimerChan::new`]; a second type panics there, before any
//!   pointer of it is stored).
//! - A `TimerChan`'s `raw` comes from `C::into_raw` and is given back to `C::from_raw` exactly
//!   once, by its `Drop`; in between it is only borrowed (the reference rebuilt inside a
//!   `ManuallyDrop`, never dropped).
//!
//! Tested through the one implementation, in `time::timer_chan`.

use std::any::TypeId;
use std::mem::ManuallyDrop;
use std::sync::OnceLock;
use std::time::Instant;

/// What the reactor needs of a timer's channel; implemented by the layer that knows the
/// channel's type.
pub(crate) trait TimerChannel: Send + Sync + Sized + 'static {
    /// Sends `now` without waiting if some handle still holds the channel (a full channel
    /// drops the value); `false` if the channel is gone.
    fn send_time(&self, now: Instant) -> bool;
    /// Takes a value waiting in the channel, if any (`Timer::stop` drains it under the timer
    /// lock); `true` if there was one.
    fn take_time(&self) -> bool;
    /// How many handles hold the channel (0: it is gone and the entry dead).
    fn handles(&self) -> usize;
    /// The reference as one pointer, for [`from_raw`](Self::from_raw) to take back.
    fn into_raw(self) -> *const ();
    /// The reference [`into_raw`](Self::into_raw) gave.
    ///
    /// # Safety
    /// `raw` comes from `into_raw` of this type and is not taken back by another call
    /// (unless the result is never dropped).
    unsafe fn from_raw(raw: *const ()) -> Self;
}

/// The registered implementation's functions (see the module docs).
struct VTable {
    type_id: TypeId,
    send_time: unsafe fn(*const (), Instant) -> bool,
    take_time: unsafe fn(*const ()) -> bool,
    handles: unsafe fn(*const ()) -> usize,
    release: unsafe fn(*const ()),
}

impl VTable {
    fn of<C: TimerChannel>() -> VTable {
        /// The reference behind `raw`, borrowed: never dropped here.
        ///
        /// # Safety
        /// `raw` is a live `TimerChan`'s, made from a `C`.
        unsafe fn borrow<C: TimerChannel>(raw: *const ()) -> ManuallyDrop<C> {
            // SAFETY: per this function's contract; `ManuallyDrop` keeps the reference owned
            // by the `TimerChan`, which gives it back once, in its `Drop`.
            ManuallyDrop::new(unsafe { C::from_raw(raw) })
        }
        /// # Safety
        /// As for `borrow`.
        unsafe fn send_time<C: TimerChannel>(raw: *const (), now: Instant) -> bool {
            // SAFETY: forwarded contract.
            unsafe { borrow::<C>(raw) }.send_time(now)
        }
        /// # Safety
        /// As for `borrow`.
        unsafe fn take_time<C: TimerChannel>(raw: *const ()) -> bool {
            // SAFETY: forwarded contract.
            unsafe { borrow::<C>(raw) }.take_time()
        }
        /// # Safety
        /// As for `borrow`.
        unsafe fn handles<C: TimerChannel>(raw: *const ()) -> usize {
            // SAFETY: forwarded contract.
            unsafe { borrow::<C>(raw) }.handles()
        }
        /// # Safety
        /// `raw` is a `TimerChan`'s, made from a `C`, being dropped.
        unsafe fn release<C: TimerChannel>(raw: *const ()) {
            // SAFETY: per this function's contract: the one time the reference is taken back.
            drop(unsafe { C::from_raw(raw) });
        }
        VTable {
            type_id: TypeId::of::<C>(),
            send_time: send_time::<C>,
            take_time: take_time::<C>,
            handles: handles::<C>,
            release: release::<C>,
        }
    }
}

static VTABLE: OnceLock<VTable> = OnceLock::new();

/// A timer's channel, held weakly and type-erased (see the module docs).
pub(crate) struct TimerChan {
    raw: *const (),
}

// SAFETY: a `TimerChan` owns a `C: TimerChannel`, which is `Send + Sync`, and uses it only
// through `C`'s own methods.
unsafe impl Send for TimerChan {}
// SAFETY: as above; `&TimerChan` gives only `&C` access.
unsafe impl Sync for TimerChan {}

impl TimerChan {
    /// Hands `chan` to the reactor.
    ///
    /// # Panics
    /// If a `TimerChan` was ever made from another type (there is one in gorun).
    pub(crate) fn new<C: TimerChannel>(chan: C) -> TimerChan {
        let v = VTABLE.get_or_init(VTable::of::<C>);
        assert!(
            v.type_id == TypeId::of::<C>(),
            "gorun: timer channels of two types"
        );
        TimerChan {
            raw: chan.into_raw(),
        }
    }

    fn vtable() -> &'static VTable {
        // A `TimerChan` exists, so `new` registered the table.
        VTABLE.get().expect("a TimerChan registers its vtable")
    }

    /// Sends `now` if some handle still holds the channel; `false` if it is gone.
    pub(crate) fn send_time(&self, now: Instant) -> bool {
        // SAFETY: `raw` came from `into_raw` of the registered type (see `new`), and is live.
        unsafe { (Self::vtable().send_time)(self.raw, now) }
    }

    /// Takes a value waiting in the channel; `true` if there was one (`false` if it is gone).
    pub(crate) fn take_time(&self) -> bool {
        // SAFETY: as in `send_time`.
        unsafe { (Self::vtable().take_time)(self.raw) }
    }

    /// How many handles hold the channel (0: it is gone).
    pub(crate) fn handles(&self) -> usize {
        // SAFETY: as in `send_time`.
        unsafe { (Self::vtable().handles)(self.raw) }
    }
}

impl Drop for TimerChan {
    fn drop(&mut self) {
        // SAFETY: as in `send_time`; the one time `raw` is given back.
        unsafe { (Self::vtable().release)(self.raw) }
    }
}
