//! A producer that closes its channel when done, and a consumer that tells a value from a
//! closed channel with `v, ok := <-ch` — in gorun, `recv()` returns `Some(v)` or `None`.
//!
//! ```go
//! func producer(ch chan<- int) {
//!     for i := 0; i < 5; i++ {
//!         ch <- i * i
//!     }
//!     close(ch)
//! }
//!
//! func main() {
//!     ch := make(chan int)
//!     go producer(ch)
//!     for {
//!         v, ok := <-ch
//!         if !ok {
//!             fmt.Println("channel closed")
//!             break
//!         }
//!         fmt.Println("received", v)
//!     }
//! }
//! ```

use super::common;
use gorun::chan::Sender;
use gorun::prelude::*;

async fn producer(ch: Sender<i32>) {
    for i in 0..5 {
        ch.send(i * i).await.unwrap();
    }
    ch.close();
}

#[gorun::main]
pub async fn main() {
    let ch = chan::<i32>(0);
    go(producer(ch.sender()));
    loop {
        let Some(v) = ch.recv().await else {
            outln!("channel closed");
            break;
        };
        outln!("received {v}");
    }
}
