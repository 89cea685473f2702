//! Unix domain sockets: a round trip through a listener, and split halves.

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gorun::net::{UnixListener, UnixStream};

mod common;
use common::run;

fn sock_path(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("gorun-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_socket_round_trip() {
    let path = sock_path("rt");
    let p = path.clone();
    run(30, async move {
        let l = UnixListener::bind(&p).unwrap();
        let server = gorun::go(async move {
            let (s, _) = l.accept().await.unwrap();
            let (mut rd, mut wr) = s.split();
            futures::io::copy(&mut rd, &mut wr).await.unwrap();
            wr.close().await.unwrap();
        });
        let c = UnixStream::connect(&p).await.unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let (mut rd, mut wr) = c.split();
        let d = data.clone();
        let writer = gorun::go(async move {
            wr.write_all(&d).await.unwrap();
            wr.close().await.unwrap();
        });
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        server.await.unwrap();
        assert!(back == data, "echoed bytes differ");
    });
    let _ = std::fs::remove_file(&path);
}

#[test]
fn connect_to_a_missing_socket_names_the_path() {
    let path = sock_path("missing");
    let p = path.clone();
    run(30, async move {
        let e = UnixStream::connect(&p).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(
            e.to_string()
                .starts_with(&format!("connect {}: ", p.display())),
            "{e}"
        );
    });
}

/// A listening Unix socket at `path` with a backlog of 0 (Linux queues one connection), made
/// with libc so the test controls the backlog.
fn tiny_backlog_listener(path: &std::path::Path) -> std::os::unix::net::UnixListener {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket calls on a descriptor this function owns; the address is a zeroed
    // `sockaddr_un` with a NUL-terminated path that fits.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut sun: libc::sockaddr_un = std::mem::zeroed();
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        assert!(bytes.len() < sun.sun_path.len());
        for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sun as *const libc::sockaddr_un).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        std::os::unix::net::UnixListener::from_raw_fd(fd)
    }
}

/// Connecting to a listener whose backlog is full fails at once with `EAGAIN` instead of
/// blocking a thread; with one blocking thread, further work still runs, and dropping the
/// runtime does not hang.
#[test]
fn connect_to_a_full_backlog_fails_without_blocking() {
    let path = sock_path("full");
    let l = tiny_backlog_listener(&path);
    let _w = common::watchdog("connect_to_a_full_backlog_fails_without_blocking", 60);
    let rt = gorun::runtime::Builder::new()
        .workers(2)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let p = path.clone();
    rt.block_on(async move {
        let mut conns = Vec::new();
        let mut refused = None;
        for _ in 0..8 {
            let r =
                gorun::time::timeout(std::time::Duration::from_secs(5), UnixStream::connect(&p))
                    .await
                    .expect("connect blocked on a full backlog");
            match r {
                Ok(c) => conns.push(c),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let e = refused.expect("a backlog of 0 cannot queue 8 connections");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
        assert_eq!(gorun::net::raw_os_error(&e), Some(libc::EAGAIN));
        // The blocking pool is free.
        let v = gorun::time::timeout(std::time::Duration::from_secs(5), gorun::go_blocking(|| 7))
            .await
            .expect("the blocking pool is stuck")
            .unwrap();
        assert_eq!(v, 7);
    });
    drop(rt);
    drop(l);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn dropping_a_listener_removes_its_socket_file() {
    let path = sock_path("unlink");
    let p = path.clone();
    run(30, async move {
        let l = UnixListener::bind(&p).unwrap();
        assert!(p.exists());
        drop(l);
        assert!(!p.exists(), "the socket file outlived its listener");
        let l = UnixListener::bind(&p).expect("binding the same path again");
        let _c = UnixStream::connect(&p).await.unwrap();
        l.accept().await.unwrap();
    });
    let _ = std::fs::remove_file(&path);
}

/// A listener removes only the file it created: one put at the same path since stays.
#[test]
fn a_listener_leaves_a_replaced_socket_file_alone() {
    let path = sock_path("replaced");
    let p = path.clone();
    run(30, async move {
        let old = UnixListener::bind(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let new = UnixListener::bind(&p).unwrap();
        drop(old);
        assert!(p.exists(), "the old listener removed the new one's file");
        let _c = UnixStream::connect(&p).await.unwrap();
        new.accept().await.unwrap();
    });
    let _ = std::fs::remove_file(&path);
}

#[test]
fn abstract_namespace_round_trip() {
    run(30, async move {
        let name = format!("\0gorun-abstract-{}", std::process::id());
        let l = UnixListener::bind(&name).unwrap();
        let mut c = UnixStream::connect(&name).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        c.write_all(b"abs").await.unwrap();
        let mut buf = [0; 3];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abs");
        drop(l);
        let e = UnixStream::connect(&name).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(e.to_string().starts_with("connect @gorun-abstract-"), "{e}");
    });
}

#[test]
fn bind_and_connect_from_a_std_socket_addr() {
    use std::os::linux::net::SocketAddrExt;
    run(30, async move {
        let name = format!("gorun-addr-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let l = UnixListener::bind_addr(&addr).unwrap();
        let _c = UnixStream::connect_addr(&addr).await.unwrap();
        let (_s, _) = l.accept().await.unwrap();
        let path = sock_path("addr");
        let addr = std::os::unix::net::SocketAddr::from_pathname(&path).unwrap();
        let l = UnixListener::bind_addr(&addr).unwrap();
        let _c = UnixStream::connect(&path).await.unwrap();
        l.accept().await.unwrap();
        drop(l);
        assert!(!path.exists());
    });
}

/// The peer's bytes and its shutdown in one readiness edge, taken by the reactor before the
/// first read: that read is short (clearing the readiness), and the end-of-stream after it is
/// still delivered. Then a short read followed by a wait that the peer's next write ends.
#[test]
fn end_of_stream_and_later_data_after_a_short_read_are_delivered() {
    use std::time::Duration;
    run(30, async {
        for _ in 0..20 {
            let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
            std::io::Write::write_all(&mut peer, b"abc").unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            let mut s = UnixStream::from_std(ours).unwrap();
            gorun::time::sleep(Duration::from_millis(5)).await;
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"abc");
            let eof = gorun::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .expect("the end-of-stream after a short read was never delivered");
            assert_eq!(eof.unwrap(), 0);
        }
        let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut s = UnixStream::from_std(ours).unwrap();
        std::io::Write::write_all(&mut peer, b"abc").unwrap();
        let mut buf = [0u8; 4096];
        let mut got = 0;
        while got < 3 {
            got += s.read(&mut buf[got..]).await.unwrap();
        }
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            std::io::Write::write_all(&mut peer, b"de").unwrap();
            peer
        });
        let n = gorun::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("a write after a short read did not wake the reader")
            .unwrap();
        assert_eq!(&buf[..n], b"de");
        drop(writer.join().unwrap());
    });
}
