//! gorun inside a tokio service: a hyper server on tokio (hyper-util's `TokioIo`) whose
//! handlers hand their work to a pool of gorun goroutines over a gorun channel, and await the
//! answer on tokio. gorun's channels are plain futures with wakers, so a tokio task can send
//! and receive on them directly; the goroutines run on gorun's own workers, away from tokio's.
//!
//! ```text
//! cargo run --release --example tokio_service [ADDR]     # default 127.0.0.1:8081
//! curl http://127.0.0.1:8081/fib/50                      # fib(50) = 12586269025
//! ```
//!
//! See `docs/embedding.md` for what works on a foreign executor and what does not.

use bytes::Bytes;
use gorun::chan::{chan, Chan, Sender};
use gorun::runtime::Handle;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;

/// A job for the pool: the input, and where the answer goes.
pub struct Job {
    pub n: u64,
    pub reply: Sender<u64>,
}

/// The work: the `n`th Fibonacci number (wrapping past `fib(93)`).
fn fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    a
}

/// Starts `workers` goroutines on the runtime of `handle`, each serving jobs from the
/// returned channel (Go's worker-pool pattern). Closing the channel stops them.
pub fn start_pool(handle: &Handle, workers: usize) -> Chan<Job> {
    let jobs = chan::<Job>(64);
    for _ in 0..workers {
        let jobs = jobs.clone();
        handle.go(async move {
            while let Some(job) = jobs.recv().await {
                let _ = job.reply.send(fib(job.n)).await;
            }
        });
    }
    jobs
}

/// The handler, on a tokio task: `/fib/N` asks the gorun pool and awaits its answer.
pub async fn handle(
    req: Request<hyper::body::Incoming>,
    jobs: Chan<Job>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let n = req
        .uri()
        .path()
        .strip_prefix("/fib/")
        .and_then(|n| n.parse::<u64>().ok());
    let Some(n) = n else {
        return Ok(Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"try /fib/50\n")))
            .expect("a valid response"));
    };
    let reply = chan::<u64>(1);
    // Both awaits are on tokio: gorun channels are executor-independent futures.
    if jobs
        .send(Job {
            n,
            reply: reply.sender(),
        })
        .await
        .is_err()
    {
        return Ok(Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Full::new(Bytes::from_static(b"shutting down\n")))
            .expect("a valid response"));
    }
    let v = reply.recv().await.unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "fib({n}) = {v}\n"
    )))))
}

/// Serves on tokio until `stop` completes (connections in progress are dropped with the
/// runtime).
pub async fn serve(
    listener: tokio::net::TcpListener,
    jobs: Chan<Job>,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => { eprintln!("tokio_service: accept: {e}"); continue; }
            },
            _ = &mut stop => return,
        };
        let jobs = jobs.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, jobs.clone()));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("tokio_service: connection: {e}");
            }
        });
    }
}

#[allow(dead_code)] // `tests/rt_embed.rs` includes this file
fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    // The gorun runtime for the pool: two workers of its own.
    let pool_rt = gorun::runtime::Builder::new()
        .workers(2)
        .thread_name("pool")
        .build()?;
    let jobs = start_pool(pool_rt.handle(), 4);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!(
            "listening on http://{}/fib/50 (Ctrl-C stops)",
            listener.local_addr()?
        );
        // gorun's Ctrl-C future, awaited on tokio.
        let ctrl_c = gorun::signal::ctrl_c();
        serve(listener, jobs.clone(), async {
            let _ = ctrl_c.await;
        })
        .await;
        std::io::Result::Ok(())
    })?;
    jobs.close();
    println!("stopped");
    Ok(())
}
