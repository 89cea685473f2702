//! Faults on sockets: a peer that resets mid-transfer, half-close, a peer that never reads, a
//! listener that never accepts, running out of descriptors and recovering, and runtime
//! shutdown with goroutines blocked in every kind of wait, leaving no descriptor behind.
//!
//! Tests that count descriptors or lower `RLIMIT_NOFILE` run in a child process (this test
//! binary, re-run on that one test), so that other tests running in parallel cannot disturb
//! the counts and the lowered limit affects nobody else.

use std::io;
use std::os::fd::FromRawFd;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gorun::net::{TcpListener, TcpStream};

mod common;
use common::run;

const CHILD_ENV: &str = "GORUN_FAULTS_NET_CHILD";

/// Runs test `name` alone in a child process (where [`in_child`] is true) and fails if it does.
fn run_in_child(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child `{name}` failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child did not run `{name}`"
    );
}

fn in_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// The number of open descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count() - 1 // the directory being read
}

/// A TCP listener on 127.0.0.1 with a backlog of 0: it queues one connection; SYNs beyond it
/// are dropped, so further connects stay pending.
fn tiny_backlog_tcp_listener() -> std::net::TcpListener {
    // SAFETY: plain socket calls on a descriptor owned here, then by the std listener.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        std::net::TcpListener::from_raw_fd(fd)
    }
}

/// A writer in the middle of a large transfer whose peer resets gets an error (reset or
/// broken pipe, naming the connection), not a hang.
#[test]
fn peer_reset_mid_transfer_fails_the_writer() {
    run(60, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let peer = std::net::TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().await.unwrap();
        let writer = gorun::go(async move {
            let chunk = vec![7u8; 1 << 16];
            loop {
                if let Err(e) = (&s).write_all(&chunk).await {
                    return e;
                }
            }
        });
        // Read a little, so the transfer is under way, then reset.
        let mut buf = [0u8; 1024];
        std::io::Read::read_exact(&mut &peer, &mut buf).unwrap();
        common::set_linger_zero(&peer);
        drop(peer);
        let e = gorun::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("the writer hung after the reset")
            .unwrap();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("write 127.0.0.1:"), "{e}");
    });
}

/// Half-close: the client shuts its write side; the server reads to the end and still writes
/// its answer, which the client reads in full.
#[test]
fn half_close_lets_the_other_direction_finish() {
    run(60, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = gorun::go(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            (&s).read_to_end(&mut req).await.unwrap();
            let answer: Vec<u8> = req.iter().rev().copied().collect();
            (&s).write_all(&answer).await.unwrap();
            (&s).close().await.unwrap();
        });
        let c = TcpStream::connect(addr).await.unwrap();
        (&c).write_all(b"half-close").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        (&c).read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"esolc-flah");
        server.await.unwrap();
    });
}

/// A peer that never reads: the writer blocks once the buffers are full; a timeout cancels it,
/// and the cancelled write leaves the stream usable (and closable).
#[test]
fn a_writer_blocked_on_a_peer_that_never_reads_is_cancelled_by_timeout() {
    run(60, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().await.unwrap();
        let big = vec![1u8; 64 << 20];
        let r = gorun::time::timeout(Duration::from_millis(200), (&s).write_all(&big)).await;
        assert!(r.is_err(), "64 MiB fitted in the socket buffers");
        // Still usable: a small write either fits or blocks, never errors.
        let again = gorun::time::timeout(Duration::from_millis(50), (&s).write(b"x")).await;
        assert!(matches!(again, Err(_) | Ok(Ok(_))), "{again:?}");
        drop(s);
    });
}

/// A listener that never accepts: a connect completes through the backlog; once the backlog
/// is full, further connects stay pending and `connect_timeout` gives up.
#[test]
fn a_listener_that_never_accepts() {
    run(60, async {
        let l = tiny_backlog_tcp_listener();
        let addr = l.local_addr().unwrap();
        let first = TcpStream::connect_timeout(addr, Duration::from_secs(10))
            .await
            .expect("the backlog takes one connection");
        assert_eq!(first.peer_addr().unwrap(), addr);
        let mut last = None;
        for _ in 0..4 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(300)).await {
                Ok(c) => drop(c),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        let e = last.expect("a full backlog lets no connect complete");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    });
}

