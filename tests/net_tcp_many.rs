//! 1,000 concurrent connections to an echo server, all served at once.

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::stream::{FuturesUnordered, StreamExt};
use gorun::net::{TcpListener, TcpStream};

mod common;
use common::run;

const CONNS: usize = 1000;

/// The soft and hard `RLIMIT_NOFILE`, from /proc/self/limits.
fn fd_limits() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    let mut it = line.split_whitespace().skip(3);
    let parse = |v: &str| {
        if v == "unlimited" {
            Some(u64::MAX)
        } else {
            v.parse().ok()
        }
    };
    Some((parse(it.next()?)?, parse(it.next()?)?))
}

/// Raises the soft fd limit to `want` if the hard limit allows; returns whether we have it.
fn ensure_fds(want: u64) -> bool {
    let Some((soft, hard)) = fd_limits() else {
        return true;
    };
    if soft >= want {
        return true;
    }
    if hard < want {
        return false;
    }
    extern "C" {
        fn setrlimit(resource: i32, rlim: *const [u64; 2]) -> i32;
    }
    const RLIMIT_NOFILE: i32 = 7;
    let lim = [want, hard];
    // SAFETY: `setrlimit` reads one `struct rlimit` (two `rlim_t` = u64 on 64-bit Linux) from a
    // valid pointer; `lim` lives across the call.
    unsafe { setrlimit(RLIMIT_NOFILE, &lim) == 0 }
}

#[test]
fn thousand_concurrent_connections_to_an_echo_server() {
    // Each connection costs two descriptors here (client and server end), plus slack.
    let want = (CONNS * 2 + 256) as u64;
    if !ensure_fds(want) {
        eprintln!(
            "SKIPPED thousand_concurrent_connections_to_an_echo_server: needs {want} file \
             descriptors and the hard limit is lower ({:?}); raise it with `ulimit -Hn`",
            fd_limits()
        );
        return;
    }
    run(120, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        gorun::go(async move {
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                gorun::go(async move {
                    let (mut rd, mut wr) = s.split();
                    let _ = futures::io::copy(&mut rd, &mut wr).await;
                });
            }
        });
        // Open every connection first, so all are live at once, then talk on all of them.
        let mut conns = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            conns.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut all: FuturesUnordered<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| async move {
                let msg = format!("hello from connection {i:04}");
                c.write_all(msg.as_bytes()).await.unwrap();
                let mut back = vec![0; msg.len()];
                c.read_exact(&mut back).await.unwrap();
                assert_eq!(back, msg.as_bytes());
                i
            })
            .collect();
        let mut done = vec![false; CONNS];
        while let Some(i) = all.next().await {
            done[i] = true;
        }
        assert!(done.iter().all(|&d| d));
    });
}
