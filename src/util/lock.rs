//! The channel lock: a spin-then-yield lock for critical sections of a few dozen
//! instructions, as Go's channels use `runtime.lock` (spin, then yield, then sleep).
//!
//! Under contention a `std::sync::Mutex` parks the loser in the kernel (`futex`) and makes the
//! next unlock a system call; on the `mpmc` benchmark that was almost half of all the time.
//! A channel's critical section never blocks and never runs user code that could wait
//! (wakers are called after the lock is released), so a contended acquirer spins with
//! exponential backoff (see `SPIN_ROUNDS` for why the backoff runs long) and then yields its
//! thread until the holder is done.
//!
//! The lock word also counts releases: bit 0 is "held", bits 4 and up the number of times
//! the lock was released (bits 1 to 3 are the tag, below). A holder learns the word its
//! release will leave ([`Guard::stamp`]), and [`ChanLock::unchanged_since`] tells later, with
//! one read-modify-write (which reads the latest value of the word, as an acquisition would),
//! whether anyone took the lock since:
//! if not, the channel's state is still what that holder saw. `select!` with `default` uses it
//! to take `default` only when, at one instant, none of its channels was ready (Go locks them
//! all for this).
//!
//! The word also carries three **tag bits** (bits 1 to 3, [`TAG_MASK`]) that a holder may set
//! for its release ([`Guard::set_tag`]; a holder that sets none leaves the previous tag) and
//! anyone may read without the lock ([`ChanLock::tag`]): a summary of the guarded value as
//! that release left it. Channels keep there whether a receive or a send might be ready
//! (`chan::state`, `State::hint`), so a `select!` without `default` can skip a channel that
//! certainly is not without taking its lock. A tag is only a hint: it may be stale by the time
//! it is read, and its readers must be correct whatever it says. The timer wheels set none.
//!
//! Invariants: bit 0 of `word` is set exactly while a [`Guard`] exists; the acquiring RMW (a
//! `fetch_or` of bit 0 of which only bit 0 is used: one `lock bts`, as the old lock's one CAS)
//! is `Acquire` and the releasing store `Release`, so each holder sees the previous holder's
//! writes to `value`; while the lock is held only its holder changes the word, so the holder
//! reads it after acquiring and its release stores the count plus one (bits 4 and up), bit 0
//! clear and its tag: the guard computes that word once, as `held + RELEASE` (which keeps the
//! previous tag), and a new tag replaces the tag bits in it. The count wraps after 2^60
//! releases on 64-bit targets.
//!
//! Each thread counts its contended acquisitions and how long they waited ([`contended`]; the
//! clock is read only on the contended path): the scheduler uses it to see a worker whose
//! goroutines spend their time waiting for a lock held on another core (`worker::aside`).
//!
//! The reactor's timer wheels and I/O sources' waker lists use it too, for the same reasons
//! (short critical sections, wakers called after release): it lives in `util`, below both, so
//! that neither imports the other.
//!
//! Under loom it is loom's `Mutex` plus a loom atomic counting acquisitions and releases the
//! same way, so loom explores the interleavings of both.

#[cfg(loom)]
pub(crate) use loom_impl::{ChanLock, Guard};

/// The tag bits of the lock word (see the module doc): what a holder may leave in it.
pub(crate) const TAG_MASK: usize = 0b1110;

/// What a release adds to the word while held (bit 0 set): one release counted in bits 4 and
/// up, bit 0 cleared (`+16 - 1`), the tag bits as they were.
const RELEASE: usize = 0b1111;

/// The release word `next` with its tag replaced by `tag`.
#[inline]
fn with_tag(next: usize, tag: usize) -> usize {
    debug_assert_eq!(tag & !TAG_MASK, 0, "lock tag outside TAG_MASK");
    (next & !TAG_MASK) | tag
}

#[cfg(not(loom))]
pub(crate) use std_impl::{ChanLock, Guard};

