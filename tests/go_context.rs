//! Go's own tests of package `context` (go1.19: `src/context/context_test.go`) ported to
//! gorun, as far as they map onto gorun's API. Each test keeps Go's name (in snake case),
//! structure and sizes; every deliberate deviation is marked `DEVIATION:` with the reason.
//! Every wait is bounded by `BOUND` (Go's `quiescent`): a hang bound, not a timing assertion.
//!
//! Two deviations apply throughout:
//! - Go's `otherContext{c}` (a user type embedding a `Context`, which makes the package fall
//!   back to a goroutine to propagate cancellation) has no counterpart: gorun's `Context` is a
//!   concrete type. It is stood in for by a `with_value` layer, the one derived context that
//!   shares its parent's cancellation instead of making a node of its own.
//! - Go's `String()` forms (`context.Background.WithCancel`) are not part of gorun's API; the
//!   `Debug` forms are checked only where gorun defines them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gorun::chan::{chan, TryRecvError};
use gorun::context::{CancelFunc, Context, ContextError};
use gorun::select;
use gorun::sync::WaitGroup;
use gorun::time::{after, after_func};

/// Go's `shortDuration`.
const SHORT: Duration = Duration::from_millis(1);
/// Go's `veryLongDuration`.
const VERY_LONG: Duration = Duration::from_secs(1000 * 3600);
/// Go's `quiescent(t)`: how long a test may wait before it counts as hung.
const BOUND: Duration = Duration::from_secs(60);

/// Go's `select { case <-c.Done(): ...; default: ... }`: whether `Done` is ready now.
fn done_now(c: &Context) -> bool {
    match c.done().try_recv() {
        Err(TryRecvError::Closed) => true,
        Err(TryRecvError::Empty) => false,
        Ok(()) => panic!("a value was sent on a Done channel"),
    }
}

/// Go's `otherContext{c}`; see the module docs.
fn other(c: &Context) -> Context {
    #[derive(PartialEq)]
    struct OtherKey;
    c.with_value(OtherKey, ())
}

#[test]
fn test_background() {
    let c = Context::background();
    assert!(!done_now(&c), "<-c.Done() want nothing (it should block)");
    assert_eq!(format!("{c:?}"), "Context(background)");
}

#[test]
fn test_todo() {
    let c = Context::todo();
    assert!(!done_now(&c), "<-c.Done() want nothing (it should block)");
    assert!(c.err().is_none());
}

#[test]
fn test_with_cancel() {
    let (c1, cancel) = Context::background().with_cancel();
    let o = other(&c1);
    let (c2, _c2cancel) = o.with_cancel();
    let contexts = [c1, o, c2];
    for (i, c) in contexts.iter().enumerate() {
        assert_eq!(c.err(), None, "c[{i}].Err() want nil");
        assert!(
            !done_now(c),
            "<-c[{i}].Done() want nothing (it should block)"
        );
    }
    cancel.cancel(); // Should propagate synchronously.
    for (i, c) in contexts.iter().enumerate() {
        assert!(done_now(c), "<-c[{i}].Done() blocked, but shouldn't have");
        assert_eq!(c.err(), Some(ContextError::Canceled), "c[{i}].Err()");
    }
}

#[gorun::test]
async fn test_parent_finishes_child() {
    // Context tree:
    // parent -> cancelChild
    // parent -> valueChild -> timerChild
    let (parent, cancel) = Context::background().with_cancel();
    let (cancel_child, _stop1) = parent.with_cancel();
    let value_child = parent.with_value("key", "value");
    let (timer_child, _stop2) = value_child.with_timeout(VERY_LONG);

    for (name, c) in [
        ("parent", &parent),
        ("cancelChild", &cancel_child),
        ("timerChild", &timer_child),
        ("valueChild", &value_child),
    ] {
        assert!(
            !done_now(c),
            "<-{name}.Done() want nothing (it should block)"
        );
    }

    // The parent's children should contain the two cancelable children.
    // DEVIATION: Go inspects `pc.children` and `parentCancelCtx`; gorun exposes the count.
    assert_eq!(parent.__num_children(), 2, "bad linkage");

    cancel.cancel();

    assert_eq!(
        parent.__num_children(),
        0,
        "pc.cancel didn't clear pc.children"
    );

    // parent and children should all be finished.
    for (name, c) in [
        ("parent", &parent),
        ("cancelChild", &cancel_child),
        ("valueChild", &value_child),
        ("timerChild", &timer_child),
    ] {
        assert!(done_now(c), "<-{name}.Done() blocked, but shouldn't have");
        assert_eq!(c.err(), Some(ContextError::Canceled), "{name}.Err()");
    }

    // WithCancel should return a canceled context on a canceled parent.
    let precanceled_child = parent.with_value("key", "value");
    assert!(
        done_now(&precanceled_child),
        "<-precanceledChild.Done() blocked, but shouldn't have"
    );
    assert_eq!(precanceled_child.err(), Some(ContextError::Canceled));
}

