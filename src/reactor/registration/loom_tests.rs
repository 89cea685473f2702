use super::*;
use crate::loom::sync::Arc;
use std::sync::atomic::{AtomicBool as Seen, Ordering::Relaxed};

/// Asserts, after a model, that loom explored each of its interesting orders (`seen[i]` set
/// by an execution in order `names[i]`). A model passes vacuously when loom never runs the
/// reactor thread where the bug would show: loom 0.7 never ran a freshly spawned thread
/// ahead of the spawning thread's next step unless that thread yielded first (hence the
/// `yield_now` after each spawn), so every model here checks its coverage.
fn assert_explored(seen: &[Seen], names: &[&str]) {
    for (s, name) in seen.iter().zip(names) {
        assert!(s.load(Relaxed), "loom never explored the order: {name}");
    }
}

/// The reactor's side of the models: delivers `ready`, wakes what it took, and returns
/// how many wakers that was.
fn deliver(s: Arc<IoState>, ready: Ready) -> loom::thread::JoinHandle<usize> {
    loom::thread::spawn(move || {
        let mut out = Vec::new();
        s.set_ready(ready, &mut out);
        let woken = out.len();
        for w in out {
            w.wake();
        }
        woken
    })
}

/// A reader that finds the source not ready and a reactor delivering an event concurrently:
/// the reader must always complete (loom reports a deadlock if its wake-up is lost), in each
/// order of the event and the reader's check, registration, re-check and park. `slot`: the
/// reader is a future waiter (`poll_ready_slot`, then `unregister` as its drop does) instead
/// of a poll-style one (`poll_ready`).
///
/// Catches (each checked by breaking it): no re-check after registering the waker (in
/// `poll_ready`, resp. `poll_ready_slot`), and a reactor that takes the wakers before it
/// sets the bits (both deadlock); `slot` also checks that `unregister` leaves no slot.
fn wakeup_is_never_lost(slot: bool, seen: &'static [Seen; 4]) {
    crate::loom::model(move || {
        let s = Arc::new(IoState::new());
        // Consume the initial readiness, as a read that got WouldBlock does.
        let snap = s.readiness.load(SeqCst);
        s.clear(Direction::Read, snap);
        let reactor = deliver(s.clone(), Ready::READABLE);
        // Lets loom run the reactor ahead of the reader's first check.
        loom::thread::yield_now();
        let (mut polls, mut wait) = (0, None);
        loom::future::block_on(std::future::poll_fn(|cx| {
            polls += 1;
            if slot {
                s.poll_ready_slot(cx, Direction::Read, &mut wait)
            } else {
                s.poll_ready(cx, Direction::Read)
            }
        }))
        .unwrap();
        let woken = reactor.join().unwrap();
        let order = match (polls, woken, s.waiters(Direction::Read)) {
            (1, 0, 0) => 0,
            (1, 0, _) => 1,
            (1, _, _) => 2,
            _ => 3,
        };
        seen[order].store(true, Relaxed);
        if let Some(wait) = wait {
            s.unregister(Direction::Read, wait);
            assert_eq!(
                s.waiters(Direction::Read),
                0,
                "a finished wait left its slot"
            );
        }
    });
    assert_explored(
        seen,
        &[
            "the event before the reader's first check",
            "the event between that check and the registration (the re-check sees it)",
            "the event between the registration and the re-check",
            "the event after the re-check (the reader parks and is woken)",
        ],
    );
}

#[test]
fn readiness_wakeup_is_never_lost() {
    static SEEN: [Seen; 4] = [const { Seen::new(false) }; 4];
    wakeup_is_never_lost(false, &SEEN);
}

#[test]
fn a_waiting_future_is_never_lost() {
    static SEEN: [Seen; 4] = [const { Seen::new(false) }; 4];
    wakeup_is_never_lost(true, &SEEN);
}

