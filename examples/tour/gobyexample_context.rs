//! Go by Example: Context. The original is an HTTP server whose `hello` handler waits ten
//! seconds for work while watching `req.Context().Done()`; the client gives up (Ctrl+C on
//! `curl`) and the handler sees `context canceled`. Here the "request" is in memory: `main`
//! plays the client, hands the handler a cancellable context and a response channel, and
//! cancels after one second.
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
//! Not yet part of the tour: switched on when `gorun::context` lands (see `mod.rs`).

use super::common::{self, defer, secs};
use gorun::chan::Sender;
use gorun::context::Context;
use gorun::prelude::*;

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

#[gorun::main]
pub async fn main() {
    // The client's request: a context it can cancel, and a response channel.
    let (ctx, cancel) = Context::background().with_cancel();
    let response = chan::<String>(1);
    let handler = go(hello(ctx, response.sender()));
    sleep(secs(1)).await; // the user hits Ctrl+C
    cancel.cancel();
    handler.await.unwrap(); // the server finishes the request
    outln!("client: {}", response.recv().await.unwrap());
}
