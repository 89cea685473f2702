//! A hierarchical timing wheel: the data structure behind every gorun timer.
//!
//! # Algorithm
//!
//! Time is counted in ticks of 1 ms since the runtime's driver started. The wheel has
//! [`LEVELS`] = 6 levels of 64 slots each. A slot of level `L` spans `64^L` ticks, so level 0
//! covers the next 64 ms at 1 ms resolution, level 1 the next ~4 s at 64 ms, and level 5 about
//! 2.2 years at ~12.4 days per slot. This is tokio's `runtime/time/wheel` (itself Varghese and
//! Lauck's "hashed and hierarchical timing wheels", 1987), written over a slab instead of
//! intrusive pointers.
//!
//! An entry due at tick `when` goes into the lowest level whose current "window" also contains
//! `when`: the level is given by the highest bit in which `elapsed ^ when` differs, divided by 6
//! (see [`level_for`]); the slot is `(when >> 6*L) % 64`. Advancing time finds the earliest
//! occupied slot (one `rotate_right` + `trailing_zeros` on each level's occupancy bitmap) and
//! processes it: entries whose `when` has come fire, the others (only possible above level 0)
//! cascade down to a lower level, where they will be found again at a finer resolution.
//!
//! Each slot holds a doubly linked list threaded through the entries (`prev`/`next` are slab
//! keys), so insertion and cancellation are O(1): link or unlink one node and maybe flip one
//! occupancy bit. Entries live in one [`Slab`]; removing an entry frees its memory at once (the
//! slot goes back to the slab's free list). With the driver's payload an entry is 40 bytes.
//!
//! # Memory
//!
//! - After a burst the slab gives memory back: a removal that leaves it less than a quarter
//!   full calls `shrink_to_fit`, which drops the vacant slots after the last live one (keys are
//!   held by timers and never move, so a live entry at a high key limits it; the next attempt
//!   then waits until half the entries are gone again, keeping attempts O(1) amortized).
//!   The shrink walks the whole slab (5.8 ms for a million entries), so when firing frees the
//!   entries `poll` only marks it pending and the driver runs it after waking what fired.
//! - Entries nobody can observe any more (the driver's predicate: a timer whose channel is
//!   gone) are collected by [`Wheel::collect`], due when the wheel doubled from the smallest
//!   it has been since the last one (O(1) amortized per allocation), and by
//!   [`Wheel::collect_step`], a few slots per tick as timers fire.
//!
//! # Invariants
//!
//! - `elapsed` only grows, and never passes the start of an occupied slot without processing it
//!   (`poll` handles expirations one slot at a time, in deadline order).
//! - An entry is *scheduled* iff it is linked into exactly one slot list; then its `level` is
//!   `< LEVELS`, its slot's occupancy bit is set, and `when > elapsed` held when it was linked.
//!   An unscheduled entry has `level == UNSCHEDULED` and `prev == next == NIL`.
//! - An entry never fires before its `when`: a slot's deadline is at most the `when` of every
//!   entry in it, and on processing each entry is compared with its exact `when`.
//! - An entry more than [`MAX_SPAN`] ticks ahead is fudged into the top level, used as a ring,
//!   and simply cascades again when its slot comes round (at most `MAX_SPAN` ticks later).
//! - A level-0 slot holds only entries due exactly at its tick; a slot of a higher level holds
//!   only entries due within its span (or, at the top level, later).
//!
//! # Rejected
//!
//! - A binary heap (Go's per-P 4-ary heap): O(log n) insert and, worse, O(n) or lazy cancel;
//!   a million cancelled sleeps would linger in it.
//! - Intrusive nodes inside each `Sleep` (tokio): saves the slab indirection but needs pinned,
//!   `unsafe` linked lists shared across threads; the slab gives the same O(1) with safe code and
//!   a small, dense allocation.

use slab::Slab;

/// Number of levels.
pub(crate) const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// The farthest ahead (in ticks) an entry can be placed: about 2.2 years of milliseconds.
pub(crate) const MAX_SPAN: u64 = (1 << (SLOT_BITS as usize * LEVELS)) - 1;
const NIL: u32 = u32::MAX;
const UNSCHEDULED: u8 = u8::MAX;

