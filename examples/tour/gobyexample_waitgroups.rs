//! Go by Example: WaitGroups. `wg.Go(f)` (Go 1.25) is `wg.go(fut)`: `Add(1)`, spawn, and
//! `Done()` when the goroutine ends, even by panic.
//!
//! ```go
//! func worker(id int) {
//!     fmt.Printf("Worker %d starting\n", id)
//!     time.Sleep(time.Second)
//!     fmt.Printf("Worker %d done\n", id)
//! }
//!
//! func main() {
//!     var wg sync.WaitGroup
//!     for i := 1; i <= 5; i++ {
//!         wg.Go(func() {
//!             worker(i)
//!         })
//!     }
//!     wg.Wait()
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

async fn worker(id: i32) {
    outln!("Worker {id} starting");
    sleep(secs(1)).await;
    outln!("Worker {id} done");
}

#[gorun::main]
pub async fn main() {
    let wg = WaitGroup::new();
    for i in 1..=5 {
        wg.go(worker(i));
    }
    wg.wait().await;
}
