//! Socket errors keep the OS error (its code stays reachable) and name the address, on every
//! path: connect, bind, send_to, accept, read and write.

use std::io;
use std::time::Duration;

use futures::io::AsyncReadExt;
use gorun::net::{TcpListener, TcpStream, UdpSocket};

mod common;
use common::run;

/// The OS error code found by walking `e`'s source chain, as error reporters do.
fn source_os_error(e: &io::Error) -> Option<i32> {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)
}

#[test]
fn connect_refused_keeps_econnrefused() {
    run(30, async {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(source_os_error(&e), Some(libc::ECONNREFUSED), "{e:?}");
        assert_eq!(gorun::net::raw_os_error(&e), Some(libc::ECONNREFUSED));
        assert!(
            e.to_string().starts_with(&format!("connect {addr}: ")),
            "{e}"
        );
    });
}

#[test]
fn bind_in_use_keeps_eaddrinuse() {
    run(30, async {
        let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = a.local_addr().unwrap();
        let e = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(source_os_error(&e), Some(libc::EADDRINUSE), "{e:?}");
        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let e = UdpSocket::bind(u.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(source_os_error(&e), Some(libc::EADDRINUSE), "{e:?}");
    });
}

#[test]
fn oversized_datagram_keeps_emsgsize() {
    run(30, async {
        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = u.local_addr().unwrap();
        let big = vec![0u8; 70_000];
        let e = u.send_to(&big, to).await.unwrap_err();
        assert_eq!(source_os_error(&e), Some(libc::EMSGSIZE), "{e:?}");
        assert!(e.to_string().starts_with(&format!("send_to {to}: ")), "{e}");
        u.connect(to).await.unwrap();
        let e = u.send(&big).await.unwrap_err();
        assert_eq!(source_os_error(&e), Some(libc::EMSGSIZE), "{e:?}");
        assert!(e.to_string().starts_with("send 127.0.0.1:"), "{e}");
    });
}

#[test]
fn read_after_a_reset_names_the_connection() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let peer = std::net::TcpStream::connect(addr).unwrap();
        let (mut s, from) = l.accept().await.unwrap();
        common::set_linger_zero(&peer);
        drop(peer);
        let mut buf = [0u8; 16];
        let e = gorun::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the read saw the reset")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(source_os_error(&e), Some(libc::ECONNRESET), "{e:?}");
        assert!(e.to_string().starts_with(&format!("read {addr}")), "{e}");
        let _ = from;
    });
}
