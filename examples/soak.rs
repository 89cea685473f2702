//! Soak test: an echo server and 100 client goroutines doing 64-byte round trips over loopback
//! for a given number of seconds, printing each second the elapsed time, round trips per second
//! and the resident set size (`VmRSS`). After warm-up the RSS must stay flat: a goroutine, a
//! waker, a timer or a buffer leaked per round trip shows as a steady climb.
//!
//! ```text
//! cargo run --release --example soak [SECONDS] [--clients N] [--check]
//! ```
//!
//! `SECONDS` defaults to 10, `N` to 100. With `--check` the process exits with status 1 if the
//! RSS at the end is more than 10% (and 2 MiB) above its level at the end of warm-up (the first
//! quarter of the run, at least 2 s), or if any round trip failed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use gorun::net::{TcpListener, TcpStream};
use gorun::sync::WaitGroup;
use gorun::time::{timeout, Ticker};

const MSG: usize = 64;

/// `VmRSS` of this process in KiB (0 where there is no procfs).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One goroutine per connection: echo until the client closes.
async fn serve(listener: TcpListener, stop: Arc<AtomicBool>) {
    while !stop.load(Acquire) {
        let Ok(Ok((conn, _))) = timeout(Duration::from_millis(200), listener.accept()).await else {
            continue;
        };
        drop(gorun::go(async move {
            let (mut rd, mut wr) = conn.split();
            let mut buf = [0u8; 4096];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if wr.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }));
    }
}

/// Round trips until `stop`; each one bounded by a 5 s timeout.
async fn client(
    id: u64,
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    trips: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
) {
    let mut conn = match TcpStream::connect(addr).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client {id}: connect: {e}");
            failures.fetch_add(1, Relaxed);
            return;
        }
    };
    let _ = conn.set_nodelay(true);
    let mut out = [0u8; MSG];
    let mut back = [0u8; MSG];
    let mut seq = 0u64;
    while !stop.load(Acquire) {
        seq += 1;
        out[..8].copy_from_slice(&id.to_le_bytes());
        out[8..16].copy_from_slice(&seq.to_le_bytes());
        let trip = async {
            conn.write_all(&out).await?;
            conn.read_exact(&mut back).await
        };
        match timeout(Duration::from_secs(5), trip).await {
            Ok(Ok(())) if back == out => {
                trips.fetch_add(1, Relaxed);
            }
            Ok(Ok(())) => {
                eprintln!("client {id}: round trip {seq} came back different");
                failures.fetch_add(1, Relaxed);
                return;
            }
            Ok(Err(e)) => {
                eprintln!("client {id}: {e}");
                failures.fetch_add(1, Relaxed);
                return;
            }
            Err(_) => {
                eprintln!("client {id}: round trip {seq} took over 5 s");
                failures.fetch_add(1, Relaxed);
                return;
            }
        }
    }
}

#[gorun::main]
async fn main() {
    let (mut secs, mut clients, mut check) = (10u64, 100u64, false);
    // `std::env::Args` is not `Send`: read it into a `Vec` (the body is a goroutine).
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut args = argv.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--check" => check = true,
            "--clients" => {
                clients = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| (1..=10_000).contains(&n))
                    .expect("--clients takes a number from 1 to 10000")
            }
            s => {
                secs = s
                    .parse()
                    .ok()
                    .filter(|&n| (1..=86_400).contains(&n))
                    .expect("usage: soak [SECONDS (1..=86400)] [--clients N] [--check]")
            }
        }
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    println!("soak: echo server on {addr}, {clients} clients, {secs} s");
    let stop = Arc::new(AtomicBool::new(false));
    let server = gorun::go(serve(listener, stop.clone()));
    let (trips, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let wg = WaitGroup::new();
    for id in 0..clients {
        wg.go(client(
            id,
            addr,
            stop.clone(),
            trips.clone(),
            failures.clone(),
        ));
    }

    let warmup = (secs / 4).max(2).min(secs);
    let start = Instant::now();
    let ticker = Ticker::new(Duration::from_secs(1));
    let (mut last, mut warm_rss, mut samples) = (0u64, None, Vec::new());
    println!("{:>7} {:>12} {:>10}", "elapsed", "trips/s", "VmRSS KiB");
    for s in 1..=secs {
        ticker.c().recv().await;
        let now = trips.load(Relaxed);
        let rss = rss_kib();
        println!(
            "{:>6.1}s {:>12} {:>10}",
            start.elapsed().as_secs_f64(),
            now - last,
            rss
        );
        last = now;
        if s == warmup {
            warm_rss = Some(rss);
        }
        if s >= warmup {
            samples.push(rss);
        }
    }
    ticker.stop();
    stop.store(true, Release);
    let drained = timeout(Duration::from_secs(10), wg.wait()).await.is_ok();
    let _ = timeout(Duration::from_secs(2), server).await;

    let total = trips.load(Relaxed);
    let failed = failures.load(Relaxed);
    let warm = warm_rss.unwrap_or(0);
    let end = *samples.last().unwrap_or(&0);
    let (min, max) = (
        samples.iter().copied().min().unwrap_or(0),
        samples.iter().copied().max().unwrap_or(0),
    );
    println!(
        "soak: {total} round trips in {secs} s ({:.0}/s), {failed} failures; VmRSS after \
         warm-up ({warmup} s): {warm} KiB, end {end} KiB, min {min}, max {max}, drift {:+.1}%",
        total as f64 / secs as f64,
        (end as f64 - warm as f64) * 100.0 / warm.max(1) as f64
    );
    if !drained {
        println!("soak: some clients did not stop within 10 s");
    }
    if check {
        let grew = end > warm + (warm / 10).max(2048);
        if grew || failed > 0 || !drained || total == 0 {
            println!("soak: FAILED (rss grew: {grew}, failures: {failed}, drained: {drained})");
            std::process::exit(1);
        }
        println!("soak: ok");
    }
}
