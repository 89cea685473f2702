//! Embedding: `GORUN_WORKERS`, `Builder::build_global`, and `Handle::enter` on threads gorun
//! did not start (a tokio runtime's). Process-wide settings are checked in a child process
//! (this binary re-run on one test with `EMBED_CHILD` set).
mod common;

use gorun::runtime::Builder;
use std::process::Command;
use std::time::Duration;

/// Re-runs this test binary on test `name` with `envs`; returns its stdout and stderr.
fn child(name: &str, envs: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("EMBED_CHILD", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn in_child() -> bool {
    std::env::var_os("EMBED_CHILD").is_some()
}

fn worker_name() -> String {
    gorun::block_on(gorun::go(async {
        std::thread::current().name().unwrap_or("").to_string()
    }))
    .unwrap()
}

#[test]
fn gorun_workers_sets_the_global_runtime_worker_count() {
    if in_child() {
        let m = gorun::runtime::metrics();
        println!("workers={}", m.workers);
        return;
    }
    let _w = common::watchdog("gorun_workers", 60);
    let (ok, out) = child(
        "gorun_workers_sets_the_global_runtime_worker_count",
        &[("GORUN_WORKERS", "3")],
    );
    assert!(ok && out.contains("workers=3"), "{out}");
}

#[test]
fn a_malformed_gorun_workers_is_a_clear_error() {
    if in_child() {
        let e = Builder::new().build().unwrap_err();
        println!("kind={:?} msg={e}", e.kind());
        // An explicit worker count wins over the environment, as runtime.GOMAXPROCS(n) does.
        let rt = Builder::new().workers(1).build().unwrap();
        assert_eq!(rt.block_on(async { 1 }), 1);
        return;
    }
    let _w = common::watchdog("malformed_gorun_workers", 60);
    let (ok, out) = child(
        "a_malformed_gorun_workers_is_a_clear_error",
        &[("GORUN_WORKERS", "zero")],
    );
    assert!(ok, "{out}");
    assert!(out.contains("kind=InvalidInput"), "{out}");
    assert!(
        out.contains("GORUN_WORKERS=\"zero\" is not a worker count"),
        "{out}"
    );
}

#[test]
fn build_global_installs_the_global_runtime_once() {
    if in_child() {
        Builder::new()
            .workers(2)
            .thread_name("custom")
            .build_global()
            .unwrap();
        println!("worker={}", worker_name());
        let e = Builder::new().build_global().unwrap_err();
        println!("again={:?}", e.kind());
        return;
    }
    let _w = common::watchdog("build_global", 60);
    let (ok, out) = child("build_global_installs_the_global_runtime_once", &[]);
    assert!(ok, "{out}");
    assert!(out.contains("worker=custom-worker-"), "{out}");
    assert!(out.contains("again=AlreadyExists"), "{out}");
}

#[test]
fn build_global_after_first_use_is_an_error() {
    if in_child() {
        let _ = worker_name(); // starts the default global runtime
        let e = Builder::new().build_global().unwrap_err();
        println!("late={:?}", e.kind());
        return;
    }
    let _w = common::watchdog("build_global_late", 60);
    let (ok, out) = child("build_global_after_first_use_is_an_error", &[]);
    assert!(ok && out.contains("late=AlreadyExists"), "{out}");
}

#[test]
fn enter_on_a_tokio_thread_makes_go_timers_and_sockets_use_that_runtime() {
    let _w = common::watchdog("enter_on_tokio", 60);
    let rt = Builder::new()
        .workers(2)
        .thread_name("entered")
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (name, slept, echoed) = tokio_rt.block_on(async move {
        tokio::spawn(async move {
            // Entered only around synchronous code: the guard is not `Send`, so it cannot be
            // held across an `.await` in a tokio task (see docs/embedding.md).
            let (h, slept, (mut a, mut b)) = {
                let _guard = handle.enter();
                assert!(gorun::runtime::Handle::try_current().is_ok());
                let h =
                    gorun::go(async { std::thread::current().name().unwrap_or("").to_string() });
                // A gorun timer and gorun sockets, awaited on a tokio worker.
                let slept = gorun::time::sleep(Duration::from_millis(5));
                (h, slept, gorun::net::UnixStream::pair().unwrap())
            };
            slept.await;
            use futures::io::{AsyncReadExt, AsyncWriteExt};
            a.write_all(b"hi").await.unwrap();
            let mut buf = [0u8; 2];
            b.read_exact(&mut buf).await.unwrap();
            (h.await.unwrap(), true, buf)
        })
        .await
        .unwrap()
    });
    assert!(name.starts_with("entered-worker-"), "{name}");
    assert!(slept);
    assert_eq!(&echoed, b"hi");
    // The guard was dropped: this thread has no current runtime again.
    assert!(gorun::runtime::Handle::try_current().is_err());
}

#[test]
fn metrics_count_spawns_polls_queues_and_blocking_threads() {
    let _w = common::watchdog("metrics", 60);
    let rt = Builder::new().workers(2).build().unwrap();
    let before = rt.handle().metrics();
    assert_eq!(before.workers, 2);
    assert_eq!(before.local_queue_depths.len(), 2);
    rt.block_on(async {
        let hs: Vec<_> = (0..100).map(|i| gorun::go(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
        // A go_blocking job that is running has its thread in the pool.
        let (started, release) = (gorun::chan::chan::<()>(0), gorun::chan::chan::<()>(0));
        let (s2, r2) = (started.clone(), release.clone());
        let job = gorun::go_blocking(move || {
            s2.send_blocking(()).unwrap();
            r2.recv_blocking();
        });
        started.recv().await;
        assert!(gorun::runtime::metrics().blocking_threads >= 1);
        release.send(()).await.unwrap();
        job.await.unwrap();
    });
    let m = rt.handle().metrics();
    assert!(m.goroutines_spawned >= 100, "{m}");
    assert!(m.polls >= 100, "{m}");
    assert_eq!(m.injection_queue_depth, 0, "{m}");
    let line = m.to_string();
    assert!(line.starts_with("workers=2 idleworkers="), "{line}");
}

#[test]
fn gorun_schedtrace_prints_a_line_per_interval() {
    if in_child() {
        let rt = Builder::new().workers(2).build().unwrap();
        rt.block_on(async {
            for _ in 0..3 {
                gorun::go(async {}).await.unwrap();
                // Two lines at 10 ms: wait until stderr has had the time to get some.
                gorun::time::sleep(Duration::from_millis(50)).await;
            }
        });
        return;
    }
    let _w = common::watchdog("schedtrace", 60);
    let (ok, out) = child(
        "gorun_schedtrace_prints_a_line_per_interval",
        &[("GORUN_SCHEDTRACE", "10")],
    );
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(!lines.is_empty(), "no SCHED line in:\n{out}");
    assert!(lines[0].contains("ms: workers=2 idleworkers="), "{out}");
}

#[allow(dead_code)]
#[path = "../examples/tokio_service.rs"]
mod tokio_service;

#[test]
fn tokio_service_hands_work_to_a_gorun_pool() {
    let _w = common::watchdog("tokio_service", 60);
    let pool_rt = Builder::new()
        .workers(2)
        .thread_name("pool")
        .build()
        .unwrap();
    let jobs = tokio_service::start_pool(pool_rt.handle(), 3);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bodies = tokio_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(tokio_service::serve(listener, jobs.clone(), async {
            let _ = stop_rx.await;
        }));
        // Several concurrent clients on tokio, each request answered by a goroutine.
        let mut clients = Vec::new();
        for n in [10u64, 50, 90] {
            clients.push(tokio::spawn(async move {
                use http_body_util::BodyExt;
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let io = hyper_util::rt::TokioIo::new(stream);
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                let req = hyper::Request::get(format!("/fib/{n}"))
                    .header("host", "localhost")
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                let b = res.into_body().collect().await.unwrap().to_bytes();
                String::from_utf8(b.to_vec()).unwrap()
            }));
        }
        let mut bodies = Vec::new();
        for c in clients {
            bodies.push(
                tokio::time::timeout(Duration::from_secs(30), c)
                    .await
                    .expect("request timed out")
                    .unwrap(),
            );
        }
        stop_tx.send(()).unwrap();
        server.await.unwrap();
        bodies
    });
    assert_eq!(
        bodies,
        [
            "fib(10) = 55\n",
            "fib(50) = 12586269025\n",
            "fib(90) = 2880067194370816120\n"
        ]
    );
    jobs.close();
}
