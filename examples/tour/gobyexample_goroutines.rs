//! Go by Example: Goroutines.
//!
//! ```go
//! func f(from string) {
//!     for i := 0; i < 3; i++ {
//!         fmt.Println(from, ":", i)
//!     }
//! }
//!
//! func main() {
//!     f("direct")
//!     go f("goroutine")
//!     go func(msg string) {
//!         fmt.Println(msg)
//!     }("going")
//!     time.Sleep(time.Second)
//!     fmt.Println("done")
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

async fn f(from: &str) {
    for i in 0..3 {
        outln!("{from} : {i}");
    }
}

#[gorun::main]
pub async fn main() {
    f("direct").await;
    go(f("goroutine"));
    let msg = "going";
    go(async move {
        outln!("{msg}");
    });
    sleep(secs(1)).await;
    outln!("done");
}
