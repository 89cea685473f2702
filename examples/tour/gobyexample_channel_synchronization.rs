//! Go by Example: Channel Synchronization.
//!
//! ```go
//! func worker(done chan bool) {
//!     fmt.Print("working...")
//!     time.Sleep(time.Second)
//!     fmt.Println("done")
//!     done <- true
//! }
//!
//! func main() {
//!     done := make(chan bool, 1)
//!     go worker(done)
//!     <-done
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

async fn worker(done: Chan<bool>) {
    out!("working...");
    sleep(secs(1)).await;
    outln!("done");
    done.send(true).await.unwrap();
}

#[gorun::main]
pub async fn main() {
    let done = chan::<bool>(1);
    go(worker(done.clone()));
    done.recv().await;
}
