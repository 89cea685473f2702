//! Tests of the timer wheel (`super`): placement, firing order, cascading, memory.

use super::*;

/// Fires everything due by `now`, then runs the shrink the firings left pending, as the
/// driver does once it has woken what fired.
fn drain(w: &mut Wheel<u64>, now: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    while w.poll(now, usize::MAX, |_, _, p| {
        out.push((*p, now));
        Fired::Remove
    }) {}
    w.shrink_if_pending();
    out
}

/// Steps tick by tick, recording the tick at which each payload fires.
fn run_until(w: &mut Wheel<u64>, end: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut t = w.elapsed();
    while t < end {
        // Jump to the next deadline, as the driver does.
        t = match w.next_deadline() {
            Some(d) => d.min(end).max(t + 1),
            None => end,
        };
        out.extend(drain(w, t));
    }
    out
}

#[test]
fn driver_entries_are_small() {
    let size = std::mem::size_of::<Entry<super::super::TimerAction>>();
    assert!(size <= 40, "a timer entry takes {size} bytes");
}

#[test]
fn level_for_picks_the_window() {
    assert_eq!(level_for(0, 1), 0);
    assert_eq!(level_for(0, 63), 0);
    assert_eq!(level_for(0, 64), 1);
    assert_eq!(level_for(0, 4095), 1);
    assert_eq!(level_for(0, 4096), 2);
    assert_eq!(level_for(0, MAX_SPAN), 5);
    assert_eq!(level_for(60, 70), 1);
    assert_eq!(level_for(64, 70), 0);
}

#[test]
fn fires_at_exact_tick_on_each_level() {
    for &when in &[
        1u64,
        5,
        63,
        64,
        100,
        4095,
        4096,
        300_000,
        20_000_000,
        5_000_000_000,
    ] {
        let mut w = Wheel::new();
        let k = w.alloc(when);
        w.schedule(k, when);
        assert!(drain(&mut w, when - 1).is_empty(), "{when} fired early");
        // Stepping through intermediate deadlines must not fire it either.
        let early = run_until(&mut w, when - 1);
        assert!(early.is_empty(), "{when} fired early: {early:?}");
        assert_eq!(drain(&mut w, when), vec![(when, when)]);
        assert_eq!(w.scheduled(), 0);
        assert_eq!(w.allocated(), 0);
    }
}

#[test]
fn cascading_keeps_exact_ticks() {
    let mut w = Wheel::new();
    let whens = [70u64, 64, 65, 127, 128, 4100, 4096, 262_145];
    for &t in &whens {
        let k = w.alloc(t);
        w.schedule(k, t);
    }
    let fired = run_until(&mut w, 300_000);
    let mut sorted = whens.to_vec();
    sorted.sort();
    assert_eq!(fired.iter().map(|f| f.0).collect::<Vec<_>>(), sorted);
    for (p, at) in fired {
        assert_eq!(p, at, "payload {p} fired at {at}");
    }
}

