//! printCount: a goroutine drains a channel with `range` until `main` closes it; a WaitGroup
//! lets `main` wait for it instead of sleeping.
//!
//! ```go
//! func printCount(c chan int, wg *sync.WaitGroup) {
//!     defer wg.Done()
//!     for num := range c {
//!         fmt.Println("count:", num)
//!     }
//! }
//!
//! func main() {
//!     c := make(chan int)
//!     var wg sync.WaitGroup
//!     wg.Add(1)
//!     go printCount(c, &wg)
//!     for _, v := range []int{8, 6, 7, 5, 3, 0, 9} {
//!         c <- v
//!     }
//!     close(c)
//!     wg.Wait()
//!     fmt.Println("End of main")
//! }
//! ```

use super::common::{self, defer};
use gorun::chan::Receiver;
use gorun::prelude::*;

async fn print_count(c: Receiver<i32>, wg: WaitGroup) {
    let _done = defer(|| wg.done());
    while let Some(num) = c.recv().await {
        outln!("count: {num}");
    }
}

#[gorun::main]
pub async fn main() {
    let c = chan::<i32>(0);
    let wg = WaitGroup::new();
    wg.add(1);
    go(print_count(c.receiver(), wg.clone()));
    for v in [8, 6, 7, 5, 3, 0, 9] {
        c.send(v).await.unwrap();
    }
    c.close();
    wg.wait().await;
    outln!("End of main");
}