/// What the wheel does with an entry after its firing callback ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fired {
    /// Leave it allocated and unscheduled (its owner will look at it or free it).
    Keep,
    /// Free it now.
    Remove,
    /// Schedule it again at this tick (a ticker).
    Reschedule(u64),
}

/// Ticks are kept below 2^56 (about 2.3 million years of milliseconds), so that an entry's
/// level fits in the top byte of its `when`: every byte of an entry counts a million times.
const WHEN_BITS: u32 = 56;
const MAX_WHEN: u64 = (1 << WHEN_BITS) - 1;

struct Entry<T> {
    /// The exact tick this entry is due at (low 56 bits) and its level (top 8 bits,
    /// `UNSCHEDULED` when not linked). Its slot is not stored: it is `slot_for(when, level)`.
    when_level: u64,
    prev: u32,
    next: u32,
    payload: T,
}

impl<T> Entry<T> {
    fn when(&self) -> u64 {
        self.when_level & MAX_WHEN
    }

    fn level(&self) -> u8 {
        (self.when_level >> WHEN_BITS) as u8
    }

    fn set(&mut self, when: u64, level: u8) {
        debug_assert!(when <= MAX_WHEN);
        self.when_level = when | (level as u64) << WHEN_BITS;
    }
}

#[derive(Clone, Copy)]
struct Level {
    /// Bit `s` is set iff `heads[s] != NIL`.
    occupied: u64,
    heads: [u32; SLOTS],
}

/// The slot to process next and the tick at which it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expiration {
    level: usize,
    slot: usize,
    deadline: u64,
}

/// A hierarchical timing wheel over payloads `T`, indexed by `u32` keys.
pub(crate) struct Wheel<T> {
    /// Ticks processed so far: every entry due at or before `elapsed` has fired.
    elapsed: u64,
    levels: [Level; LEVELS],
    entries: Slab<Entry<T>>,
    /// Number of scheduled entries.
    scheduled: usize,
    /// [`collect`](Self::collect) is due once this many entries are allocated.
    gc_at: usize,
    /// Where [`collect_step`](Self::collect_step) resumes (a slab index).
    gc_cursor: usize,
    /// The tick of the last [`collect_step`](Self::collect_step) (one per tick at most).
    gc_tick: u64,
    /// A removal that leaves fewer entries than this tries to give memory back.
    shrink_below: usize,
    /// The slab's capacity after the last shrink attempt: only growth past it re-arms
    /// `shrink_below`, so a slab that cannot shrink (a live entry at a high key) is not
    /// retried on every removal.
    shrink_cap: usize,
    /// A removal made a shrink due that has not run yet (see
    /// [`shrink_pending`](Self::shrink_pending)).
    shrink_pending: bool,
    /// One past the highest key allocated since the last shrink: at least the slab's length
    /// (its last slot, vacant or not, is below it).
    top: usize,
    /// Entries that may have become collectable since the last [`collect`](Self::collect)
    /// (counted by the owner with [`note_may_die`](Self::note_may_die)); while it is 0,
    /// [`gc_due`](Self::gc_due) says no and no collection walks the slab for nothing.
    may_die: usize,
}

/// Below this many allocated entries the wheel neither collects nor shrinks: small wheels are
/// not worth the work.
const GC_MIN: usize = 4096;

/// The level at which an entry due at `when` goes while the wheel is at `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    // Or-ing SLOT_MASK makes anything within level 0's range land on level 0.
    let mut masked = (elapsed ^ when) | SLOT_MASK;
    if masked >= MAX_SPAN {
        masked = MAX_SPAN - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / SLOT_BITS as usize
}

fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize
}

/// Ticks spanned by one slot of `level`.
fn slot_range(level: usize) -> u64 {
    1 << (level as u32 * SLOT_BITS)
}

/// Ticks spanned by the whole of `level`.
fn level_range(level: usize) -> u64 {
    1 << ((level as u32 + 1) * SLOT_BITS)
}

impl Level {
    const EMPTY: Level = Level {
        occupied: 0,
        heads: [NIL; SLOTS],
    };

