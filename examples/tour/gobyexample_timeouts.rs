//! Go by Example: Timeouts. `time.After` is `after`, a channel like any other in `select!`.
//!
//! ```go
//! func main() {
//!     c1 := make(chan string, 1)
//!     go func() { time.Sleep(2 * time.Second); c1 <- "result 1" }()
//!     select {
//!     case res := <-c1:
//!         fmt.Println(res)
//!     case <-time.After(1 * time.Second):
//!         fmt.Println("timeout 1")
//!     }
//!
//!     c2 := make(chan string, 1)
//!     go func() { time.Sleep(2 * time.Second); c2 <- "result 2" }()
//!     select {
//!     case res := <-c2:
//!         fmt.Println(res)
//!     case <-time.After(3 * time.Second):
//!         fmt.Println("timeout 2")
//!     }
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    // Buffered, so the late sender does not block forever once nobody listens.
    let c1 = chan::<&str>(1);
    let c = c1.clone();
    go(async move {
        sleep(secs(2)).await;
        let _ = c.send("result 1").await;
    });
    select! {
        recv(c1) -> res => outln!("{}", res.unwrap()),
        recv(after(secs(1))) -> _ => outln!("timeout 1"),
    }

    let c2 = chan::<&str>(1);
    let c = c2.clone();
    go(async move {
        sleep(secs(2)).await;
        let _ = c.send("result 2").await;
    });
    select! {
        recv(c2) -> res => outln!("{}", res.unwrap()),
        recv(after(secs(3))) -> _ => outln!("timeout 2"),
    }
}
