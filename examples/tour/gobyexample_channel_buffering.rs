//! Go by Example: Channel Buffering.
//!
//! ```go
//! func main() {
//!     messages := make(chan string, 2)
//!     messages <- "buffered"
//!     messages <- "channel"
//!     fmt.Println(<-messages)
//!     fmt.Println(<-messages)
//! }
//! ```

use super::common;
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let messages = chan::<&str>(2);
    messages.send("buffered").await.unwrap(); // no receiver needed: the buffer has room
    messages.send("channel").await.unwrap();
    outln!("{}", messages.recv().await.unwrap());
    outln!("{}", messages.recv().await.unwrap());
}
