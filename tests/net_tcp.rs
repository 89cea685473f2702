//! TCP: a 1 MiB echo round trip, split halves, and connect errors that name the address.

use std::io::ErrorKind;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gorun::net::{TcpListener, TcpStream};

mod common;
use common::run;

/// Accepts connections forever, echoing each in its own goroutine.
async fn echo_server(l: TcpListener) {
    loop {
        let (s, _) = match l.accept().await {
            Ok(c) => c,
            Err(_) => return,
        };
        gorun::go(async move {
            let (mut rd, mut wr) = s.split();
            let _ = futures::io::copy(&mut rd, &mut wr).await;
            let _ = wr.close().await;
        });
    }
}

#[test]
fn tcp_echo_round_trip_of_one_mebibyte() {
    run(60, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        gorun::go(echo_server(l));
        let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 251) as u8).collect();
        let c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        let (mut rd, mut wr) = c.split();
        // Write from a second goroutine while this one reads: neither side can deadlock on
        // full socket buffers.
        let to_send = data.clone();
        let writer = gorun::go(async move {
            wr.write_all(&to_send).await.unwrap();
            wr.close().await.unwrap();
        });
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data, "echoed bytes differ");
    });
}

#[test]
fn connect_to_a_closed_port_is_connection_refused_and_names_it() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("connect {addr}: ")), "{msg}");
    });
}

#[test]
fn bind_to_a_used_port_names_the_address() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let e = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        assert!(e.to_string().starts_with(&format!("bind {addr}: ")), "{e}");
    });
}

#[test]
fn connect_resolves_host_names() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(format!("localhost:{port}"))
            .await
            .unwrap();
        let (s, peer) = l.accept().await.unwrap();
        assert_eq!(c.local_addr().unwrap(), peer);
        assert_eq!(s.local_addr().unwrap(), c.peer_addr().unwrap());
    });
}

#[test]
fn shutdown_write_gives_the_peer_end_of_stream() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        c.write_all(b"bye").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
    });
}

#[test]
fn a_read_waits_for_data_instead_of_failing() {
    run(30, async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let reader = gorun::go(async move {
            let mut buf = [0u8; 5];
            (&s).read_exact(&mut buf).await.unwrap();
            buf
        });
        gorun::time::sleep(Duration::from_millis(30)).await;
        (&c).write_all(b"later").await.unwrap();
        assert_eq!(&reader.await.unwrap(), b"later");
    });
}

#[test]
fn handles_are_send_and_sync_and_their_futures_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<gorun::net::tcp::ReadHalf>();
    send_sync::<gorun::net::tcp::WriteHalf>();
    send_sync::<gorun::net::UdpSocket>();
    send_sync::<gorun::net::UnixListener>();
    send_sync::<gorun::net::UnixStream>();
    send_sync::<gorun::time::Sleep>();
    send_sync::<gorun::time::Timer>();
    send_sync::<gorun::time::Ticker>();
    send(&TcpStream::connect("127.0.0.1:1"));
    send(&TcpListener::bind(("localhost", 0)));
    send(&gorun::net::UdpSocket::bind("127.0.0.1:0"));
    send(&gorun::net::UnixStream::connect("/nonexistent"));
    send(&gorun::time::timeout(Duration::from_secs(1), async {}));
    let u = futures::executor::block_on(gorun::net::UdpSocket::bind("127.0.0.1:0")).unwrap();
    let mut buf = [0u8; 4];
    send(&u.send_to(b"x", "127.0.0.1:9"));
    send(&u.recv_from(&mut buf));
}

/// `connect` does not hold a blocking-pool thread during the handshake: with the pool's only
/// thread busy, 200 concurrent connects to literal addresses still complete (each would have
/// queued behind the busy thread if connecting ran on the pool).
#[test]
fn connects_do_not_wait_for_the_blocking_pool() {
    let rt = gorun::runtime::Builder::new()
        .workers(2)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let busy = gorun::go_blocking(move || {
            let _ = held.recv_timeout(Duration::from_secs(30));
        });
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let acceptor = gorun::go(async move {
            let mut conns = Vec::new();
            for _ in 0..200 {
                conns.push(l.accept().await.unwrap().0);
            }
            conns.len()
        });
        let clients: Vec<_> = (0..200)
            .map(|_| gorun::go(async move { TcpStream::connect(addr).await }))
            .collect();
        let all = async {
            let mut ok = 0;
            for c in clients {
                let s = c.await.unwrap().unwrap();
                assert_eq!(s.peer_addr().unwrap(), addr);
                ok += 1;
            }
            (ok, acceptor.await.unwrap())
        };
        let got = gorun::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("connects waited for the busy blocking pool");
        assert_eq!(got, (200, 200));
        release.send(()).unwrap();
        busy.await.unwrap();
    });
}

