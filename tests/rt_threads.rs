//! Runtimes and goroutines used from plain threads, and several runtimes side by side.
mod common;

use gorun::runtime::{Builder, Handle};
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;

#[test]
fn go_from_a_plain_thread_uses_the_global_runtime() {
    let _w = common::watchdog("go_from_a_plain_thread", 20);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        gorun::go(async move {
            tx.send(Handle::try_current().is_ok()).unwrap();
        });
    });
    assert!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap());
}

#[test]
fn block_on_from_plain_threads() {
    let _w = common::watchdog("block_on_from_plain_threads", 20);
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                gorun::block_on(async move { gorun::go(async move { i * 2 }).await.unwrap() })
            })
        })
        .collect();
    let v: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(v, vec![0, 2, 4, 6]);
}

#[test]
fn multiple_runtimes_side_by_side_keep_their_goroutines() {
    let _w = common::watchdog("multiple_runtimes_side_by_side", 30);
    let a = Builder::new()
        .workers(2)
        .thread_name("rt-a")
        .build()
        .unwrap();
    let b = Builder::new()
        .workers(1)
        .thread_name("rt-b")
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let (ca, cb) = (count.clone(), count.clone());
    let ha = a.go(async move {
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let c = ca.clone();
                gorun::go(async move {
                    let name = std::thread::current().name().unwrap().to_string();
                    assert!(name.starts_with("rt-a"), "{name}");
                    c.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let hb = b.go(async move {
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let c = cb.clone();
                gorun::go(async move {
                    let name = std::thread::current().name().unwrap().to_string();
                    assert!(name.starts_with("rt-b"), "{name}");
                    c.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    // Await b's goroutine from a's block_on: cross-runtime wake-ups work.
    a.block_on(async move {
        ha.await.unwrap();
        hb.await.unwrap();
    });
    assert_eq!(count.load(SeqCst), 2000);
}

#[test]
fn handle_moves_to_another_thread_and_spawns_there() {
    let _w = common::watchdog("handle_moves_to_another_thread", 20);
    let rt = Builder::new()
        .workers(1)
        .thread_name("owner")
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let h = std::thread::spawn(move || {
        handle.go(async { std::thread::current().name().unwrap().to_string() })
    })
    .join()
    .unwrap();
    assert!(rt.block_on(h).unwrap().starts_with("owner-worker"));
}

#[test]
fn handle_current_outside_a_runtime_panics_clearly() {
    let err = std::panic::catch_unwind(Handle::current).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("no gorun runtime"), "{msg}");
}

#[test]
fn block_on_inside_a_goroutine_panics_instead_of_deadlocking() {
    let _w = common::watchdog("block_on_inside_a_goroutine", 20);
    let rt = Builder::new().workers(1).build().unwrap();
    let err = rt
        .block_on(gorun::go(async {
            let inner = Builder::new().workers(1).build().unwrap();
            inner.block_on(async { 1 })
        }))
        .unwrap_err();
    assert!(err.is_panic());
    assert!(
        err.to_string()
            .contains("from inside a gorun runtime worker"),
        "{err}"
    );
}

#[test]
fn nested_block_on_panics() {
    let _w = common::watchdog("nested_block_on_panics", 20);
    let rt = Builder::new().workers(1).build().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { gorun::block_on(async { 1 }) })
    }));
    let err = r.unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .copied()
        .map(String::from)
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("inside another block_on"), "{msg}");
}

#[gorun::test]
async fn gorun_test_attribute_runs_an_async_test() {
    let h = gorun::go(async { 3 });
    assert_eq!(h.await.unwrap(), 3);
}

#[gorun::test(workers = 3)]
async fn gorun_test_attribute_takes_workers() -> Result<(), String> {
    let h = gorun::go(async { Ok::<_, String>(()) });
    h.await.map_err(|e| e.to_string())??;
    Ok(())
}

#[test]
fn a_go_blocking_closure_may_block_on_async_code() {
    let _w = common::watchdog("go_blocking_block_on", 20);
    let rt = Builder::new().workers(1).build().unwrap();
    let v = rt.block_on(gorun::go_blocking(move || {
        // A blocking-pool thread is not a worker: driving a future from it is allowed.
        let other = Builder::new().workers(1).build().unwrap();
        let x = other.block_on(async { gorun::go(async { 20 }).await.unwrap() });
        x + 1
    }));
    assert_eq!(v.unwrap(), 21);
}
