//! Five tasks that each sleep a second take one second, not five: they sleep in parallel.
//!
//! ```go
//! func main() {
//!     start := time.Now()
//!     var wg sync.WaitGroup
//!     for i := 1; i <= 5; i++ {
//!         wg.Add(1)
//!         go func(i int) {
//!             defer wg.Done()
//!             time.Sleep(time.Second)
//!             fmt.Println("task", i, "done")
//!         }(i)
//!     }
//!     wg.Wait()
//!     fmt.Printf("5 tasks took %.1fs\n", time.Since(start).Seconds())
//! }
//! ```

use std::time::Instant;

use super::common::{self, defer, secs, unscaled};
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let start = Instant::now();
    let wg = WaitGroup::new();
    for i in 1..=5 {
        wg.add(1);
        let wg = wg.clone();
        go(async move {
            let _done = defer(|| wg.done());
            sleep(secs(1)).await;
            outln!("task {i} done");
        });
    }
    wg.wait().await;
    outln!(
        "5 tasks took {:.1}s",
        unscaled(start.elapsed()).as_secs_f64()
    );
}
