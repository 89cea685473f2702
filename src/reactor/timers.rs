//! The timer half of the driver: what a wheel entry does when it fires, and the operations
//! `gorun::time` uses on entries (all under the driver's timer lock, each O(1)).
//!
//! # Clock
//!
//! A tick is 1 ms since the driver was created. A deadline converts to the tick that *ends*
//! after it (`ceil`), the current time to the tick in progress (`floor`), so an entry fires at
//! the earliest when `now >= deadline`: never early, at most ~1 ms plus wake-up latency late.
//!
//! # Entries
//!
//! An entry is a [`TimerAction`] in the wheel's slab (40 bytes with its links):
//! - `Wake`: a [`Sleep`](crate::time::Sleep). Firing wakes the waker and frees the entry; the
//!   `Sleep` sees for itself (comparing `Instant::now()` with its deadline) that it is done.
//!   Since an entry fires only once its deadline has passed, a `Sleep` that sees its deadline
//!   passed just forgets its entry (which has fired and been freed, or will fire within about a
//!   millisecond and free itself, waking a task that no longer waits for it: a harmless
//!   spurious wake-up): a completed sleep does not take the wheel's lock again. Every other
//!   operation on a sleep's entry names it by key *and* generation, checked under the lock, so
//!   that a key freed by firing and reused by another timer is never mistaken for its own.
//! - `Chan`: `after`, `tick`, `Timer`, `Ticker`. Firing does `try_send(now)` on a capacity-1
//!   channel, *under the timer lock*, so that `stop`/`reset` (which unschedule the entry and
//!   drain the channel under the same lock, [`Driver::timer_stop`]) can guarantee no stale
//!   value arrives after they return, as Go 1.23 does. A full channel drops the value: that is
//!   how a slow ticker reader loses ticks. A periodic entry is rescheduled at the next multiple
//!   of its period after now (missed ticks are skipped, phase kept, as Go's `runtime.timer`
//!   does).
//! - `Lazy`: a `Timer` nobody has called `c()` on yet. Firing keeps the time in the entry, as
//!   the channel would hold it; `timer_stop` takes it out as it would drain the channel; the
//!   first `c()` makes the channel and `timer_attach` moves the kept time into it and turns the
//!   entry into `Chan`, all under the timer lock. Most timers are armed and stopped without
//!   ever being looked at: they cost no channel (144 bytes).
//! - `Func`: `after_func`; firing spawns a goroutine running the callback (after the lock is
//!   released).
//!
//! A `detached` entry (its `Timer` was dropped, or it came from `after`) frees itself after
//! firing; an owned one stays allocated (unscheduled) for its owner's `reset`/`stop`.
//!
//! # Collection (Go 1.23's unreferenced timers)
//!
//! A `Chan` entry holds its channel weakly (a [`TimerChan`]: the time layer's `WeakChan`,
//! type-erased, see `timer_chan.rs`): the receivers the user holds (and a
//! `Timer`'s or `Ticker`'s own) keep it alive, the wheel does not. When they are all dropped the
//! channel is freed at once and the entry is *dead*: nothing could ever observe it. A dead
//! entry is freed when it fires, by `Wheel::collect` when a timer is started and the wheel
//! doubled from its smallest size since the last collection (so `select! { .., recv(after(d)) -> _ => .. }` in a loop
//! keeps at most about twice its live timers), and by `Wheel::collect_step` as the driver fires
//! timers (so a burst of dropped `after`s is found even if no timer is started again). A
//! dropped `Timer` whose channel nobody else holds is freed at once (`timer_detach`), a dropped
//! `Ticker` always. An owner's entry is never dead while the owner lives, since it holds a
//! receiver, so a key an owner holds is never freed under it.

use crate::util::wake_list::store_waker;
use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::timer_chan::TimerChan;
use super::wheel::{Fired, Wheel};
use super::{Driver, FIRE_BATCH};
use crate::util::lock::ChanLock;

