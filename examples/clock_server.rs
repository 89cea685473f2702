//! "The Go Programming Language" §8.2, clock2: a concurrent clock server that writes the time
//! of day (UTC) to each client once a second, one goroutine per client.
//!
//! ```text
//! cargo run --example clock_server [ADDR] [--once]
//! nc 127.0.0.1 8000
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8000`. With `--once` the server serves one client for three
//! ticks, then exits (for tests).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::io::AsyncWriteExt;
use gorun::net::{TcpListener, TcpStream};
use gorun::time::Ticker;

/// The time of day as `15:04:05` (UTC).
fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}\n", day / 3600, day % 3600 / 60, day % 60)
}

async fn handle_conn(mut conn: TcpStream, ticks: Option<usize>) {
    let ticker = Ticker::new(Duration::from_secs(1));
    let mut sent = 0;
    loop {
        if conn.write_all(clock().as_bytes()).await.is_err() {
            return; // e.g., client disconnected
        }
        sent += 1;
        if ticks == Some(sent) {
            let _ = conn.close().await;
            return;
        }
        ticker.c().recv().await;
    }
}

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
    println!("clock server listening on {}", listener.local_addr()?);
    loop {
        let (conn, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}"); // e.g., connection aborted
                continue;
            }
        };
        let handler = gorun::go(handle_conn(conn, once.then_some(3))); // handle connections concurrently
        if once {
            let _ = handler.await;
            return Ok(());
        }
    }
}
