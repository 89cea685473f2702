//! Go by Example: Context. The original is an HTTP server whose `hello` handler waits ten
//! seconds for work while watching `req.Context().Done()`; the client gives up (Ctrl+C on
//! `curl`) and the handler sees `context canceled`.
//!
//! ```go
//! func hello(w http.ResponseWriter, req *http.Request) {
//!     ctx := req.Context()
//!     fmt.Println("server: hello handler started")
//!     defer fmt.Println("server: hello handler ended")
//!     select {
//!     case <-time.After(10 * time.Second):
//!         fmt.Fprintf(w, "hello\n")
//!     case <-ctx.Done():
//!         err := ctx.Err()
//!         fmt.Println("server:", err)
//!         internalError := http.StatusInternalServerError
//!         http.Error(w, err.Error(), internalError)
//!     }
//! }
//!
//! func main() {
//!     http.HandleFunc("/hello", hello)
//!     http.ListenAndServe(":8090", nil)
//! }
//! // $ curl localhost:8090/hello    ... then Ctrl+C after a second
//! ```
//!
//! Here the "request" is in memory, but the Ctrl+C is real: `main` plays the client, listens
//! for SIGINT with `gorun::signal::notify` (Go's `signal.Notify(c, os.Interrupt)`) and cancels
//! the request's context when it arrives. Run alone, the lesson waits for you to press
//! Ctrl+C within ten seconds (or the handler answers "hello"); in fast mode (and in the
//! tests) the press comes after a second, as a real SIGINT the lesson sends to itself.
use super::common::{self, defer, secs};
use gorun::chan::Sender;
use gorun::context::Context;
use gorun::prelude::*;
use gorun::signal::{self, Signal};

/// The handler: `w` is where the response goes, `ctx` the request's context.
async fn hello(ctx: Context, w: Sender<String>) {
    outln!("server: hello handler started");
    let _ended = defer(|| outln!("server: hello handler ended"));
    select! {
        recv(after(secs(10))) -> _ => {
            let _ = w.send("hello".to_string()).await;
        },
        recv(ctx.done()) -> _ => {
            let err = ctx.err().expect("done is closed, so err is set");
            outln!("server: {err}");
            let _ = w.send(format!("500 Internal Server Error: {err}")).await;
        },
    }
}

/// The user's Ctrl+C: a real SIGINT to this process.
fn press_ctrl_c() {
    // SAFETY: `kill` on our own pid; SIGINT is handled (by `signal::notify`) while we wait.
    unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
}

#[gorun::main]
pub async fn main() {
    // The client's request: a context it can cancel, and a response channel.
    let (ctx, cancel) = Context::background().with_cancel();
    let response = chan::<String>(1);
    let interrupt = signal::notify(&[Signal::Interrupt]); // signal.Notify(c, os.Interrupt)
    let handler = go(hello(ctx, response.sender()));
    if common::fast() {
        go(async {
            sleep(secs(1)).await;
            press_ctrl_c(); // the user hits Ctrl+C after a second
        });
    } else {
        eprintln!("(press Ctrl+C within 10 seconds to cancel the request)");
    }
    let answer = select! {
        recv(interrupt) -> _ => {
            cancel.cancel();
            handler.await.unwrap(); // the server finishes the request
            response.recv().await
        },
        recv(response) -> r => r,
    };
    signal::stop(&interrupt);
    outln!("client: {}", answer.unwrap());
}
