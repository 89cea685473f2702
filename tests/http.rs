//! hyper on gorun (features `hyper`, `tokio`): the example server (`examples/http_server.rs`)
//! driven by hyper's client on gorun (the example client), by hyper-util's tokio client over
//! gorun sockets, and by `curl` when it is on the PATH; graceful shutdown waits for the
//! request in flight.
mod common;

#[allow(dead_code)]
#[path = "../examples/http_client.rs"]
mod http_client;
#[allow(dead_code)]
#[path = "../examples/http_server.rs"]
mod http_server;

use bytes::Bytes;
use gorun::chan::chan;
use gorun::net::TcpListener;
use gorun::time::{timeout, Duration};
use http_body_util::{BodyExt, Empty};
use hyper::Request;

/// Starts the example server on a loopback port; returns its address, the stop trigger and
/// the server goroutine (which ends after a graceful shutdown).
async fn start() -> (
    std::net::SocketAddr,
    gorun::chan::Chan<()>,
    gorun::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = chan::<()>(0);
    let s = stop.clone();
    let server = gorun::go(http_server::serve(listener, async move {
        s.recv().await;
    }));
    (addr, stop, server)
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

#[test]
fn hyper_client_on_gorun_keep_alive_then_graceful_shutdown() {
    let _w = common::watchdog("hyper_keep_alive", 60);
    gorun::block_on(async {
        let (addr, stop, server) = start().await;
        // The example client: one request on its own connection.
        let res = http_client::get(&format!("http://{addr}/")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.body().as_ref(), b"Hello, World!\n");
        let res = http_client::get(&format!("http://{addr}/nope"))
            .await
            .unwrap();
        assert_eq!(res.status(), 404);

        // Keep-alive: three requests over one connection.
        let stream = gorun::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        let conn = gorun::go(conn);
        for _ in 0..3 {
            let res = sender.send_request(get("/")).await.unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "Hello, World!\n");
        }
        // Graceful shutdown with this idle keep-alive connection open: the server closes it
        // and returns.
        stop.close();
        timeout(Duration::from_secs(10), server)
            .await
            .expect("graceful shutdown hung")
            .unwrap();
        let _ = timeout(Duration::from_secs(10), conn)
            .await
            .expect("the server did not close the idle connection");
    });
}

#[test]
fn graceful_shutdown_finishes_the_request_in_flight() {
    let _w = common::watchdog("graceful_in_flight", 60);
    gorun::block_on(async {
        let (addr, stop, server) = start().await;
        let stream = gorun::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        gorun::go(conn);
        let slow = gorun::go(async move {
            let res = sender.send_request(get("/slow")).await.unwrap();
            res.into_body().collect().await.unwrap().to_bytes()
        });
        // Wait until the request is being served (its handler sleeps 200 ms), then stop.
        let mut tries = 0;
        while http_server::SLOW_IN_FLIGHT.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tries += 1;
            assert!(tries < 5000, "the /slow handler never started");
            gorun::time::sleep(Duration::from_millis(1)).await;
        }
        stop.close();
        let body = timeout(Duration::from_secs(10), slow)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body, "slow hello\n");
        timeout(Duration::from_secs(10), server)
            .await
            .expect("graceful shutdown hung")
            .unwrap();
    });
}

#[test]
fn hyper_util_tokio_client_over_gorun_sockets() {
    let _w = common::watchdog("tokio_client_over_gorun", 60);
    let rt = gorun::runtime::Builder::new().workers(2).build().unwrap();
    let (addr, stop, server) = rt.block_on(start());
    // A tokio-side client, over a gorun TcpStream (tokio's I/O traits) wrapped in TokioIo.
    let handle = rt.handle().clone();
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = tokio_rt.block_on(async move {
        let stream = handle
            .go(gorun::net::TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let res = sender.send_request(get("/")).await.unwrap();
        res.into_body().collect().await.unwrap().to_bytes()
    });
    assert_eq!(body, "Hello, World!\n");
    stop.close();
    rt.block_on(async { timeout(Duration::from_secs(10), server).await })
        .expect("graceful shutdown hung")
        .unwrap();
}

#[test]
fn curl_keep_alive_when_on_the_path() {
    let _w = common::watchdog("curl", 60);
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED curl_keep_alive_when_on_the_path: no curl on the PATH");
        return;
    }
    gorun::block_on(async {
        let (addr, stop, server) = start().await;
        let url = format!("http://{addr}/");
        let out = gorun::go_blocking(move || {
            // Two URLs: curl reuses the connection (keep-alive) and says so with -v.
            std::process::Command::new("curl")
                .args(["-sS", "-v", "--max-time", "10", &url, &url])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stdout, "Hello, World!\nHello, World!\n");
        assert!(
            stderr.contains("Re-using existing connection")
                || stderr.contains("Reusing existing connection"),
            "curl did not reuse the connection:\n{stderr}"
        );
        stop.close();
        timeout(Duration::from_secs(10), server)
            .await
            .expect("graceful shutdown hung")
            .unwrap();
    });
}

#[test]
fn hyper_over_a_unix_stream_pair() {
    let _w = common::watchdog("hyper_unix", 60);
    gorun::block_on(async {
        let (server_side, client_side) = gorun::net::UnixStream::pair().unwrap();
        gorun::go(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(server_side, hyper::service::service_fn(http_server::handle)),
        );
        let (mut sender, conn) = hyper::client::conn::http1::handshake(client_side)
            .await
            .unwrap();
        gorun::go(conn);
        let res = sender.send_request(get("/")).await.unwrap();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "Hello, World!\n");
    });
}

#[test]
fn tokio_io_traits_on_streams_and_split_halves() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let _w = common::watchdog("tokio_io_traits", 60);
    gorun::block_on(async {
        // Unix stream, split: a tokio BufReader over the read half.
        let (a, mut b) = gorun::net::UnixStream::pair().unwrap();
        let (rd, mut wr) = a.split();
        wr.write_all(b"one\ntwo\n").await.unwrap();
        wr.shutdown().await.unwrap();
        let mut lines = BufReader::new(&mut b).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("one"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("two"));
        assert_eq!(lines.next_line().await.unwrap(), None);
        drop(rd);

        // TCP, whole and split, with a large transfer (many partial reads and writes).
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = gorun::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (s, _) = l.accept().await.unwrap();
        let (mut srd, mut swr) = s.split();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let sent = data.clone();
        let writer = gorun::go(async move {
            c.write_all(&sent).await.unwrap();
            AsyncWriteExt::shutdown(&mut c).await.unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        srd.read_to_end(&mut got).await.unwrap();
        assert!(got == data, "the bytes differ");
        swr.write_all(b"done").await.unwrap();
        swr.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"done");
    });
}

/// tokio's `AsyncRead` (straight into uninitialized memory) clears the read readiness after a
/// short read too: the end-of-stream that came in the same edge as the data is still delivered.
#[test]
fn tokio_read_delivers_end_of_stream_after_a_short_read() {
    use tokio::io::AsyncReadExt;
    let _w = common::watchdog("tokio_read_eof_after_short_read", 60);
    gorun::block_on(async {
        for _ in 0..10 {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (ours, _) = l.accept().unwrap();
            std::io::Write::write_all(&mut peer, b"abc").unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
            let mut s = gorun::net::TcpStream::from_std(ours).unwrap();
            gorun::time::sleep(Duration::from_millis(5)).await;
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"abc");
            let eof = timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .expect("the end-of-stream after a short read was never delivered");
            assert_eq!(eof.unwrap(), 0);
        }
    });
}