/// A short read's clear (`clear_drained`) racing with the event of the peer's FIN: the
/// reader's next wait always ends, whether the FIN's event came before the read's snapshot
/// (its `READ_CLOSED` must survive the clear), after it (before or during the next wait),
/// or once the reader parked.
///
/// Catches (each checked by breaking it): `clear_drained` clearing `READ_CLOSED` too and a
/// read direction that `READ_CLOSED` does not make ready (both only in the order where the
/// FIN's event came first), a `clear` that stores instead of compare-and-swapping, and,
/// like the models above, no re-check after registering and wakers taken before the bits
/// are set.
#[test]
fn a_drained_clear_never_loses_the_end_of_stream() {
    static SEEN: [Seen; 3] = [const { Seen::new(false) }; 3];
    crate::loom::model(|| {
        let s = Arc::new(IoState::new());
        let snap = s.readiness.load(SeqCst);
        s.clear(Direction::Read, snap);
        s.set_ready(Ready::READABLE, &mut Vec::new()); // the data's edge
        let reactor = deliver(s.clone(), Ready::READABLE | Ready::READ_CLOSED); // the FIN's
                                                                                // Without a yield here loom never runs the reactor ahead of the read's snapshot
                                                                                // (the case where the FIN's edge came before the read).
        loom::thread::yield_now();
        let snap =
            loom::future::block_on(std::future::poll_fn(|cx| s.poll_ready(cx, Direction::Read)))
                .unwrap();
        s.clear_drained(snap); // the read returned the data, fewer bytes than asked for
        let mut polls = 0;
        loom::future::block_on(std::future::poll_fn(|cx| {
            polls += 1;
            s.poll_ready(cx, Direction::Read)
        }))
        .unwrap();
        reactor.join().unwrap();
        let order = if snap & READ_CLOSED != 0 {
            0
        } else if polls == 1 {
            1
        } else {
            2
        };
        SEEN[order].store(true, Relaxed);
    });
    assert_explored(
        &SEEN,
        &[
            "the FIN's event before the read's snapshot",
            "the FIN's event after the snapshot, before the next wait parks",
            "the FIN's event after the next wait parked",
        ],
    );
}

/// A clear after an operation came up short (`clear` or `clear_drained`, passed as `clear`)
/// racing with a new `READABLE` event never erases that event, whether the event came
/// before the clear began or while it ran.
fn clear_never_erases(clear: fn(&IoState, usize), seen: &'static [Seen; 2]) {
    crate::loom::model(move || {
        let s = Arc::new(IoState::new());
        let snap = s.readiness.load(SeqCst);
        let reactor = deliver(s.clone(), Ready::READABLE);
        // Lets loom run the reactor ahead of the clear.
        loom::thread::yield_now();
        // Only to tell the orders apart: whether the event came before the clear began.
        let before = s.readiness.load(SeqCst) != snap;
        clear(&s, snap);
        reactor.join().unwrap();
        assert_ne!(s.readiness.load(SeqCst) & READABLE, 0);
        seen[usize::from(!before)].store(true, Relaxed);
    });
    assert_explored(
        seen,
        &[
            "the event before the clear",
            "the event during or after the clear",
        ],
    );
}

/// Catches (each checked by breaking it): a clear without the tick check, one that checks
/// the tick only when its compare-and-swap failed (only in the order where the event came
/// before the clear), one that stores instead of compare-and-swapping, and an event that
/// does not bump the tick.
#[test]
fn clear_never_erases_a_new_event() {
    static SEEN: [Seen; 2] = [const { Seen::new(false) }; 2];
    clear_never_erases(|s, snap| s.clear(Direction::Read, snap), &SEEN);
}

/// Catches (each checked by breaking it): a `clear_drained` that clears `READABLE` without
/// the tick check, and the breaks of `clear_bits` listed above.
#[test]
fn a_drained_clear_never_erases_new_data() {
    static SEEN: [Seen; 2] = [const { Seen::new(false) }; 2];
    clear_never_erases(IoState::clear_drained, &SEEN);
}
