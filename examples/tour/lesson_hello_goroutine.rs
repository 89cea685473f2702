//! The first goroutine: `main` starts `hello` and sleeps, or the program would end first.
//!
//! ```go
//! func hello() {
//!     fmt.Println("Hello world goroutine")
//! }
//!
//! func main() {
//!     go hello()
//!     time.Sleep(1 * time.Second)
//!     fmt.Println("main function")
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

async fn hello() {
    outln!("Hello world goroutine");
}

#[gorun::main]
pub async fn main() {
    go(hello()); // the JoinHandle is dropped: the goroutine runs detached, as in Go
    sleep(secs(1)).await;
    outln!("main function");
}
