//! `runtime::dump()`: every waiting goroutine with where it was spawned and what it waits on.
mod common;

use gorun::runtime::Builder;
use std::time::Duration;

#[test]
fn dump_names_what_each_goroutine_waits_on_and_where_it_was_spawned() {
    let _w = common::watchdog("dump_names_waits", 30);
    let rt = Builder::new().workers(2).build().unwrap();
    rt.block_on(async {
        let c = gorun::chan::chan::<i32>(0);
        let wg = gorun::sync::WaitGroup::new();
        wg.add(1);
        let m = std::sync::Arc::new(gorun::sync::Mutex::new(()));
        let guard = m.try_lock().unwrap();
        let listener = gorun::net::TcpListener::bind("127.0.0.1:0").await.unwrap();

        let mut handles = vec![];
        let c1 = c.clone();
        handles.push(gorun::go(async move { c1.recv().await; })); // line 21
        // Separate channels: a receiver and a sender on one channel would just meet.
        let c2 = gorun::chan::chan::<i32>(0);
        handles.push(gorun::go(async move { let _ = c2.send(1).await; }));
        let c3 = gorun::chan::chan::<i32>(0);
        handles.push(gorun::go(async move {
            gorun::select! { recv(c3) -> _v => {}, recv(gorun::chan::Chan::<u8>::nil()) -> _w => {} }
        }));
        let wg2 = wg.clone();
        handles.push(gorun::go(async move { wg2.wait().await }));
        let m2 = m.clone();
        handles.push(gorun::go(async move { drop(m2.lock().await) }));
        handles.push(gorun::go(gorun::time::sleep(Duration::from_secs(3600))));
        handles.push(gorun::go(async move { let _ = listener.accept().await; }));

        let wanted = [
            "chan receive",
            "chan send",
            "select",
            "sync.WaitGroup.Wait",
            "sync.Mutex.Lock",
            "sleep",
            "IO wait",
        ];
        let mut dump = String::new();
        for _ in 0..2000 {
            dump = gorun::runtime::dump();
            if wanted.iter().all(|w| dump.contains(&format!("[{w}]"))) {
                break;
            }
            gorun::time::sleep(Duration::from_millis(1)).await;
        }
        for w in wanted {
            assert!(dump.contains(&format!("[{w}]")), "no [{w}] in:\n{dump}");
        }
        assert!(dump.contains("tests/rt_dump.rs:"), "no spawn location in:\n{dump}");
        for h in &handles {
            assert!(dump.contains(&format!("goroutine {} [", h.id())), "{} missing:\n{dump}", h.id());
        }
        drop(guard);
        for h in handles {
            h.abort();
        }
    });
}