thread_local! {
    /// Contended acquisitions made on this thread (wrapping), and the nanoseconds they waited
    /// in all: the scheduler reads them between tasks to see a worker that spends its time
    /// waiting for a lock another holds (`worker::aside`).
    static CONTENDED: std::cell::Cell<(u32, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// How many acquisitions on this thread found the lock held (wrapping), and how long they
/// waited for it, in nanoseconds (wrapping).
#[inline]
pub(crate) fn contended() -> (u32, u64) {
    CONTENDED.with(|c| c.get())
}

#[cfg(not(loom))]
pub(crate) fn count_contended(waited: std::time::Duration) {
    CONTENDED.with(|c| {
        let (n, ns) = c.get();
        c.set((n.wrapping_add(1), ns.wrapping_add(waited.as_nanos() as u64)));
    });
}

#[cfg(not(loom))]
mod std_impl {
    use super::{with_tag, RELEASE, TAG_MASK};
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicUsize, Ordering::*};

    /// Spin rounds before yielding the thread; round `r` pauses `2^min(r, MAX_SPIN_SHIFT)`
    /// times before looking at the lock again (about 2,000 pauses in all before the first
    /// yield).
    ///
    /// The long tail of the backoff matters under sustained contention (4 senders and 4
    /// receivers on one channel, both workers busy): a waiter that keeps finding the lock
    /// taken looks less and less often, so the holder's core runs many operations in a row
    /// with the channel's cache lines to itself instead of handing them over at every
    /// operation, which is what made the contended case three times slower than one core
    /// alone. Go's lock gets the same effect by putting the waiter to sleep. Rounds stay
    /// short while the lock is only briefly taken (the first ones are 1, 2, 4 pauses).
    /// Measured on `mpmc`, interleaved: 7 rounds capped at 64 pauses: 164 ms; 12 rounds
    /// capped at 256: 129; 12 capped at 512: 104; 14 capped at 1024: 102 (Go: 105).
    const SPIN_ROUNDS: u32 = 12;
    const MAX_SPIN_SHIFT: u32 = 9;

    pub(crate) struct ChanLock<T> {
        /// Bit 0: held. Bits 1 to 3: the tag of the last release. Bits 4..: releases so far.
        word: AtomicUsize,
        /// Guarded by bit 0 of `word`.
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock gives one thread at a time access to `value`, like `std::sync::Mutex`:
    // it needs `T: Send` to hand the value between threads, not `T: Sync`.
    unsafe impl<T: Send> Sync for ChanLock<T> {}
    // SAFETY: as above; moving the lock moves the `T`.
    unsafe impl<T: Send> Send for ChanLock<T> {}

    pub(crate) struct Guard<'a, T> {
        lock: &'a ChanLock<T>,
        /// The word the release stores: the word while held plus [`RELEASE`], with the tag
        /// set by [`Guard::set_tag`] (the previous release's unless set).
        next: usize,
    }

    impl<T> ChanLock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self::with_tag(value, 0)
        }

        /// A lock whose word starts with tag `tag` (the summary of `value`).
        pub(crate) fn with_tag(value: T, tag: usize) -> Self {
            debug_assert_eq!(tag & !TAG_MASK, 0, "lock tag outside TAG_MASK");
            ChanLock {
                word: AtomicUsize::new(tag),
                value: UnsafeCell::new(value),
            }
        }

        /// The tag of the latest release this thread sees, without taking the lock: a hint
        /// about the guarded value that may be stale by the time it is used.
        #[inline]
        pub(crate) fn tag(&self) -> usize {
            self.word.load(Relaxed) & TAG_MASK
        }

        #[inline]
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            // One read-modify-write whose result is used only for bit 0, so it compiles to
            // `lock bts`, with no plain load first: a load before the read-modify-write (what
            // a `fetch_or` whose whole result is used becomes: a load and a `cmpxchg` loop)
            // fetches the line shared and then upgrades it, two transfers of a contended line
            // instead of one (measured: mpmc about 20% slower that way). Setting bit 0 changes
            // nothing if it is set already.
            if self.word.fetch_or(1, Acquire) & 1 != 0 {
                self.lock_contended();
            }
            // Held: nobody changes the word until our release (a contender's `fetch_or` of bit
            // 0 leaves it as it is), so this reads exactly the word we set; the line is in our
            // cache from the read-modify-write.
            let held = self.word.load(Relaxed);
            Guard {
                lock: self,
                next: held.wrapping_add(RELEASE),
            }
        }

        /// Whether nobody took the lock since the release that left the word at `stamp`.
        #[inline]
        pub(crate) fn unchanged_since(&self, stamp: usize) -> bool {
            self.word
                .compare_exchange(stamp, stamp, AcqRel, Relaxed)
                .is_ok()
        }

        /// Test only: overwrites the tag of the unlocked word (a stale hint, as a reader on
        /// another core may see one).
        #[cfg(test)]
        pub(crate) fn force_tag(&self, tag: usize) {
            let w = self.word.load(Relaxed);
            assert_eq!(w & 1, 0, "force_tag on a held lock");
            self.word.store(with_tag(w, tag), Relaxed);
        }

        /// Test only: how many times the lock was released.
        #[cfg(test)]
        pub(crate) fn releases(&self) -> usize {
            self.word.load(Relaxed) >> 4
        }

        #[cold]
        fn lock_contended(&self) {
            let start = std::time::Instant::now();
            self.wait_for_unlock();
            super::count_contended(start.elapsed());
        }

        fn wait_for_unlock(&self) {
            let mut backoff = 0u32;
            loop {
                let mut cur = self.word.load(Relaxed);
                while cur & 1 != 0 {
                    if backoff < SPIN_ROUNDS {
                        for _ in 0..(1u32 << backoff.min(MAX_SPIN_SHIFT)) {
                            std::hint::spin_loop();
                        }
                        backoff += 1;
                    } else {
                        // The holder may have been preempted: give it our core.
                        std::thread::yield_now();
                    }
                    cur = self.word.load(Relaxed);
                }
                if self.word.fetch_or(1, Acquire) & 1 == 0 {
                    return;
                }
            }
        }
    }

    impl<T> Guard<'_, T> {
        /// The word this guard's release will leave (with the tag set so far): see
        /// [`ChanLock::unchanged_since`].
        #[inline]
        pub(crate) fn stamp(&self) -> usize {
            self.next
        }

        /// The tag this guard's release will leave: the previous release's, unless set.
        #[inline]
        pub(crate) fn tag(&self) -> usize {
            self.next & TAG_MASK
        }

        /// Sets the tag this guard's release leaves in the word (bits of [`TAG_MASK`]).
        #[inline]
        pub(crate) fn set_tag(&mut self, tag: usize) {
            self.next = with_tag(self.next, tag);
        }
    }

    impl<T> Deref for Guard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard exists only while `locked` is ours, so no other reference to
            // `value` exists.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for Guard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and `&mut self` makes this the only use of the guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for Guard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            // Clears bit 0, counts the release and leaves the tag.
            self.lock.word.store(self.next, Release);
        }
    }
}

