//! gorun::context: cancellation trees, errors, deadlines, done channels in `select!`, and the
//! release of dropped children.

use std::time::{Duration, Instant};

use gorun::context::{Context, ContextError};
use gorun::time::timeout;

const BOUND: Duration = Duration::from_secs(10);

/// Waits (bounded) until `ctx`'s done channel is closed.
async fn wait_done(ctx: &Context) {
    let v = timeout(BOUND, ctx.done().recv())
        .await
        .expect("done channel never closed");
    assert_eq!(v, None, "nothing is ever sent on done");
}

#[gorun::test]
async fn background_and_todo_are_never_cancelled() {
    for ctx in [Context::background(), Context::todo(), Context::default()] {
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.deadline(), None);
        let done = ctx.done();
        assert!(done.try_recv().is_err());
        assert!(timeout(Duration::from_millis(20), done.recv())
            .await
            .is_err());
    }
}

#[gorun::test]
async fn err_values_and_messages_are_gos() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(ctx.err(), None);
    cancel.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(ctx.err().unwrap().to_string(), "context canceled");

    let (ctx, _c) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(ctx.err().unwrap().to_string(), "context deadline exceeded");
    let e: Box<dyn std::error::Error + Send + Sync> = Box::new(ContextError::Canceled);
    assert_eq!(e.to_string(), "context canceled");
}

#[gorun::test]
async fn cancelling_twice_is_harmless_and_keeps_the_first_error() {
    let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(10));
    cancel.cancel();
    cancel.clone().cancel();
    wait_done(&ctx).await;
    gorun::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        ctx.err(),
        Some(ContextError::Canceled),
        "the later deadline does not overwrite the error"
    );
}

#[gorun::test]
async fn cancel_propagates_to_grandchildren() {
    let (root, cancel) = Context::background().with_cancel();
    let (child, _c1) = root.with_cancel();
    let (grandchild, _c2) = child.with_timeout(Duration::from_secs(3600));
    let (sibling, _c3) = root.with_cancel();
    cancel.cancel();
    for ctx in [&root, &child, &grandchild, &sibling] {
        wait_done(ctx).await;
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    }
}

#[gorun::test]
async fn cancelling_a_child_leaves_the_parent_alone() {
    let (parent, _cp) = Context::background().with_cancel();
    let (child, cc) = parent.with_cancel();
    cc.cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(parent.err(), None);
    assert_eq!(
        parent.__num_children(),
        0,
        "a cancelled child leaves the list"
    );
}

#[gorun::test]
async fn child_of_cancelled_parent_is_born_cancelled_with_its_error() {
    let (parent, _c) = Context::background().with_deadline(Instant::now());
    let (child, _cc) = parent.with_cancel();
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
    assert!(child.done().is_closed());
    assert_eq!(parent.__num_children(), 0);
}

#[gorun::test]
async fn parent_cancel_closes_childrens_done_channels() {
    let (parent, cancel) = Context::background().with_cancel();
    let children: Vec<_> = (0..100).map(|_| parent.with_cancel()).collect();
    let dones: Vec<_> = children.iter().map(|(c, _)| c.done()).collect();
    let waiter = gorun::go(async move {
        for d in dones {
            assert_eq!(d.recv().await, None);
        }
    });
    gorun::yield_now().await;
    cancel.cancel();
    timeout(BOUND, waiter).await.expect("hang").unwrap();
}

#[gorun::test]
async fn done_works_in_select() {
    let (ctx, cancel) = Context::background().with_cancel();
    let c = ctx.clone();
    let h = gorun::go(async move {
        let mut ticks = 0;
        loop {
            gorun::select! {
                recv(c.done()) -> _ => return (ticks, c.err()),
                recv(gorun::time::after(Duration::from_millis(1))) -> _ => ticks += 1,
            }
        }
    });
    gorun::time::sleep(Duration::from_millis(20)).await;
    cancel.cancel();
    let (ticks, err) = timeout(BOUND, h).await.expect("hang").unwrap();
    assert!(ticks > 0, "the timer case ran before the cancel");
    assert_eq!(err, Some(ContextError::Canceled));
}