#[test]
fn test_child_finishes_first() {
    let (cancelable, _stop) = Context::background().with_cancel();
    for (pcok, parent) in [(false, Context::background()), (true, cancelable)] {
        let (child, cancel) = parent.with_cancel();
        assert!(!done_now(&parent), "<-parent.Done() want nothing");
        assert!(!done_now(&child), "<-child.Done() want nothing");

        if pcok {
            assert_eq!(parent.__num_children(), 1, "bad linkage");
        }

        cancel.cancel();

        if pcok {
            assert_eq!(
                parent.__num_children(),
                0,
                "child's cancel didn't remove self from pc.children"
            );
        }

        // child should be finished.
        assert!(
            done_now(&child),
            "<-child.Done() blocked, but shouldn't have"
        );
        assert_eq!(child.err(), Some(ContextError::Canceled));

        // parent should not be finished.
        assert!(!done_now(&parent), "<-parent.Done() want nothing");
        assert_eq!(parent.err(), None, "parent.Err() want nil");
    }
}

async fn test_deadline_of(c: &Context, name: &str) {
    let done = c.done();
    let timed_out = select! {
        recv(after(BOUND)) -> _ => true,
        recv(done) -> _ => false,
    };
    assert!(!timed_out, "{name}: context not timed out after {BOUND:?}");
    assert_eq!(
        c.err(),
        Some(ContextError::DeadlineExceeded),
        "{name}: c.Err()"
    );
}

#[gorun::test]
async fn test_deadline() {
    let (c, _c1) = Context::background().with_deadline(Instant::now() + SHORT);
    test_deadline_of(&c, "WithDeadline").await;

    let (c, _c2) = Context::background().with_deadline(Instant::now() + SHORT);
    let o = other(&c);
    test_deadline_of(&o, "WithDeadline+otherContext").await;

    let (c, _c3) = Context::background().with_deadline(Instant::now() + SHORT);
    let o = other(&c);
    let (c, _c4) = o.with_deadline(Instant::now() + VERY_LONG);
    test_deadline_of(&c, "WithDeadline+otherContext+WithDeadline").await;

    let (c, _c5) = Context::background().with_deadline(Instant::now() - SHORT);
    test_deadline_of(&c, "WithDeadline+inthepast").await;

    let (c, _c6) = Context::background().with_deadline(Instant::now());
    test_deadline_of(&c, "WithDeadline+now").await;
}

#[gorun::test]
async fn test_timeout() {
    let (c, _c1) = Context::background().with_timeout(SHORT);
    test_deadline_of(&c, "WithTimeout").await;

    let (c, _c2) = Context::background().with_timeout(SHORT);
    let o = other(&c);
    test_deadline_of(&o, "WithTimeout+otherContext").await;

    let (c, _c3) = Context::background().with_timeout(SHORT);
    let o = other(&c);
    let (c, _c4) = o.with_timeout(VERY_LONG);
    test_deadline_of(&c, "WithTimeout+otherContext+WithTimeout").await;
}

#[gorun::test]
async fn test_canceled_timeout() {
    let (c, _c1) = Context::background().with_timeout(Duration::from_secs(1));
    let o = other(&c);
    let (c, cancel) = o.with_timeout(VERY_LONG);
    cancel.cancel(); // Should propagate synchronously.
    assert!(done_now(&c), "<-c.Done() blocked, but shouldn't have");
    assert_eq!(c.err(), Some(ContextError::Canceled));
}

#[derive(PartialEq, Debug)]
struct Key1(i32);
#[derive(PartialEq, Debug)]
struct Key2(i32);

const K1: Key1 = Key1(1);
const K2: Key2 = Key2(1); // same int as k1, different type
const K3: Key2 = Key2(3); // same type as k2, different int