#[cfg(loom)]
mod loom_impl {
    use super::{with_tag, RELEASE, TAG_MASK};
    use crate::loom::Unpoison;
    use loom::sync::atomic::{AtomicUsize, Ordering::*};
    use std::ops::{Deref, DerefMut};

    pub(crate) struct ChanLock<T> {
        mutex: loom::sync::Mutex<T>,
        /// Bit 0: held; bits 1 to 3 the tag; the rest counts releases, as the std lock's word.
        word: AtomicUsize,
    }

    pub(crate) struct Guard<'a, T> {
        guard: Option<loom::sync::MutexGuard<'a, T>>,
        word: &'a AtomicUsize,
        next: usize,
    }

    impl<T> ChanLock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self::with_tag(value, 0)
        }

        pub(crate) fn with_tag(value: T, tag: usize) -> Self {
            ChanLock {
                mutex: loom::sync::Mutex::new(value),
                word: AtomicUsize::new(tag),
            }
        }

        pub(crate) fn tag(&self) -> usize {
            self.word.load(Relaxed) & TAG_MASK
        }

        pub(crate) fn lock(&self) -> Guard<'_, T> {
            let guard = self.mutex.lock().unpoison();
            let held = self.word.fetch_add(1, AcqRel) + 1;
            Guard {
                guard: Some(guard),
                word: &self.word,
                next: held.wrapping_add(RELEASE),
            }
        }

        pub(crate) fn unchanged_since(&self, stamp: usize) -> bool {
            self.word
                .compare_exchange(stamp, stamp, AcqRel, Relaxed)
                .is_ok()
        }
    }

    impl<T> Guard<'_, T> {
        pub(crate) fn stamp(&self) -> usize {
            self.next
        }

        pub(crate) fn tag(&self) -> usize {
            self.next & TAG_MASK
        }

        pub(crate) fn set_tag(&mut self, tag: usize) {
            self.next = with_tag(self.next, tag);
        }
    }

    impl<T> Deref for Guard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.guard.as_ref().expect("guard released")
        }
    }

    impl<T> DerefMut for Guard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard.as_mut().expect("guard released")
        }
    }

    impl<T> Drop for Guard<'_, T> {
        fn drop(&mut self) {
            self.word.store(self.next, Release);
            drop(self.guard.take());
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::ChanLock;

    #[test]
    fn the_stamp_tells_whether_anyone_locked_since() {
        let l = ChanLock::new(0u32);
        let g = l.lock();
        let stamp = g.stamp();
        assert!(!l.unchanged_since(stamp), "still held");
        drop(g);
        assert!(l.unchanged_since(stamp));
        assert!(l.unchanged_since(stamp), "checking takes no lock");
        drop(l.lock());
        assert!(!l.unchanged_since(stamp), "locked and released since");
    }

    #[test]
    fn the_tag_is_what_the_last_release_left() {
        let l = ChanLock::with_tag(0u32, 0b100);
        assert_eq!(l.tag(), 0b100);
        let mut g = l.lock();
        assert_eq!(g.tag(), 0b100, "kept unless set");
        assert_eq!(g.stamp() & super::TAG_MASK, 0b100);
        g.set_tag(0b010);
        let stamp = g.stamp();
        assert_eq!(l.tag(), 0b100, "the old tag until the release");
        drop(g);
        assert_eq!(l.tag(), 0b010);
        assert!(l.unchanged_since(stamp), "the stamp includes the tag");
        drop(l.lock());
        assert_eq!(
            l.tag(),
            0b010,
            "a holder that sets no tag keeps the last one"
        );
        assert!(!l.unchanged_since(stamp));
        let mut g = l.lock();
        g.set_tag(0);
        drop(g);
        assert_eq!(l.tag(), 0);
    }
}