#[gorun::test]
async fn with_timeout_fires_and_not_early() {
    let start = Instant::now();
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(50));
    assert!(ctx.deadline().unwrap() >= start + Duration::from_millis(50));
    assert_eq!(ctx.err(), None);
    wait_done(&ctx).await;
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "fired after {:?}",
        start.elapsed()
    );
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
}

#[gorun::test]
async fn parent_deadline_cancels_child_with_deadline_exceeded() {
    let (parent, _cp) = Context::background().with_timeout(Duration::from_millis(20));
    let (child, _cc) = parent.with_cancel();
    wait_done(&child).await;
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
}

#[gorun::test]
async fn child_inherits_the_earlier_deadline() {
    let t0 = Instant::now() + Duration::from_secs(100);
    let (parent, _cp) = Context::background().with_deadline(t0);
    assert_eq!(parent.deadline(), Some(t0));
    let (later, _c1) = parent.with_deadline(t0 + Duration::from_secs(5));
    assert_eq!(later.deadline(), Some(t0), "parent's is earlier");
    let (earlier, _c2) = parent.with_deadline(t0 - Duration::from_secs(5));
    assert_eq!(earlier.deadline(), Some(t0 - Duration::from_secs(5)));
    let (plain, _c3) = earlier.with_cancel();
    assert_eq!(plain.deadline(), Some(t0 - Duration::from_secs(5)));
    let (long, _c4) = parent.with_timeout(Duration::from_secs(3600));
    assert_eq!(long.deadline(), Some(t0));
}

#[gorun::test]
async fn ten_thousand_dropped_children_leave_the_child_list_empty() {
    let (parent, _cancel) = Context::background().with_cancel();
    for i in 0..10_000 {
        let (child, cancel) = parent.with_cancel();
        // Some with a live grandchild, some with a done channel handed out.
        let (grandchild, _gc) = child.with_timeout(Duration::from_secs(3600));
        if i % 3 == 0 {
            let _ = grandchild.done();
        }
        assert_eq!(parent.__num_children(), 1);
        drop((child, cancel, grandchild));
    }
    assert_eq!(parent.__num_children(), 0);
    // Still a working parent.
    let (child, _c) = parent.with_cancel();
    assert_eq!(parent.__num_children(), 1);
    assert_eq!(child.err(), None);
}

#[gorun::test]
async fn child_lives_while_any_handle_does() {
    let (parent, cancel_parent) = Context::background().with_cancel();
    let (child, cancel_child) = parent.with_cancel();
    drop(cancel_child);
    assert_eq!(parent.__num_children(), 1, "the Context handle keeps it");
    let (child2, cancel2) = parent.with_cancel();
    drop(child2);
    assert_eq!(parent.__num_children(), 2, "the CancelFunc keeps it");
    drop(cancel2);
    assert_eq!(parent.__num_children(), 1);
    // A grandchild keeps its parent registered, so a root cancel still reaches it.
    let (grandchild, _g) = child.with_cancel();
    drop(child);
    assert_eq!(parent.__num_children(), 1);
    cancel_parent.cancel();
    wait_done(&grandchild).await;
    assert_eq!(grandchild.err(), Some(ContextError::Canceled));
}

#[gorun::test]
async fn releasing_a_context_closes_its_handed_out_done_channel() {
    let (parent, _cp) = Context::background().with_cancel();
    let (child, cancel) = parent.with_cancel();
    let done = child.done();
    drop((child, cancel));
    assert_eq!(parent.__num_children(), 0);
    let v = timeout(BOUND, done.recv())
        .await
        .expect("stranded receiver");
    assert_eq!(v, None);
}

#[gorun::test]
async fn many_early_cancelled_timeouts_leave_no_goroutines_or_waits() {
    let base = gorun::num_goroutine();
    let root = Context::background();
    let start = Instant::now();
    for _ in 0..10_000 {
        let (ctx, cancel) = root.with_timeout(Duration::from_millis(50));
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    }
    // Had a timer survived, its callback goroutine would run after 50 ms.
    gorun::time::sleep(Duration::from_millis(100)).await;
    assert!(start.elapsed() < BOUND);
    assert_eq!(gorun::num_goroutine(), base);
}