    fn next_expiration(&self, level: usize, now: u64) -> Option<Expiration> {
        if self.occupied == 0 {
            return None;
        }
        let now_slot = (now / slot_range(level)) & SLOT_MASK;
        let rotated = self.occupied.rotate_right(now_slot as u32);
        let slot = ((rotated.trailing_zeros() as u64 + now_slot) & SLOT_MASK) as usize;
        let level_start = now & !(level_range(level) - 1);
        let mut deadline = level_start + slot as u64 * slot_range(level);
        if level > 0 && deadline <= now {
            // Only the top level wraps: an entry more than one rotation of the top level away
            // (or crossing its boundary) is fudged into it and found on the next rotation.
            deadline += level_range(level);
        }
        Some(Expiration {
            level,
            slot,
            deadline,
        })
    }
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub(crate) fn new() -> Wheel<T> {
        Wheel {
            elapsed: 0,
            levels: [Level::EMPTY; LEVELS],
            entries: Slab::new(),
            scheduled: 0,
            gc_at: GC_MIN,
            gc_cursor: 0,
            gc_tick: 0,
            shrink_below: 0,
            shrink_cap: 0,
            shrink_pending: false,
            top: 0,
            may_die: 0,
        }
    }

    /// Ticks processed so far.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of scheduled (pending) entries.
    pub(crate) fn scheduled(&self) -> usize {
        self.scheduled
    }