/// IPv6 connects go through the same non-blocking path (skipped where `::1` is unavailable).
#[test]
fn connect_over_ipv6_loopback() {
    run(30, async {
        let l = match TcpListener::bind("[::1]:0").await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipped: no IPv6 loopback here ({e})");
                return;
            }
        };
        let addr = l.local_addr().unwrap();
        gorun::go(echo_server(l));
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"over six").await.unwrap();
        let mut back = [0u8; 8];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"over six");
        let e = TcpStream::connect(("::1", 1)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    });
}

/// With every worker busy (goroutines that only yield), no worker parks in the reactor: the
/// busy ones must poll it for socket events between tasks, and often enough that round trips
/// do not wait for the millisecond timer poll (2,000 of them would then take over 2 s).
#[test]
fn round_trips_stay_fast_while_every_worker_is_busy() {
    use std::sync::atomic::{AtomicBool, Ordering::*};
    use std::sync::Arc;
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    let _w = common::watchdog("round_trips_stay_fast_while_every_worker_is_busy", 60);
    let took = rt.block_on(async {
        gorun::go(async {
            let stop = Arc::new(AtomicBool::new(false));
            let spinners: Vec<_> = (0..4)
                .map(|_| {
                    let stop = stop.clone();
                    gorun::go(async move {
                        while !stop.load(Relaxed) {
                            gorun::yield_now().await;
                        }
                    })
                })
                .collect();
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            gorun::go(echo_server(l));
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.set_nodelay(true).unwrap();
            let t = std::time::Instant::now();
            let mut buf = [0u8; 8];
            for i in 0..2000u64 {
                c.write_all(&i.to_le_bytes()).await.unwrap();
                c.read_exact(&mut buf).await.unwrap();
                assert_eq!(u64::from_le_bytes(buf), i);
            }
            let took = t.elapsed();
            stop.store(true, Relaxed);
            for s in spinners {
                s.await.unwrap();
            }
            took
        })
        .await
        .unwrap()
    });
    assert!(
        took < Duration::from_millis(1500),
        "2,000 round trips took {took:?} with every worker busy"
    );
}

/// A connected pair: a gorun stream and its peer, a plain (blocking) std stream.
fn std_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (ours, _) = l.accept().unwrap();
    (ours, peer)
}

/// The peer's 3 bytes and its FIN arrive in one readiness edge, which the reactor dispatches
/// before the first read: that read (into a large buffer) is short and clears the readiness,
/// and the end-of-stream must still be delivered: the read-closed state it came with stays.
#[test]
fn end_of_stream_after_a_short_read_is_delivered() {
    run(30, async {
        for _ in 0..20 {
            let (ours, mut peer) = std_pair();
            std::io::Write::write_all(&mut peer, b"abc").unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            let mut s = TcpStream::from_std(ours).unwrap();
            // Lets the reactor take the registration's event (data and FIN at once).
            gorun::time::sleep(Duration::from_millis(5)).await;
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"abc");
            let eof = gorun::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .expect("the end-of-stream after a short read was never delivered");
            assert_eq!(eof.unwrap(), 0);
        }
    });
}

/// The same through `read_vectored` and a split read half, with the FIN arriving while the
/// reader waits (a later edge of its own).
#[test]
fn end_of_stream_after_a_short_vectored_read_is_delivered() {
    run(30, async {
        let (ours, mut peer) = std_pair();
        let (mut rd, _wr) = TcpStream::from_std(ours).unwrap().split();
        std::io::Write::write_all(&mut peer, b"abc").unwrap();
        let (mut a, mut b) = ([0u8; 2], [0u8; 4096]);
        let mut got = Vec::new();
        while got.len() < 3 {
            let mut bufs = [
                std::io::IoSliceMut::new(&mut a),
                std::io::IoSliceMut::new(&mut b),
            ];
            let n = rd.read_vectored(&mut bufs).await.unwrap();
            let both: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            got.extend_from_slice(&both[..n]);
        }
        assert_eq!(got, b"abc");
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            peer
        });
        let mut bufs = [
            std::io::IoSliceMut::new(&mut a),
            std::io::IoSliceMut::new(&mut b),
        ];
        let eof = gorun::time::timeout(Duration::from_secs(10), rd.read_vectored(&mut bufs))
            .await
            .expect("the end-of-stream was never delivered");
        assert_eq!(eof.unwrap(), 0);
        drop(closer.join().unwrap());
    });
}

