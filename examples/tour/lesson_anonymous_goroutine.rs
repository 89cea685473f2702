//! An anonymous goroutine: `go func() { ... }()` is `go(async { ... })`.
//!
//! ```go
//! func main() {
//!     go func() {
//!         fmt.Println("Hello from an anonymous goroutine")
//!     }()
//!     time.Sleep(time.Second)
//!     fmt.Println("main done")
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    go(async {
        outln!("Hello from an anonymous goroutine");
    });
    sleep(secs(1)).await;
    outln!("main done");
}
