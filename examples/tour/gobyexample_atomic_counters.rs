//! Go by Example: Atomic Counters. Fifty goroutines add 1000 each to one atomic counter.
//!
//! ```go
//! func main() {
//!     var ops atomic.Uint64
//!     var wg sync.WaitGroup
//!     for i := 0; i < 50; i++ {
//!         wg.Go(func() {
//!             for c := 0; c < 1000; c++ {
//!                 ops.Add(1)
//!             }
//!         })
//!     }
//!     wg.Wait()
//!     fmt.Println("ops:", ops.Load())
//! }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::common;
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let ops = Arc::new(AtomicU64::new(0));
    let wg = WaitGroup::new();
    for _ in 0..50 {
        let ops = ops.clone();
        wg.go(async move {
            for _ in 0..1000 {
                ops.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    wg.wait().await;
    outln!("ops: {}", ops.load(Ordering::Relaxed));
}