    /// Number of allocated entries, scheduled or not.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.entries.len()
    }

    /// Entries the slab has room for (its memory, in entries).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Allocates an unscheduled entry holding `payload`.
    pub(crate) fn alloc(&mut self, payload: T) -> u32 {
        let key = self.entries.insert(Entry {
            when_level: (UNSCHEDULED as u64) << WHEN_BITS,
            prev: NIL,
            next: NIL,
            payload,
        });
        assert!(key < NIL as usize, "gorun: more than 4 billion timers");
        self.top = self.top.max(key + 1);
        if self.entries.capacity() > self.shrink_cap {
            // Grown: give memory back once three quarters of it are unused.
            self.shrink_cap = self.entries.capacity();
            self.shrink_below = self.shrink_cap / 4;
        }
        key as u32
    }

    /// Frees slab slot `key` (already unscheduled), giving memory back after a burst.
    #[inline]
    fn free(&mut self, key: u32) -> T {
        let payload = self.release(key);
        self.shrink_if_pending();
        payload
    }

    /// Frees entry `key` without shrinking: a shrink it makes due is left pending (see
    /// [`shrink_pending`](Self::shrink_pending)).
    fn release(&mut self, key: u32) -> T {
        let e = self.entries.remove(key as usize);
        let len = self.entries.len();
        // The next collection is due once the wheel doubled from its smallest size since the
        // last one (not from the size the last one left: after a burst is freed, that could be
        // a million entries away).
        self.gc_at = self.gc_at.min((2 * len).max(GC_MIN));
        if (len < self.shrink_below || len == 0) && self.entries.capacity() >= GC_MIN {
            self.shrink_pending = true;
        }
        e.payload
    }

    /// Whether entries freed by [`poll`](Self::poll) made a shrink due. It walks the whole
    /// slab (5.8 ms for a million entries), so `poll` leaves it to its caller, to run once the
    /// fired timers' wakers have run: [`shrink_if_pending`](Self::shrink_if_pending).
    pub(crate) fn shrink_pending(&self) -> bool {
        self.shrink_pending
    }

    /// Runs the shrink that [`poll`](Self::poll) left pending, if any.
    pub(crate) fn shrink_if_pending(&mut self) {
        if self.shrink_pending {
            self.shrink();
        }
    }

    /// Gives the slab's unused tail back, if it has one.
    #[cold]
    fn shrink(&mut self) {
        // `shrink_to_fit` keeps every key valid: it drops the vacant slots after the last live
        // one, walking and copying the whole slab. A live entry in the last slot stops it:
        // then it is not even tried (timers freed in the order they were made, the common
        // burst, keep the newest alive until the end). Either way the next attempt waits until
        // half the entries are gone again (or the slab grows, or empties), so attempts cost
        // O(1) amortized per removal.
        if self.top == 0 || !self.entries.contains(self.top - 1) {
            self.entries.shrink_to_fit();
            self.top = self.entries.capacity();
        }
        self.shrink_cap = self.entries.capacity();
        self.shrink_below = self.entries.len() / 2;
        self.shrink_pending = false;
    }

    /// Whether enough entries have been allocated since the last [`collect`](Self::collect)
    /// for another to be worth it: the wheel doubled from the smallest it has been since (and
    /// holds at least [`GC_MIN`]).
    pub(crate) fn gc_due(&self) -> bool {
        self.may_die > 0 && self.entries.len() >= self.gc_at
    }

    /// Counts one more entry that may become collectable (its payload may turn `dead` for
    /// [`collect`](Self::collect)); entries that cannot are never walked for.
    pub(crate) fn note_may_die(&mut self) {
        self.may_die += 1;
    }

    /// Frees every entry whose payload `dead` says nobody can observe any more (a timer whose
    /// channel is gone); returns how many. O(allocated), and called only when
    /// [`gc_due`](Self::gc_due) says so: O(1) amortized per allocation, and memory stays within about twice
    /// what is live. The survivors that `may_die` names are the new count of entries that
    /// may become collectable later ([`note_may_die`](Self::note_may_die)).
    pub(crate) fn collect(
        &mut self,
        mut dead: impl FnMut(&T) -> bool,
        mut may_die: impl FnMut(&T) -> bool,
    ) -> usize {
        let mut survivors = 0;
        let keys: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                let d = dead(&e.payload);
                if !d && may_die(&e.payload) {
                    survivors += 1;
                }
                d
            })
            .map(|(k, _)| k as u32)
            .collect();
        for &k in &keys {
            self.remove(k);
        }
        self.may_die = survivors;
        self.gc_at = (2 * self.entries.len()).max(GC_MIN);
        keys.len()
    }

    /// [`collect`](Self::collect) spread over time: looks at the next `n` slab slots (from a
    /// cursor that wraps round; at most the whole slab once), at most once per tick (`now`).
    /// The driver calls it as it fires timers, so that timers dropped in a burst are found
    /// even if no new timer is made; the once-per-tick limit keeps its cost off the park path
    /// of busy runtimes. Returns how many it freed.
    pub(crate) fn collect_step(
        &mut self,
        now: u64,
        n: usize,
        mut dead: impl FnMut(&T) -> bool,
    ) -> usize {
        if self.entries.is_empty() || now <= self.gc_tick {
            return 0;
        }
        self.gc_tick = now;
        let mut freed = 0;
        for _ in 0..n.min(self.entries.capacity()) {
            if self.gc_cursor >= self.entries.capacity() {
                self.gc_cursor = 0;
            }
            let k = self.gc_cursor;
            self.gc_cursor += 1;
            if self.entries.get(k).is_some_and(|e| dead(&e.payload)) {
                self.remove(k as u32);
                freed += 1;
            }
        }
        freed
    }

    /// Whether `key` is an allocated entry.
    pub(crate) fn contains(&self, key: u32) -> bool {
        self.entries.contains(key as usize)
    }

    /// The payload of entry `key`.
    pub(crate) fn payload_mut(&mut self, key: u32) -> &mut T {
        &mut self.entries[key as usize].payload
    }

    /// Calls `f` with the key of every allocated entry.
    pub(crate) fn for_each_key(&self, mut f: impl FnMut(u32)) {
        for (k, _) in self.entries.iter() {
            f(k as u32);
        }
    }

    /// Whether entry `key` is scheduled.
    pub(crate) fn is_scheduled(&self, key: u32) -> bool {
        self.entries[key as usize].level() != UNSCHEDULED
    }

    /// Schedules entry `key` at tick `when` (unscheduling it first if needed). A `when` that has
    /// already passed is moved to `elapsed + 1`, the next tick processed; one beyond `MAX_WHEN`
    /// is moved to it.
    pub(crate) fn schedule(&mut self, key: u32, when: u64) {
        self.unschedule(key);
        let when = when.clamp(self.elapsed + 1, MAX_WHEN.max(self.elapsed + 1));
        self.entries[key as usize].set(when, UNSCHEDULED);
        self.link(key);
        self.scheduled += 1;
    }

    /// Unschedules entry `key`; returns whether it was scheduled.
    pub(crate) fn unschedule(&mut self, key: u32) -> bool {
        if !self.is_scheduled(key) {
            return false;
        }
        self.unlink(key);
        self.scheduled -= 1;
        true
    }

    /// Frees entry `key`, returning its payload.
    pub(crate) fn remove(&mut self, key: u32) -> T {
        self.unschedule(key);
        self.free(key)
    }

    fn link(&mut self, key: u32) {
        let when = self.entries[key as usize].when();
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        let head = self.levels[level].heads[slot];
        {
            let e = &mut self.entries[key as usize];
            e.set(when, level as u8);
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = key;
        }
        let lvl = &mut self.levels[level];
        lvl.heads[slot] = key;
        lvl.occupied |= 1 << slot;
    }

    fn unlink(&mut self, key: u32) {
        let (prev, next, level, slot) = {
            let e = &mut self.entries[key as usize];
            let (when, level) = (e.when(), e.level() as usize);
            let r = (e.prev, e.next, level, slot_for(when, level));
            e.prev = NIL;
            e.next = NIL;
            e.set(when, UNSCHEDULED);
            r
        };
        if prev == NIL {
            self.levels[level].heads[slot] = next;
            if next == NIL {
                self.levels[level].occupied &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    fn next_expiration(&self) -> Option<Expiration> {
        // Every level-0 entry is due before any later slot of a higher level starts, so the
        // first level with something in it holds the earliest expiration.
        (0..LEVELS).find_map(|l| self.levels[l].next_expiration(l, self.elapsed))
    }

    /// The tick at which [`poll`](Self::poll) next has work to do (firing or cascading), if any
    /// entry is scheduled.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|e| e.deadline)
    }

    /// Advances the wheel to tick `now`, calling `fire(key, when, payload)` for each entry that comes
    /// due, in deadline order (entries due in the same tick in any order). The entry is already
    /// unscheduled when `fire` runs; its return value says what happens next. Stops after `max`
    /// firings and returns `true` if more may be due (call again with the same `now`). Entries it
    /// frees may leave a shrink pending: the caller runs it with
    /// [`shrink_if_pending`](Self::shrink_if_pending) when it suits (after waking what fired).
    pub(crate) fn poll(
        &mut self,
        now: u64,
        max: usize,
        mut fire: impl FnMut(u32, u64, &mut T) -> Fired,
    ) -> bool {
        let mut fired = 0;
        while let Some(exp) = self.next_expiration() {
            if exp.deadline > now {
                break;
            }
            self.elapsed = self.elapsed.max(exp.deadline);
            if exp.level == 0 {
                // Every entry of a level-0 slot is due exactly at the slot's deadline. Fire them
                // one at a time so the budget can stop us midway: the rest stay linked in the
                // current slot, whose deadline is then `elapsed`, found again by the next call.
                loop {
                    let key = self.levels[0].heads[exp.slot];
                    if key == NIL {
                        break;
                    }
                    if fired >= max {
                        return true;
                    }
                    self.unlink(key);
                    self.scheduled -= 1;
                    fired += 1;
                    let e = &mut self.entries[key as usize];
                    debug_assert!(e.when() <= exp.deadline);
                    match fire(key, e.when(), &mut e.payload) {
                        Fired::Keep => {}
                        Fired::Remove => {
                            // `fire` took what it needed; a shrink this makes due is left
                            // to the caller (`shrink_if_pending`).
                            self.release(key);
                        }
                        Fired::Reschedule(when) => {
                            let when = when.clamp(self.elapsed + 1, MAX_WHEN.max(self.elapsed + 1));
                            self.entries[key as usize].set(when, UNSCHEDULED);
                            self.link(key);
                            self.scheduled += 1;
                        }
                    }
                }
            } else {
                // Cascade: detach the slot and re-link every entry relative to the new
                // `elapsed`. Entries due now land in level 0's current slot and fire on the next
                // turn of this loop; the others go to a lower level (or, far ones, the top).
                let lvl = &mut self.levels[exp.level];
                let mut key = lvl.heads[exp.slot];
                lvl.heads[exp.slot] = NIL;
                lvl.occupied &= !(1 << exp.slot);
                while key != NIL {
                    let next = self.entries[key as usize].next;
                    self.link(key);
                    key = next;
                }
            }
        }
        if now > self.elapsed {
            self.elapsed = now;
        }
        false
    }
}

#[cfg(test)]
mod tests;
