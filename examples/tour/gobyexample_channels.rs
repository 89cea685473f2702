//! Go by Example: Channels.
//!
//! ```go
//! func main() {
//!     messages := make(chan string)
//!     go func() { messages <- "ping" }()
//!     msg := <-messages
//!     fmt.Println(msg)
//! }
//! ```

use super::common;
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let messages = chan::<&str>(0);
    let m = messages.clone(); // a clone is the same channel, like copying a Go chan value
    go(async move { m.send("ping").await.unwrap() });
    let msg = messages.recv().await.unwrap();
    outln!("{msg}");
}
