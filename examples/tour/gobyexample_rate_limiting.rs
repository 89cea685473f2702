//! Go by Example: Rate Limiting. A ticker paces requests to one per 200 ms; a buffered channel
//! of tokens allows a burst of three first.
//!
//! ```go
//! func main() {
//!     requests := make(chan int, 5)
//!     for i := 1; i <= 5; i++ {
//!         requests <- i
//!     }
//!     close(requests)
//!     limiter := time.Tick(200 * time.Millisecond)
//!     for req := range requests {
//!         <-limiter
//!         fmt.Println("request", req, time.Now())
//!     }
//!
//!     burstyLimiter := make(chan time.Time, 3)
//!     for i := 0; i < 3; i++ {
//!         burstyLimiter <- time.Now()
//!     }
//!     go func() {
//!         for t := range time.Tick(200 * time.Millisecond) {
//!             burstyLimiter <- t
//!         }
//!     }()
//!     burstyRequests := make(chan int, 5)
//!     for i := 1; i <= 5; i++ {
//!         burstyRequests <- i
//!     }
//!     close(burstyRequests)
//!     for req := range burstyRequests {
//!         <-burstyLimiter
//!         fmt.Println("request", req, time.Now())
//!     }
//! }
//! ```

use std::time::Instant;

use super::common::{self, millis, wall};
use gorun::prelude::*;

#[gorun::main]
pub async fn main() {
    let requests = chan::<i32>(5);
    for i in 1..=5 {
        requests.send(i).await.unwrap();
    }
    requests.close();
    let limiter = tick(millis(200));
    while let Some(req) = requests.recv().await {
        limiter.recv().await;
        outln!("request {req} {}", wall(Instant::now()));
    }

    let bursty_limiter = chan::<Instant>(3);
    for _ in 0..3 {
        bursty_limiter.send(Instant::now()).await.unwrap();
    }
    let bl = bursty_limiter.clone();
    go(async move {
        let ticks = tick(millis(200));
        while let Some(t) = ticks.recv().await {
            bl.send(t).await.unwrap();
        }
    });
    let bursty_requests = chan::<i32>(5);
    for i in 1..=5 {
        bursty_requests.send(i).await.unwrap();
    }
    bursty_requests.close();
    while let Some(req) = bursty_requests.recv().await {
        bursty_limiter.recv().await;
        outln!("request {req} {}", wall(Instant::now()));
    }
}
