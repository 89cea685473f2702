//! A goroutine that panics, and `recover`. In Go the goroutine must recover itself (an
//! unrecovered panic kills the program). In gorun a panic stays inside its goroutine (the
//! runtime prints `goroutine N panicked: ...` on stderr) and comes back to whoever awaits its
//! `JoinHandle` as a `JoinError` — the `recover()` happens at the join.
//!
//! ```go
//! func mayPanic(done chan<- string) {
//!     defer func() {
//!         if r := recover(); r != nil {
//!             done <- fmt.Sprint("recovered: ", r)
//!         }
//!     }()
//!     panic("something went wrong")
//! }
//!
//! func main() {
//!     done := make(chan string)
//!     go mayPanic(done)
//!     fmt.Println(<-done)
//!     fmt.Println("main keeps running")
//! }
//! ```

use super::common;
use gorun::prelude::*;

async fn may_panic() {
    panic!("something went wrong");
}

#[gorun::main]
pub async fn main() {
    let h = go(may_panic());
    match h.await {
        Ok(()) => outln!("no panic"),
        Err(e) if e.is_panic() => {
            let r = e.into_panic();
            let msg = r
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| r.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            outln!("recovered: {msg}");
        }
        Err(e) => outln!("goroutine ended: {e}"),
    }
    outln!("main keeps running");
}
