//! Go by Example: Range over Channels. `for elem := range queue` is
//! `while let Some(elem) = queue.recv().await`; it ends once the channel is closed and drained.
//!
//! ```go
//! func main() {
//!     queue := make(chan string, 2)
//!     queue <- "one"
//!     queue <- "two"
//!     close(queue)
//!     for elem := range queue {
//!         fmt.Println(elem)
//!     }
//! }
//! ```

use super::common;
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let queue = chan::<&str>(2);
    queue.send("one").await.unwrap();
    queue.send("two").await.unwrap();
    queue.close();
    while let Some(elem) = queue.recv().await {
        outln!("{elem}");
    }
}
