//! Counting sheep and fish at the same time (Jake Wright's "Concurrency in Go").
//!
//! ```go
//! func count(thing string) {
//!     for i := 1; i <= 5; i++ {
//!         fmt.Println(i, thing)
//!         time.Sleep(time.Millisecond * 500)
//!     }
//! }
//!
//! func main() {
//!     var wg sync.WaitGroup
//!     wg.Add(2)
//!     go func() { count("sheep"); wg.Done() }()
//!     go func() { count("fish"); wg.Done() }()
//!     wg.Wait()
//! }
//! ```

use super::common::{self, millis};
use gorun::prelude::*;

async fn count(thing: &str) {
    for i in 1..=5 {
        outln!("{i} {thing}");
        sleep(millis(500)).await;
    }
}

#[gorun::main]
pub async fn main() {
    let wg = WaitGroup::new();
    wg.add(2);
    let w = wg.clone();
    go(async move {
        count("sheep").await;
        w.done();
    });
    let w = wg.clone();
    go(async move {
        count("fish").await;
        w.done();
    });
    wg.wait().await;
}