#[test]
fn context_and_cancel_func_are_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    check::<Context>();
    check::<gorun::context::CancelFunc>();
    check::<ContextError>();
    let (ctx, _c) = Context::background().with_cancel();
    assert!(format!("{ctx:?}").contains("Context"));
    assert_eq!(
        format!("{:?}", Context::background()),
        "Context(background)"
    );
}

#[test]
fn concurrent_cancel_and_derive_from_threads_never_strand_a_child() {
    for _ in 0..200 {
        let (parent, cancel) = Context::background().with_cancel();
        let p = parent.clone();
        let deriver =
            std::thread::spawn(move || (0..50).map(|_| p.with_cancel()).collect::<Vec<_>>());
        cancel.cancel();
        let kids = deriver.join().unwrap();
        for (k, _) in &kids {
            assert_eq!(k.err(), Some(ContextError::Canceled));
            assert!(k.done().is_closed());
        }
        assert_eq!(parent.__num_children(), 0);
    }
}

#[test]
fn values_are_inherited_and_shadowed_by_key() {
    #[derive(PartialEq)]
    struct Key(u8);
    let root = Context::background().with_value(Key(1), "one");
    let (child, cancel) = root.with_cancel();
    let child = child.with_value(Key(2), "two").with_value(Key(1), "uno");
    let (grandchild, _g) = child.with_timeout(Duration::from_secs(3600));
    assert_eq!(
        grandchild.value::<_, &str>(&Key(1)),
        Some(&"uno"),
        "shadowed"
    );
    assert_eq!(grandchild.value::<_, &str>(&Key(2)), Some(&"two"));
    assert_eq!(grandchild.value::<_, &str>(&Key(3)), None);
    assert_eq!(
        root.value::<_, &str>(&Key(1)),
        Some(&"one"),
        "parent unchanged"
    );
    assert_eq!(root.value::<_, &str>(&Key(2)), None);
    // An equal value of another key type is another key.
    assert_eq!(grandchild.value::<_, &str>(&1u8), None);
    // A value context shares its parent's cancellation.
    cancel.cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(grandchild.err(), Some(ContextError::Canceled));
}

#[test]
fn cancellation_works_on_another_executor() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (ctx, cancel) = Context::background().with_cancel();
        let (child, _c) = ctx.with_cancel();
        let waiter = tokio::spawn(async move {
            child.done().recv().await;
            child.err()
        });
        tokio::task::yield_now().await;
        cancel.cancel();
        let err = tokio::time::timeout(BOUND, waiter)
            .await
            .expect("hang")
            .unwrap();
        assert_eq!(err, Some(ContextError::Canceled));
    });
}

/// Issue #13: dropping a long chain of derived contexts released each node's parent from
/// inside the node's own drop, recursively: a million nested `with_cancel`s overflowed the
/// stack. The release must be iterative. Run on a thread with a small (256 KiB) stack, so
/// even a few thousand recursive frames would fail.
#[test]
fn dropping_a_million_nested_contexts_does_not_overflow_the_stack() {
    let t = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let root = Context::background();
            let (mut ctx, _c) = root.with_cancel();
            for _ in 0..1_000_000 {
                ctx = ctx.with_cancel().0;
            }
            drop(ctx);
            // A chain of values, too.
            let mut ctx = Context::background();
            for i in 0..1_000_000u32 {
                ctx = ctx.with_value(i, i);
            }
            assert_eq!(ctx.value::<u32, u32>(&0), Some(&0));
            drop(ctx);
        })
        .unwrap();
    t.join().expect("dropping the chain failed");
}

/// The iterative release still unregisters every node from its parent.
#[test]
fn dropping_a_nested_chain_unregisters_it_from_a_live_parent() {
    let (root, cancel) = Context::background().with_cancel();
    let mut ctx = root.with_cancel().0;
    for _ in 0..1000 {
        ctx = ctx.with_cancel().0;
    }
    assert_eq!(root.__num_children(), 1);
    drop(ctx);
    assert_eq!(root.__num_children(), 0);
    cancel.cancel();
}