#[test]
fn cancel_unlinks_and_frees() {
    let mut w = Wheel::new();
    let a = w.alloc(10);
    let b = w.alloc(10);
    let c = w.alloc(10);
    for k in [a, b, c] {
        w.schedule(k, 10);
    }
    assert!(w.unschedule(b));
    assert!(!w.unschedule(b));
    assert_eq!(w.remove(b), 10);
    assert_eq!(w.allocated(), 2);
    w.remove(a);
    assert_eq!(w.scheduled(), 1);
    assert_eq!(drain(&mut w, 10).len(), 1);
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn reschedule_moves_an_entry() {
    let mut w = Wheel::new();
    let k = w.alloc(0);
    w.schedule(k, 5000);
    w.schedule(k, 20);
    assert_eq!(w.scheduled(), 1);
    assert_eq!(w.next_deadline(), Some(20));
    let mut n = 0;
    w.poll(20, usize::MAX, |_, _, _| {
        n += 1;
        Fired::Keep
    });
    assert_eq!(n, 1);
    assert!(!w.is_scheduled(k));
    assert_eq!(w.allocated(), 1);
}

#[test]
fn random_deadlines_fire_in_order_never_early() {
    let mut w = Wheel::new();
    let mut whens = Vec::new();
    for _ in 0..20_000 {
        let t = 1 + crate::rand::below(10_000_000) as u64;
        let k = w.alloc(t);
        w.schedule(k, t);
        whens.push(t);
    }
    // Jumps of irregular sizes, as a driver woken at odd times would make.
    let mut fired = Vec::new();
    let mut now = 0;
    while w.scheduled() > 0 {
        now += 1 + crate::rand::below(20_000) as u64;
        fired.extend(drain(&mut w, now));
    }
    assert_eq!(fired.len(), whens.len());
    let mut last = 0;
    for &(when, at) in &fired {
        assert!(when <= at, "fired early: due {when}, fired at {at}");
        assert!(when >= last, "out of order: {when} after {last}");
        last = when;
    }
}

#[test]
fn beyond_max_span_is_not_lost_or_early() {
    let mut w = Wheel::new();
    let far = MAX_SPAN * 2 + 12345;
    let k = w.alloc(far);
    w.schedule(k, far);
    let mut fired = Vec::new();
    while fired.is_empty() {
        let now = w.next_deadline().unwrap();
        fired = drain(&mut w, now);
        assert!(now <= far);
    }
    assert_eq!(fired, vec![(far, far)]);
}

#[test]
fn poll_budget_resumes() {
    let mut w = Wheel::new();
    for i in 0..10 {
        let k = w.alloc(i);
        w.schedule(k, 3);
    }
    let mut n = 0;
    assert!(w.poll(3, 4, |_, _, _| {
        n += 1;
        Fired::Remove
    }));
    assert_eq!(n, 4);
    while w.poll(3, 4, |_, _, _| {
        n += 1;
        Fired::Remove
    }) {}
    assert_eq!(n, 10);
    assert_eq!(w.scheduled(), 0);
}

#[test]
fn the_slab_gives_memory_back_after_a_burst() {
    let mut w = Wheel::new();
    let keys: Vec<u32> = (0..100_000u64)
        .map(|i| {
            let k = w.alloc(i);
            w.schedule(k, 1 + i % 5000);
            k
        })
        .collect();
    assert!(w.capacity() >= 100_000);
    for k in keys {
        w.remove(k);
    }
    assert!(w.capacity() < GC_MIN, "{} slots kept", w.capacity());
    // Freed by firing, too.
    for i in 0..100_000u64 {
        let k = w.alloc(i);
        w.schedule(k, 1 + i % 5000);
    }
    drain(&mut w, 6000);
    assert_eq!(w.allocated(), 0);
    assert!(w.capacity() < GC_MIN, "{} slots kept", w.capacity());
}

/// Firing the last entries of a burst does not shrink the slab inside `poll` (a walk over
/// every slot, which would hold the wakers of what fired): it is left pending for the caller.
#[test]
fn entries_freed_by_firing_leave_the_shrink_to_the_caller() {
    let mut w = Wheel::new();
    for i in 0..100_000u64 {
        let k = w.alloc(i);
        w.schedule(k, 1 + i % 50);
    }
    let cap = w.capacity();
    assert!(!w.shrink_pending());
    let mut fired = 0;
    while w.poll(100, usize::MAX, |_, _, _| {
        fired += 1;
        Fired::Remove
    }) {}
    assert_eq!((fired, w.allocated()), (100_000, 0));
    assert!(w.shrink_pending());
    assert_eq!(w.capacity(), cap, "poll shrank the slab itself");
    w.shrink_if_pending();
    assert!(!w.shrink_pending());
    assert!(w.capacity() < GC_MIN, "{} slots kept", w.capacity());
}

#[test]
fn a_live_entry_at_a_high_key_limits_shrinking_but_keeps_its_key() {
    let mut w = Wheel::new();
    let keys: Vec<u32> = (0..50_000u64).map(|i| w.alloc(i)).collect();
    let last = *keys.last().unwrap();
    w.schedule(last, 10);
    for &k in &keys[..keys.len() - 1] {
        w.remove(k);
    }
    assert_eq!(w.allocated(), 1);
    assert_eq!(*w.payload_mut(last), 49_999);
    assert_eq!(drain(&mut w, 10), vec![(49_999, 10)]);
    assert!(w.capacity() < GC_MIN, "{} slots kept", w.capacity());
}

#[test]
fn collect_frees_dead_entries_and_spaces_itself_out() {
    let mut w = Wheel::new();
    for i in 0..10_000u64 {
        let k = w.alloc(i);
        w.schedule(k, 100 + i);
    }
    assert!(!w.gc_due(), "nothing may die: nothing to collect");
    w.note_may_die();
    assert!(w.gc_due());
    // Odd payloads are dead.
    assert_eq!(w.collect(|p| p % 2 == 1, |_| true), 5_000);
    assert_eq!(w.allocated(), 5_000);
    assert_eq!(w.scheduled(), 5_000);
    assert!(
        !w.gc_due(),
        "the next collection waits for allocations to double"
    );
    let fired = drain(&mut w, 20_000);
    assert!(fired.iter().all(|(p, _)| p % 2 == 0));
    assert_eq!(fired.len(), 5_000);
}

/// After a burst is freed the next collection is due at twice the new size, not twice the
/// burst's.
#[test]
fn collection_is_due_again_soon_after_a_burst_is_freed() {
    let mut w = Wheel::new();
    let keys: Vec<u32> = (0..100_000u64).map(|i| w.alloc(i)).collect();
    w.note_may_die();
    assert_eq!(w.collect(|_| false, |_| false), 0);
    assert!(!w.gc_due(), "no survivor may die");
    w.note_may_die();
    for k in keys {
        w.remove(k);
    }
    for i in 0..GC_MIN as u64 {
        w.alloc(i);
    }
    assert!(w.gc_due());
}

#[test]
fn collect_step_walks_the_whole_slab() {
    let mut w = Wheel::new();
    for i in 0..(2 * GC_MIN as u64) {
        let k = w.alloc(i);
        w.schedule(k, 100 + i);
    }
    let mut freed = 0;
    let mut tick = 0;
    for _ in 0..(4 * GC_MIN / 64) {
        tick += 1;
        freed += w.collect_step(tick, 64, |p| *p >= 10);
    }
    assert_eq!(freed, 2 * GC_MIN - 10);
    assert_eq!(w.allocated(), 10);
    assert_eq!(w.scheduled(), 10);
    assert_eq!(w.collect_step(tick, 64, |_| true), 0, "once per tick");
    assert_eq!(w.collect_step(tick + 1, 64, |_| true), 10);
    assert_eq!(w.collect_step(tick + 2, 64, |_| true), 0);
}

#[test]
fn ticker_reschedule_in_poll() {
    let mut w = Wheel::new();
    let k = w.alloc(0u64);
    w.schedule(k, 10);
    let mut ticks = Vec::new();
    for now in (1..=55).step_by(1) {
        w.poll(now, usize::MAX, |_, _, _| {
            ticks.push(now);
            Fired::Reschedule(now + 10)
        });
    }
    assert_eq!(ticks, vec![10, 20, 30, 40, 50]);
}