/// DEVIATION: Go stores `nil` to hide an outer value; here a `()` value stands for it (a value
/// of another type reads as absent, as Go's failed type assertion does).
#[test]
fn test_values() {
    fn check(c: &Context, nm: &str, v1: &str, v2: &str, v3: &str) {
        let get1 = c.value::<_, &str>(&K1).copied().unwrap_or("");
        let get2 = c.value::<_, &str>(&K2).copied().unwrap_or("");
        let get3 = c.value::<_, &str>(&K3).copied().unwrap_or("");
        assert_eq!(get1, v1, "{nm}.Value(k1)");
        assert_eq!(get2, v2, "{nm}.Value(k2)");
        assert_eq!(get3, v3, "{nm}.Value(k3)");
    }

    let c0 = Context::background();
    check(&c0, "c0", "", "", "");

    let c1 = Context::background().with_value(K1, "c1k1");
    check(&c1, "c1", "c1k1", "", "");

    let c2 = c1.with_value(K2, "c2k2");
    check(&c2, "c2", "c1k1", "c2k2", "");

    let c3 = c2.with_value(K3, "c3k3");
    check(&c3, "c2", "c1k1", "c2k2", "c3k3");

    let c4 = c3.with_value(K1, ());
    check(&c4, "c4", "", "c2k2", "c3k3");

    let o0 = other(&Context::background());
    check(&o0, "o0", "", "", "");

    let o1 = other(&Context::background().with_value(K1, "c1k1"));
    check(&o1, "o1", "c1k1", "", "");

    let o2 = o1.with_value(K2, "o2k2");
    check(&o2, "o2", "c1k1", "o2k2", "");

    let o3 = other(&c4);
    check(&o3, "o3", "", "c2k2", "c3k3");

    let o4 = o3.with_value(K3, ());
    check(&o4, "o4", "", "c2k2", "");
}

// DEVIATION: Go's `TestAllocs` counts allocations per call; gorun has no allocation counter
// in its tests (allocation costs live in the benches).

#[gorun::test]
async fn test_simultaneous_cancels() {
    let (root, cancel) = Context::background().with_cancel();
    let mut m: Vec<(Context, CancelFunc)> = vec![(root.clone(), cancel)];
    let mut q = std::collections::VecDeque::from([root]);
    // Create a tree of contexts.
    while !q.is_empty() && m.len() < 100 {
        let parent = q.pop_front().unwrap();
        for _ in 0..4 {
            let (ctx, cancel) = parent.with_cancel();
            m.push((ctx.clone(), cancel));
            q.push_back(ctx);
        }
    }
    // Go ranges over a map: a random order. A HashMap keyed by index gives one here.
    let m: HashMap<usize, (Context, CancelFunc)> = m.into_iter().enumerate().collect();
    // Start all the cancels in a random order.
    let wg = WaitGroup::new();
    wg.add(m.len());
    for (_, cancel) in m.values() {
        let (cancel, wg) = (cancel.clone(), wg.clone());
        gorun::go(async move {
            cancel.cancel();
            wg.done();
        });
    }

    let stuck = chan::<()>(0);
    let s = stuck.clone();
    let timer = after_func(BOUND, move || s.close());

    // Wait on all the contexts in a random order.
    for (ctx, _) in m.values() {
        let done = ctx.done();
        let ok = select! {
            recv(done) -> _ => true,
            recv(stuck) -> _ => false,
        };
        assert!(
            ok,
            "timed out after {BOUND:?} waiting for <-ctx.Done(); goroutines:\n{}",
            gorun::runtime::dump()
        );
    }
    // Wait for all the cancel functions to return.
    let done = chan::<()>(0);
    let d = done.clone();
    gorun::go(async move {
        wg.wait().await;
        d.close();
    });
    let ok = select! {
        recv(done) -> _ => true,
        recv(stuck) -> _ => false,
    };
    assert!(
        ok,
        "timed out after {BOUND:?} waiting for cancel functions; goroutines:\n{}",
        gorun::runtime::dump()
    );
    timer.stop();
}

#[gorun::test]
async fn test_interlocked_cancels() {
    let (parent, cancel_parent) = Context::background().with_cancel();
    let (child, cancel_child) = parent.with_cancel();
    let p = parent.clone();
    gorun::go(async move {
        p.done().recv().await;
        cancel_child.cancel();
    });
    cancel_parent.cancel();
    let done = child.done();
    let ok = select! {
        recv(done) -> _ => true,
        recv(after(BOUND)) -> _ => false,
    };
    assert!(
        ok,
        "timed out after {BOUND:?} waiting for child.Done(); goroutines:\n{}",
        gorun::runtime::dump()
    );
}

/// A small deterministic generator (Go's `rand.New(rand.NewSource(seed))`).
struct Rng(u64);

