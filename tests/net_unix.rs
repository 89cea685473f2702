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
