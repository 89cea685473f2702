//! The socket options and conversions a service needs: `from_std`/`into_std`, descriptors,
//! `TCP_NODELAY`, keep-alive, `IP_TTL`, `SO_REUSEADDR` on listeners, `connect_timeout`.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gorun::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

mod common;
use common::run;

fn sockopt(fd: &impl AsRawFd, level: i32, name: i32) -> i32 {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an `int` option into an `int` of the size passed, on an open socket.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "getsockopt: {}", std::io::Error::last_os_error());
    v
}

#[test]
fn tcp_listeners_set_so_reuseaddr() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(sockopt(&l, libc::SOL_SOCKET, libc::SO_REUSEADDR), 1);
    });
}

#[test]
fn tcp_options_reach_the_socket() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        c.set_nodelay(true).unwrap();
        assert_eq!(sockopt(&c, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
        assert!(c.nodelay().unwrap());
        c.set_keepalive(Some(Duration::from_secs(42))).unwrap();
        assert_eq!(sockopt(&c, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(sockopt(&c, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 42);
        assert_eq!(sockopt(&c, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 42);
        assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(42)));
        c.set_keepalive(None).unwrap();
        assert_eq!(sockopt(&c, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        c.set_ttl(33).unwrap();
        assert_eq!(sockopt(&c.as_fd(), libc::IPPROTO_IP, libc::IP_TTL), 33);
        assert_eq!(c.ttl().unwrap(), 33);
        l.set_ttl(34).unwrap();
        assert_eq!(l.ttl().unwrap(), 34);
        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        u.set_ttl(35).unwrap();
        assert_eq!(sockopt(&u, libc::IPPROTO_IP, libc::IP_TTL), 35);
    });
}

#[test]
fn tcp_from_std_and_into_std_keep_the_connection() {
    run(30, async {
        let l = TcpListener::from_std(std::net::TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
        let (s, _) = l.accept().await.unwrap();
        (&c).write_all(b"one").await.unwrap();
        let mut std_s = s.into_std().unwrap();
        std_s.set_nonblocking(false).unwrap();
        let mut buf = [0; 3];
        std::io::Read::read_exact(&mut std_s, &mut buf).unwrap();
        assert_eq!(&buf, b"one");
        std::io::Write::write_all(&mut std_s, b"two").unwrap();
        (&c).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"two");
        let std_l = l.into_std().unwrap();
        assert_eq!(std_l.local_addr().unwrap(), addr);
        let u = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let ua = u.local_addr().unwrap();
        assert_eq!(u.into_std().unwrap().local_addr().unwrap(), ua);
    });
}

#[test]
fn unix_from_std_and_into_std_keep_the_connection() {
    run(30, async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = UnixStream::from_std(a).unwrap();
        let mut b = UnixStream::from_std(b).unwrap().into_std().unwrap();
        b.set_nonblocking(false).unwrap();
        (&a).write_all(b"u").await.unwrap();
        let mut buf = [0; 1];
        std::io::Read::read_exact(&mut b, &mut buf).unwrap();
        assert_eq!(&buf, b"u");
        assert!(a.as_raw_fd() >= 0);
        let name = format!("\0gorun-sockopt-{}", std::process::id());
        let l = UnixListener::bind(&name).unwrap();
        assert!(l.as_fd().as_raw_fd() >= 0);
        let std_l = l.into_std().unwrap();
        let _c = UnixStream::connect(&name).await.unwrap();
        std_l.set_nonblocking(false).unwrap();
        std_l.accept().unwrap();
    });
}

/// A TCP listener with a backlog of 0 and one connection queued drops further SYNs, so a
/// connect to it stays pending: `connect_timeout` gives up with `TimedOut`, naming the address.
#[test]
fn connect_timeout_gives_up_on_a_full_backlog() {
    use std::os::fd::FromRawFd;
    run(60, async {
        // SAFETY: plain socket calls on a descriptor owned here, then by the std listener.
        let l = unsafe {
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
        };
        let addr = l.local_addr().unwrap();
        // Fill the accept queue (a backlog of 0 holds one).
        let mut queued = Vec::new();
        let mut timed_out = None;
        for _ in 0..4 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(300)).await {
                Ok(c) => queued.push(c),
                Err(e) => {
                    timed_out = Some(e);
                    break;
                }
            }
        }
        let e = timed_out.expect("a full accept queue lets no connect complete");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        assert!(
            e.to_string().starts_with(&format!("connect {addr}: ")),
            "{e}"
        );
        assert!(!queued.is_empty(), "the backlog held a connection");
    });
}