impl Rng {
    fn intn(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

fn seed() -> u64 {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    ns | 1
}

#[gorun::test]
async fn test_layers_cancel() {
    test_layers(seed(), false).await;
}

#[gorun::test]
async fn test_layers_timeout() {
    test_layers(seed(), true).await;
}

/// DEVIATION: Go's keys and values are the same fresh `*value` pointers; here each layer's key
/// and value is a fresh `Value(i)`.
async fn test_layers(seed: u64, test_timeout: bool) {
    #[derive(PartialEq, Debug)]
    struct Value(usize);
    let mut r = Rng(seed);
    const MIN_LAYERS: usize = 30;
    let mut vals = Vec::new();
    let mut cancels: Vec<CancelFunc> = Vec::new();
    let mut num_timers = 0;
    let mut ctx = Context::background();
    let mut i = 0;
    while i < MIN_LAYERS || num_timers == 0 || cancels.is_empty() || vals.is_empty() {
        match r.intn(3) {
            0 => {
                let v = vals.len();
                ctx = ctx.with_value(Value(v), Value(v));
                vals.push(v);
            }
            1 => {
                let (c, cancel) = ctx.with_cancel();
                ctx = c;
                cancels.push(cancel);
            }
            _ => {
                let d = if test_timeout { SHORT } else { VERY_LONG };
                let (c, cancel) = ctx.with_timeout(d);
                ctx = c;
                cancels.push(cancel);
                num_timers += 1;
            }
        }
        i += 1;
    }
    let check_values = |when: &str| {
        for &key in &vals {
            assert_eq!(
                ctx.value::<_, Value>(&Value(key)),
                Some(&Value(key)),
                "seed={seed}: {when}: ctx.Value({key})"
            );
        }
    };
    if !test_timeout {
        assert!(
            !done_now(&ctx),
            "seed={seed}: ctx should not be canceled yet"
        );
    }
    check_values("before cancel");
    if test_timeout {
        let done = ctx.done();
        let ok = select! {
            recv(done) -> _ => true,
            recv(after(BOUND)) -> _ => false,
        };
        assert!(ok, "seed={seed}: ctx should have timed out after {BOUND:?}");
        check_values("after timeout");
    } else {
        let cancel = &cancels[r.intn(cancels.len() as u64) as usize];
        cancel.cancel();
        assert!(done_now(&ctx), "seed={seed}: ctx should be canceled");
        check_values("after cancel");
    }
}

#[test]
fn test_cancel_removes() {
    let check_children = |when: &str, ctx: &Context, want: usize| {
        let got = ctx.__num_children();
        assert_eq!(got, want, "{when}: context has {got} children, want {want}");
    };

    let (ctx, _c1) = Context::background().with_cancel();
    check_children("after creation", &ctx, 0);
    let (_child, cancel) = ctx.with_cancel();
    check_children("with WithCancel child ", &ctx, 1);
    cancel.cancel();
    check_children("after canceling WithCancel child", &ctx, 0);

    let (ctx, _c2) = Context::background().with_cancel();
    check_children("after creation", &ctx, 0);
    let (_child, cancel) = ctx.with_timeout(Duration::from_secs(60 * 60));
    check_children("with WithTimeout child ", &ctx, 1);
    cancel.cancel();
    check_children("after canceling WithTimeout child", &ctx, 0);
}

#[test]
fn test_with_cancel_canceled_parent() {
    let (parent, pcancel) = Context::background().with_cancel();
    pcancel.cancel();

    let (c, _c) = parent.with_cancel();
    assert!(done_now(&c), "child not done immediately upon construction");
    assert_eq!(c.err(), Some(ContextError::Canceled), "child not canceled");
}

// DEVIATION: Go's `TestWithValueChecksKey` (a non-comparable or nil key panics) and
// `TestInvalidDerivedFail` (a nil parent panics) have no port: `with_value` requires a
// `PartialEq` key and there is no nil `Context`; both are compile-time errors here.

/// Go checks that `DeadlineExceeded` has `Timeout() == true`; gorun's counterpart is its
/// conversion to `std::io::Error` (`TimedOut`).
#[test]
fn test_deadline_exceeded_supports_timeout() {
    let e: std::io::Error = ContextError::DeadlineExceeded.into();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    let e: std::io::Error = ContextError::Canceled.into();
    assert_ne!(e.kind(), std::io::ErrorKind::TimedOut);
}

// DEVIATION: Go's `TestCustomContextGoroutines` counts the goroutines Go starts to watch a
// user-defined Context type; gorun's `Context` is a concrete type and starts none.