/// What a timer entry does when it fires.
pub(crate) enum TimerAction {
    /// A `Sleep`'s waker, and the generation that tells this sleep from a later user of the key.
    Wake { waker: Option<Waker>, gen: u32 },
    /// Send the firing time on `chan`; `period` in ticks, 0 for one-shot. The channel is held
    /// weakly: once every handle of it is gone the entry is collected (see the module docs).
    Chan {
        chan: TimerChan,
        period: u64,
        detached: bool,
    },
    /// A `Timer` whose channel nobody has asked for yet: firing keeps the time here, where a
    /// channel would hold it. Most timers are only ever stopped (a timeout armed and
    /// cancelled), so a `Timer` makes its channel on the first `c()` ([`Driver::timer_attach`]
    /// moves the kept time into it and turns the entry into `Chan`), and one never looked at
    /// costs no channel. Its owner removes it when dropped: nobody else can observe it.
    Lazy { fired: Option<Instant> },
    /// Run the callback in a new goroutine.
    Func {
        f: Arc<dyn Fn() + Send + Sync>,
        detached: bool,
    },
}

// A wheel entry is 40 bytes: 16 of links and deadline, 24 of action (see the module docs).
#[cfg(all(target_pointer_width = "64", not(loom)))]
const _: () = assert!(std::mem::size_of::<TimerAction>() == 24);

/// Work collected under the lock, done after it is released.
#[derive(Default)]
struct Deferred {
    wakers: Vec<Waker>,
    funcs: Vec<Arc<dyn Fn() + Send + Sync>>,
}

impl Deferred {
    /// Wakes and calls what was collected, leaving the lists empty with their capacity (a
    /// burst of firings reuses them batch after batch instead of growing new ones: growing
    /// from empty cost ten reallocations per batch, about 80 instructions per fired sleep).
    fn run(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
        // An `after_func` callback starts its own goroutine on the runtime that owns the timer
        // (`time::timer::on_owner`): calling it here spawns, it does not run user code.
        for f in self.funcs.drain(..) {
            f();
        }
    }
}

/// Fires `action` (due at tick `when`) at time `now` / tick `now_tick`.
fn fire(
    action: &mut TimerAction,
    when: u64,
    now: Instant,
    now_tick: u64,
    out: &mut Deferred,
) -> Fired {
    match action {
        TimerAction::Wake { waker, .. } => {
            if let Some(w) = waker.take() {
                out.wakers.push(w);
            }
            Fired::Remove
        }
        TimerAction::Chan {
            chan,
            period,
            detached,
        } => {
            if !chan.send_time(now) {
                // Nobody can receive: collect the entry. Its owner (`Timer`, `Ticker`) holds a
                // receiver until it has let go of the key, so no key held is freed here.
                return Fired::Remove;
            }
            if *period > 0 {
                let behind = now_tick.saturating_sub(when);
                Fired::Reschedule(when + *period * (1 + behind / *period))
            } else if *detached {
                Fired::Remove
            } else {
                Fired::Keep
            }
        }
        TimerAction::Lazy { fired } => {
            // A full channel keeps its value: so does the entry.
            fired.get_or_insert(now);
            Fired::Keep
        }
        TimerAction::Func { f, detached } => {
            out.funcs.push(f.clone());
            if *detached {
                Fired::Remove
            } else {
                Fired::Keep
            }
        }
    }
}

/// Whether nobody can observe entry `a` any more: a timer whose channel is gone.
fn is_dead(a: &TimerAction) -> bool {
    matches!(a, TimerAction::Chan { chan, .. } if chan.handles() == 0)
}

/// Whether an entry may turn [`is_dead`] later: only a channel timer whose owner let go of it
/// (`detached`): a `Timer` or `Ticker` still held keeps a handle of its channel, and its drop
/// detaches or removes its entry.
fn may_die(a: &TimerAction) -> bool {
    matches!(a, TimerAction::Chan { detached: true, .. })
}

/// Slab slots [`Wheel::collect_step`] looks at per tick (at most 256,000 a second per wheel).
const GC_STEP: usize = 256;

/// A timer key is `wheel << KEY_BITS | slab key`: 32 wheels (workers + 1, at most; more
/// workers share them) of up to 2^26 - 1 (67 million) timers each. Keys are below 2^31, so a
/// goroutine's metadata can tag one with the top bit; `u32::MAX` is never a key (`Sleep` uses
/// it as "none").
const KEY_BITS: u32 = 26;
const KEY_MASK: u32 = (1 << KEY_BITS) - 1;
pub(crate) const MAX_WHEELS: usize = 1 << (31 - KEY_BITS);

