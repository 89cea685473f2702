//! Go by Example: Tickers. Ticks every 500 ms until `main` stops the ticker after 1600 ms:
//! three ticks.
//!
//! ```go
//! func main() {
//!     ticker := time.NewTicker(500 * time.Millisecond)
//!     done := make(chan bool)
//!     go func() {
//!         for {
//!             select {
//!             case <-done:
//!                 return
//!             case t := <-ticker.C:
//!                 fmt.Println("Tick at", t)
//!             }
//!         }
//!     }()
//!     time.Sleep(1600 * time.Millisecond)
//!     ticker.Stop()
//!     done <- true
//!     fmt.Println("Ticker stopped")
//! }
//! ```

use std::sync::Arc;

use super::common::{self, millis, wall};
use gorun::prelude::*;
use gorun::time::Ticker;

#[gorun::main]
pub async fn main() {
    let ticker = Arc::new(Ticker::new(millis(500)));
    let done = chan::<bool>(0);
    let (t2, d2) = (ticker.clone(), done.clone());
    go(async move {
        loop {
            select! {
                recv(d2) -> _ => return,
                recv(t2.c()) -> t => outln!("Tick at {}", wall(t.unwrap())),
            }
        }
    });
    sleep(millis(1600)).await;
    ticker.stop();
    done.send(true).await.unwrap();
    outln!("Ticker stopped");
}
