//! Go by Example: Select. Two goroutines answer after one and two seconds; the total is about
//! two seconds because both sleeps run at once.
//!
//! ```go
//! func main() {
//!     c1 := make(chan string)
//!     c2 := make(chan string)
//!     go func() { time.Sleep(1 * time.Second); c1 <- "one" }()
//!     go func() { time.Sleep(2 * time.Second); c2 <- "two" }()
//!     for i := 0; i < 2; i++ {
//!         select {
//!         case msg1 := <-c1:
//!             fmt.Println("received", msg1)
//!         case msg2 := <-c2:
//!             fmt.Println("received", msg2)
//!         }
//!     }
//! }
//! ```

use super::common::{self, secs};
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let c1 = chan::<&str>(0);
    let c2 = chan::<&str>(0);
    let c = c1.clone();
    go(async move {
        sleep(secs(1)).await;
        c.send("one").await.unwrap();
    });
    let c = c2.clone();
    go(async move {
        sleep(secs(2)).await;
        c.send("two").await.unwrap();
    });
    for _ in 0..2 {
        select! {
            recv(c1) -> msg1 => outln!("received {}", msg1.unwrap()),
            recv(c2) -> msg2 => outln!("received {}", msg2.unwrap()),
        }
    }
}