/// The wheel a timer key names, and the slab key inside it.
pub(crate) fn split(key: u32) -> (usize, u32) {
    ((key >> KEY_BITS) as usize, key & KEY_MASK)
}

/// `now + d`, or a deadline about 30 years after `now` if that overflows (`Duration::MAX`):
/// where every timer and sleep `d` from now is due (the time layer's `deadline_after` too).
pub(crate) fn deadline_from(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// The first whole tick at or after `ns` nanoseconds from the driver's start.
fn ceil_tick(ns: u128) -> u64 {
    ns.div_ceil(1_000_000).min(u64::MAX as u128 / 2) as u64
}

thread_local! {
    /// The driver whose worker runs on this thread, and the worker's index.
    static HOME: Cell<(*const Driver, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

impl Driver {
    /// Makes this thread worker `index` of this driver's runtime: the timers it creates go
    /// into wheel `index`.
    pub(crate) fn bind_worker(&self, index: usize) {
        HOME.with(|h| h.set((self, index)));
    }

    /// The wheel for timers created on this thread: its worker's, or the last one.
    fn home_wheel(&self) -> usize {
        let last = self.wheels.len() - 1;
        match HOME.try_with(|h| h.get()) {
            Ok((d, i)) if std::ptr::eq(d, self) && last > 0 => i % last,
            _ => last,
        }
    }

    /// The wheel a key names, and the slab key inside it.
    fn wheel_of(&self, key: u32) -> (&ChanLock<super::TimerState>, u32) {
        let (w, local) = split(key);
        (&self.wheels[w], local)
    }

    fn encode(w: usize, key: u32) -> u32 {
        assert!(
            key < KEY_MASK,
            "gorun: more than {} timers in one timer wheel",
            KEY_MASK - 1
        );
        (w as u32) << KEY_BITS | key
    }

    /// The first tick at or after `deadline` (round up: never early).
    pub(crate) fn tick_at(&self, deadline: Instant) -> u64 {
        ceil_tick(deadline.saturating_duration_since(self.start).as_nanos())
    }

    /// [`tick_at`](Self::tick_at) for a deadline kept as [`instant_to_ns`](Self::instant_to_ns)
    /// counts it (a `Sleep`'s), without going through an `Instant`.
    fn tick_at_ns(&self, deadline_ns: i64) -> u64 {
        ceil_tick(deadline_ns.max(0) as u128)
    }

    /// The tick in progress at `now` (round down).
    fn tick_now(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Schedules `key` at `tick` (caller holds the lock); returns whether the parked thread
    /// must be woken to shorten its sleep.
    fn schedule_locked(&self, w: usize, st: &mut super::TimerState, key: u32, tick: u64) -> bool {
        st.wheel.schedule(key, tick);
        self.lower_hint(w, tick);
        if tick < st.parked_until {
            st.parked_until = tick;
            true
        } else {
            false
        }
    }

    /// Computes how long `poll` may sleep and records what it sleeps towards.
    pub(super) fn before_park(&self, timeout: Option<Duration>) -> Option<Duration> {
        // Each wheel records the earliest deadline seen so far: never before the final wake-up,
        // which is what `parked_until` must be (see the invariants in `reactor`).
        let mut next: Option<u64> = None;
        for w in self.wheels.iter() {
            let mut st = w.lock();
            next = match (next, st.wheel.next_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            st.parked_until = next.unwrap_or(u64::MAX).max(1);
        }
        let until_timer = next.map(|t| {
            (self.start + Duration::from_millis(t)).saturating_duration_since(Instant::now())
        });
        match (timeout, until_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a timer may be due: busy workers call it between tasks. With no timer
    /// scheduled it reads one hint per wheel and not the clock (the `yield` workload pays
    /// nothing); otherwise one clock read.
    pub(crate) fn timers_may_be_due(&self) -> bool {
        let earliest = self
            .earliest
            .iter()
            .map(|e| e.0.load(Relaxed))
            .min()
            .unwrap_or(u64::MAX);
        earliest != u64::MAX && self.tick_now(Instant::now()) >= earliest
    }

    /// Lowers wheel `w`'s earliest-deadline hint to `tick` (caller holds its lock).
    fn lower_hint(&self, w: usize, tick: u64) {
        let e = &self.earliest[w].0;
        if tick < e.load(Relaxed) {
            e.store(tick, Relaxed);
        }
    }

    /// Fires every timer due at the clock reading it starts with, `FIRE_BATCH` per lock
    /// acquisition. Only the thread holding the driver (parked in it, or a busy worker that
    /// took it) calls it.
    ///
    /// Timers that come due while it fires wait for the next call (a busy worker's next timer
    /// check, or the next `poll`), so the call is bounded. Reading the clock again for every
    /// batch let a stream of timers coming due as fast as one thread fires them keep that
    /// thread firing for ever: a million sleeps coming due at about 5,000 a millisecond kept
    /// one worker firing, away from its own tasks and holding the driver, for tens of
    /// milliseconds, and the median sleep ended 60-115 ms late; the workers now share the
    /// firing between tasks (median 1-2 ms late).
    pub(crate) fn fire_due_timers(&self) {
        let now = Instant::now();
        self.advance_clock_floor(now);
        for (i, w) in self.wheels.iter().enumerate() {
            self.fire_due(i, w, now);
        }
    }

    /// Fires every timer of wheel `w` due at `now`, `FIRE_BATCH` per lock acquisition.
    fn fire_due(&self, i: usize, w: &ChanLock<super::TimerState>, now: Instant) {
        let mut out = Deferred::default();
        let mut shrink = false;
        loop {
            let more = {
                let mut st = w.lock();
                st.parked_until = 0;
                let now_tick = self.tick_now(now);
                st.wheel.collect_step(now_tick, GC_STEP, is_dead);
                let more = st.wheel.poll(now_tick, FIRE_BATCH, |_, when, a| {
                    fire(a, when, now, now_tick, &mut out)
                });
                // Exact again (periodic timers were rescheduled by the poll).
                self.earliest[i]
                    .0
                    .store(st.wheel.next_deadline().unwrap_or(u64::MAX), Relaxed);
                shrink |= st.wheel.shrink_pending();
                more
            };
            out.run();
            if !more {
                break;
            }
        }
        // After the wake-ups: shrinking walks the whole slab, and the end of a burst (the
        // last million sleeps firing) would otherwise hold its last wakers for milliseconds.
        if shrink {
            w.lock().wheel.shrink_if_pending();
        }
    }

    /// Drops every timer's payload but those of owned channel timers (see the module docs of
    /// `reactor`), keeping the slab keys valid for their owners. Returns the payloads so they
    /// are dropped outside the lock.
    pub(super) fn shutdown_timers(&self) -> Vec<TimerAction> {
        let mut dropped = Vec::new();
        for w in self.wheels.iter() {
            Self::shutdown_wheel(&mut w.lock(), &mut dropped);
        }
        dropped
    }

    fn shutdown_wheel(st: &mut super::TimerState, dropped: &mut Vec<TimerAction>) {
        st.shutdown = true;
        st.parked_until = 0;
        let mut keys = Vec::new();
        st.wheel.for_each_key(|k| keys.push(k));
        dropped.reserve(keys.len());
        for k in keys {
            st.wheel.unschedule(k);
            let gen = match st.wheel.payload_mut(k) {
                TimerAction::Wake { gen, .. } => *gen,
                // An owner's timer holds nothing of the runtime's (a kept time, or its channel
                // held weakly): kept, so that its owner's `stop` still takes a firing from
                // before (out of the entry, or the channel) and `c()` still delivers it.
                TimerAction::Lazy { .. }
                | TimerAction::Chan {
                    detached: false, ..
                } => continue,
                _ => 0,
            };
            dropped.push(std::mem::replace(
                st.wheel.payload_mut(k),
                TimerAction::Wake { waker: None, gen },
            ));
        }
    }

    /// Registers a sleep due at `deadline_ns` (as [`instant_to_ns`](Self::instant_to_ns) counts
    /// it) that wakes `waker`; returns the entry's key and generation. `None` once shut down
    /// (the sleep then stays pending forever).
    pub(crate) fn sleep_register(&self, deadline_ns: i64, waker: &Waker) -> Option<(u32, u32)> {
        let tick = self.tick_at_ns(deadline_ns);
        let w = self.home_wheel();
        let (key, gen, unpark) = {
            let mut st = self.wheels[w].lock();
            if st.shutdown {
                return None;
            }
            st.sleep_gen = st.sleep_gen.wrapping_add(1);
            let gen = st.sleep_gen;
            let key = st.wheel.alloc(TimerAction::Wake {
                waker: Some(waker.clone()),
                gen,
            });
            let unpark = self.schedule_locked(w, &mut st, key, tick);
            (Self::encode(w, key), gen, unpark)
        };
        if unpark {
            self.unpark();
        }
        Some((key, gen))
    }

    /// Whether `(key, gen)` names a live sleep entry (caller holds the lock).
    fn is_sleep(st: &mut super::TimerState, key: u32, gen: u32) -> bool {
        st.wheel.contains(key)
            && matches!(st.wheel.payload_mut(key), TimerAction::Wake { gen: g, .. } if *g == gen)
    }

    /// Replaces the waker of sleep `(key, gen)` if it would wake a different task. Returns
    /// `false` if the entry is gone: it fired, so the deadline has passed.
    pub(crate) fn sleep_update_waker(&self, key: u32, gen: u32, waker: &Waker) -> bool {
        let (w, key) = self.wheel_of(key);
        let mut st = w.lock();
        if st.shutdown {
            return true;
        }
        if !Self::is_sleep(&mut st, key, gen) {
            return false;
        }
        if let TimerAction::Wake { waker: w, .. } = st.wheel.payload_mut(key) {
            drop(store_waker(w, waker));
        }
        true
    }

    /// Frees sleep `(key, gen)` unless it already fired (a `Sleep` dropped or reset early).
    pub(crate) fn sleep_cancel(&self, key: u32, gen: u32) {
        let (w, key) = self.wheel_of(key);
        let payload = {
            let mut st = w.lock();
            if !Self::is_sleep(&mut st, key, gen) {
                return;
            }
            st.wheel.remove(key)
        };
        drop(payload);
    }

    /// Allocated wheel entries over all wheels (tests of collection and shrinking).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn timer_entries(&self) -> usize {
        self.wheels.iter().map(|w| w.lock().wheel.allocated()).sum()
    }

    /// Frees entry `key` (a dropped `Sleep`, `Ticker`, or a stopped `Timer` being dropped).
    pub(crate) fn timer_remove(&self, key: u32) {
        let (w, key) = self.wheel_of(key);
        let payload = w.lock().wheel.remove(key);
        drop(payload);
    }

    /// (Re)arms entry `key` to fire at `deadline`, first setting its period (in ticks) if
    /// `period` is given. A deadline already reached fires at once. Returns whether the entry
    /// was pending before.
    pub(crate) fn timer_arm(&self, key: u32, deadline: Instant, period: Option<u64>) -> bool {
        let (w, local) = split(key);
        self.arm_with(w, deadline, None, period, |_| local).1
    }

    /// Allocates an entry for `action` and arms it to fire `d` from now, under one acquisition
    /// of the wheel's lock (the `Timer::new`/`after`/`tick` path), reading the clock once.
    pub(crate) fn timer_start(&self, action: TimerAction, d: Duration) -> u32 {
        let now = Instant::now();
        let deadline = deadline_from(now, d);
        let mut action = Some(action);
        self.arm_with(self.home_wheel(), deadline, Some(now), None, |wheel| {
            if wheel.gc_due() {
                wheel.collect(is_dead, may_die);
            }
            let action = action.take().expect("allocated once");
            if may_die(&action) {
                wheel.note_may_die();
            }
            wheel.alloc(action)
        })
        .0
    }

    /// Arms the entry of wheel `w` that `entry` names (or allocates) under the lock; returns
    /// its key and whether it was pending before. `now`, if given, is a clock reading taken
    /// just before (saves reading it again).
    fn arm_with(
        &self,
        w: usize,
        deadline: Instant,
        now: Option<Instant>,
        period: Option<u64>,
        entry: impl FnOnce(&mut Wheel<TimerAction>) -> u32,
    ) -> (u32, bool) {
        let mut out = Deferred::default();
        let (key, was, unpark) = {
            let mut st = self.wheels[w].lock();
            let key = entry(&mut st.wheel);
            if st.shutdown {
                return (Self::encode(w, key), false);
            }
            let was = st.wheel.unschedule(key);
            if let (Some(p), TimerAction::Chan { period, .. }) = (period, st.wheel.payload_mut(key))
            {
                *period = p;
            }
            let now = now.unwrap_or_else(Instant::now);
            let unpark = if deadline <= now {
                let now_tick = self.tick_now(now);
                match fire(st.wheel.payload_mut(key), now_tick, now, now_tick, &mut out) {
                    Fired::Keep => false,
                    Fired::Remove => {
                        st.wheel.remove(key);
                        false
                    }
                    Fired::Reschedule(t) => self.schedule_locked(w, &mut st, key, t),
                }
            } else {
                let tick = self.tick_at(deadline);
                self.schedule_locked(w, &mut st, key, tick)
            };
            (key, was, unpark)
        };
        if unpark {
            self.unpark();
        }
        out.run();
        (Self::encode(w, key), was)
    }

    /// Unschedules entry `key`; returns whether it was pending.
    pub(crate) fn timer_disarm(&self, key: u32) -> bool {
        let (w, key) = self.wheel_of(key);
        let mut st = w.lock();
        st.wheel.unschedule(key)
    }

    /// Go's `Timer.Stop` on entry `key`: unschedules it and removes a firing time not yet
    /// received (kept in a `Lazy` entry, or in the channel), under the one lock firing takes:
    /// once it returns, no value prepared before can be received. Returns whether the timer
    /// was pending or its value had not been received (it had not fired, as far as anyone
    /// could see).
    pub(crate) fn timer_stop(&self, key: u32) -> bool {
        let (w, key) = self.wheel_of(key);
        let mut st = w.lock();
        let was = st.wheel.unschedule(key);
        let drained = match st.wheel.payload_mut(key) {
            TimerAction::Lazy { fired } => fired.take().is_some(),
            TimerAction::Chan { chan, .. } => chan.take_time(),
            _ => false,
        };
        was || drained
    }

    /// Gives the `Lazy` entry `key` its channel (its owner's first `c()`): a firing time
    /// kept in the entry is sent on it, and later firings send on it, as for any `Chan`
    /// entry. Done under the lock, so a firing or a `stop` sees the entry either before (and
    /// the time moves with it) or after. An entry that is no longer `Lazy` (the runtime shut
    /// down and dropped it) is left alone: its channel never receives.
    pub(crate) fn timer_attach(&self, key: u32, chan: TimerChan) {
        let (w, key) = self.wheel_of(key);
        let mut st = w.lock();
        let entry = st.wheel.payload_mut(key);
        if let TimerAction::Lazy { fired } = entry {
            if let Some(t) = fired.take() {
                chan.send_time(t);
            }
            *entry = TimerAction::Chan {
                chan,
                period: 0,
                detached: false,
            };
        }
    }

    /// The owner of entry `key` lets go of it: a pending entry whose firing someone can still
    /// observe (an `after_func`, or a channel with a receiver besides the owner's) keeps
    /// running and frees itself after firing; any other is freed now. Periodic entries are
    /// always freed (nobody could ever stop them again).
    pub(crate) fn timer_detach(&self, key: u32) {
        let (w, key) = self.wheel_of(key);
        let mut st = w.lock();
        let keep = st.wheel.is_scheduled(key)
            && match st.wheel.payload_mut(key) {
                // The owner's receiver, about to be dropped, is one handle; if it is the only
                // one nobody can clone it any more (the owner is being dropped), so the count
                // cannot grow back.
                TimerAction::Chan {
                    period,
                    detached,
                    chan,
                } if *period == 0 && chan.handles() > 1 => {
                    *detached = true;
                    st.wheel.note_may_die();
                    true
                }
                TimerAction::Func { detached, .. } => {
                    *detached = true;
                    true
                }
                _ => false,
            };
        if !keep {
            let payload = st.wheel.remove(key);
            drop(st);
            drop(payload);
        }
    }
}
