//! Goroutines with arguments. Go evaluates the arguments of `go f(x)` at once, in the caller;
//! in Rust, `async move` copies `i` into the goroutine the same way (no loop-variable bug).
//!
//! ```go
//! func main() {
//!     for i := 1; i <= 3; i++ {
//!         go func(n int) {
//!             fmt.Println("goroutine", n)
//!         }(i)
//!     }
//!     time.Sleep(time.Second)
//!     fmt.Println("done")
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    for i in 1..=3 {
        go(async move {
            let n = i;
            outln!("goroutine {n}");
        });
    }
    sleep(secs(1)).await;
    outln!("done");
}