/// A peer's reset is an error for the reader: after a short read (the reader then waits and
/// the reset wakes it), and when the data and the reset came before the first read.
#[test]
fn a_peer_reset_after_a_short_read_is_an_error() {
    run(30, async {
        // Reset while the reader waits.
        let (ours, mut peer) = std_pair();
        let mut s = TcpStream::from_std(ours).unwrap();
        std::io::Write::write_all(&mut peer, b"abc").unwrap();
        let mut buf = [0u8; 4096];
        let mut got = 0;
        while got < 3 {
            got += s.read(&mut buf[got..]).await.unwrap();
        }
        let resetter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            common::set_linger_zero(&peer);
            drop(peer);
        });
        let r = gorun::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the reset never woke the reader");
        resetter.join().unwrap();
        let e = r.expect_err("a reset peer is an error");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");

        // Data and reset both in before the first read: the data (if the kernel kept it),
        // then the error, never a wait.
        let (ours, mut peer) = std_pair();
        std::io::Write::write_all(&mut peer, b"xyz").unwrap();
        common::set_linger_zero(&peer);
        drop(peer);
        let mut s = TcpStream::from_std(ours).unwrap();
        gorun::time::sleep(Duration::from_millis(5)).await;
        let mut got = Vec::new();
        let e = loop {
            match gorun::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .expect("the reset was never delivered")
            {
                Ok(0) => panic!("a reset read as end-of-stream"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert!(b"xyz".starts_with(&got), "{got:?}");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    });
}

/// Every read of the echoing side is short (a few bytes into 4 KiB), so each clears the read
/// readiness and the next one waits for the reactor; the peer's next message must wake it,
/// whether it comes after the reader parked (the sleeps) or while it was still reading.
#[test]
fn a_read_parked_after_a_short_read_is_woken_by_the_next_write() {
    run(60, async {
        let (ours, mut peer) = std_pair();
        let s = TcpStream::from_std(ours).unwrap();
        let server = gorun::go(async move {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let mut reads = 0u32;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return reads;
                }
                reads += 1;
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let client = std::thread::spawn(move || {
            use std::io::{Read, Write};
            peer.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            for i in 0..300u32 {
                if i % 3 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let msg = i.to_le_bytes();
                let msg = &msg[..1 + i as usize % 4];
                peer.write_all(msg).unwrap();
                let mut back = vec![0u8; msg.len()];
                peer.read_exact(&mut back)
                    .expect("the echoing reader was not woken by a write");
                assert_eq!(back, msg);
            }
            peer.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let reads = gorun::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("the echoing reader hung")
            .unwrap();
        client.join().unwrap();
        assert!(reads >= 300);
    });
}

/// Vectored writes (`writev`) carry every byte of every buffer, in order, including when the
/// socket buffer fills and a write waits for the reactor; a vectored read sees them the same.
#[test]
fn vectored_writes_carry_every_byte_in_order() {
    run(60, async {
        let (ours, peer) = std_pair();
        let s = TcpStream::from_std(ours).unwrap();
        let (_rd, mut wr) = s.split();
        // 4 MiB in three buffers per write, much more than a socket buffer.
        let (a, b, c): (Vec<u8>, Vec<u8>, Vec<u8>) = (
            (0..1000u32).map(|i| i as u8).collect(),
            (0..3u32).map(|i| 100 + i as u8).collect(),
            (0..70_000u32).map(|i| (i / 7) as u8).collect(),
        );
        let rounds = 4 << 20 >> 16;
        let mut want = Vec::new();
        for _ in 0..rounds {
            want.extend_from_slice(&a);
            want.extend_from_slice(&b);
            want.extend_from_slice(&c);
        }
        let expected = want.clone();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut &peer, &mut got).unwrap();
            got
        });
        for _ in 0..rounds {
            let mut bufs = [
                std::io::IoSlice::new(&a),
                std::io::IoSlice::new(&b),
                std::io::IoSlice::new(&c),
            ];
            let mut bufs = &mut bufs[..];
            while !bufs.is_empty() {
                let n = wr.write_vectored(bufs).await.unwrap();
                assert!(n > 0);
                std::io::IoSlice::advance_slices(&mut bufs, n);
            }
        }
        wr.close().await.unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes arrived out of order or changed");

        // And back: a vectored read gathers what a plain write sent.
        let (ours, mut peer) = std_pair();
        let mut s = TcpStream::from_std(ours).unwrap();
        std::io::Write::write_all(&mut peer, &expected[..5000]).unwrap();
        drop(peer);
        let (mut x, mut y) = (vec![0u8; 1000], vec![0u8; 8192]);
        let mut got = Vec::new();
        loop {
            let mut bufs = [
                std::io::IoSliceMut::new(&mut x),
                std::io::IoSliceMut::new(&mut y),
            ];
            let n = s.read_vectored(&mut bufs).await.unwrap();
            if n == 0 {
                break;
            }
            let both: Vec<u8> = x.iter().chain(y.iter()).copied().collect();
            got.extend_from_slice(&both[..n]);
        }
        assert!(
            got == expected[..5000],
            "a vectored read lost or reordered bytes"
        );
    });
}
