//! A TCP echo server with one goroutine per connection, Go's classic shape.
//!
//! ```text
//! cargo run --example echo_server [ADDR] [--once]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8000` (`127.0.0.1:0` picks a free port, printed on stdout).
//! With `--once` the server echoes a single connection until the client closes it, then exits,
//! so tests can run it as a child process.

use gorun::net::TcpListener;
use gorun::time::{sleep, Duration};

#[gorun::main]
async fn main() -> std::io::Result<()> {
    let mut addr = String::from("127.0.0.1:8000");
    let mut once = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            _ => addr = arg,
        }
    }
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("echo server listening on {}", listener.local_addr()?);
    // Go's `http.Server` backoff: an accept error (out of descriptors: `EMFILE`, `ENFILE`,
    // `ENOBUFS`) is retried after 5 ms, doubling up to 1 s, instead of spinning on a listener
    // that stays ready, or exiting.
    let mut backoff = Duration::ZERO;
    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(c) => {
                backoff = Duration::ZERO;
                c
            }
            Err(e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                eprintln!("{e}; retrying in {backoff:?}");
                sleep(backoff).await;
                continue;
            }
        };
        let handler = gorun::go(async move {
            let (mut rd, mut wr) = conn.split();
            match futures::io::copy(&mut rd, &mut wr).await {
                Ok(n) => eprintln!("{peer}: echoed {n} bytes"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
        if once {
            let _ = handler.await;
            return Ok(());
        }
    }
}