/// Out of descriptors, `accept` fails with `EMFILE`, naming the listener; the connection
/// stays queued and is accepted once descriptors are free again. Runs in a child process
/// with `RLIMIT_NOFILE` lowered.
#[test]
fn accept_out_of_descriptors_recovers() {
    const NAME: &str = "accept_out_of_descriptors_recovers";
    if !in_child(NAME) {
        return run_in_child(NAME);
    }
    let _w = common::watchdog(NAME, 60);
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(addr).unwrap();
        // Lower the limit a little above what is open, then use up every descriptor.
        let limit = (open_fds() + 16) as libc::rlim_t;
        let rl = libc::rlimit {
            rlim_cur: limit,
            rlim_max: libc::RLIM_INFINITY,
        };
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with valid structs; only this child process is affected.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
            let rl = libc::rlimit {
                rlim_max: old.rlim_max,
                ..rl
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
        }
        let mut hogs = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => hogs.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                    break;
                }
            }
        }
        for _ in 0..3 {
            let e = gorun::time::timeout(Duration::from_secs(10), l.accept())
                .await
                .expect("accept hung out of descriptors")
                .unwrap_err();
            assert_eq!(gorun::net::raw_os_error(&e), Some(libc::EMFILE), "{e}");
            assert!(
                e.to_string().starts_with(&format!("accept {addr}: ")),
                "{e}"
            );
        }
        hogs.clear();
        let (s, peer) = gorun::time::timeout(Duration::from_secs(10), l.accept())
            .await
            .expect("accept did not recover")
            .unwrap();
        assert_eq!(peer, _client.local_addr().unwrap());
        drop(s);
        // SAFETY: restores the limit read above.
        unsafe {
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &old), 0);
        }
    });
}

/// Shutting a runtime down with goroutines blocked in a read, a write, an accept, a connect,
/// a sleep and a channel receive returns, drops them all, and closes every descriptor the
/// runtime and its sockets opened. Runs in a child process so the count is its own.
#[test]
fn shutdown_with_every_kind_of_blocked_goroutine_leaks_no_descriptor() {
    const NAME: &str = "shutdown_with_every_kind_of_blocked_goroutine_leaks_no_descriptor";
    if !in_child(NAME) {
        return run_in_child(NAME);
    }
    let _w = common::watchdog(NAME, 60);
    // Outside the runtime, so their descriptors are not the runtime's to close.
    let backlog = tiny_backlog_tcp_listener();
    let baddr = backlog.local_addr().unwrap();
    let _queued = std::net::TcpStream::connect(baddr).unwrap();
    let before = open_fds();
    for round in 0..3 {
        let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<&'static str>();
        rt.block_on(async move {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let c = TcpStream::connect(addr).await.unwrap();
            let (s, _) = l.accept().await.unwrap();
            let tx = ready_tx.clone();
            gorun::go(async move {
                tx.send("read").unwrap();
                let mut buf = [0u8; 8];
                let _ = (&c).read(&mut buf).await;
                unreachable!("nobody writes");
            });
            let tx = ready_tx.clone();
            gorun::go(async move {
                tx.send("write").unwrap();
                let big = vec![0u8; 64 << 20];
                let _ = (&s).write_all(&big).await;
                unreachable!("nobody reads");
            });
            let tx = ready_tx.clone();
            gorun::go(async move {
                tx.send("accept").unwrap();
                let _ = l.accept().await;
                unreachable!("nobody connects");
            });
            let tx = ready_tx.clone();
            gorun::go(async move {
                tx.send("connect").unwrap();
                let _ = TcpStream::connect(baddr).await;
                unreachable!("the backlog is full");
            });
            let tx = ready_tx.clone();
            gorun::go(async move {
                tx.send("sleep").unwrap();
                gorun::time::sleep(Duration::from_secs(3600)).await;
                unreachable!("slept an hour");
            });
            let tx = ready_tx.clone();
            gorun::go(async move {
                tx.send("chan").unwrap();
                let c = gorun::chan::chan::<u8>(0);
                let _keep = c.clone();
                c.recv().await;
                unreachable!("nobody sends");
            });
        });
        let mut started: Vec<_> = (0..6)
            .map(|_| ready_rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        started.sort();
        assert_eq!(
            started,
            ["accept", "chan", "connect", "read", "sleep", "write"],
            "round {round}"
        );
        // Let every goroutine reach its wait.
        std::thread::sleep(Duration::from_millis(100));
        drop(rt);
        assert_eq!(open_fds(), before, "descriptors leaked in round {round}");
    }
}
