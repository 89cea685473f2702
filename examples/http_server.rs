//! A hyper HTTP/1.1 server on gorun: a goroutine per connection (as Go's `net/http` does),
//! keep-alive, and a graceful shutdown on Ctrl-C (or SIGTERM): the listener stops, each
//! connection finishes the request it is serving and closes, and `main` returns once all
//! have.
//!
//! ```text
//! cargo run --release --features hyper --example http_server [ADDR]   # default 127.0.0.1:8080
//! curl http://127.0.0.1:8080/            # Hello, World!
//! curl http://127.0.0.1:8080/slow        # answers after 200 ms
//! wrk -t2 -c64 -d10s http://127.0.0.1:8080/
//! ```
//!
//! The Go it mirrors:
//!
//! ```go
//! srv := &http.Server{Addr: addr, Handler: mux}
//! go srv.ListenAndServe()
//! sig := make(chan os.Signal, 1)
//! signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
//! <-sig
//! srv.Shutdown(context.Background())
//! ```

use bytes::Bytes;
use gorun::chan::chan;
use gorun::context::Context;
use gorun::net::{TcpListener, TcpStream};
use gorun::select;
use gorun::sync::WaitGroup;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// `/slow` requests being handled right now (the graceful-shutdown test waits for one).
pub static SLOW_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// The handler: `/` says hello, `/slow` answers after 200 ms, anything else is a 404.
pub async fn handle(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/" => Response::new(Full::new(Bytes::from_static(b"Hello, World!\n"))),
        "/slow" => {
            struct InFlight;
            impl Drop for InFlight {
                fn drop(&mut self) {
                    SLOW_IN_FLIGHT.fetch_sub(1, SeqCst);
                }
            }
            SLOW_IN_FLIGHT.fetch_add(1, SeqCst);
            let _in_flight = InFlight;
            gorun::time::sleep(Duration::from_millis(200)).await;
            Response::new(Full::new(Bytes::from_static(b"slow hello\n")))
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"404 page not found\n")))
            .expect("a valid response"),
    })
}

/// Serves one connection until the client closes it, or until `ctx` is cancelled: then the
/// request in flight (if any) is finished and the connection closed.
async fn serve_conn(stream: TcpStream, ctx: Context) {
    let _ = stream.set_nodelay(true);
    let conn = http1::Builder::new()
        .timer(gorun::hyper::GorunTimer::new())
        .keep_alive(true)
        .serve_connection(stream, service_fn(handle));
    let mut conn = pin!(conn);
    let done = ctx.done();
    let cancelled = pin!(done.recv());
    match futures::future::select(conn.as_mut(), cancelled).await {
        futures::future::Either::Left((r, _)) => {
            if let Err(e) = r {
                eprintln!("http_server: connection: {e}");
            }
        }
        futures::future::Either::Right(_) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Accepts connections on `listener` until `stop` completes, then shuts down gracefully:
/// returns once every connection has finished its request and closed.
pub async fn serve(listener: TcpListener, stop: impl Future<Output = ()> + Send + 'static) {
    let accepted = chan::<TcpStream>(0);
    let tx = accepted.sender();
    let acceptor = gorun::go(async move {
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    if tx.send(s).await.is_err() {
                        return;
                    }
                }
                // Out of file descriptors and the like: Go's server sleeps and retries.
                Err(e) => {
                    eprintln!("http_server: accept: {e}");
                    gorun::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    });
    let stopped = chan::<()>(0);
    let closer = stopped.clone();
    gorun::go(async move {
        stop.await;
        closer.close();
    });
    let (ctx, cancel) = Context::background().with_cancel();
    let conns = WaitGroup::new();
    loop {
        select! {
            recv(accepted) -> s => {
                if let Some(s) = s {
                    conns.go(serve_conn(s, ctx.clone()));
                }
            },
            recv(stopped) -> _ => break,
        }
    }
    acceptor.abort();
    accepted.close();
    cancel.cancel();
    conns.wait().await;
}

#[allow(dead_code)] // `tests/http.rs` includes this file for `serve`
#[gorun::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!(
        "listening on http://{}/ (Ctrl-C stops)",
        listener.local_addr()?
    );
    let sigs = gorun::signal::notify(&[
        gorun::signal::Signal::Interrupt,
        gorun::signal::Signal::Terminate,
    ]);
    serve(listener, async move {
        if let Some(s) = sigs.recv().await {
            println!("\n{s}: shutting down");
        }
    })
    .await;
    println!("all connections closed");
    Ok(())
}
